"""The coordinator's actions on a case: each a form that posts to one API, then back to the case page.

A refused action shows the case page again with the API's message beside the field it names;
an accepted one redirects (303) to the case page with a line saying what was done, so a reload
never posts twice (and the form's Idempotency-Key makes a double click act once).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from services.console import forms
from services.console.backend import ApiError
from services.console.coordinator import coordinator_of, render_case
from services.console.web import User, checked_form, lang_of, see_other, signed_in

router = APIRouter()


async def _act(request: Request, case_id: UUID, name: str, service: str, path: str,
               body: dict[str, Any] | None = None) -> Response:
    user = coordinator_of(await signed_in(request))
    form = await checked_form(request)
    payload = body if body is not None else {}
    try:
        await request.app.state.backend.json(service, "POST", path, user.token, json=payload,
                                             idempotency_key=_idem(form))
    except ApiError as exc:
        if exc.status not in (400, 409, 422):
            raise
        return await render_case(request, user, case_id, 422 if exc.status != 409 else 409,
                                 errors=exc.shown(lang_of(request)), form=name)
    return see_other(f"/cases/{case_id}?done={name}#{name}")


def _idem(form: FormData) -> str | None:
    idem = form.get("idem")
    return idem if isinstance(idem, str) and 8 <= len(idem) <= 100 else None


async def _form(request: Request) -> FormData:
    # Read (and CSRF-checked) once; _act reads the cached form again.
    return await checked_form(request)


@router.post("/cases/{case_id}/consents")
async def give_consent(request: Request, case_id: UUID) -> Response:
    form = await _form(request)
    return await _act(request, case_id, "consent", "intake", f"/cases/{case_id}/consents", forms.consent(form))


@router.post("/cases/{case_id}/records-request")
async def request_records(request: Request, case_id: UUID) -> Response:
    return await _act(request, case_id, "records_request", "intake", f"/cases/{case_id}/records-requests")


@router.post("/cases/{case_id}/cancel")
async def cancel(request: Request, case_id: UUID) -> Response:
    form = await _form(request)
    return await _act(request, case_id, "cancel", "intake", f"/cases/{case_id}/cancellation",
                      {"reason": form.get("reason")})


@router.post("/cases/{case_id}/reroute")
async def reroute(request: Request, case_id: UUID) -> Response:
    form = await _form(request)
    return await _act(request, case_id, "reroute", "routing", f"/queue/{case_id}/assignment",
                      {"centre_id": form.get("centre_id")})


@router.post("/cases/{case_id}/follow-ups")
async def ask_follow_up(request: Request, case_id: UUID) -> Response:
    form = await _form(request)
    question = form.get("question")
    return await _act(request, case_id, "follow_up", "review", f"/cases/{case_id}/follow-ups",
                      {"question": question.strip() if isinstance(question, str) else question})


@router.post("/cases/{case_id}/booking")
async def book(request: Request, case_id: UUID) -> Response:
    form = await _form(request)
    return await _act(request, case_id, "booking", "intake", f"/cases/{case_id}/treatment-booking",
                      forms.booking(form))


@router.post("/cases/{case_id}/closure")
async def close(request: Request, case_id: UUID) -> Response:
    return await _act(request, case_id, "closure", "intake", f"/cases/{case_id}/closure",
                      {"reason": "returned_home_refined_plan"})


@router.post("/cases/{case_id}/records")
async def upload_records(request: Request, case_id: UUID) -> Response:
    """Every file of the form, each posted to intake with the kind its input names (several at once)."""
    user = coordinator_of(await signed_in(request))
    form = await checked_form(request)
    files = [(key.removeprefix("file."), value) for key, value in form.multi_items()
             if key.startswith("file.") and isinstance(value, UploadFile) and value.filename]
    if not files:
        return await render_case(request, user, case_id, 422, errors={"file": "choose at least one file"},
                                 form="records")
    for stored, (kind, upload) in enumerate(files):
        content = await upload.read()
        try:
            await request.app.state.backend.json(
                "intake", "POST", f"/cases/{case_id}/records", user.token, data={"kind": kind},
                files={"file": (upload.filename or kind, content, upload.content_type or "application/octet-stream")})
        except ApiError as exc:
            if exc.status not in (400, 409, 413, 422):
                raise
            message = f"{upload.filename}: {exc.detail}"
            return await render_case(request, user, case_id, 422, errors={"file": message, "stored": str(stored)},
                                     form="records")
    return see_other(f"/cases/{case_id}?done=records#records")


async def proxied_pdf(request: Request, user: User, path: str, params: dict[str, Any] | None = None) -> Response:
    r = await request.app.state.backend.request("review", "GET", path, user.token, params=params or {})
    if r.status_code >= 400:
        from services.console.backend import error_of

        raise error_of(r)
    disposition = r.headers.get("content-disposition", 'attachment; filename="report.pdf"')
    return Response(r.content, media_type="application/pdf", headers={"Content-Disposition": disposition})


@router.get("/cases/{case_id}/report.pdf")
async def report(request: Request, case_id: UUID, version: int | None = None) -> Response:
    user = await signed_in(request)
    return await proxied_pdf(request, user, f"/cases/{case_id}/report", {"version": version} if version else None)


@router.get("/cases/{case_id}/documents/{document_id}.pdf")
async def document(request: Request, case_id: UUID, document_id: UUID) -> Response:
    user = await signed_in(request)
    return await proxied_pdf(request, user, f"/cases/{case_id}/documents/{document_id}")
