"""The analytics service's HTTP API: health, metrics, and a case's timeline for analysts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI

from events.db import Queries
from services.analytics import projections
from services.analytics.bootstrap import SERVICE, bootstrap
from services.analytics.ddl import LIVE_SCHEMA
from services.analytics.metrics import BusinessCollector
from services.common.app_factory import create_service_app
from services.common.auth import Principal, require
from services.common.dependencies import RuntimeDep
from services.common.errors import NotFound
from services.common.runtime import Runtime

Analyst = Annotated[Principal, Depends(require("analyst", "coordinator"))]
router = APIRouter(prefix="/cases", tags=["analytics"])
figures_router = APIRouter(tags=["analytics"])
_FIGURES = Queries(Path(__file__).with_name("figures.sql"), LIVE_SCHEMA)


@router.get("/{case_id}/timeline")
def timeline(case_id: UUID, rt: RuntimeDep, _: Analyst) -> list[dict[str, Any]]:
    rows = projections.timeline(rt, case_id)
    if not rows:
        raise NotFound(f"no events for case {case_id}")
    return rows


def figures_of(rt: Runtime) -> dict[str, Any]:
    with rt.pool.connection() as conn:
        return {name: conn.execute(_FIGURES[name]).fetchall()
                for name in ("travel_by_centre", "change_rates", "sla_by_month")}


@figures_router.get("/figures", description="The figures the console draws: the travel share per centre with its "
                                            "95% Wilson interval, the diagnosis and treatment change rates beside "
                                            "the literature's ranges, and the SLA on-time share per month.")
def figures(rt: RuntimeDep, _: Analyst) -> dict[str, Any]:
    return figures_of(rt)


def create_app() -> FastAPI:
    return create_service_app(service=SERVICE, build_runtime=bootstrap, routers=[router, figures_router],
                              description="Projections for analysts (schema analytics).",
                              collectors=lambda rt: [BusinessCollector(rt.pool)])
