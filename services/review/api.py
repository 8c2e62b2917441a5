"""Review's HTTP API for partner-centre reviewers (role centre:<id>)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from events.codes import CentreId, DeclineReason, InformationTopic, OutcomeChange, Pathway
from events.contract import (
    MAX_CODES,
    MAX_TRIAL_OPTIONS,
    Code,
    ImagingReread,
    PathologyReview,
    ReviewDelivered,
    TrialOption,
)
from events.db import Conn
from services.common.app_factory import create_service_app
from services.common.auth import Principal, require
from services.common.dependencies import ExpectedVersion, IdempotencyKey, checked_time, event_time, get_runtime
from services.common.idempotency import Outcome, fingerprint, run_command
from services.common.inputs import EventTime, WholeNumber
from services.review import application as app
from services.review.bootstrap import SERVICE, bootstrap

router = APIRouter(prefix="/cases", tags=["review"])
admin = APIRouter(prefix="/admin", tags=["admin"])


# The composition root's runtime, typed as this service's.
ReviewDep = Annotated[app.ReviewRuntime, Depends(get_runtime)]


def centre_of(principal: Annotated[Principal, Depends(require("centre"))]) -> CentreId:
    try:
        return CentreId(principal.centre_id or "")
    except ValueError:
        raise HTTPException(403, f"unknown centre {principal.centre_id}") from None


Centre = Annotated[CentreId, Depends(centre_of)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    occurred_at: EventTime | None = None


class Decline(_Body):
    reason: DeclineReason


class InformationRequest(_Body):
    topics: list[InformationTopic] = Field(min_length=1, max_length=len(InformationTopic))


class Delivery(_Body):
    pathology: PathologyReview
    imaging: ImagingReread
    recommended_pathway: Pathway
    rationale_codes: list[Code] = Field(min_length=1, max_length=MAX_CODES)
    trial_options: list[TrialOption] = Field(default_factory=list, max_length=MAX_TRIAL_OPTIONS)
    question_answer: Literal["answered", "answered_with_caveats", "needs_further_tests"]
    diagnosis_change: OutcomeChange
    treatment_change: OutcomeChange
    report_ref: UUID
    page_count: WholeNumber = Field(ge=1, le=100)
    page_count_reason: Code | None = None


class VideoStep(_Body):
    step: Literal["request", "schedule", "held", "missed"]
    scheduled_for: EventTime | None = None


class RunTimers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    now: EventTime | None = Field(None, description="event time to run as; only with simulated time")


def _act(rt: app.ReviewRuntime, centre: CentreId, body: _Body, request: Request, key: str | None,
         command: Callable[[Conn], app.Handled[app.CaseReview]]) -> JSONResponse:
    def run(conn: Conn) -> Outcome:
        done = command(conn)
        # The answer is rendered from the state the command produced: no second read.
        return Outcome(200, jsonable_encoder(app.describe(rt, done.state, rt.store.clock())),
                       {"ETag": str(done.version)})

    return run_command(rt, key=key, principal=f"centre:{centre.value}", command=run,
                       request_fingerprint=fingerprint(request.method, request.url.path, body))


@router.get("")
def list_cases(rt: ReviewDep, centre: Centre) -> list[dict[str, Any]]:
    return app.list_cases(rt, centre)


@router.get("/{case_id}")
def get_case(case_id: UUID, rt: ReviewDep, centre: Centre) -> JSONResponse:
    with rt.pool.connection() as conn:
        view = app.get_case(rt, conn, case_id, centre)
    return JSONResponse(jsonable_encoder(view), headers={"ETag": str(view["version"])})


@router.post("/{case_id}/acceptance", description="Accept the case: the SLA clock starts the next business day.")
def accept(case_id: UUID, body: _Body, rt: ReviewDep, centre: Centre, key: IdempotencyKey,
           expected: ExpectedVersion, request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)
    return _act(rt, centre, body, request, key, lambda conn: app.accept(rt, conn, case_id, centre, at, expected))


@router.post("/{case_id}/decline", description="Decline the case: routing sends it to the next fitting centre.")
def decline(case_id: UUID, body: Decline, rt: ReviewDep, centre: Centre, key: IdempotencyKey,
            expected: ExpectedVersion, request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)
    return _act(rt, centre, body, request, key,
                lambda conn: app.decline(rt, conn, case_id, centre, body.reason, at, expected))


@router.post("/{case_id}/information-requests", description="Ask the patient for more: the SLA clock pauses.")
def request_information(case_id: UUID, body: InformationRequest, rt: ReviewDep, centre: Centre,
                        key: IdempotencyKey, expected: ExpectedVersion, request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)
    return _act(rt, centre, body, request, key,
                lambda conn: app.request_information(rt, conn, case_id, centre, body.topics, at, expected))


@router.post("/{case_id}/information-requests/{request_id}/resolution",
             description="The information arrived: the SLA clock resumes.")
def resolve_information(case_id: UUID, request_id: UUID, body: _Body, rt: ReviewDep, centre: Centre,
                        key: IdempotencyKey, expected: ExpectedVersion, request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)
    return _act(rt, centre, body, request, key,
                lambda conn: app.resolve_information(rt, conn, case_id, centre, request_id, at, expected))


@router.post("/{case_id}/delivery", description="Deliver the written review: the SLA clock stops.")
def deliver(case_id: UUID, body: Delivery, rt: ReviewDep, centre: Centre, key: IdempotencyKey,
            expected: ExpectedVersion, request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)
    delivery = ReviewDelivered(centre_id=centre, **body.model_dump(exclude={"occurred_at"}))
    return _act(rt, centre, body, request, key,
                lambda conn: app.deliver(rt, conn, case_id, centre, delivery, at, expected))


@router.post("/{case_id}/video-consultation")
def video(case_id: UUID, body: VideoStep, rt: ReviewDep, centre: Centre, key: IdempotencyKey,
          expected: ExpectedVersion, request: Request) -> JSONResponse:
    at = event_time(body.occurred_at, rt)
    scheduled = checked_time(body.scheduled_for, "scheduled_for") if body.scheduled_for else None
    return _act(rt, centre, body, request, key,
                lambda conn: app.video(rt, conn, case_id, centre, body.step, scheduled, at, expected))


@admin.post("/timers", description="Emits the SLA events due by `now` (event time), e.g. for a simulated clock.")
def run_timers(body: RunTimers, rt: ReviewDep, _: Annotated[Principal, Depends(require("admin"))]) -> dict[str, int]:
    return {"appended": app.run_timers(rt, event_time(body.now, rt, "now"))}


def create_app() -> FastAPI:
    return create_service_app(service=SERVICE, build_runtime=bootstrap, routers=[router, admin],
                              description="Partner-centre reviewers accept, ask, deliver; the SLA clock runs.")
