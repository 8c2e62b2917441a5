"""The events intake emits: a case, its records and consents, the patient's decision, its endings."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import Field

from events.codes import (
    CancellationReason,
    CentreId,
    ClosureReason,
    ConsentKind,
    Histology,
    QuestionTopic,
    RecordKind,
    ReferralReason,
    StageGroup,
    TravelReason,
    TreatmentType,
    TumourSite,
    WithdrawalReason,
)
from events.contract.base import (
    Cents,
    Code,
    CountryCode,
    Event,
    LanguageCode,
    PatientRef,
    Sha256,
)


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



class TreatmentBooked(Event):
    event_type = "TreatmentBooked"

    centre_id: CentreId
    treatment_type: TreatmentType
    travel_reason: TravelReason
    estimated_cost_cents: Cents
