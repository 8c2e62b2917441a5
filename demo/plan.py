"""The plan of a demo year: who the patients are and what happens to each case, when. Pure.

Every random choice comes from one `random.Random(seed)`, so a seed gives the same year every
time; nothing here does I/O (the business-day calendar is passed in, or built from the
chinese-calendar tables already in memory). The driver (play.py) turns each Step into HTTP calls.

Times are business times in Asia/Shanghai: reviewers act in office hours (09:00-18:00) on the
centres' business days; patients and coordinators act at any hour. The SLA arithmetic mirrors
services/review/sla.py: day 1 is the first business day after acceptance; a pause makes the day
it starts not count, and the day the clock resumes count; the report is delivered on the n-th
counted day, so the clock records n business days used (at risk when n >= 9, breached when n >= 11).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, Protocol, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from events.codes import (
    CancellationReason,
    CentreId,
    ConsentKind,
    DeclineReason,
    Histology,
    InformationTopic,
    OutcomeChange,
    Pathway,
    QuestionTopic,
    RecordKind,
    ReferralReason,
    StageGroup,
    TravelReason,
    TreatmentType,
    TumourSite,
    is_rare,
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
    from services.review.calendar import seed_calendar

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


# ------------------------------------------------------------------ the population
SITES: dict[TumourSite, float] = {
    TumourSite.BREAST: 15, TumourSite.LUNG: 18, TumourSite.GASTRIC: 9, TumourSite.COLORECTAL: 8,
    TumourSite.LIVER: 9, TumourSite.NASOPHARYNX: 7, TumourSite.HEAD_NECK: 5, TumourSite.OESOPHAGUS: 5,
    TumourSite.PANCREAS: 4, TumourSite.SARCOMA: 5, TumourSite.NEUROENDOCRINE: 3, TumourSite.PROSTATE: 3,
    TumourSite.CERVIX: 3, TumourSite.BRAIN: 3, TumourSite.LYMPHOMA: 2, TumourSite.OTHER: 1,
}
H = Histology
HISTOLOGIES: dict[TumourSite, dict[Histology, float]] = {
    TumourSite.BREAST: {H.DUCTAL_CARCINOMA: 78, H.LOBULAR_CARCINOMA: 15, H.OTHER: 5, H.ADENOID_CYSTIC_CARCINOMA: 1,
                        H.SOFT_TISSUE_SARCOMA: 1},
    TumourSite.LUNG: {H.ADENOCARCINOMA: 62, H.SQUAMOUS_CELL_CARCINOMA: 24, H.SMALL_CELL_CARCINOMA: 10,
                      H.NEUROENDOCRINE_TUMOUR: 3, H.MUCOEPIDERMOID_CARCINOMA: 1},
    TumourSite.GASTRIC: {H.ADENOCARCINOMA: 87, H.GIST: 9, H.NEUROENDOCRINE_TUMOUR: 3, H.OTHER: 1},
    TumourSite.COLORECTAL: {H.ADENOCARCINOMA: 94, H.NEUROENDOCRINE_TUMOUR: 3, H.GIST: 2, H.OTHER: 1},
    TumourSite.LIVER: {H.HEPATOCELLULAR_CARCINOMA: 88, H.ADENOCARCINOMA: 9, H.OTHER: 3},
    TumourSite.NASOPHARYNX: {H.SQUAMOUS_CELL_CARCINOMA: 95, H.OTHER: 3, H.ADENOID_CYSTIC_CARCINOMA: 2},
    TumourSite.HEAD_NECK: {H.SQUAMOUS_CELL_CARCINOMA: 70, H.ADENOID_CYSTIC_CARCINOMA: 10,
                           H.MUCOEPIDERMOID_CARCINOMA: 8, H.MUCOSAL_MELANOMA: 5, H.OLFACTORY_NEUROBLASTOMA: 4,
                           H.OTHER: 3},
    TumourSite.OESOPHAGUS: {H.SQUAMOUS_CELL_CARCINOMA: 80, H.ADENOCARCINOMA: 18, H.SMALL_CELL_CARCINOMA: 2},
    TumourSite.PANCREAS: {H.ADENOCARCINOMA: 88, H.NEUROENDOCRINE_TUMOUR: 12},
    TumourSite.SARCOMA: {H.SOFT_TISSUE_SARCOMA: 70, H.BONE_SARCOMA: 20, H.GIST: 10},
    TumourSite.NEUROENDOCRINE: {H.NEUROENDOCRINE_TUMOUR: 80, H.SMALL_CELL_CARCINOMA: 20},
    TumourSite.PROSTATE: {H.ADENOCARCINOMA: 97, H.OTHER: 3},
    TumourSite.CERVIX: {H.SQUAMOUS_CELL_CARCINOMA: 80, H.ADENOCARCINOMA: 20},
    TumourSite.BRAIN: {H.GLIOMA: 90, H.OTHER: 10},
    TumourSite.LYMPHOMA: {H.LYMPHOMA: 100},
    TumourSite.OTHER: {H.OTHER: 55, H.UROTHELIAL_CARCINOMA: 25, H.MUCOSAL_MELANOMA: 20},
}
STAGES: dict[StageGroup, float] = {StageGroup.STAGE_0: 2, StageGroup.STAGE_I: 12, StageGroup.STAGE_II: 25,
                                   StageGroup.STAGE_III: 33, StageGroup.STAGE_IV: 25, StageGroup.UNKNOWN: 3}
# Sites the proton centre (CAMS) reviews: a proton question on another site would find no centre.
PROTON_SITES = frozenset({TumourSite.LUNG, TumourSite.OESOPHAGUS, TumourSite.HEAD_NECK, TumourSite.NASOPHARYNX,
                          TumourSite.PROSTATE, TumourSite.BRAIN, TumourSite.LIVER, TumourSite.SARCOMA})
PREFERRED: dict[CentreId, float] = {CentreId.SYSUCC: 35, CentreId.FUSCC: 25, CentreId.CAMS: 20,
                                    CentreId.PKUCH: 10, CentreId.WCH: 10}
# (country, weight, languages with weights)
COUNTRIES: list[tuple[str, float, dict[str, float]]] = [
    ("US", 12, {"en": 8, "zh": 2}), ("GB", 8, {"en": 1}), ("AU", 7, {"en": 8, "zh": 2}),
    ("CA", 6, {"en": 7, "fr": 2, "zh": 1}), ("NZ", 2, {"en": 1}), ("SG", 7, {"en": 6, "zh": 4}),
    ("MY", 7, {"ms": 5, "en": 3, "zh": 3}), ("ID", 7, {"id": 1}), ("TH", 5, {"th": 1}), ("VN", 6, {"vi": 1}),
    ("PH", 4, {"en": 2, "fil": 1}), ("AE", 4, {"ar": 3, "en": 2}), ("SA", 3, {"ar": 1}), ("RU", 7, {"ru": 1}),
    ("KZ", 4, {"ru": 3, "kk": 2}), ("MN", 3, {"mn": 1}), ("DE", 2, {"de": 1}), ("FR", 2, {"fr": 1}),
    ("IT", 1, {"it": 1}), ("ES", 1, {"es": 1}), ("PK", 3, {"ur": 2, "en": 1}), ("NP", 2, {"ne": 1}),
    ("BD", 2, {"bn": 1}), ("KH", 2, {"km": 1}), ("MM", 2, {"my": 1}), ("LA", 1, {"lo": 1}),
]
PHONE_PREFIX = {"US": "+1", "CA": "+1", "GB": "+44", "AU": "+61", "NZ": "+64", "SG": "+65", "MY": "+60",
                "ID": "+62", "TH": "+66", "VN": "+84", "PH": "+63", "AE": "+971", "SA": "+966", "RU": "+7",
                "KZ": "+7", "MN": "+976", "DE": "+49", "FR": "+33", "IT": "+39", "ES": "+34", "PK": "+92",
                "NP": "+977", "BD": "+880", "KH": "+855", "MM": "+95", "LA": "+856"}
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (("James", "Mary", "Robert", "Patricia", "David", "Jennifer", "Michael", "Linda", "Sarah", "Thomas"),
           ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Evans", "Walker", "Hughes", "Clarke", "Reid")),
    "zh": (("Wei", "Mei", "Jun", "Li Na", "Hao", "Xiu Ying", "Ming", "Yan"),
           ("Tan", "Lim", "Chen", "Wong", "Lee", "Ng", "Ho", "Chua")),
    "ms": (("Ahmad", "Siti", "Muhammad", "Nurul", "Aziz", "Farah"), ("bin Ismail", "binti Hassan", "bin Omar",
                                                                    "binti Yusof", "bin Rahman", "binti Ali")),
    "id": (("Budi", "Siti", "Agus", "Dewi", "Eko", "Rina"), ("Santoso", "Wijaya", "Pratama", "Hidayat", "Saputra",
                                                             "Kusuma")),
    "th": (("Somchai", "Malee", "Niran", "Ploy", "Anan", "Sunee"), ("Srisuk", "Chaiyaporn", "Boonmee",
                                                                    "Wongsawat", "Rattanakorn", "Kaewmanee")),
    "vi": (("Anh", "Minh", "Huong", "Tuan", "Lan", "Duc"), ("Nguyen", "Tran", "Le", "Pham", "Hoang", "Vu")),
    "fil": (("Jose", "Maria", "Juan", "Ana", "Mark", "Grace"), ("Santos", "Reyes", "Cruz", "Bautista", "Garcia",
                                                                "Mendoza")),
    "ar": (("Ahmed", "Fatima", "Omar", "Aisha", "Khalid", "Mariam"), ("Al-Mansouri", "Al-Harbi", "Haddad",
                                                                      "Al-Qahtani", "Nasser", "Saleh")),
    "ru": (("Ivan", "Olga", "Sergei", "Natalia", "Dmitri", "Elena"), ("Ivanov", "Petrova", "Smirnov", "Kuznetsova",
                                                                      "Popov", "Volkova")),
    "kk": (("Nursultan", "Aigerim", "Yerlan", "Dana", "Arman", "Saule"), ("Nurlanov", "Abenova", "Seitkali",
                                                                          "Tulegenova", "Omarov", "Zhaksybek")),
    "mn": (("Bat-Erdene", "Oyuun", "Gantulga", "Sarangerel", "Tömör", "Enkhjargal"), ("Batbayar", "Dorj",
                                                                                       "Ganbold", "Tserendorj")),
    "de": (("Klaus", "Anna", "Jürgen", "Petra", "Stefan", "Sabine"), ("Müller", "Schmidt", "Schneider", "Fischer",
                                                                      "Weber", "Becker")),
    "fr": (("Jean", "Marie", "Pierre", "Isabelle", "Luc", "Claire"), ("Martin", "Bernard", "Dubois", "Laurent",
                                                                      "Moreau", "Lefèvre")),
    "it": (("Marco", "Giulia", "Luca", "Francesca"), ("Rossi", "Bianchi", "Romano", "Colombo")),
    "es": (("Carlos", "Lucía", "Javier", "Carmen"), ("García", "Martínez", "López", "Sánchez")),
    "ur": (("Imran", "Ayesha", "Bilal", "Sana"), ("Khan", "Qureshi", "Malik", "Siddiqui")),
    "ne": (("Ram", "Sita", "Bikash", "Anita"), ("Shrestha", "Gurung", "Thapa", "Rai")),
    "bn": (("Rahim", "Nasrin", "Karim", "Taslima"), ("Hossain", "Rahman", "Islam", "Akter")),
    "km": (("Sok", "Srey", "Dara", "Channary"), ("Chan", "Heng", "Sok", "Kim")),
    "my": (("Aung", "Thida", "Kyaw", "Hnin"), ("Win", "Myint", "Htun", "Oo")),
    "lo": (("Somphone", "Khamla", "Bounmy", "Noy"), ("Phommachanh", "Sisavath", "Vongsa", "Keomany")),
}
SITE_TEXT = {TumourSite.HEAD_NECK: "head and neck", TumourSite.NASOPHARYNX: "nasopharyngeal",
             TumourSite.OESOPHAGUS: "oesophageal", TumourSite.NEUROENDOCRINE: "neuroendocrine",
             TumourSite.OTHER: "rare", TumourSite.LYMPHOMA: "lymphoma", TumourSite.SARCOMA: "sarcoma",
             TumourSite.PANCREAS: "pancreatic", TumourSite.GASTRIC: "stomach", TumourSite.COLORECTAL: "bowel"}
QUESTIONS: dict[QuestionTopic, str] = {
    QuestionTopic.PROTON_THERAPY: "Would proton therapy spare more healthy tissue than photon radiotherapy for my "
                                  "{site} cancer, and is it worth travelling for?",
    QuestionTopic.SURGERY_VS_RADIATION: "For my stage {stage} {site} cancer, should I have surgery first or "
                                        "radiotherapy?",
    QuestionTopic.SYSTEMIC_THERAPY_CHOICE: "Which systemic treatment gives the best chance for my {site} cancer "
                                           "after {lines} line(s) of treatment?",
    QuestionTopic.CLINICAL_TRIAL: "Is there a clinical trial in China I could join for my {site} cancer?",
    QuestionTopic.STAGING: "My scans were read as stage {stage}; is that staging right, and does it change the "
                           "plan?",
    QuestionTopic.DIAGNOSIS: "Is the pathology diagnosis of my {site} tumour correct? Two labs disagreed.",
    QuestionTopic.INTEGRATIVE_ONCOLOGY: "Can integrative oncology help me tolerate treatment for my {site} "
                                        "cancer?",
    QuestionTopic.OTHER: "What would your tumour board recommend as the next step for my {site} cancer?",
}
DIAGNOSIS_RATE: dict[ReferralReason, float] = {
    ReferralReason.RARE_TUMOUR: 0.27, ReferralReason.STAGE_BORDERLINE: 0.19,
    ReferralReason.TREATMENT_INTENT_DISPUTE: 0.09, ReferralReason.GENOMIC_GUIDED: 0.10,
    ReferralReason.EXPENSIVE_TREATMENT: 0.07, ReferralReason.OTHER: 0.10}
TREATMENT_RATE: dict[ReferralReason, float] = {
    ReferralReason.RARE_TUMOUR: 0.40, ReferralReason.STAGE_BORDERLINE: 0.38,
    ReferralReason.TREATMENT_INTENT_DISPUTE: 0.46, ReferralReason.GENOMIC_GUIDED: 0.42,
    ReferralReason.EXPENSIVE_TREATMENT: 0.25, ReferralReason.OTHER: 0.24}
# Calibrated so the whole population lands on DIAGNOSIS_CHANGED / TREATMENT_CHANGED (tests check it).
DIAGNOSIS_SCALE = 1.06
TREATMENT_SCALE = 0.83
# How likely a patient travels, relative to the mean, by the recommended pathway.
TRAVEL_WEIGHT: dict[Pathway, float] = {
    Pathway.PROTON_THERAPY: 2.1, Pathway.CLINICAL_TRIAL: 1.7, Pathway.TARGETED_THERAPY: 1.35,
    Pathway.IMMUNOTHERAPY: 1.35, Pathway.SURGERY: 1.0, Pathway.CHEMORADIATION: 0.95, Pathway.RADIOTHERAPY: 0.85,
    Pathway.SYSTEMIC_THERAPY: 0.85, Pathway.SURVEILLANCE: 0.0, Pathway.PALLIATIVE_CARE: 0.0}
TRAVEL_SCALE = 0.385  # calibrated: booked / decided lands near SHARE_BOOKED_OF_DECIDED
TREATMENT_OF: dict[Pathway, TreatmentType] = {
    Pathway.PROTON_THERAPY: TreatmentType.PROTON_THERAPY, Pathway.CLINICAL_TRIAL: TreatmentType.TRIAL_ENROLMENT,
    Pathway.TARGETED_THERAPY: TreatmentType.SYSTEMIC_THERAPY, Pathway.IMMUNOTHERAPY: TreatmentType.SYSTEMIC_THERAPY,
    Pathway.SYSTEMIC_THERAPY: TreatmentType.SYSTEMIC_THERAPY, Pathway.SURGERY: TreatmentType.SURGERY,
    Pathway.CHEMORADIATION: TreatmentType.CHEMORADIATION, Pathway.RADIOTHERAPY: TreatmentType.RADIOTHERAPY}
TRAVEL_REASONS: dict[Pathway, dict[TravelReason, float]] = {
    Pathway.PROTON_THERAPY: {TravelReason.HIGH_COST_THERAPY: 1},
    Pathway.CLINICAL_TRIAL: {TravelReason.EARLY_PHASE_TRIAL: 1},
    Pathway.TARGETED_THERAPY: {TravelReason.HIGH_COST_THERAPY: 7, TravelReason.INSURER_DOES_NOT_COVER: 3},
    Pathway.IMMUNOTHERAPY: {TravelReason.HIGH_COST_THERAPY: 7, TravelReason.INSURER_DOES_NOT_COVER: 3},
    Pathway.SYSTEMIC_THERAPY: {TravelReason.INSURER_DOES_NOT_COVER: 5, TravelReason.ONE_PROGRAMME: 4,
                               TravelReason.OTHER: 1},
    Pathway.SURGERY: {TravelReason.ONE_PROGRAMME: 6, TravelReason.INSURER_DOES_NOT_COVER: 3, TravelReason.OTHER: 1},
    Pathway.CHEMORADIATION: {TravelReason.ONE_PROGRAMME: 6, TravelReason.INSURER_DOES_NOT_COVER: 3,
                             TravelReason.OTHER: 1},
    Pathway.RADIOTHERAPY: {TravelReason.ONE_PROGRAMME: 5, TravelReason.HIGH_COST_THERAPY: 2,
                           TravelReason.INSURER_DOES_NOT_COVER: 3},
}
# Estimated treatment cost in China, USD (low, high).
TREATMENT_COST: dict[TreatmentType, tuple[int, int]] = {
    TreatmentType.PROTON_THERAPY: (30_000, 55_000), TreatmentType.SURGERY: (8_000, 25_000),
    TreatmentType.CHEMORADIATION: (10_000, 25_000), TreatmentType.RADIOTHERAPY: (6_000, 18_000),
    TreatmentType.SYSTEMIC_THERAPY: (10_000, 40_000), TreatmentType.TRIAL_ENROLMENT: (2_000, 10_000)}
RECORD_FOR_TOPIC: dict[InformationTopic, RecordKind] = {
    InformationTopic.ADDITIONAL_IMAGING: RecordKind.IMAGING, InformationTopic.PATHOLOGY_BLOCKS:
    RecordKind.PATHOLOGY_SLIDES, InformationTopic.RECUT_SLIDES: RecordKind.PATHOLOGY_SLIDES,
    InformationTopic.GENOMIC_RESULTS: RecordKind.GENOMIC_REPORT, InformationTopic.TREATMENT_DETAILS:
    RecordKind.TREATMENT_HISTORY, InformationTopic.LABORATORY_RESULTS: RecordKind.TREATMENT_HISTORY}


def _pick(rng: random.Random, weights: Mapping[T, float]) -> T:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _add_business_days(cal: BusinessDays, start: date, n: int) -> date:
    d = start
    while n:
        d += timedelta(days=1)
        n -= cal.is_business_day(d)
    return d


def _at(day: date, hours: float) -> datetime:
    return datetime.combine(day, time(), TZ) + timedelta(minutes=int(hours * 60))


def _hours(t: datetime) -> float:
    local = t.astimezone(TZ)
    return local.hour + local.minute / 60 + local.second / 3600


class _Planner:
    def __init__(self, rng: random.Random, cal: BusinessDays, year: int) -> None:
        self.rng, self.cal, self.year = rng, cal, year
        self.year_end = datetime(year, 12, 31, 22, 0, tzinfo=TZ)

    # -------------------------------------------------------------- time
    def office(self, after: datetime, business_days: int) -> datetime:
        """Office hours on the business_days-th business day after `after`'s date, strictly later than
        `after`; 0 means later the same day when it is a business day with office hours left."""
        day = after.astimezone(TZ).date()
        if business_days == 0:
            start = max(9.0, _hours(after) + 0.25)
            if self.cal.is_business_day(day) and start < 17.5:
                return _at(day, self.rng.uniform(start, 18.0))
            business_days = 1
        return _at(_add_business_days(self.cal, day, business_days), self.rng.uniform(9.0, 18.0))

    def later(self, after: datetime, low_hours: float, high_hours: float) -> datetime:
        """A patient's or coordinator's moment: any hour, low..high hours after `after`."""
        moment = after + timedelta(hours=self.rng.uniform(low_hours, high_hours))
        return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)

    def start_day(self) -> date:
        first, last = date(self.year, 1, 5), date(self.year, *LAST_START)
        span = (last - first).days
        while True:  # a programme that grows: later days are up to 1.5 times as likely
            offset = self.rng.randrange(span + 1)
            if self.rng.random() * 1.5 <= 1 + 0.5 * offset / span:
                return first + timedelta(days=offset)

    # -------------------------------------------------------------- who
    def profile(self) -> Profile:
        rng = self.rng
        proton = rng.random() < SHARE_PROTON_QUESTION
        site = _pick(rng, {s: w for s, w in SITES.items() if s in PROTON_SITES} if proton else SITES)
        histology = _pick(rng, HISTOLOGIES[site])
        rare = is_rare(site, histology)
        stage = _pick(rng, STAGES)
        late = stage in (StageGroup.STAGE_III, StageGroup.STAGE_IV)
        reasons: list[ReferralReason] = []
        if rare and rng.random() < 0.9:
            reasons.append(ReferralReason.RARE_TUMOUR)
        if stage in (StageGroup.STAGE_II, StageGroup.STAGE_III) and rng.random() < 0.35:
            reasons.append(ReferralReason.STAGE_BORDERLINE)
        if late and rng.random() < 0.25:
            reasons.append(ReferralReason.TREATMENT_INTENT_DISPUTE)
        genomic_site = site in (TumourSite.LUNG, TumourSite.BREAST, TumourSite.COLORECTAL, TumourSite.GASTRIC)
        if rng.random() < (0.30 if genomic_site and late else 0.08):
            reasons.append(ReferralReason.GENOMIC_GUIDED)
        if proton or (stage == StageGroup.STAGE_IV and rng.random() < 0.15):
            reasons.append(ReferralReason.EXPENSIVE_TREATMENT)
        if not reasons:
            reasons.append(_pick(rng, {ReferralReason.STAGE_BORDERLINE: 4, ReferralReason.TREATMENT_INTENT_DISPUTE: 3,
                                       ReferralReason.OTHER: 3}))
        topics: list[QuestionTopic] = [QuestionTopic.PROTON_THERAPY] if proton else []
        for _ in range(1 if proton else rng.choice((1, 1, 2))):
            topic = _pick(rng, {QuestionTopic.SYSTEMIC_THERAPY_CHOICE: 25, QuestionTopic.SURGERY_VS_RADIATION: 20,
                                QuestionTopic.STAGING: 15, QuestionTopic.DIAGNOSIS: 12,
                                QuestionTopic.CLINICAL_TRIAL: 12, QuestionTopic.INTEGRATIVE_ONCOLOGY: 6,
                                QuestionTopic.OTHER: 10})
            if topic not in topics:
                topics.append(topic)
        country, _, languages = rng.choices(COUNTRIES, weights=[c[1] for c in COUNTRIES])[0]
        preferred = _pick(rng, PREFERRED) if rng.random() < SHARE_PREFERRED_CENTRE else None
        centres = list(CentreId)
        if rng.random() < 0.15:  # a patient who consents to a few named centres only (three or more)
            keep = {CentreId.SYSUCC, *rng.sample([c for c in centres if c is not CentreId.SYSUCC], 2)}
            keep.update(c for c in centres if rng.random() < 0.3)
            if proton:
                keep.add(CentreId.CAMS)
            if preferred:
                keep.add(preferred)
            centres = [c for c in centres if c in keep]
        glass = rng.random() < (0.30 if rare else SHARE_GLASS_SLIDES * 0.85)
        return Profile(
            tumour_site=site, histology=histology, rare_tumour=rare, stage_group=stage,
            referral_reasons=tuple(reasons), country=country, language=_pick(rng, languages),
            preferred_centre=preferred, wants_video=rng.random() < SHARE_VIDEO, question_topics=tuple(topics),
            imaging_studies=_pick(rng, {1: 45, 2: 30, 3: 15, 4: 10}), glass_slides=glass,
            genomic_report=ReferralReason.GENOMIC_GUIDED in reasons or rng.random() < 0.2,
            consented_centres=tuple(centres))

    def patient(self, profile: Profile, opened: date, number: int) -> Patient:
        rng = self.rng
        given, family = NAMES.get(profile.language, NAMES["en"])
        first, last = rng.choice(given), rng.choice(family)
        age = max(18, min(88, int(rng.gauss(57, 12))))
        born = opened - timedelta(days=age * 365 + rng.randrange(365))
        ascii_name = "".join(ch for ch in f"{first}.{last}".lower().replace(" ", "") if ch.isascii() and
                             (ch.isalnum() or ch == "."))
        email = f"{ascii_name}{number}@example.org" if rng.random() < 0.9 else None
        phone = (f"{PHONE_PREFIX.get(profile.country, '+1')} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
                 f" {rng.randrange(100, 999)}" if rng.random() < 0.7 else None)
        passport = ("".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2)) + str(rng.randrange(10**6, 10**7))
                    if rng.random() < 0.6 else None)
        return Patient(f"{first} {last}", born, email, phone, passport)

    def question(self, profile: Profile) -> str:
        topic = profile.question_topics[0] if profile.question_topics else QuestionTopic.OTHER
        site = SITE_TEXT.get(profile.tumour_site, profile.tumour_site.value)
        return QUESTIONS[topic].format(site=site, stage=profile.stage_group.value, lines=self.rng.choice((1, 2, 3)))

    # -------------------------------------------------------------- the review's coded outcome
    def review(self, profile: Profile, business_days: int, information_request: bool) -> ReviewPlan:
        rng = self.rng
        reasons = profile.referral_reasons
        p_diag = DIAGNOSIS_SCALE * sum(DIAGNOSIS_RATE[r] for r in reasons) / len(reasons)
        p_treat = TREATMENT_SCALE * sum(TREATMENT_RATE[r] for r in reasons) / len(reasons)
        diagnosis = OutcomeChange.CONCORDANT
        if rng.random() < p_diag:
            diagnosis = OutcomeChange.REFINED if rng.random() < 0.7 else OutcomeChange.MAJOR_CHANGE
        # A changed diagnosis usually changes the treatment too.
        if diagnosis is not OutcomeChange.CONCORDANT:
            p_treat = min(0.95, p_treat + 0.25)
        treatment = OutcomeChange.CONCORDANT
        if rng.random() < p_treat:
            treatment = OutcomeChange.REFINED if rng.random() < 0.65 else OutcomeChange.MAJOR_CHANGE
        standard = self.standard_pathway(profile)
        pathway = standard
        if treatment is not OutcomeChange.CONCORDANT:
            pathway = self.alternative_pathway(profile, standard)
        elif QuestionTopic.PROTON_THERAPY in profile.question_topics and standard is Pathway.RADIOTHERAPY:
            pathway = Pathway.PROTON_THERAPY  # the home plan was already proton-eligible radiotherapy
        return ReviewPlan(business_days, information_request, pathway, diagnosis, treatment)

    def standard_pathway(self, profile: Profile) -> Pathway:
        site, stage = profile.tumour_site, profile.stage_group
        rng = self.rng
        if stage is StageGroup.STAGE_IV:
            if ReferralReason.GENOMIC_GUIDED in profile.referral_reasons:
                return Pathway.TARGETED_THERAPY
            return Pathway.IMMUNOTHERAPY if rng.random() < 0.25 else Pathway.SYSTEMIC_THERAPY
        if stage is StageGroup.STAGE_0:
            return Pathway.SURVEILLANCE if rng.random() < 0.4 else Pathway.SURGERY
        if site is TumourSite.LYMPHOMA:
            return Pathway.SYSTEMIC_THERAPY
        late = stage is StageGroup.STAGE_III
        if site in (TumourSite.NASOPHARYNX, TumourSite.CERVIX):
            return Pathway.CHEMORADIATION if late else Pathway.RADIOTHERAPY
        if site in (TumourSite.LUNG, TumourSite.OESOPHAGUS, TumourSite.HEAD_NECK):
            return Pathway.CHEMORADIATION if late else Pathway.SURGERY
        if site is TumourSite.PROSTATE:
            return Pathway.RADIOTHERAPY if rng.random() < 0.6 else Pathway.SURGERY
        if site is TumourSite.BREAST and late:
            return Pathway.SYSTEMIC_THERAPY
        if site in (TumourSite.LIVER, TumourSite.PANCREAS) and late:
            return Pathway.SYSTEMIC_THERAPY
        return Pathway.SURGERY

    def alternative_pathway(self, profile: Profile, standard: Pathway) -> Pathway:
        rng = self.rng
        if QuestionTopic.PROTON_THERAPY in profile.question_topics and rng.random() < 0.7:
            return Pathway.PROTON_THERAPY
        if ReferralReason.GENOMIC_GUIDED in profile.referral_reasons and standard is not Pathway.TARGETED_THERAPY \
                and rng.random() < 0.6:
            return Pathway.TARGETED_THERAPY
        if QuestionTopic.CLINICAL_TRIAL in profile.question_topics and rng.random() < 0.6:
            return Pathway.CLINICAL_TRIAL
        options = {Pathway.SURGERY: 18, Pathway.CHEMORADIATION: 14, Pathway.RADIOTHERAPY: 10,
                   Pathway.SYSTEMIC_THERAPY: 14, Pathway.IMMUNOTHERAPY: 10, Pathway.TARGETED_THERAPY: 6,
                   Pathway.CLINICAL_TRIAL: 12, Pathway.SURVEILLANCE: 8, Pathway.PALLIATIVE_CARE: 4}
        if profile.tumour_site in PROTON_SITES:
            options[Pathway.PROTON_THERAPY] = 4
        if profile.stage_group is StageGroup.STAGE_IV:
            options.pop(Pathway.SURGERY)
            options.pop(Pathway.SURVEILLANCE)
        options.pop(standard, None)
        return _pick(rng, options)

    # -------------------------------------------------------------- one case
    def case(self, number: int, fate: Fate) -> CasePlan:
        rng = self.rng
        profile = self.profile()
        start = self.start_day()
        opened = _at(start, rng.uniform(7.0, 22.0))
        patient = self.patient(profile, start, number)
        steps: list[Step] = []
        from_quote = rng.random() < SHARE_FROM_QUOTE
        if from_quote:
            quoted = max(opened - timedelta(hours=rng.uniform(2, 14 * 24)), datetime(self.year, 1, 1, 8, tzinfo=TZ))
            steps.append(Step(min(quoted, opened - timedelta(minutes=5)), "quote"))
        steps.append(Step(opened, "open"))
        processing = self.later(opened, 0.05, 0.5)
        transfer = self.later(processing, 0.05, 1.0) if rng.random() < 0.85 else self.later(processing, 20, 72)
        steps.append(Step(processing, "consent", {"consent": ConsentKind.HEALTH_DATA_PROCESSING.value}))
        steps.append(Step(transfer, "consent", {"consent": ConsentKind.TRANSFER_ABROAD.value,
                                                 "centre_ids": [c.value for c in profile.consented_centres]}))

        kinds: list[RecordKind] = [RecordKind.PATHOLOGY_REPORT, RecordKind.TREATMENT_HISTORY,
                                   RecordKind.ONCOLOGIST_LETTER, RecordKind.ONCOLOGIST_LETTER]
        kinds += [RecordKind.IMAGING] * profile.imaging_studies
        if not profile.glass_slides:
            kinds.append(RecordKind.PATHOLOGY_SLIDES)
        if profile.genomic_report:
            kinds.append(RecordKind.GENOMIC_REPORT)
        rng.shuffle(kinds)
        held_back: list[RecordKind] = []
        requested = fate == "expired" or rng.random() < SHARE_RECORDS_REQUESTED
        if requested:
            # The first batch misses one or two required kinds: one of the two letters, or every imaging
            # study, or the one report of a kind, so that the checklist really is incomplete.
            required = sorted({k for k in kinds if k is not RecordKind.GENOMIC_REPORT or
                               ReferralReason.GENOMIC_GUIDED in profile.referral_reasons})
            for kind in rng.sample(required, k=rng.choice((1, 1, 2))):
                for _ in range(kinds.count(kind) if kind is RecordKind.IMAGING else 1):
                    kinds.remove(kind)
                    held_back.append(kind)
        uploads = sorted(self.later(opened, 0.1, 48) for _ in kinds)
        steps += [Step(at, "upload", {"kind": k.value}) for at, k in zip(uploads, kinds, strict=True)]
        complete = max(uploads, default=opened)
        if profile.glass_slides:
            shipped = self.later(opened, 20, 72)
            received = self.office(self.later(shipped, 72, 8 * 24), 0)
            steps.append(Step(shipped, "ship_slides", {"slide_count": rng.choice((4, 6, 8, 10, 12, 16, 20))}))
            steps.append(Step(received, "receive_slides"))
            complete = max(complete, received)
        if requested:
            asked = self.office(opened + timedelta(days=rng.uniform(1.5, 3.5)), 0)
            steps.append(Step(asked, "request_records"))
            if fate != "expired":
                late = sorted(self.later(asked, 18, 10 * 24) for _ in held_back)
                steps += [Step(at, "upload", {"kind": k.value}) for at, k in zip(late, held_back, strict=True)]
                complete = max(complete, *late)
        if fate == "expired":
            return self._finish(number, patient, profile, from_quote, fate, False, None, None, None, False, steps)

        ready = max(complete, transfer, processing)
        steps.append(Step(ready + timedelta(seconds=1), "await_routing"))
        declined_first = rng.random() < SHARE_DECLINED_FIRST
        if declined_first:
            declined = self.office(ready, rng.choice((0, 0, 1)))
            steps.append(Step(declined, "decline", {"reason": _pick(rng, {
                DeclineReason.AT_CAPACITY: 40, DeclineReason.OUTSIDE_EXPERTISE: 25,
                DeclineReason.RECORDS_INSUFFICIENT: 20, DeclineReason.CONFLICT_OF_INTEREST: 5,
                DeclineReason.OTHER: 10}).value}))
            accepted = self.office(declined + timedelta(hours=2), rng.choice((0, 1, 1, 2)))
        else:
            accepted = self.office(ready + timedelta(minutes=30), rng.choice((0, 1, 1, 1, 2)))

        # Cancellation and withdrawal before acceptance: the steps after that moment never happen.
        withdrawn_early = fate == "withdrawn" and rng.random() < 0.6
        if fate == "cancelled" or withdrawn_early:
            moment = self.later(opened, 1, max(1.5, (accepted - opened).total_seconds() / 3600 - 1))
            steps = [s for s in steps if s.at < moment]
            steps.append(self._ending(fate, moment, steps))
            # The decline happens only if it came before the ending.
            was_declined = any(s.action == "decline" for s in steps)
            return self._finish(number, patient, profile, from_quote, fate, was_declined, None, None, None, False,
                                steps)

        steps.append(Step(accepted, "accept"))
        business_days = _pick(rng, DELIVERY_DAYS)
        information = rng.random() < SHARE_INFORMATION_REQUEST
        delivered, pause = self._delivery_moment(accepted, business_days, information)
        if pause is not None:
            asked, supplied, topic = pause
            steps.append(Step(asked, "request_information", {"topics": [topic.value]}))
            steps.append(Step(supplied, "supply_information", {"kind": RECORD_FOR_TOPIC.get(
                topic, RecordKind.TREATMENT_HISTORY).value}))
        if fate == "withdrawn":  # during the review, before delivery
            moment = self.later(accepted, 1, max(1.5, (delivered - accepted).total_seconds() / 3600 - 1))
            steps = [s for s in steps if s.at < moment]
            steps.append(self._ending(fate, moment, steps))
            # The decline happens only if it came before the ending.
            was_declined = any(s.action == "decline" for s in steps)
            return self._finish(number, patient, profile, from_quote, fate, was_declined, None, None, None, False,
                                steps)

        review = self.review(profile, business_days, information)
        steps.append(Step(delivered - timedelta(minutes=1), "timers"))
        steps.append(Step(delivered, "deliver", self.delivery_body(profile, review)))
        after = delivered
        if profile.wants_video:
            requested_video = self.later(delivered, 2, 48)
            scheduled = self.later(requested_video, 1, 24)
            held_at = self.office(scheduled, rng.choice((3, 4, 5, 6, 7)))
            steps.append(Step(requested_video, "video", {"step": "request"}))
            steps.append(Step(scheduled, "video", {"step": "schedule", "scheduled_for": held_at.isoformat()}))
            steps.append(Step(held_at + timedelta(minutes=50), "video",
                              {"step": "held" if rng.random() < 0.9 else "missed"}))
            after = held_at + timedelta(minutes=50)

        decision: Decision
        booking: Booking | None = None
        redeems = False
        decided = self._decision_moment(after)
        if rng.random() < SHARE_UNDECIDED or decided is None:
            decision = "undecided"
        elif rng.random() < min(0.95, TRAVEL_SCALE * TRAVEL_WEIGHT[review.pathway]):
            decision = "booked_treatment"
            booking = self.booking(review.pathway)
            steps.append(Step(decided, "book", {"treatment_type": booking.treatment_type.value,
                                                "travel_reason": booking.travel_reason.value,
                                                "estimated_cost_cents": booking.estimated_cost_cents,
                                                "centre_id": booking.centre.value if booking.centre else None}))
            billed = decided + timedelta(days=rng.uniform(14, 60))
            if rng.random() < SHARE_REDEEMED and billed < self.year_end:
                redeems = True
                steps.append(Step(billed.replace(second=0, microsecond=0), "redeem",
                                  {"treatment_invoice_ref": f"tx-{number:04d}-{rng.randrange(10**6):06d}"}))
        else:
            decision = "returned_home"
            steps.append(Step(decided, "close"))
        return self._finish(number, patient, profile, from_quote, fate, declined_first, review, decision, booking,
                            redeems, steps)

    def _ending(self, fate: Fate, moment: datetime, before: list[Step]) -> Step:
        rng = self.rng
        if fate == "cancelled":
            return Step(moment, "cancel", {"reason": _pick(rng, {
                CancellationReason.PATIENT_REQUEST: 30, CancellationReason.FINANCIAL: 25,
                CancellationReason.TREATED_ELSEWHERE: 25, CancellationReason.CLINICAL_DETERIORATION: 12,
                CancellationReason.PATIENT_DECEASED: 3, CancellationReason.OTHER: 5}).value})
        # Only a consent in force can be withdrawn; the processing consent comes minutes after opening.
        given = [s.data["consent"] for s in before if s.action == "consent"]
        transfer = ConsentKind.TRANSFER_ABROAD.value
        consent = transfer if transfer in given and rng.random() < 0.6 else given[0]
        return Step(moment, "withdraw_consent", {"consent": consent})

    def _delivery_moment(self, accepted: datetime, n: int, information: bool
                         ) -> tuple[datetime, tuple[datetime, datetime, InformationTopic] | None]:
        """The delivery on the n-th counted business day, and the information pause if there is one."""
        rng, cal = self.rng, self.cal
        ask_after = rng.randrange(1, n) if information else None  # counted days before the request
        day, counted = accepted.astimezone(TZ).date(), 0
        pause: tuple[datetime, datetime, InformationTopic] | None = None
        while True:
            day += timedelta(days=1)
            if not cal.is_business_day(day):
                continue
            if ask_after is not None and pause is None and counted == ask_after:
                asked = _at(day, rng.uniform(9.5, 17.0))
                supplied = _at(day + timedelta(days=rng.choice((1, 2, 2, 3, 3, 4, 5, 6, 8))), rng.uniform(7.0, 12.0))
                topic = _pick(rng, {InformationTopic.ADDITIONAL_IMAGING: 30, InformationTopic.PATHOLOGY_BLOCKS: 15,
                                    InformationTopic.RECUT_SLIDES: 10, InformationTopic.GENOMIC_RESULTS: 15,
                                    InformationTopic.TREATMENT_DETAILS: 20, InformationTopic.LABORATORY_RESULTS: 10})
                pause = (asked, supplied, topic)
                day = supplied.astimezone(TZ).date() - timedelta(days=1)  # the resumption day counts
                continue
            counted += 1
            if counted == n:
                break
        earliest = 9.0
        if pause is not None and pause[1].astimezone(TZ).date() == day:
            earliest = _hours(pause[1]) + 1
        return _at(day, rng.uniform(earliest, 18.5)), pause

    def _decision_moment(self, after: datetime) -> datetime | None:
        rng = self.rng
        latest = self.year_end - timedelta(days=1)
        if after + timedelta(days=1) >= latest:
            return None
        wait = timedelta(days=rng.triangular(1.5, 45, 9))
        moment = after + wait
        if moment >= latest:
            moment = after + timedelta(seconds=rng.uniform(86400, (latest - after).total_seconds()))
        return moment.replace(second=0, microsecond=0)

    def booking(self, pathway: Pathway) -> Booking:
        rng = self.rng
        treatment = TREATMENT_OF[pathway]
        low, high = TREATMENT_COST[treatment]
        return Booking(treatment_type=treatment, travel_reason=_pick(rng, TRAVEL_REASONS[pathway]),
                       estimated_cost_cents=rng.randrange(low, high) * 100,
                       centre=CentreId.CAMS if treatment is TreatmentType.PROTON_THERAPY else None)

    def delivery_body(self, profile: Profile, review: ReviewPlan) -> dict[str, Any]:
        rng = self.rng
        pathology: dict[str, Any] = {"verdict": "agree"}
        imaging: dict[str, Any] = {"verdict": "stage_confirmed"}
        rationale: list[str] = []
        if review.diagnosis_change is OutcomeChange.REFINED:
            if rng.random() < 0.5:
                pathology = {"verdict": "revised_grade", "revised_grade": rng.choice(("G1", "G2", "G3"))}
                rationale.append("grade_revised")
            else:
                imaging = {"verdict": "stage_revised", "revised_stage_group": _neighbour(profile.stage_group, rng)}
                rationale.append("stage_revised")
        elif review.diagnosis_change is OutcomeChange.MAJOR_CHANGE:
            others = [h for h in HISTOLOGIES[profile.tumour_site] if h is not profile.histology] or [Histology.OTHER]
            pathology = {"verdict": "revised_histology", "revised_histology": rng.choice(others).value}
            rationale.append("histology_revised")
            if rng.random() < 0.4:
                imaging = {"verdict": "stage_revised", "revised_stage_group": _neighbour(profile.stage_group, rng)}
        rationale.append({
            Pathway.PROTON_THERAPY: "proton_dosimetric_advantage", Pathway.TARGETED_THERAPY: "actionable_alteration",
            Pathway.CLINICAL_TRIAL: "trial_eligible", Pathway.SURVEILLANCE: "de_escalation",
            Pathway.PALLIATIVE_CARE: "palliative_intent", Pathway.IMMUNOTHERAPY: "biomarker_supports_immunotherapy",
        }.get(review.pathway, "guideline_concordant" if review.treatment_change is OutcomeChange.CONCORDANT
              else "multidisciplinary_consensus"))
        if ReferralReason.RARE_TUMOUR in profile.referral_reasons:
            rationale.append("rare_tumour_expertise")
        trials = []
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2)) + (review.pathway is Pathway.CLINICAL_TRIAL)):
            china_only = rng.random() < 0.45
            trial_id = (f"CTR{rng.randrange(2021_0000, 2026_9999)}" if china_only and rng.random() < 0.5
                        else f"ChiCTR{rng.randrange(2_100_000_000, 2_699_999_999)}" if china_only
                        else f"NCT0{rng.randrange(10**7):07d}")
            trials.append({"trial_id": trial_id, "phase": rng.choice(("I", "I/II", "II", "II", "III")),
                           "china_only": china_only})
        pages = _pick(rng, {5: 15, 6: 35, 7: 30, 8: 12, 9: 4, 10: 3, 12: 1})
        body: dict[str, Any] = {
            "pathology": pathology, "imaging": imaging, "recommended_pathway": review.pathway.value,
            "rationale_codes": rationale, "trial_options": trials,
            "question_answer": _pick(rng, {"answered": 75, "answered_with_caveats": 20, "needs_further_tests": 5}),
            "diagnosis_change": review.diagnosis_change.value, "treatment_change": review.treatment_change.value,
            "report_ref": str(UUID(int=rng.getrandbits(128), version=4)), "page_count": pages,
        }
        if pages > 8:
            body["page_count_reason"] = rng.choice(("complex_multifocal_disease", "several_questions_answered"))
        return body

    def _finish(self, number: int, patient: Patient, profile: Profile, from_quote: bool, fate: Fate,
                declined_first: bool, review: ReviewPlan | None, decision: Decision | None, booking: Booking | None,
                redeems: bool, steps: list[Step]) -> CasePlan:
        ordered = sorted(steps, key=lambda s: s.at)
        return CasePlan(number=number, patient=patient, question=self.question(profile), profile=profile,
                        from_quote=from_quote, fate=fate, declined_first=declined_first, review=review,
                        decision=decision, booking=booking, redeems=redeems, steps=tuple(ordered))


def _neighbour(stage: StageGroup, rng: random.Random) -> str:
    order = [StageGroup.STAGE_0, StageGroup.STAGE_I, StageGroup.STAGE_II, StageGroup.STAGE_III, StageGroup.STAGE_IV]
    if stage not in order:
        return rng.choice((StageGroup.STAGE_II, StageGroup.STAGE_III)).value
    i = order.index(stage)
    options = [order[j] for j in (i - 1, i + 1) if 0 <= j < len(order)]
    return rng.choice(options).value


def plan_year(cases: int = 300, seed: int = 2026, year: int = 2026, calendar: BusinessDays | None = None) -> YearPlan:
    """The year's cases in order of opening, and the quotes that never became a case."""
    cal = calendar or default_calendar()
    if year not in cal.known_years:
        raise ValueError(f"the centres' calendar does not know {year}; known: {sorted(cal.known_years)[-3:]}")
    rng = random.Random(seed)
    planner = _Planner(rng, cal, year)
    fates: list[Fate] = []
    for _ in range(cases):
        r = rng.random()
        fates.append("cancelled" if r < SHARE_CANCELLED else "withdrawn" if r < SHARE_CANCELLED + SHARE_WITHDRAWN
                     else "expired" if r < SHARE_CANCELLED + SHARE_WITHDRAWN + SHARE_EXPIRED else "delivered")
    plans = sorted((planner.case(i, fate) for i, fate in enumerate(fates)), key=lambda c: c.steps[0].at)
    numbered = tuple(_renumber(p, i + 1) for i, p in enumerate(plans))
    extra: list[QuotePlan] = []
    for i in range(round(EXTRA_QUOTES * cases)):
        at = _at(planner.start_day(), rng.uniform(6.0, 23.5))
        extra.append(QuotePlan(i + 1, at, planner.profile()))
    return YearPlan(year=year, seed=seed, cases=numbered, extra_quotes=tuple(sorted(extra, key=lambda q: q.at)))


def _renumber(plan: CasePlan, number: int) -> CasePlan:
    return replace(plan, number=number)


def in_order(steps: Sequence[Step]) -> bool:
    return all(a.at <= b.at for a, b in itertools.pairwise(steps))
