"""Intake's HTTP API: coordinators open cases, collect records and consent, record the decision."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator

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
    is_rare,
)
from events.contract import (
    CaseCancelled,
    CaseClosed,
    CaseOpened,
    CaseWithdrawn,
    Code,
    ConsentGiven,
    GlassSlidesShipped,
    LanguageCode,
    PatientRef,
    RecordsReceived,
    TreatmentBooked,
)
from events.db import Conn
from services.common.app_factory import create_service_app
from services.common.auth import Principal, require
from services.common.dependencies import ExpectedVersion, IdempotencyKey, event_time, get_runtime
from services.common.errors import InvalidInput
from services.common.idempotency import Outcome, fingerprint, run_command
from services.common.inputs import (
    SINGLE_LINE_PATTERN,
    BirthDate,
    Country,
    EventTime,
    Question,
    SingleLine,
    WholeNumber,
)
from services.intake import application, exchange_api
from services.intake.bootstrap import SERVICE, bootstrap
from services.intake.dicom import read_dicom
from services.intake.formats import check_format
from services.intake.worklist_api import worklist_router

Coordinator = Annotated[Principal, Depends(require("coordinator"))]
# The coordinator, or the console's portal identity opening a patient's own request (docs/console.md).
Opener = Annotated[Principal, Depends(require("coordinator", "portal"))]
Admin = Annotated[Principal, Depends(require("admin"))]
# The coordinator, or a centre: which centre may read a case is decided per case (else 404).
CaseReader = Annotated[Principal, Depends(require("coordinator", "centre"))]
router = APIRouter(tags=["cases"])


# The composition root's runtime, typed as this service's.
IntakeDep = Annotated[application.IntakeRuntime, Depends(get_runtime)]
# Not stripped: the lengths the schema states are the lengths checked.
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=SINGLE_LINE_PATTERN), SingleLine]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    occurred_at: EventTime | None = None


class Identity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text
    date_of_birth: BirthDate
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)] | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{6,20}$")] | None = None
    passport_number: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{5,20}$")] | None = None
    # Coded (FHIR's administrative gender, less "unknown": leave it out); a reviewer needs it.
    sex: Literal["female", "male", "other"] | None = None


class OpenCase(_Body):
    # Exactly one of the two, as the validator below checks: the schema says so too.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [
        {"required": ["patient"], "properties": {"patient": {"type": "object"}}},
        {"required": ["patient_ref"], "properties": {"patient_ref": {"type": "string"}}}]})
    patient: Identity | None = None
    patient_ref: PatientRef | None = Field(None, description="an existing patient's ref instead of `patient`")
    question: Question | None = Field(None, description="the patient's one specific question (stored encrypted)")
    tumour_site: TumourSite
    histology: Histology = Histology.OTHER
    rare_tumour: StrictBool = Field(False, description="flag a rare tumour the histology code does not capture")
    stage_group: StageGroup
    referral_reasons: list[ReferralReason] = Field(min_length=1, max_length=len(ReferralReason))
    patient_country: Country
    language: LanguageCode
    preferred_centre: CentreId | None = None
    wants_video: StrictBool = False
    question_topics: list[QuestionTopic] = Field(default_factory=list, max_length=len(QuestionTopic),
                                                 description="what the question is about")
    imaging_studies: WholeNumber = Field(1, ge=0, le=50, description="imaging studies the patient will send")
    glass_slides: StrictBool = Field(False, description="physical slides will be shipped for re-review")
    quote_id: UUID | None = Field(None, description="the quote this case comes from, if any")

    @model_validator(mode="after")
    def _one_patient(self) -> OpenCase:
        if (self.patient is None) == (self.patient_ref is None):
            raise ValueError("give either `patient` (a new patient) or `patient_ref` (an existing one)")
        return self


class SetQuestion(_Body):
    question: Question


class ShipSlides(_Body):
    shipment_id: UUID | None = None
    slide_count: WholeNumber = Field(ge=1, le=500)


class GiveConsent(_Body):
    consent: ConsentKind
    text_version: Code
    centre_ids: list[CentreId] = Field(default_factory=list, max_length=len(CentreId))


class BookTreatment(_Body):
    centre_id: CentreId
    treatment_type: TreatmentType
    travel_reason: TravelReason
    # USD 10 million: above any treatment estimate we have seen, far below an overflow.
    estimated_cost_cents: WholeNumber = Field(ge=0, le=10**9)


class Close(_Body):
    reason: ClosureReason = ClosureReason.RETURNED_HOME_REFINED_PLAN


class Cancel(_Body):
    reason: CancellationReason


class Withdraw(_Body):
    reason: WithdrawalReason


class Empty(_Body):
    pass


class RunTimers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    now: EventTime | None = Field(None, description="event time to run as; only with simulated time")


def _case_outcome(done: application.Handled[application.CaseFile], status: int = 200) -> Outcome:
    # Rendered from the state the command produced: the stream is read once per command.
    return Outcome(status, application.view(done.state), {"ETag": str(done.version),
                                                   "Location": f"/cases/{done.state.case.case_id}"})


def _case_command(rt: application.IntakeRuntime, principal: Principal, key: str | None, request: Request, body: Any,
                  act: Callable[[Conn], application.Handled[application.CaseFile]], status: int = 200) -> JSONResponse:
    """Runs `act(conn)` under the idempotency key and answers with the case view."""
    def command(conn: Conn) -> Outcome:
        return _case_outcome(act(conn), status)

    return run_command(rt, key=key, principal=principal.role, command=command,
                       request_fingerprint=fingerprint(request.method, request.url.path, body))


@router.post("/cases", status_code=201)
def open_case(body: OpenCase, rt: IntakeDep, who: Opener, key: IdempotencyKey, request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)
    by_patient = who.role == "portal"
    if by_patient and (body.patient is None or body.question is None):
        # A patient's request is a new person with their own question, never another patient's ref.
        raise InvalidInput("question" if body.patient else "patient", "a patient's request names the patient and "
                           "asks their question")

    def command(conn: Conn) -> Outcome:
        opened = CaseOpened(
            patient_ref=body.patient_ref or application.new_patient_ref(), tumour_site=body.tumour_site,
            histology=body.histology,
            rare_tumour=body.rare_tumour or is_rare(body.tumour_site, body.histology, body.referral_reasons),
            stage_group=body.stage_group, referral_reasons=body.referral_reasons,
            patient_country=body.patient_country, language=body.language,
            preferred_centre=body.preferred_centre, wants_video=body.wants_video,
            question_topics=body.question_topics, imaging_studies=body.imaging_studies,
            glass_slides=body.glass_slides, quote_id=body.quote_id)
        identity = body.patient.model_dump(mode="json") if body.patient else None
        return _case_outcome(application.open_case(rt, conn, opened, identity, body.question, at,
                                                   "patient" if by_patient else "coordinator"), 201)

    return run_command(rt, key=key, principal=who.role, command=command,
                       request_fingerprint=fingerprint(request.method, request.url.path, body))


@router.get("/cases/{case_id}")
def get_case(case_id: UUID, rt: IntakeDep, _: Coordinator) -> JSONResponse:
    with rt.pool.connection() as conn:
        body = application.view(application.load(rt, conn, case_id).state)
        # The case as the worklist says it: whose move since when, the deadline, the SLA state.
        body["worklist"] = rt.worklist.item(conn, case_id, rt.store.clock())
    return JSONResponse(jsonable_encoder(body), headers={"ETag": str(body["version"])})


@router.get("/cases/{case_id}/patient", description="Identity and question, decrypted; 409 once erased.")
def get_patient(case_id: UUID, rt: IntakeDep, _: Coordinator) -> dict[str, Any]:
    with rt.pool.connection() as conn:
        return application.patient_details(rt, conn, case_id)


@router.put("/cases/{case_id}/question")
def set_question(case_id: UUID, body: SetQuestion, rt: IntakeDep, who: Coordinator, key: IdempotencyKey,
                 expected: ExpectedVersion, request: Request) -> JSONResponse:
    return _case_command(rt, who, key, request, body, lambda conn: application.record_question(
        rt, conn, case_id, body.question, event_time(body.occurred_at, rt), expected))


@router.post("/cases/{case_id}/records", status_code=201)
def add_record(
    case_id: UUID, rt: IntakeDep, who: Coordinator, key: IdempotencyKey, expected: ExpectedVersion,
    request: Request,
    kind: Annotated[RecordKind, Form()],
    file: Annotated[UploadFile, File(description="the record: imaging complete DICOM (CT, MR or PT), "
                                                 "every other kind PDF, JPEG, PNG or TIFF (read from its content)",
                                     json_schema_extra={"minLength": 1})],
    occurred_at: Annotated[EventTime | None, Form()] = None,
) -> JSONResponse:
    settings = rt.settings
    limit = settings.max_dicom_bytes if kind is RecordKind.IMAGING else settings.max_record_bytes
    content = file.file.read(limit + 1)
    if len(content) > limit:
        raise InvalidInput("file", f"larger than the {limit} bytes allowed for {kind.value}")
    if not content:
        raise InvalidInput("file", "is empty")
    check_format(kind, content)
    digest = application.sha256_hex(content)
    facts = read_dicom(content) if kind is RecordKind.IMAGING else None
    record = RecordsReceived(
        record_id=uuid4(), kind=kind, sha256=digest, size_bytes=len(content),
        modality=facts.modality if facts else None, study_date=facts.study_date if facts else None,
        slide_format="digital" if kind is RecordKind.PATHOLOGY_SLIDES else None)
    at = event_time(occurred_at, rt)

    def act(conn: Conn) -> application.Handled[application.CaseFile]:
        return application.add_record(rt, conn, case_id, record, content, at, expected)

    return _case_command(rt, who, key, request, {"kind": kind, "sha256": digest, "at": occurred_at}, act,
                         status=201)


@router.post("/cases/{case_id}/slide-shipments", status_code=201)
def ship_slides(case_id: UUID, body: ShipSlides, rt: IntakeDep, who: Coordinator, key: IdempotencyKey,
                expected: ExpectedVersion, request: Request) -> JSONResponse:
    shipped = GlassSlidesShipped(shipment_id=body.shipment_id or uuid4(), slide_count=body.slide_count)
    return _case_command(rt, who, key, request, body, lambda conn: application.ship_slides(
        rt, conn, case_id, shipped, event_time(body.occurred_at, rt), expected), status=201)


@router.post("/cases/{case_id}/slide-shipments/{shipment_id}/receipt")
def receive_slides(case_id: UUID, shipment_id: UUID, body: Empty, rt: IntakeDep, who: Coordinator,
                   key: IdempotencyKey, expected: ExpectedVersion, request: Request) -> JSONResponse:
    return _case_command(rt, who, key, request, body, lambda conn: application.receive_slides(
        rt, conn, case_id, shipment_id, event_time(body.occurred_at, rt), expected))


@router.post("/cases/{case_id}/consents")
def give_consent(case_id: UUID, body: GiveConsent, rt: IntakeDep, who: Coordinator, key: IdempotencyKey,
                 expected: ExpectedVersion, request: Request) -> JSONResponse:
    consent = ConsentGiven(consent=body.consent, text_version=body.text_version, centre_ids=body.centre_ids)
    return _case_command(rt, who, key, request, body, lambda conn: application.give_consent(
        rt, conn, case_id, consent, event_time(body.occurred_at, rt), expected))


@router.post("/cases/{case_id}/consents/{consent}/withdrawal")
def withdraw_consent(case_id: UUID, consent: ConsentKind, body: Empty, rt: IntakeDep, who: Coordinator,
                     key: IdempotencyKey, expected: ExpectedVersion, request: Request) -> JSONResponse:
    return _case_command(rt, who, key, request, body, lambda conn: application.withdraw_consent(
        rt, conn, case_id, consent, event_time(body.occurred_at, rt), expected))


@router.post("/cases/{case_id}/records-requests")
def request_records(case_id: UUID, body: Empty, rt: IntakeDep, who: Coordinator, key: IdempotencyKey,
                    expected: ExpectedVersion, request: Request) -> JSONResponse:
    return _case_command(rt, who, key, request, body, lambda conn: application.request_records(
        rt, conn, case_id, event_time(body.occurred_at, rt), expected))


@router.post("/cases/{case_id}/treatment-booking", status_code=201)
def book_treatment(case_id: UUID, body: BookTreatment, rt: IntakeDep, who: Coordinator, key: IdempotencyKey,
                   expected: ExpectedVersion, request: Request) -> JSONResponse:
    booking = TreatmentBooked(**body.model_dump(exclude={"occurred_at"}))
    return _case_command(rt, who, key, request, body, lambda conn: application.book_treatment(
        rt, conn, case_id, booking, event_time(body.occurred_at, rt), expected), status=201)


@router.post("/cases/{case_id}/closure")
def close_case(case_id: UUID, body: Close, rt: IntakeDep, who: Coordinator, key: IdempotencyKey,
               expected: ExpectedVersion, request: Request) -> JSONResponse:
    return _case_command(rt, who, key, request, body, lambda conn: application.close_returned_home(
        rt, conn, case_id, CaseClosed(reason=body.reason), event_time(body.occurred_at, rt), expected))


@router.post("/cases/{case_id}/cancellation")
def cancel_case(case_id: UUID, body: Cancel, rt: IntakeDep, who: Coordinator, key: IdempotencyKey,
                expected: ExpectedVersion, request: Request) -> JSONResponse:
    return _case_command(rt, who, key, request, body, lambda conn: application.cancel(
        rt, conn, case_id, CaseCancelled(reason=body.reason), event_time(body.occurred_at, rt), expected))


@router.post("/cases/{case_id}/withdrawal")
def withdraw_case(case_id: UUID, body: Withdraw, rt: IntakeDep, who: Coordinator, key: IdempotencyKey,
                  expected: ExpectedVersion, request: Request) -> JSONResponse:
    return _case_command(rt, who, key, request, body, lambda conn: application.withdraw(
        rt, conn, case_id, CaseWithdrawn(reason=body.reason), event_time(body.occurred_at, rt), expected))


@router.post("/patients/{patient_ref}/erasure", tags=["patients"])
def erase_patient(patient_ref: PatientRef, body: Empty, rt: IntakeDep, who: Admin, key: IdempotencyKey,
                  request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)

    def command(conn: Conn) -> Outcome:
        erased = application.erase_patient(rt, conn, patient_ref, at)
        return Outcome(200, {"patient_ref": patient_ref, "erased_cases": erased})

    return run_command(rt, key=key, principal=who.role, command=command,
                       request_fingerprint=fingerprint(request.method, request.url.path, body))


@router.post("/admin/timers", tags=["admin"],
             description="Runs reminders and expiry as of `now` (event time), e.g. for a simulated clock.")
def run_timers(body: RunTimers, rt: IntakeDep, _: Admin) -> dict[str, int]:
    return {"appended": application.run_timers(rt, event_time(body.now, rt, "now"))}


def create_app() -> FastAPI:
    return create_service_app(service=SERVICE, build_runtime=bootstrap,
                              routers=[router, exchange_api.router, worklist_router],
                              description="Cases, their records and consent, and the patient's decision.")
