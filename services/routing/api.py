"""Routing's HTTP API: where each case went and why, the partner centres, and the coordinator queue."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from events.codes import CentreId
from events.db import Conn
from services.common.app_factory import create_service_app
from services.common.auth import Principal, require
from services.common.dependencies import IdempotencyKey, event_time, get_runtime
from services.common.errors import NotFound
from services.common.idempotency import Outcome, fingerprint, run_command
from services.common.inputs import EventTime
from services.routing import application
from services.routing.bootstrap import SERVICE, bootstrap

Coordinator = Annotated[Principal, Depends(require("coordinator"))]
Admin = Annotated[Principal, Depends(require("admin"))]
api = APIRouter(tags=["routing"])
admin = APIRouter(prefix="/admin", tags=["admin"])


# The composition root's runtime, typed as this service's.
RoutingDep = Annotated[application.RoutingRuntime, Depends(get_runtime)]


class Assign(BaseModel):
    model_config = ConfigDict(extra="forbid")
    centre_id: CentreId
    occurred_at: EventTime | None = None


class FinalDecline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    occurred_at: EventTime | None = None


class RunTimers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    now: EventTime | None = Field(None, description="event time to run as; only with simulated time")


@api.get("/cases/{case_id}/routing")
def routing_of(case_id: UUID, rt: RoutingDep, _: Coordinator) -> dict[str, Any]:
    with rt.pool.connection() as conn:
        events = application.decisions(rt, conn, case_id)
    if not events:
        raise NotFound(f"case {case_id} has not been routed")
    return {"case_id": case_id,
            "decisions": [{"event_type": e.event_type, **e.model_dump(mode="json")} for e in events]}


@api.get("/centres")
def centres(rt: RoutingDep, _: Coordinator) -> dict[str, Any]:
    with rt.pool.connection() as conn:
        load = application.centre_load(rt, conn)
    return {"version": rt.partners.version,
            "centres": [{**c.model_dump(mode="json"), "active_reviews": load.get(c.id, 0)}
                        for c in rt.partners.centres]}


@api.get("/queue", description="Cases routing could not place: declined twice or no fitting centre.")
def coordinator_queue(rt: RoutingDep, _: Coordinator) -> list[dict[str, Any]]:
    return application.queue(rt)


@api.post("/queue/{case_id}/assignment",
          description="Sends a case to the centre the coordinator picks: a case in the queue at once (200); a "
                      "case whose centre has not accepted it yet once review confirms that centre's decline "
                      "(202: the centre's acceptance, if dated before this request, wins and the case stays). "
                      "An accepted case is not re-routed (409).")
def assign(case_id: UUID, body: Assign, rt: RoutingDep, who: Coordinator, key: IdempotencyKey,
           request: Request) -> JSONResponse:
    def command(conn: Conn) -> Outcome:
        now = application.assign_by_coordinator(rt, conn, case_id, body.centre_id, event_time(body.occurred_at, rt))
        return Outcome(200 if now else 202, {"case_id": case_id, "centre_id": body.centre_id,
                                             "state": "routed" if now else "withdrawing_from_current_centre"})

    return run_command(rt, key=key, principal=who.role, command=command,
                       request_fingerprint=fingerprint(request.method, request.url.path, body))


@api.post("/queue/{case_id}/final-decline", description="No centre will review the case: billing refunds it.")
def final_decline(case_id: UUID, body: FinalDecline, rt: RoutingDep, who: Coordinator, key: IdempotencyKey,
                  request: Request) -> JSONResponse:
    def command(conn: Conn) -> Outcome:
        application.decline_finally(rt, conn, case_id, event_time(body.occurred_at, rt))
        return Outcome(200, {"case_id": case_id, "finally_declined": True})

    return run_command(rt, key=key, principal=who.role, command=command,
                       request_fingerprint=fingerprint(request.method, request.url.path, body))


@admin.post("/timers", description="Withdraws the cases not accepted by their deadline as of `now` (event time), "
                                   "e.g. for a simulated clock.")
def run_timers(body: RunTimers, rt: RoutingDep, _: Admin) -> dict[str, int]:
    return {"appended": application.run_timers(rt, event_time(body.now, rt, "now"))}


def create_app() -> FastAPI:
    return create_service_app(service=SERVICE, build_runtime=bootstrap, routers=[api, admin],
                              description="Which partner centre reviews each case, and why.")
