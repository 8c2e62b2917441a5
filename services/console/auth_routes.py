"""Sign-in, sign-out, the front door and the language switch."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.console import metrics
from services.console.oidc import Pending, SignInFailed
from services.console.web import Refused, checked_form, render, rotate, see_other, session_of, signed_in

router = APIRouter()
# Only a path of this console: never another host, nor a scheme-relative //host.
_LOCAL = re.compile(r"^/(?![/\\])[A-Za-z0-9/_\-.?=&%~]*$")


def local(next_path: str | None, default: str = "/") -> str:
    return next_path if next_path and _LOCAL.match(next_path) and len(next_path) <= 2000 else default


@router.get("/")
async def front(request: Request) -> Response:
    user = await signed_in(request)
    return see_other(user.home)


@router.get("/auth/login")
async def login(request: Request, next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    session = await session_of(request)
    try:
        url, pending = await request.app.state.provider.start(local(next))
    except SignInFailed as exc:
        return render(request, "error.html", 503, message_key="provider_unreachable", reason=str(exc))
    session.data = {"pending": asdict(pending)}
    await request.app.state.sessions.save(session)
    return see_other(url)


@router.get("/auth/callback")
async def callback(request: Request, code: Annotated[str | None, Query(max_length=2000)] = None,
                   state: Annotated[str | None, Query(max_length=200)] = None,
                   error: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    session = await session_of(request)
    raw = session.data.get("pending")
    if error or not code or not isinstance(raw, dict) or raw.get("state") != state:
        metrics.SIGN_INS.labels("refused").inc()
        # A stale or forged callback (another browser's state): start again, nothing kept.
        raise Refused(400, "sign_in_failed", error or "the sign-in did not match this browser; try again")
    pending = Pending(**raw)
    try:
        tokens = await request.app.state.provider.finish(pending, code)
    except SignInFailed as exc:
        metrics.SIGN_INS.labels("refused").inc()
        raise Refused(400, "sign_in_failed", str(exc)) from None
    await request.app.state.sessions.delete(session.id)
    fresh = rotate(request, session)
    fresh.data = tokens
    await request.app.state.sessions.save(fresh)
    metrics.SIGN_INS.labels("completed").inc()
    user = await signed_in(request)
    return see_other(pending.next if pending.next != "/" else user.home)


@router.post("/auth/logout")
async def logout(request: Request) -> Response:
    await checked_form(request)
    session = await session_of(request)
    id_token = session.data.get("id_token")
    await request.app.state.sessions.delete(session.id)
    rotate(request, type(session)(session.id, {}))
    return see_other(await request.app.state.provider.logout_url(id_token))


@router.get("/lang")
async def switch_language(request: Request, to: Annotated[str, Query(pattern="^(en|zh-CN)$")],
                          next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    response = see_other(local(next))
    response.set_cookie("cl_lang", to, max_age=365 * 86400, httponly=True, samesite="lax",
                        secure=request.app.state.settings.cookie_secure, path="/")
    return response


@router.get("/denied")
async def denied(request: Request) -> Response:
    user = await signed_in(request)
    return render(request, "error.html", 403, user=user, message_key="no_console_role", reason=user.role)
