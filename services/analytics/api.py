"""The analytics service's HTTP API: health, metrics, and a case's timeline for analysts."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI

from services.analytics import projections
from services.analytics.bootstrap import SERVICE, bootstrap
from services.analytics.metrics import BusinessCollector
from services.common.app_factory import create_service_app
from services.common.auth import Principal, require
from services.common.dependencies import RuntimeDep
from services.common.errors import NotFound

Analyst = Annotated[Principal, Depends(require("analyst", "coordinator"))]
router = APIRouter(prefix="/cases", tags=["analytics"])


@router.get("/{case_id}/timeline")
def timeline(case_id: UUID, rt: RuntimeDep, _: Analyst) -> list[dict[str, Any]]:
    rows = projections.timeline(rt, case_id)
    if not rows:
        raise NotFound(f"no events for case {case_id}")
    return rows


def create_app() -> FastAPI:
    return create_service_app(service=SERVICE, build_runtime=bootstrap, routers=[router],
                              description="Projections for analysts (schema analytics).",
                              collectors=lambda rt: [BusinessCollector(rt.pool)])
