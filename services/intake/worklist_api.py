"""The coordinators' worklist endpoint, `GET /cases` (the read model: services/intake/worklist.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from events.codes import CentreId
from events.lifecycle import Party, SlaState, Status
from services.common.auth import Principal, require
from services.common.dependencies import get_runtime
from services.intake.application import IntakeRuntime
from services.intake.worklist import MAX_PAGE, Cursor, Filters, Scope

worklist_router = APIRouter(tags=["worklist"])

DESCRIPTION = (
    "The coordinators' work: open cases by default (`scope=ended` or `all` for ended ones; a filter only an ended "
    "case matches, such as `status=cancelled`, `sla_state=stopped` or `waiting_on=nobody`, includes them), nearest "
    "deadline first: the SLA limit while the clock runs (its target while the calendar lacks the limit's year), an "
    "open follow-up's due date, the centre's deadline to accept; a running clock whose dates the calendar cannot tell "
    "first, cases without a deadline last. Each item: the tumour site, the centre (code and name), the SLA state "
    "(not_started, on_track, at_risk, breached, paused, calendar_unknown, stopped, delivered_on_time, delivered_late: "
    "review's and analytics' vocabulary), `waiting_on` (patient: records, consents or requested information; "
    "billing: a failed payment; coordinator: no centre holds the case; centre: acceptance, review or a follow-up; "
    "patient again once the review is delivered; nobody once the case ended), since when (`waiting_since`, event "
    "time) and for how long (`waited_days`, to the service's clock). Filters combine. `next_cursor` walks on: a walk "
    "lists the cases that matched when its first page was served, in the order they had then, each once, as they "
    "are now (a case that stops matching is left out); its cursors last an hour and keep their filters.")


@worklist_router.get("/cases", description=DESCRIPTION)
def worklist(
    rt: Annotated[IntakeRuntime, Depends(get_runtime)], _: Annotated[Principal, Depends(require("coordinator"))],
    status: Annotated[Status | None, Query()] = None,
    centre: Annotated[CentreId | None, Query()] = None,
    sla_state: Annotated[SlaState | None, Query()] = None,
    waiting_on: Annotated[Party | None, Query()] = None,
    scope: Annotated[Scope | None, Query(description="open (default), ended or all")] = None,
    cursor: Annotated[str | None, Query(max_length=300, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> JSONResponse:
    after = Cursor.decode(cursor) if cursor else None
    filters = Filters(status=status.value if status else None, centre=centre.value if centre else None,
                      sla_state=sla_state, waiting_on=waiting_on, scope=scope)
    with rt.pool.connection() as conn:
        items, more = rt.worklist.page(conn, filters, after, limit, rt.store.clock())
    return JSONResponse(jsonable_encoder({"items": items, "next_cursor": more.encode() if more else None}))
