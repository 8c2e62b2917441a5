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
    Histology,
    OutcomeChange,
    Pathway,
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

Cents = Annotated[int, Field(ge=0, description="money in integer US cents")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]
PatientRef = Annotated[str, StringConstraints(pattern=r"^pr_[0-9a-f]{32}$")]
# A machine code (snake_case), never prose.
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,47}$")]


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    event_type: str
    schema_version: int = Field(ge=1)
    case_id: UUID
    stream_id: str
    stream_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    producer: str
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
    referral_reasons: list[ReferralReason] = Field(min_length=1)
    patient_country: CountryCode
    language: LanguageCode
    preferred_centre: CentreId | None = None
    wants_video: bool = False


class QuestionRecorded(Event):
    """The patient's question was recorded (encrypted at intake); the text never travels."""

    event_type = "QuestionRecorded"


class ConsentGiven(Event):
    event_type = "ConsentGiven"

    consent: ConsentKind
    text_version: Code
    # For transfer abroad: the centres the patient agreed to send data to (PIPL names the recipient).
    centre_ids: list[CentreId] = Field(default_factory=list)


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
    missing: list[RecordKind | Literal["question"]] = Field(min_length=1)


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
    reason_codes: list[Code] = Field(min_length=1)
    attempt: int = Field(ge=1)


class CaseRoutingBlocked(Event):
    """No centre can take the case as it stands; a coordinator must act."""

    event_type = "CaseRoutingBlocked"

    reason_codes: list[Code] = Field(min_length=1)


class ReviewAccepted(Event):
    event_type = "ReviewAccepted"

    centre_id: CentreId


class ReviewDelivered(Event):
    event_type = "ReviewDelivered"

    centre_id: CentreId
    recommended_pathway: Pathway
    diagnosis_change: OutcomeChange
    treatment_change: OutcomeChange
    report_ref: UUID
    page_count: int = Field(ge=1, le=100)


class TreatmentBooked(Event):
    event_type = "TreatmentBooked"

    centre_id: CentreId
    treatment_type: TreatmentType
    travel_reason: TravelReason
    estimated_cost_cents: Cents


# ---------------------------------------------------------------- billing
class FeeInvoiced(Event):
    event_type = "FeeInvoiced"

    invoice_id: UUID
    review_fee_cents: Cents
    video_fee_cents: Cents = 0


class PaymentCaptured(Event):
    event_type = "PaymentCaptured"

    payment_id: UUID
    review_fee_cents: Cents
    video_fee_cents: Cents = 0


class FeeCreditApplied(Event):
    event_type = "FeeCreditApplied"

    credit_id: UUID
    treatment_booking_id: UUID
    amount_cents: Cents


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
    ReviewAccepted,
    ReviewDelivered,
    TreatmentBooked,
    FeeInvoiced,
    PaymentCaptured,
    FeeCreditApplied,
)
