"""The centre reviewer's pages: the inbox, the case (package, CT slices, report, review, follow-ups).

A reviewer sees what review and intake let their centre's token see: another centre's case is a
404 at both, and the console shows the same not-found page it shows for a case that does not exist.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from services.console import ct, forms
from services.console.backend import ApiError, error_of
from services.console.web import Refused, User, checked_form, lang_of, render, see_other, signed_in

router = APIRouter()


def _idem(form: FormData) -> str | None:
    idem = form.get("idem")
    return idem if isinstance(idem, str) and 8 <= len(idem) <= 100 else None


def reviewer_of(user: User) -> User:
    if not user.centre:
        raise Refused(403, "forbidden", "only a centre's reviewers have an inbox")
    return user


@router.get("/inbox")
async def inbox(request: Request) -> Response:
    user = reviewer_of(await signed_in(request))
    cases = await request.app.state.backend.get("review", "/cases", user.token)
    cases = [c for c in cases if not c.get("stopped_by")]
    offered = [c for c in cases if c.get("state") == "assigned"]
    accepted = [c for c in cases if c.get("state") in ("accepted", "awaiting_information")]
    follow_ups = [(c, f) for c in cases for f in c.get("follow_ups", []) if not f.get("answered_at")]
    follow_ups.sort(key=lambda cf: cf[1].get("due") or "9999")
    return render(request, "inbox.html", user=user, offered=offered, accepted=accepted, follow_ups=follow_ups,
                  today=date.today(), parse_date=date.fromisoformat)


async def case_page(request: Request, user: User, case_id: UUID, status: int = 200,
                    errors: dict[str, str] | None = None, form: str | None = None,
                    values: dict[str, Any] | None = None) -> Response:
    b, token = request.app.state.backend, user.token
    review = await b.get("review", f"/cases/{case_id}", token)  # 404 for another centre's case
    package, follow_ups = await asyncio.gather(b.maybe("intake", f"/cases/{case_id}/package", token),
                                               b.maybe("review", f"/cases/{case_id}/follow-ups", token))
    imaging = [r for r in (package or {}).get("records", []) if r.get("kind") == "imaging"]
    return render(request, "review_case.html", status, user=user, case_id=case_id, review=review, package=package,
                  follow_ups=follow_ups or [], imaging=imaging, errors=errors or {}, failed_form=form,
                  values=values or {}, done=request.query_params.get("done"), today=date.today(),
                  parse_date=date.fromisoformat)


async def _act(request: Request, case_id: UUID, name: str, path: str, body: dict[str, Any]) -> Response:
    user = reviewer_of(await signed_in(request))
    form = await checked_form(request)
    try:
        await request.app.state.backend.json("review", "POST", path, user.token, json=body, idempotency_key=_idem(form))
    except ApiError as exc:
        if exc.status not in (400, 409, 422):
            raise
        return await case_page(request, user, case_id, 422, errors=exc.shown(lang_of(request)), form=name,
                               values={k: v for k, v in form.items() if isinstance(v, str)})
    return see_other(f"/cases/{case_id}?done={name}#{name}")


@router.post("/cases/{case_id}/accept")
async def accept(request: Request, case_id: UUID) -> Response:
    return await _act(request, case_id, "accept", f"/cases/{case_id}/acceptance", {})


@router.post("/cases/{case_id}/decline")
async def decline(request: Request, case_id: UUID) -> Response:
    form = await checked_form(request)
    return await _act(request, case_id, "decline", f"/cases/{case_id}/decline", {"reason": form.get("reason")})


@router.post("/cases/{case_id}/information-request")
async def information(request: Request, case_id: UUID) -> Response:
    form = await checked_form(request)
    return await _act(request, case_id, "information", f"/cases/{case_id}/information-requests",
                      {"topics": form.getlist("topics")})


@router.post("/cases/{case_id}/delivery")
async def deliver(request: Request, case_id: UUID) -> Response:
    form = await checked_form(request)
    return await _act(request, case_id, "delivery", f"/cases/{case_id}/delivery", forms.delivery(form))


async def _upload(request: Request, case_id: UUID, name: str, path: str) -> Response:
    user = reviewer_of(await signed_in(request))
    form = await checked_form(request)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await case_page(request, user, case_id, 422, errors={"file": "choose a PDF file"}, form=name)
    data = {k: v for k, v in {"page_count_reason": form.get("page_count_reason")}.items() if isinstance(v, str) and v}
    r = await request.app.state.backend.request(
        "review", "POST", path, user.token, data=data, idempotency_key=_idem(form),
        files={"file": (upload.filename, await upload.read(), "application/pdf")})
    if r.status_code >= 400:
        exc = error_of(r)
        if exc.status not in (400, 409, 413, 422):
            raise exc
        return await case_page(request, user, case_id, 422, errors=exc.shown(lang_of(request), "file"), form=name)
    return see_other(f"/cases/{case_id}?done={name}#{name}")


@router.post("/cases/{case_id}/report")
async def upload_report(request: Request, case_id: UUID) -> Response:
    return await _upload(request, case_id, "report", f"/cases/{case_id}/report")


@router.post("/cases/{case_id}/follow-ups/{follow_up_id}/addendum")
async def addendum(request: Request, case_id: UUID, follow_up_id: UUID) -> Response:
    return await _upload(request, case_id, "addendum", f"/cases/{case_id}/follow-ups/{follow_up_id}/addendum")


async def _fetched(request: Request, user: User, case_id: UUID, record_id: UUID) -> tuple[bytes, str]:
    """The record's file as intake serves this person (de-identified for a centre), and its type."""
    r = await request.app.state.backend.request("intake", "GET", f"/cases/{case_id}/records/{record_id}/content",
                                                user.token)
    if r.status_code >= 400:
        raise error_of(r)
    return r.content, r.headers.get("content-type", "application/octet-stream")


async def _record(request: Request, user: User, case_id: UUID, record_id: UUID) -> bytes:
    return (await _fetched(request, user, case_id, record_id))[0]


@router.get("/cases/{case_id}/records/{record_id}/slice.png")
async def slice_png(request: Request, case_id: UUID, record_id: UUID,
                    index: int | None = Query(None, ge=0, le=100_000)) -> Response:
    user = await signed_in(request)
    content = await _record(request, user, case_id, record_id)
    try:
        shown = await asyncio.to_thread(ct.render, content, index)
    except ct.NotAnImage:
        raise Refused(422, "not_an_image", "this record has no image to show; download it instead") from None
    return Response(shown.png, media_type="image/png", headers={"X-Slice-Index": str(shown.index),
                                                                "X-Slice-Count": str(shown.count),
                                                                "Cache-Control": "private, max-age=300"})


@router.get("/cases/{case_id}/records/{record_id}/viewer")
async def viewer(request: Request, case_id: UUID, record_id: UUID,
                 index: int | None = Query(None, ge=0, le=100_000)) -> Response:
    """The slice viewer of one series: the image, its index and the scroll control (a fragment for htmx)."""
    user = await signed_in(request)
    content = await _record(request, user, case_id, record_id)
    try:
        shown = await asyncio.to_thread(ct.render, content, index)
    except ct.NotAnImage:
        shown = None
    template = "_viewer.html" if request.headers.get("hx-request") else "viewer_page.html"
    return render(request, template, user=user, case_id=case_id, record_id=record_id, shown=shown)


@router.get("/cases/{case_id}/records/{record_id}/download")
async def download(request: Request, case_id: UUID, record_id: UUID) -> Response:
    user = await signed_in(request)
    content, media_type = await _fetched(request, user, case_id, record_id)
    suffix = {"application/dicom": ".dcm", "application/pdf": ".pdf"}.get(media_type.split(";")[0], "")
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{record_id}{suffix}"'})
