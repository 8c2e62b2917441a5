"""The analysts' and operations' page: the business figures as charts, and the state of every consumer."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console import charts, operations
from services.console.web import Refused, render, signed_in

router = APIRouter()
READERS = ("analyst", "admin", "coordinator")


@router.get("/operations")
async def operations_page(request: Request) -> Response:
    user = await signed_in(request)
    if user.role not in READERS:
        raise Refused(403, "forbidden", f"the {user.role} role has no operations page")
    s, b = request.app.state.settings, request.app.state.backend
    figures, ops = await asyncio.gather(
        b.get("analytics", "/figures", user.token),
        operations.state(b.plain, {svc: s.api(svc) for svc in operations.SERVICES}, s.live_url))
    travel = [r for r in figures["travel_by_centre"] if r["dimension"] == "centre"]
    overall = next((r for r in figures["travel_by_centre"] if r["dimension"] == "overall"), None)
    changes = [r for r in figures["change_rates"] if r["dimension"] == "centre"]
    change_all = next((r for r in figures["change_rates"] if r["dimension"] == "overall"), None)
    sla = figures["sla_by_month"]
    return render(
        request, "operations.html", user=user, axis=charts.Axis(), width=charts.WIDTH, height=charts.HEIGHT,
        travel=travel, overall=overall, changes=changes, change_all=change_all, sla=sla,
        travel_bars=charts.interval_bars([(r["value"], r["share"], r["ci95_low"], r["ci95_high"]) for r in travel]),
        diagnosis_bars=charts.interval_bars([(r["value"], r["diagnosis_changed"], r["diagnosis_changed_reference_low"],
                                              r["diagnosis_changed_reference_high"]) for r in changes]),
        treatment_bars=charts.interval_bars([(r["value"], r["treatment_changed"], r["treatment_changed_reference_low"],
                                              r["treatment_changed_reference_high"]) for r in changes]),
        sla_line=charts.line([(str(r["month"])[:7], r["on_time_share"]) for r in sla]),
        percent=charts.percent, ops=ops)
