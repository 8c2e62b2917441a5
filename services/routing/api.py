"""Routing's HTTP API: coordinators see where each case went and why."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI

from services.common.api import RuntimeDep
from services.common.auth import Principal, require
from services.common.commands import load_events
from services.common.errors import NotFound
from services.common.http import create_service_app
from services.routing.bootstrap import SERVICE, bootstrap

Coordinator = Annotated[Principal, Depends(require("coordinator"))]
router = APIRouter(prefix="/cases", tags=["routing"])


@router.get("/{case_id}/routing")
def routing_of(case_id: UUID, rt: RuntimeDep, _: Coordinator) -> dict[str, Any]:
    with rt.pool.connection() as conn:
        events = load_events(rt.store, conn, case_id)
    if not events:
        raise NotFound(f"case {case_id} has not been routed")
    return {"case_id": case_id, "decisions": [e.model_dump(mode="json") for e in events]}


def create_app() -> FastAPI:
    return create_service_app(service=SERVICE, build_runtime=bootstrap, routers=[router],
                              description="Which partner centre reviews each case, and why.")
