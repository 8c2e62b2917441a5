"""The shape of a demo year's plan: its targets (shares of cases), steps, patients, cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

from events.codes import (
    CentreId,
    Histology,
    OutcomeChange,
    Pathway,
    QuestionTopic,
    ReferralReason,
    StageGroup,
    TravelReason,
    TreatmentType,
    TumourSite,
)

TZ = ZoneInfo("Asia/Shanghai")
T = TypeVar("T")

# ------------------------------------------------------------------ targets (shares of cases)
SHARE_FROM_QUOTE = 0.70          # cases opened from an instant quote
EXTRA_QUOTES = 0.20              # quotes that never become a case, per case
SHARE_PREFERRED_CENTRE = 0.15
SHARE_PROTON_QUESTION = 0.10
SHARE_VIDEO = 0.20
SHARE_GLASS_SLIDES = 0.12
SHARE_RECORDS_REQUESTED = 0.20   # the first batch misses something; the coordinator asks for it
SHARE_CANCELLED = 0.05           # before the centre accepts
SHARE_WITHDRAWN = 0.03           # consent withdrawn (before acceptance or during the review)
SHARE_EXPIRED = 0.02             # records never complete
SHARE_DECLINED_FIRST = 0.08      # the first centre declines; routing re-routes
SHARE_INFORMATION_REQUEST = 0.15
SHARE_UNDECIDED = 0.05           # of delivered reviews
SHARE_BOOKED_OF_DECIDED = 0.40   # the seed's "~40% travel"
SHARE_REDEEMED = 0.60            # of bookings, when the treatment bill falls within the year
DIAGNOSIS_CHANGED = 0.15         # literature 10-20%
TREATMENT_CHANGED = 0.35         # literature 30-40%

# Business days from acceptance to delivery (the SLA: target 7, limit 10).
DELIVERY_DAYS = {4: 5, 5: 12, 6: 18, 7: 22, 8: 14, 9: 10, 10: 8, 11: 6, 12: 5}
LAST_START = (10, 15)  # (month, day): cases start between early January and mid-October

Fate = Literal["delivered", "cancelled", "withdrawn", "expired"]
Decision = Literal["booked_treatment", "returned_home", "undecided"]
Action = Literal["quote", "open", "consent", "upload", "ship_slides", "receive_slides", "request_records",
                 "await_routing", "decline", "accept", "request_information", "supply_information", "timers",
                 "deliver", "withdraw_consent", "cancel", "video", "book", "close", "redeem"]


class BusinessDays(Protocol):
    @property
    def known_years(self) -> frozenset[int]: ...

    def is_business_day(self, d: date) -> bool: ...


def default_calendar() -> BusinessDays:
    """The centres' calendar as the review service builds it (chinese-calendar's tables)."""
    from services.common.calendar import seed_calendar

    return seed_calendar()


# ------------------------------------------------------------------ the plan's shape
@dataclass(frozen=True)
class Step:
    at: datetime
    action: Action
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Patient:
    name: str
    date_of_birth: date
    email: str | None
    phone: str | None
    passport_number: str | None


@dataclass(frozen=True)
class Profile:
    tumour_site: TumourSite
    histology: Histology
    rare_tumour: bool
    stage_group: StageGroup
    referral_reasons: tuple[ReferralReason, ...]
    country: str
    language: str
    preferred_centre: CentreId | None
    wants_video: bool
    question_topics: tuple[QuestionTopic, ...]
    imaging_studies: int
    glass_slides: bool
    genomic_report: bool
    consented_centres: tuple[CentreId, ...]


@dataclass(frozen=True)
class ReviewPlan:
    business_days: int              # counted business days at delivery
    information_request: bool
    pathway: Pathway
    diagnosis_change: OutcomeChange
    treatment_change: OutcomeChange

    @property
    def at_risk(self) -> bool:
        return self.business_days >= 9

    @property
    def breached(self) -> bool:
        return self.business_days >= 11


@dataclass(frozen=True)
class Booking:
    treatment_type: TreatmentType
    travel_reason: TravelReason
    estimated_cost_cents: int
    centre: CentreId | None         # None: the centre that reviewed the case


@dataclass(frozen=True)
class CasePlan:
    number: int
    patient: Patient
    question: str
    profile: Profile
    from_quote: bool
    fate: Fate
    declined_first: bool
    review: ReviewPlan | None       # the review as coded at delivery (None: never delivered)
    decision: Decision | None
    booking: Booking | None
    redeems: bool
    steps: tuple[Step, ...]

    def first(self, action: Action) -> Step | None:
        return next((s for s in self.steps if s.action == action), None)

    @property
    def opened_at(self) -> datetime:
        step = self.first("open")
        assert step is not None
        return step.at

    @property
    def accepted(self) -> bool:
        return self.first("accept") is not None

    @property
    def expires_at(self) -> datetime | None:
        """When intake's dormancy timer expires the case (30 days after the patient's last activity)."""
        if self.fate != "expired":
            return None
        activity = [s.at for s in self.steps if s.action not in ("request_records", "quote")]
        return max(activity) + timedelta(days=30)


@dataclass(frozen=True)
class QuotePlan:
    number: int
    at: datetime
    profile: Profile


@dataclass(frozen=True)
class YearPlan:
    year: int
    seed: int
    cases: tuple[CasePlan, ...]
    extra_quotes: tuple[QuotePlan, ...]


def quote_body(profile: Profile) -> dict[str, Any]:
    """What the prospective patient tells the instant-quote form."""
    return {"tumour_site": profile.tumour_site.value, "histology": profile.histology.value,
            "rare_tumour": profile.rare_tumour, "glass_slides": profile.glass_slides,
            "imaging_studies": profile.imaging_studies,
            "referral_reasons": [r.value for r in profile.referral_reasons], "wants_video": profile.wants_video}
