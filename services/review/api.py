"""Review's HTTP API for partner-centre reviewers (role centre:<id>)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field

from events.codes import CentreId, OutcomeChange, Pathway
from events.contract import ReviewDelivered
from services.common.api import ExpectedVersion, RuntimeDep, event_time
from services.common.auth import Principal, require
from services.common.http import create_service_app
from services.review import reviews
from services.review.bootstrap import SERVICE, bootstrap

router = APIRouter(prefix="/cases", tags=["review"])


def centre_of(principal: Annotated[Principal, Depends(require("centre"))]) -> CentreId:
    try:
        return CentreId(principal.centre_id or "")
    except ValueError:
        raise HTTPException(403, f"unknown centre {principal.centre_id}") from None


Centre = Annotated[CentreId, Depends(centre_of)]


class Acceptance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    occurred_at: datetime | None = None


class Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recommended_pathway: Pathway
    diagnosis_change: OutcomeChange
    treatment_change: OutcomeChange
    report_ref: UUID
    page_count: int = Field(ge=1, le=100)
    occurred_at: datetime | None = None


@router.get("")
def list_cases(rt: RuntimeDep, centre: Centre) -> list[dict[str, Any]]:
    return reviews.list_cases(rt, centre)


@router.get("/{case_id}")
def get_case(case_id: UUID, rt: RuntimeDep, centre: Centre, response: Response) -> dict[str, Any]:
    row, review = reviews.get_case(rt, case_id, centre)
    response.headers["ETag"] = str(review.version)
    return {**row, "state": review.state, "version": review.version}


@router.post("/{case_id}/acceptance", status_code=201)
def accept(case_id: UUID, body: Acceptance, rt: RuntimeDep, centre: Centre, expected: ExpectedVersion,
           response: Response) -> dict[str, Any]:
    version = reviews.accept(rt, case_id, centre, event_time(body.occurred_at, rt), expected)
    response.headers["ETag"] = str(version)
    return {"case_id": case_id, "state": "accepted", "version": version}


@router.post("/{case_id}/delivery", status_code=201)
def deliver(case_id: UUID, body: Delivery, rt: RuntimeDep, centre: Centre, expected: ExpectedVersion,
            response: Response) -> dict[str, Any]:
    delivery = ReviewDelivered(centre_id=centre, **body.model_dump(exclude={"occurred_at"}))
    version = reviews.deliver(rt, case_id, centre, delivery, event_time(body.occurred_at, rt), expected)
    response.headers["ETag"] = str(version)
    return {"case_id": case_id, "state": "delivered", "version": version}


def create_app() -> FastAPI:
    return create_service_app(service=SERVICE, build_runtime=bootstrap, routers=[router],
                              description="Partner-centre reviewers accept cases and deliver reviews.")
