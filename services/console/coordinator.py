"""The coordinator's pages: the worklist, a new case, and the case page (a reviewer's on the same URL)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.console import forms, reviewer
from services.console.backend import ApiError
from services.console.web import Refused, User, checked_form, lang_of, render, see_other, signed_in

router = APIRouter()
FILTERS = ("status", "centre", "sla_state", "waiting_on", "scope")
PAGE = 25
# The previous pages' cursors ride in the URL ("-" is the first page), so Back is a plain link.
TRAIL_SEP = "."


def coordinator_of(user: User) -> User:
    if user.role not in ("coordinator", "admin"):
        raise Refused(403, "forbidden", f"the {user.role} role has no worklist")
    return user


def trail_links(path: str, filters: dict[str, str], cursor: str | None, trail: str | None,
                next_cursor: str | None) -> tuple[str | None, str | None]:
    """The previous and next pages' URLs of a walk through the worklist."""
    from urllib.parse import urlencode

    steps = [s for s in (trail or "").split(TRAIL_SEP) if s]
    prev = None
    if steps:
        back, earlier = steps[-1], steps[:-1]
        query = {**filters, **({"cursor": back} if back != "-" else {}),
                 **({"trail": TRAIL_SEP.join(earlier)} if earlier else {})}
        prev = f"{path}?{urlencode(query)}" if query else path
    nxt = None
    if next_cursor:
        query = {**filters, "cursor": next_cursor, "trail": TRAIL_SEP.join([*steps, cursor or "-"])}
        nxt = f"{path}?{urlencode(query)}"
    return prev, nxt


@router.get("/worklist")
async def worklist(request: Request, status: Annotated[str | None, Query(max_length=40)] = None,
                   centre: Annotated[str | None, Query(max_length=40)] = None,
                   sla_state: Annotated[str | None, Query(max_length=40)] = None,
                   waiting_on: Annotated[str | None, Query(max_length=40)] = None,
                   scope: Annotated[str | None, Query(max_length=10)] = None,
                   cursor: Annotated[str | None, Query(max_length=300)] = None,
                   trail: Annotated[str | None, Query(max_length=4000)] = None) -> Response:
    user = coordinator_of(await signed_in(request))
    filters = {k: v for k, v in {"status": status, "centre": centre, "sla_state": sla_state,
                                  "waiting_on": waiting_on, "scope": scope}.items() if v}
    params: dict[str, Any] = {**filters, "limit": PAGE, **({"cursor": cursor} if cursor else {})}
    errors: dict[str, str] = {}
    try:
        page = await request.app.state.backend.get("intake", "/cases", user.token, params=params)
    except ApiError as exc:
        if exc.status != 422:
            raise
        errors, page = exc.by_field(), {"items": [], "next_cursor": None}
    prev, nxt = trail_links("/worklist", filters, cursor, trail, page.get("next_cursor"))
    return render(request, "worklist.html", user=user, items=page["items"], filters=filters, errors=errors,
                  prev=prev, next=nxt, today=date.today(), parse_date=date.fromisoformat)


@router.get("/cases/new")
async def new_case(request: Request) -> Response:
    user = coordinator_of(await signed_in(request))
    return render(request, "case_new.html", user=user, errors={},
                  values={"language": "en", "imaging_studies": "1", "histology": "other"},
                  chosen={})


@router.post("/cases/new")
async def open_case(request: Request) -> Response:
    user = coordinator_of(await signed_in(request))
    form = await checked_form(request)
    body = forms.open_case(form)
    try:
        case = await request.app.state.backend.json("intake", "POST", "/cases", user.token, json=body,
                                                     idempotency_key=form.get("idem"))
    except ApiError as exc:
        if exc.status not in (400, 409, 422):
            raise
        chosen = {n: form.getlist(n) for n in ("referral_reasons", "question_topics")}
        flags = {n: form.get(n) == "on" for n in ("rare_tumour", "wants_video", "glass_slides")}
        return render(request, "case_new.html", 422, user=user, errors=exc.shown(lang_of(request), "body"),
                      values={**forms.values(form, forms.CASE_FIELDS), **flags}, chosen=chosen)
    return see_other(f"/cases/{case['case_id']}")


async def _section(coro: Any) -> Any:
    """A part of the case page that may be missing or refused: the page shows the rest."""
    try:
        return await coro
    except ApiError as exc:
        return {"_error": exc.detail, "_status": exc.status}


async def case_sections(request: Request, user: User, case_id: UUID) -> dict[str, Any]:
    b, token = request.app.state.backend, user.token
    case = await b.get("intake", f"/cases/{case_id}", token)
    parts = await asyncio.gather(
        _section(b.maybe("intake", f"/cases/{case_id}/patient", token)),
        _section(b.maybe("routing", f"/cases/{case_id}/routing", token)),
        _section(b.maybe("review", f"/cases/{case_id}", token)),
        _section(b.maybe("review", f"/cases/{case_id}/follow-ups", token)),
        _section(b.maybe("billing", f"/cases/{case_id}/account", token)),
        _section(b.maybe("intake", f"/cases/{case_id}/accesses", token)),
        _section(b.maybe("analytics", f"/cases/{case_id}/timeline", token)))
    names = ("patient", "routing", "review", "follow_ups", "account", "accesses", "timeline")
    return {"case": case, **dict(zip(names, parts, strict=True))}


@router.get("/cases/{case_id}")
async def case_page(request: Request, case_id: UUID) -> Response:
    user = await signed_in(request)
    if user.centre:
        return await reviewer.case_page(request, user, case_id)
    coordinator_of(user)
    return await render_case(request, user, case_id)


async def render_case(request: Request, user: User, case_id: UUID, status: int = 200,
                      errors: dict[str, str] | None = None, form: str | None = None) -> Response:
    sections = await case_sections(request, user, case_id)
    done = request.query_params.get("done") if request.method == "GET" else None
    return render(request, "case.html", status, user=user, case_id=case_id, errors=errors or {}, done=done,
                  failed_form=form, today=date.today(), parse_date=date.fromisoformat, **sections)


@router.get("/cases/{case_id}/status")
async def case_status(request: Request, case_id: UUID) -> Response:
    """The case page's status panel alone: htmx refreshes it while the case moves (routing, acceptance)."""
    user = coordinator_of(await signed_in(request))
    case = await request.app.state.backend.get("intake", f"/cases/{case_id}", user.token)
    return render(request, "_case_status_fragment.html", user=user, case=case, today=date.today(),
                  parse_date=date.fromisoformat, case_id=case_id)
