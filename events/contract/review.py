"""The events review emits: a centre's acceptance, its questions, the SLA clock, the report, video."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from events.codes import (
    CentreId,
    DeclineReason,
    Histology,
    InformationTopic,
    OutcomeChange,
    Pathway,
    StageGroup,
)
from events.contract.base import (
    MAX_CODES,
    MAX_TRIAL_OPTIONS,
    Code,
    Event,
    Sha256,
)


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
    """The centre's calendar does not know a year the clock needs: no guess is made.

    `target_due`: the 7th business day when the known days reach it (a limit in the unknown year
    with a target still in the known one); None otherwise, and in events stored before it was kept."""

    event_type = "SlaClockBlocked"

    reason: Literal["calendar_unknown"] = "calendar_unknown"
    year: int = Field(ge=2000, le=2200)
    target_due: date | None = None


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


class ReportUploaded(Event):
    """The centre stored a signed report (a PDF, encrypted at review) that a delivery may reference."""

    event_type = "ReportUploaded"

    document_id: UUID
    sha256: Sha256
    size_bytes: int = Field(ge=1)
    page_count: int = Field(ge=1, le=10_000)
    # Required when the report is outside the expected 5-8 pages.
    page_count_reason: Code | None = None


class ReviewDelivered(Event):
    """The written review as coded sections; its prose is the uploaded report (`report_ref` is its
    document id; deliveries stored before reports were uploaded reference nothing)."""

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


class ReviewEnded(Event):
    """Review's answer to a case's ending at intake: what the centre had done by then.

    A case's events come from four services and reach a consumer in the order their relays
    publish them, not in event time: billing saw a withdrawal before the acceptance that came
    before it, and refunded in full. Review publishes this after every event of its own for the
    case, so whoever settles the ending on it decides on review's whole history, by event time.
    Once per case: the first ending (a later one, e.g. an erasure after a cancellation, stops
    nothing more)."""

    event_type = "ReviewEnded"

    ending: Literal["CaseCancelled", "CaseWithdrawn", "CaseExpired", "PatientDataErased"]
    ending_event_id: UUID
    ended_at: AwareDatetime
    # The centre whose acceptance was in force when review learned of the ending, and when it
    # accepted; None when no centre had (never routed, offered only, or declined).
    centre_id: CentreId | None
    accepted_at: AwareDatetime | None
    delivered_at: AwareDatetime | None
    video_held_at: AwareDatetime | None


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


class ReportAmended(Event):
    """A corrected report after delivery: a new version beside the old ones, which stay readable."""

    event_type = "ReportAmended"

    document_id: UUID
    version: int = Field(ge=2)
    supersedes: UUID
    sha256: Sha256
    size_bytes: int = Field(ge=1)
    page_count: int = Field(ge=1, le=10_000)
    page_count_reason: Code | None = None


class FollowUpAsked(Event):
    """The coordinator sent a follow-up question (its text stays encrypted at review): its own clock starts.

    `due` is the last business day to answer; None when the calendar does not know the year."""

    event_type = "FollowUpAsked"

    follow_up_id: UUID
    number: int = Field(ge=1, le=10)
    business_days: int = Field(ge=1, le=30)
    due: date | None


class FollowUpAtRisk(Event):
    event_type = "FollowUpAtRisk"

    follow_up_id: UUID
    business_days_left: int = Field(ge=0)


class FollowUpBreached(Event):
    event_type = "FollowUpBreached"

    follow_up_id: UUID
    due: date


class FollowUpAnswered(Event):
    """The centre answered a follow-up with an addendum document; the follow-up's clock stops."""

    event_type = "FollowUpAnswered"

    follow_up_id: UUID
    document_id: UUID
    sha256: Sha256
    size_bytes: int = Field(ge=1)
    page_count: int = Field(ge=1, le=10_000)
    within_limit: bool
