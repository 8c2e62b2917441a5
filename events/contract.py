"""The event contract: the envelope and every event, shared by all services.

An event travels as JSON bytes of its `Envelope`; `payload` holds the event model's fields.
Payloads carry opaque ids, codes, amounts and timestamps only: never a name, date of birth,
contact, passport number, DICOM UID or free clinical text.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from events.codes import (
    CancellationReason,
    CentreId,
    ClosureReason,
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
    WithdrawalReason,
)

TOPIC = "case-ledger"
DLQ_TOPIC = "case-ledger.dlq"

# Every list and string of the contract is bounded, so that no accepted command can produce a
# message over the broker's limit (tests/unit/test_contract.py computes the worst case).
MAX_CODES = 16
MAX_TRIAL_OPTIONS = 20
MAX_PRICE_LINES = 32
# USD 100 million: far above any real fee or treatment estimate, far below an overflow.
MAX_CENTS = 10**10
Cents = Annotated[int, Field(ge=0, le=MAX_CENTS, description="money in integer US cents")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]
PatientRef = Annotated[str, StringConstraints(pattern=r"^pr_[0-9a-f]{32}$")]
# A machine code (snake_case), never prose.
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,47}$")]


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    event_type: str = Field(max_length=64)
    schema_version: int = Field(ge=1, le=1000)
    case_id: UUID
    stream_id: str = Field(max_length=120)
    stream_version: int = Field(ge=1, le=2**31 - 1)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    producer: str = Field(max_length=64)
    correlation_id: UUID
    causation_id: UUID | None = None
    payload: dict[str, Any]


class Event(BaseModel):
    """Base of every event payload; subclasses declare their type name and version."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


# ---------------------------------------------------------------- intake
class CaseOpened(Event):
    event_type = "CaseOpened"
    schema_version = 2

    patient_ref: PatientRef
    tumour_site: TumourSite
    histology: Histology = Histology.OTHER
    rare_tumour: bool
    stage_group: StageGroup
    referral_reasons: list[ReferralReason] = Field(min_length=1, max_length=len(ReferralReason))
    patient_country: CountryCode
    language: LanguageCode
    preferred_centre: CentreId | None = None
    wants_video: bool = False
    question_topics: list[QuestionTopic] = Field(default_factory=list, max_length=len(QuestionTopic))
    # Imaging studies and glass slides the patient will send, as declared at opening (pricing).
    imaging_studies: int = Field(default=1, ge=0, le=50)
    glass_slides: bool = False
    quote_id: UUID | None = None

    @property
    def is_rare_tumour(self) -> bool:
        # Cases opened before December 2026 set the flag from the codes only, not the referral reason.
        return self.rare_tumour or ReferralReason.RARE_TUMOUR in self.referral_reasons


class QuestionRecorded(Event):
    """The patient's question was recorded (encrypted at intake); the text never travels."""

    event_type = "QuestionRecorded"


class ConsentGiven(Event):
    event_type = "ConsentGiven"

    consent: ConsentKind
    text_version: Code
    # For transfer abroad: the centres the patient agreed to send data to (PIPL names the recipient).
    centre_ids: list[CentreId] = Field(default_factory=list, max_length=len(CentreId))


class ConsentWithdrawn(Event):
    event_type = "ConsentWithdrawn"

    consent: ConsentKind


class RecordsReceived(Event):
    event_type = "RecordsReceived"

    record_id: UUID
    kind: RecordKind
    sha256: Sha256 | None = None
    size_bytes: int | None = Field(default=None, ge=0)
    # For imaging only: extracted from the DICOM header.
    modality: Literal["CT", "MR", "PT"] | None = None
    study_date: date | None = None
    # For slides only.
    slide_format: Literal["digital", "glass"] | None = None


class RecordsCompleted(Event):
    event_type = "RecordsCompleted"

    record_count: int = Field(ge=1)


class GlassSlidesShipped(Event):
    event_type = "GlassSlidesShipped"

    shipment_id: UUID
    slide_count: int = Field(ge=1, le=500)


class GlassSlidesReceived(Event):
    event_type = "GlassSlidesReceived"

    shipment_id: UUID


class RecordsRequested(Event):
    event_type = "RecordsRequested"

    request_id: UUID
    missing: list[RecordKind | Literal["question"]] = Field(min_length=1, max_length=len(RecordKind) + 1)


class RecordsReminderSent(Event):
    event_type = "RecordsReminderSent"

    request_id: UUID
    reminder_number: int = Field(ge=1)


class CaseExpired(Event):
    """No activity for the dormancy period while records were still missing."""

    event_type = "CaseExpired"

    dormant_days: int = Field(ge=1)


class CaseClosed(Event):
    event_type = "CaseClosed"

    reason: ClosureReason


class CaseCancelled(Event):
    event_type = "CaseCancelled"

    reason: CancellationReason


class CaseWithdrawn(Event):
    event_type = "CaseWithdrawn"

    reason: WithdrawalReason


class PatientDataErased(Event):
    """The patient's key was destroyed: identity, question and records are unreadable from now on."""

    event_type = "PatientDataErased"

    patient_ref: PatientRef


class CaseRouted(Event):
    event_type = "CaseRouted"

    centre_id: CentreId
    reason_codes: list[Code] = Field(min_length=1, max_length=MAX_CODES)
    attempt: int = Field(ge=1)


class CaseRoutingBlocked(Event):
    """No centre can take the case as it stands; a coordinator must act."""

    event_type = "CaseRoutingBlocked"

    reason_codes: list[Code] = Field(min_length=1, max_length=MAX_CODES)


class CaseFinallyDeclined(Event):
    """The final decline: no centre will review the case (billing refunds in full)."""

    event_type = "CaseFinallyDeclined"

    declines: int = Field(ge=1)


class ReviewAccepted(Event):
    event_type = "ReviewAccepted"

    centre_id: CentreId


class CaseDeclined(Event):
    event_type = "CaseDeclined"

    centre_id: CentreId
    reason: DeclineReason


class InformationRequested(Event):
    """The centre waits on the patient: the SLA clock pauses."""

    event_type = "InformationRequested"

    request_id: UUID
    topics: list[InformationTopic] = Field(min_length=1, max_length=len(InformationTopic))


class InformationReceived(Event):
    """The requested information arrived: the SLA clock resumes."""

    event_type = "InformationReceived"

    request_id: UUID


class SlaClockStarted(Event):
    event_type = "SlaClockStarted"

    target_due: date
    limit_due: date


class SlaClockResumed(Event):
    event_type = "SlaClockResumed"

    target_due: date
    limit_due: date
    paused_business_days: int = Field(ge=0)


class SlaClockStopped(Event):
    """v2: the day counts are None when counting them needs a year the calendar does not know
    (a delivery in that year after a breach in a known one); the verdict is always given."""

    event_type = "SlaClockStopped"
    schema_version = 2

    business_days_used: int | None = Field(ge=0)
    paused_business_days: int | None = Field(ge=0)
    within_target: bool
    within_limit: bool


class SlaAtRisk(Event):
    """v2: `limit_due` is None when the 10th day falls in a year the calendar does not know."""

    event_type = "SlaAtRisk"
    schema_version = 2

    business_days_left: int = Field(ge=0)
    limit_due: date | None


class SlaBreached(Event):
    event_type = "SlaBreached"

    limit_due: date


class SlaClockBlocked(Event):
    """The centre's calendar does not know a year the clock needs: no guess is made."""

    event_type = "SlaClockBlocked"

    reason: Literal["calendar_unknown"] = "calendar_unknown"
    year: int = Field(ge=2000, le=2200)


class PathologyReview(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    verdict: Literal["agree", "revised_grade", "revised_histology"]
    revised_grade: Literal["G1", "G2", "G3", "G4"] | None = None
    revised_histology: Histology | None = None


class ImagingReread(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    verdict: Literal["stage_confirmed", "stage_revised"]
    revised_stage_group: StageGroup | None = None


class TrialOption(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    trial_id: Annotated[str, StringConstraints(pattern=r"^(NCT\d{8}|ChiCTR\d{6,12}|CTR\d{8})$")]
    phase: Literal["I", "I/II", "II", "II/III", "III", "IV"]
    china_only: bool


class ReviewDelivered(Event):
    """The written review as coded sections; its prose is in the report document (report_ref)."""

    event_type = "ReviewDelivered"

    centre_id: CentreId
    pathology: PathologyReview
    imaging: ImagingReread
    recommended_pathway: Pathway
    rationale_codes: list[Code] = Field(min_length=1, max_length=MAX_CODES)
    trial_options: list[TrialOption] = Field(default_factory=list, max_length=MAX_TRIAL_OPTIONS)
    question_answer: Literal["answered", "answered_with_caveats", "needs_further_tests"]
    diagnosis_change: OutcomeChange
    treatment_change: OutcomeChange
    report_ref: UUID
    page_count: int = Field(ge=1, le=100)
    # Required when the report is outside the expected 5-8 pages.
    page_count_reason: Code | None = None


class VideoConsultationRequested(Event):
    event_type = "VideoConsultationRequested"


class VideoConsultationScheduled(Event):
    event_type = "VideoConsultationScheduled"

    scheduled_for: AwareDatetime


class VideoConsultationHeld(Event):
    event_type = "VideoConsultationHeld"


class VideoConsultationMissed(Event):
    """The patient did not attend (a no-show)."""

    event_type = "VideoConsultationMissed"


class TreatmentBooked(Event):
    event_type = "TreatmentBooked"

    centre_id: CentreId
    treatment_type: TreatmentType
    travel_reason: TravelReason
    estimated_cost_cents: Cents


# ---------------------------------------------------------------- billing
ProviderRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_:-]{1,80}$")]
Version = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z._-]{1,32}$")]


class PriceLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    component: Code
    cents: Cents


class QuoteIssued(Event):
    """A prospective patient's instant quote; its stream and key are the quote id."""

    event_type = "QuoteIssued"

    review_cents: Cents
    video_cents: Cents
    breakdown: list[PriceLine] = Field(min_length=1, max_length=MAX_PRICE_LINES)
    price_book_version: Version
    tumour_site: TumourSite
    rare_tumour: bool
    glass_slides: bool
    imaging_studies: int = Field(ge=0, le=50)
    genomic_guided: bool
    wants_video: bool


class FeeInvoiced(Event):
    event_type = "FeeInvoiced"

    invoice_id: UUID
    review_fee_cents: Cents
    video_fee_cents: Cents = 0
    breakdown: list[PriceLine] = Field(default_factory=list, max_length=MAX_PRICE_LINES)
    price_book_version: Version | None = None
    quote_id: UUID | None = None


class PaymentAuthorised(Event):
    event_type = "PaymentAuthorised"

    payment_id: UUID
    provider_ref: ProviderRef
    amount_cents: Cents


class PaymentFailed(Event):
    event_type = "PaymentFailed"

    payment_id: UUID
    stage: Literal["authorise", "capture"]
    reason: Code


class PaymentCaptured(Event):
    event_type = "PaymentCaptured"

    payment_id: UUID
    review_fee_cents: Cents
    video_fee_cents: Cents = 0
    provider_ref: ProviderRef | None = None


class PaymentVoided(Event):
    """An authorisation released without capture: the patient was never charged."""

    event_type = "PaymentVoided"

    payment_id: UUID


class InvoiceVoided(Event):
    """The uncaptured part of an invoice written off (e.g. cancelled before records were complete)."""

    event_type = "InvoiceVoided"

    invoice_id: UUID
    review_cents: Cents
    video_cents: Cents


class RefundIssued(Event):
    event_type = "RefundIssued"

    refund_id: UUID
    payment_id: UUID
    review_cents: Cents
    video_cents: Cents
    reason: Literal["cancelled_before_acceptance", "cancelled_after_acceptance", "withdrawn_before_acceptance",
                    "withdrawn_after_acceptance", "declined_by_all_centres", "sla_breach"]
    provider_ref: ProviderRef | None = None


class FeeCreditApplied(Event):
    event_type = "FeeCreditApplied"

    credit_id: UUID
    treatment_booking_id: UUID
    amount_cents: Cents


class FeeCreditRedeemed(Event):
    """The treating centre billed the treatment and the fee credit was deducted from it."""

    event_type = "FeeCreditRedeemed"

    credit_id: UUID
    amount_cents: Cents
    treatment_invoice_ref: ProviderRef


ALL_EVENTS: tuple[type[Event], ...] = (
    CaseOpened,
    QuestionRecorded,
    ConsentGiven,
    ConsentWithdrawn,
    RecordsReceived,
    RecordsCompleted,
    GlassSlidesShipped,
    GlassSlidesReceived,
    RecordsRequested,
    RecordsReminderSent,
    CaseExpired,
    CaseClosed,
    CaseCancelled,
    CaseWithdrawn,
    PatientDataErased,
    CaseRouted,
    CaseRoutingBlocked,
    CaseFinallyDeclined,
    ReviewAccepted,
    CaseDeclined,
    InformationRequested,
    InformationReceived,
    SlaClockStarted,
    SlaClockResumed,
    SlaClockStopped,
    SlaAtRisk,
    SlaBreached,
    SlaClockBlocked,
    ReviewDelivered,
    VideoConsultationRequested,
    VideoConsultationScheduled,
    VideoConsultationHeld,
    VideoConsultationMissed,
    TreatmentBooked,
    QuoteIssued,
    FeeInvoiced,
    PaymentAuthorised,
    PaymentFailed,
    PaymentCaptured,
    PaymentVoided,
    InvoiceVoided,
    RefundIssued,
    FeeCreditApplied,
    FeeCreditRedeemed,
)
