"""Review's HTTP API for partner-centre reviewers (role centre:<id>)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Query, Request, Response, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from events.codes import SYSTEM_DECLINE_REASONS, CentreId, DeclineReason, InformationTopic
from events.contract import Code, ReviewDelivered
from events.db import Conn
from services.common.app_factory import create_service_app
from services.common.auth import Principal, require
from services.common.dependencies import ExpectedVersion, IdempotencyKey, checked_time, event_time, get_runtime
from services.common.errors import InvalidInput
from services.common.idempotency import Outcome, fingerprint, run_command
from services.common.inputs import EventTime, Question, WholeNumber, body_of_event
from services.review import application
from services.review.bootstrap import SERVICE, bootstrap
from services.review.pdfcheck import inspect as inspect_pdf

router = APIRouter(prefix="/cases", tags=["review"])
admin = APIRouter(prefix="/admin", tags=["admin"])


# The composition root's runtime, typed as this service's.
ReviewDep = Annotated[application.ReviewRuntime, Depends(get_runtime)]


def _centre(principal: Principal) -> CentreId:
    try:
        return CentreId(principal.centre_id or "")
    except ValueError:
        raise HTTPException(403, f"unknown centre {principal.centre_id}") from None


async def centre_of(principal: Annotated[Principal, Depends(require("centre"))]) -> CentreId:
    return _centre(principal)


Centre = Annotated[CentreId, Depends(centre_of)]


async def reader_of(principal: Annotated[Principal, Depends(require("coordinator", "centre"))]) -> application.Reader:
    return _centre(principal) if principal.centre_id else "coordinator"


# The coordinator or a centre (which sees its own cases only).
Reader = Annotated[application.Reader, Depends(reader_of)]
Coordinator = Annotated[Principal, Depends(require("coordinator"))]
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    occurred_at: EventTime | None = None


class Decline(_Body):
    reason: DeclineReason

    @field_validator("reason")
    @classmethod
    def _a_centre_s_own(cls, reason: DeclineReason) -> DeclineReason:
        # no_answer and reassigned_by_coordinator are recorded for a centre, never given by one.
        if reason in SYSTEM_DECLINE_REASONS:
            raise ValueError(f"{reason.value} is recorded by the system when routing withdraws a case")
        return reason


class InformationRequest(_Body):
    topics: list[InformationTopic] = Field(min_length=1, max_length=len(InformationTopic))


# The delivery as the centre sends it: ReviewDelivered's own fields and rules, but the centre (its
# token says which) and the page count, which the centre may leave out (the upload's is used).
if TYPE_CHECKING:
    Delivery = _Body  # what the route reads of it; the fields are the event's
else:
    Delivery = body_of_event(
        ReviewDelivered, _Body, "Delivery", leave_out={"centre_id"},
        descriptions={"report_ref": "the document_id POST /cases/{case_id}/report returned"},
        page_count=(WholeNumber | None, Field(None, ge=1, le=10_000,
                                              description="if given, must be the uploaded PDF's page count")))


class FollowUpQuestion(_Body):
    question: Question


class VideoStep(_Body):
    step: Literal["request", "schedule", "held", "missed"]
    scheduled_for: EventTime | None = None


class RunTimers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    now: EventTime | None = Field(None, description="event time to run as; only with simulated time")


def _act(rt: application.ReviewRuntime, centre: CentreId, body: _Body, request: Request, key: str | None,
         command: Callable[[Conn], application.Handled[application.CaseReview]]) -> JSONResponse:
    def run(conn: Conn) -> Outcome:
        done = command(conn)
        # The answer is rendered from the state the command produced: no second read.
        return Outcome(200, jsonable_encoder(application.describe(rt, done.state, rt.store.clock())),
                       {"ETag": str(done.version)})

    return run_command(rt, key=key, principal=f"centre:{centre.value}", command=run,
                       request_fingerprint=fingerprint(request.method, request.url.path, body))


@router.get("")
def list_cases(rt: ReviewDep, centre: Centre) -> list[dict[str, Any]]:
    return application.list_cases(rt, centre)


@router.get("/{case_id}", description="The review of a case: its state, SLA clock, report versions and follow-ups. "
                                      "The assigned centre, or a coordinator (the console's case page).")
def get_case(case_id: UUID, rt: ReviewDep, who: Reader) -> JSONResponse:
    with rt.pool.connection() as conn:
        view = application.get_case(rt, conn, case_id, who)
    return JSONResponse(jsonable_encoder(view), headers={"ETag": str(view["version"])})


@router.post("/{case_id}/acceptance", description="Accept the case: the SLA clock starts the next business day.")
def accept(case_id: UUID, body: _Body, rt: ReviewDep, centre: Centre, key: IdempotencyKey,
           expected: ExpectedVersion, request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)
    return _act(rt, centre, body, request, key,
                lambda conn: application.accept(rt, conn, case_id, centre, at, expected))


@router.post("/{case_id}/decline", description="Decline the case: routing sends it to the next fitting centre.")
def decline(case_id: UUID, body: Decline, rt: ReviewDep, centre: Centre, key: IdempotencyKey,
            expected: ExpectedVersion, request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)
    return _act(rt, centre, body, request, key,
                lambda conn: application.decline(rt, conn, case_id, centre, body.reason, at, expected))


@router.post("/{case_id}/information-requests", description="Ask the patient for more: the SLA clock pauses.")
def request_information(case_id: UUID, body: InformationRequest, rt: ReviewDep, centre: Centre,
                        key: IdempotencyKey, expected: ExpectedVersion, request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)
    return _act(rt, centre, body, request, key,
                lambda conn: application.request_information(rt, conn, case_id, centre, body.topics, at, expected))


@router.post("/{case_id}/information-requests/{request_id}/resolution",
             description="The information arrived: the SLA clock resumes.")
def resolve_information(case_id: UUID, request_id: UUID, body: _Body, rt: ReviewDep, centre: Centre,
                        key: IdempotencyKey, expected: ExpectedVersion, request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)
    return _act(rt, centre, body, request, key,
                lambda conn: application.resolve_information(rt, conn, case_id, centre, request_id, at, expected))


@router.post("/{case_id}/delivery",
             description="Deliver the written review on an uploaded report (`report_ref`): the SLA clock stops.")
def deliver(case_id: UUID, body: Delivery, rt: ReviewDep, centre: Centre, key: IdempotencyKey,
            expected: ExpectedVersion, request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)
    delivery = body.model_dump(exclude={"occurred_at"})
    return _act(rt, centre, body, request, key,
                lambda conn: application.deliver(rt, conn, case_id, centre, delivery, at, expected))


def _read_pdf(rt: application.ReviewRuntime, file: UploadFile) -> tuple[bytes, str, int]:
    limit = rt.settings.max_report_bytes
    content = file.file.read(limit + 1)
    if len(content) > limit:
        raise InvalidInput("file", f"larger than the {limit} bytes allowed for a report")
    settings = rt.settings
    pages = inspect_pdf(content, settings.pdf_cpu_s, settings.pdf_wall_s, settings.pdf_inflate_bytes)
    return content, hashlib.sha256(content).hexdigest(), pages


def _created(rt: application.ReviewRuntime, principal: str, key: str | None, request: Request, fields: dict[str, Any],
             command: Callable[[Conn], tuple[application.Handled[application.CaseReview], UUID]],
             body_of: Callable[[application.CaseReview, UUID], dict[str, Any]]) -> JSONResponse:
    def run(conn: Conn) -> Outcome:
        done, made = command(conn)
        return Outcome(201, jsonable_encoder(body_of(done.state, made)), {"ETag": str(done.version)})

    return run_command(rt, key=key, principal=principal, command=run,
                       request_fingerprint=fingerprint(request.method, request.url.path, fields))


def _document_created(state: application.CaseReview, document_id: UUID) -> dict[str, Any]:
    return application.document_view(state.review.documents[document_id])


@router.post("/{case_id}/report", status_code=201, tags=["report"],
             description="Upload the signed report as a PDF (5-8 pages, or give `page_count_reason`). Before "
                         "delivery it is the report a delivery references; after it, a new version (ReportAmended) "
                         "beside the old ones. Stored encrypted with the case's key.")
def upload_report(
    case_id: UUID, rt: ReviewDep, centre: Centre, key: IdempotencyKey, expected: ExpectedVersion, request: Request,
    file: Annotated[UploadFile, File(description="the signed report, a PDF", json_schema_extra={"minLength": 1})],
    page_count_reason: Annotated[Code | None, Form()] = None,
    occurred_at: Annotated[EventTime | None, Form()] = None,
) -> JSONResponse:
    content, digest, pages = _read_pdf(rt, file)
    at = event_time(occurred_at, rt)
    return _created(rt, f"centre:{centre.value}", key, request,
                    {"sha256": digest, "reason": page_count_reason, "at": occurred_at},
                    lambda conn: application.upload_report(rt, conn, case_id, centre, content, digest, pages,
                                                           page_count_reason, at, expected),
                    _document_created)


def _pdf(doc: application.domain.Document, content: bytes) -> Response:
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{doc.document_id}.pdf"',
                             "X-Document-Sha256": doc.sha256, "X-Report-Version": str(doc.version or "")})


@router.get("/{case_id}/report", tags=["report"], response_class=Response, responses=PDF_RESPONSE,
            description="The delivered report: its latest version, or `version` (1 is the one delivered).")
def get_report(case_id: UUID, rt: ReviewDep, who: Reader,
               version: Annotated[int | None, Query(ge=1, le=1000)] = None) -> Response:
    with rt.pool.connection() as conn:
        doc, content = application.document(rt, conn, case_id, who, version=version)
    return _pdf(doc, content)


@router.get("/{case_id}/documents/{document_id}", tags=["report"], response_class=Response,
            responses=PDF_RESPONSE, description="Any stored document of the case: a report version or an addendum.")
def get_document(case_id: UUID, document_id: UUID, rt: ReviewDep, who: Reader) -> Response:
    with rt.pool.connection() as conn:
        doc, content = application.document(rt, conn, case_id, who, document_id=document_id)
    return _pdf(doc, content)


@router.post("/{case_id}/follow-ups", status_code=201, tags=["follow-up"],
             description="The coordinator asks a follow-up question after delivery (at most REVIEW_FOLLOW_UP_LIMIT, "
                         "3 by default); its own business-day clock starts. The text is stored encrypted.")
def ask_follow_up(case_id: UUID, body: FollowUpQuestion, rt: ReviewDep, _: Coordinator, key: IdempotencyKey,
                  expected: ExpectedVersion, request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)
    return _created(rt, "coordinator", key, request, body.model_dump(mode="json"),
                    lambda conn: application.ask_follow_up(rt, conn, case_id, body.question, at, expected),
                    lambda state, made: application.follow_up_view(state.review.follow_ups[made]))


@router.get("/{case_id}/follow-ups", tags=["follow-up"], description="The follow-up questions, with their text.")
def list_follow_ups(case_id: UUID, rt: ReviewDep, who: Reader) -> list[dict[str, Any]]:
    with rt.pool.connection() as conn:
        return application.follow_ups(rt, conn, case_id, who)


@router.post("/{case_id}/follow-ups/{follow_up_id}/addendum", status_code=201, tags=["follow-up"],
             description="The centre answers a follow-up question with an addendum (a PDF); its clock stops.")
def answer_follow_up(
    case_id: UUID, follow_up_id: UUID, rt: ReviewDep, centre: Centre, key: IdempotencyKey,
    expected: ExpectedVersion, request: Request,
    file: Annotated[UploadFile, File(description="the addendum, a PDF", json_schema_extra={"minLength": 1})],
    occurred_at: Annotated[EventTime | None, Form()] = None,
) -> JSONResponse:
    content, digest, pages = _read_pdf(rt, file)
    at = event_time(occurred_at, rt)
    return _created(rt, f"centre:{centre.value}", key, request, {"sha256": digest, "at": occurred_at},
                    lambda conn: application.answer_follow_up(rt, conn, case_id, centre, follow_up_id, content, digest,
                                                              pages, at, expected),
                    _document_created)


@router.post("/{case_id}/video-consultation")
def video(case_id: UUID, body: VideoStep, rt: ReviewDep, centre: Centre, key: IdempotencyKey,
          expected: ExpectedVersion, request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)
    scheduled = checked_time(body.scheduled_for, "scheduled_for") if body.scheduled_for else None
    return _act(rt, centre, body, request, key,
                lambda conn: application.video(rt, conn, case_id, centre, body.step, scheduled, at, expected))


@admin.post("/timers", description="Emits the SLA events due by `now` (event time), e.g. for a simulated clock.")
def run_timers(body: RunTimers, rt: ReviewDep, _: Annotated[Principal, Depends(require("admin"))]) -> dict[str, int]:
    return {"appended": application.run_timers(rt, event_time(body.now, rt, "now"))}


def create_app() -> FastAPI:
    return create_service_app(service=SERVICE, build_runtime=bootstrap, routers=[router, admin],
                              description="Partner-centre reviewers accept, ask, deliver; the SLA clock runs.")
