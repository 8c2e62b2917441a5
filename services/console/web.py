"""What every page shares: the session cookie, the signed-in person, CSRF, the language, rendering.

The cookie (HttpOnly, SameSite=Lax, Secure in production) holds a random id and nothing else; a
browser gets one on its first request, and a new one when it signs in (no session fixation). A
form's CSRF token is an HMAC of that id under the console's secret, so it needs no storage, works
before sign-in (the quote wizard) and dies with the cookie. Every POST is checked before anything
else reads its form.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from services.console import i18n, metrics
from services.console.oidc import RENEW_MARGIN_S, SignInFailed
from services.console.sessions import Session, new_id

COOKIE = "cl_session"
_SID = re.compile(r"^[A-Za-z0-9_-]{43}$")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
TEMPLATES.env.globals.update(codes=i18n.codes)
TEMPLATES.env.filters.update(label=i18n.label)


class NeedSignIn(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class Refused(Exception):
    """A request turned away before any API call: its status and the message shown."""

    def __init__(self, status: int, key: str, reason: str) -> None:
        self.status, self.key, self.reason = status, key, reason


@dataclass
class User:
    session: Session
    role: str

    @property
    def token(self) -> str:
        return str(self.session.data["access_token"])

    @property
    def centre(self) -> str | None:
        return self.role.split(":", 1)[1] if self.role.startswith("centre:") else None

    @property
    def home(self) -> str:
        if self.centre:
            return "/inbox"
        return {"coordinator": "/worklist", "analyst": "/operations", "admin": "/worklist"}.get(self.role, "/denied")


def session_id(request: Request) -> str:
    sid: str = request.state.sid
    return sid


async def session_of(request: Request) -> Session:
    if getattr(request.state, "session", None) is None:
        sid = session_id(request)
        found = await request.app.state.sessions.load(sid)
        request.state.session = found or Session(sid)
    session: Session = request.state.session
    return session


def rotate(request: Request, session: Session) -> Session:
    """A new id for a session that changes hands (signing in): the old cookie opens nothing."""
    fresh = Session(new_id(), session.data)
    request.state.sid, request.state.session, request.state.new_cookie = fresh.id, fresh, True
    return fresh


async def signed_in(request: Request) -> User:
    """The signed-in person, with a live token (renewed with the refresh token when due)."""
    session = await session_of(request)
    if not session.signed_in:
        raise NeedSignIn(_here(request))
    if session.data.get("expires_at", 0) - time.time() < RENEW_MARGIN_S:
        refresh = session.data.get("refresh_token")
        if not refresh:
            raise NeedSignIn(_here(request))
        try:
            session.data.update(await request.app.state.provider.refresh(refresh))
        except SignInFailed:
            await request.app.state.sessions.delete(session.id)
            raise NeedSignIn(_here(request)) from None
        await request.app.state.sessions.save(session)
    role = session.data.get("role")
    if not role:
        raise Refused(403, "no_role", "your account has no role in the console")
    return User(session, str(role))


def _here(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query and request.method == "GET" else "")


def csrf_token(request: Request) -> str:
    secret = request.app.state.settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, f"csrf:{session_id(request)}".encode(), hashlib.sha256).hexdigest()


async def checked_form(request: Request) -> FormData:
    """The posted form, after its CSRF token matched this browser's cookie (else 403)."""
    form = await request.form(max_files=20, max_fields=200)
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, csrf_token(request)):
        metrics.REFUSED.labels("csrf").inc()
        raise Refused(403, "csrf_failed", "the form had expired or came from elsewhere")
    return form


def lang_of(request: Request) -> str:
    return i18n.negotiate(request.cookies.get("cl_lang"), request.headers.get("accept-language"))


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    user: User | None = context.pop("user", None)
    base = {"lang": lang, "t": i18n.translator(lang), "csrf": csrf_token(request), "user": user,
            "idem": str(uuid.uuid4()), "here": quote(_here(request), safe="/?=&"), "path": request.url.path}
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def set_cookie(request: Request, response: Response) -> None:
    if getattr(request.state, "new_cookie", False):
        secure = request.app.state.settings.cookie_secure
        response.set_cookie(COOKIE, session_id(request), httponly=True, samesite="lax", secure=secure, path="/")


def assign_cookie(request: Request) -> None:
    sid = request.cookies.get(COOKIE)
    if sid and _SID.match(sid):
        request.state.sid, request.state.new_cookie = sid, False
    else:
        request.state.sid, request.state.new_cookie = new_id(), True
    request.state.session = None
