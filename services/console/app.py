"""The console: coordinators, centre reviewers and analysts at a web page, and the patient's quote wizard.

`uvicorn --factory services.console.app:create_app` (infra.stack runs it at port base + 7). Pages
are rendered on the server from the services' APIs, called with the signed-in person's own token;
htmx makes some of them livelier, and every one works without JavaScript. docs/console.md says how.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg_pool import AsyncConnectionPool
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.console import analyst, auth_routes, coordinator, coordinator_actions, metrics, quote, reviewer
from services.console.backend import ApiError, Backend
from services.console.oidc import Provider
from services.console.portal import Portal
from services.console.sessions import SessionStore
from services.console.settings import ConsoleSettings
from services.console.web import NeedSignIn, Refused, assign_cookie, render, see_other, set_cookie

STATIC = Path(__file__).with_name("static")
# Scripts, styles and images from the console itself; nothing inline, nothing from elsewhere.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
       "frame-ancestors 'none'; base-uri 'self'; form-action 'self' {issuer}")


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        s = settings or ConsoleSettings()
        pool = AsyncConnectionPool(s.database_url, min_size=1, max_size=s.db_pool_size, open=False,
                                   kwargs={"autocommit": True})
        await pool.open()
        app.state.settings, app.state.pool = s, pool
        app.state.sessions = SessionStore(pool, s.secret_key.get_secret_value(), s.session_idle_s, s.session_max_s)
        await app.state.sessions.migrate()
        app.state.backend = backend = Backend(s)
        app.state.provider = Provider(s, backend.plain)
        app.state.portal = Portal(s)
        app.state.csp = CSP.format(issuer=s.oidc_issuer)
        try:
            yield
        finally:
            await backend.close()
            await pool.close()

    app = FastAPI(title="Case Ledger — console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _ops(app)
    for module in (auth_routes, coordinator, coordinator_actions, reviewer, analyst, quote):
        app.include_router(module.router)
    _errors(app)
    app.middleware("http")(_every_request)
    return app


async def _every_request(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    started = time.perf_counter()
    assign_cookie(request)
    refused = _too_large(request)
    response = refused or await call_next(request)
    set_cookie(request, response)
    headers = response.headers
    headers.setdefault("Content-Security-Policy", getattr(request.app.state, "csp", "default-src 'self'"))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if not request.url.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        metrics.PAGE_SECONDS.labels(name, str(response.status_code)).observe(time.perf_counter() - started)
    return response


def _too_large(request: Request) -> Response | None:
    """Bodies are bounded before they are read: uploads by the upload limit, every other form by the form limit."""
    if request.method not in ("POST", "PUT"):
        return None
    s: ConsoleSettings = request.app.state.settings
    limit = s.max_upload_bytes if request.url.path.endswith(("/records", "/report", "/addendum")) else s.max_form_bytes
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        metrics.REFUSED.labels("length").inc()
        return PlainTextResponse("a request body needs a Content-Length", status_code=411)
    if int(length) > limit:
        metrics.REFUSED.labels("size").inc()
        return PlainTextResponse(f"the request is larger than the {limit} bytes allowed here", status_code=413)
    return None


def _ops(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        try:
            async with request.app.state.pool.connection() as conn:
                await conn.execute("SELECT 1")
            ok = True
        except Exception:
            ok = False
        return Response('{"ready": %s}' % ("true" if ok else "false"), status_code=200 if ok else 503,
                        media_type="application/json")

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


def _errors(app: FastAPI) -> None:
    @app.exception_handler(NeedSignIn)
    async def _sign_in(request: Request, exc: NeedSignIn) -> Response:
        from urllib.parse import quote as q

        return see_other(f"/auth/login?next={q(exc.next_path, safe='')}")

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return render(request, "error.html", exc.status, message_key=exc.key, reason=exc.reason)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return render(request, "not_found.html", 404)
        return render(request, "error.html", exc.status_code, message_key="api_error", reason=str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # A malformed address (/cases/not-a-case) is a page that does not exist; a bad query is a 422 page.
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            return render(request, "not_found.html", 404)
        metrics.REFUSED.labels("input").inc()
        return render(request, "error.html", 422, message_key="api_error",
                      reason="; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors()))

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        if exc.status == 404:
            return render(request, "not_found.html", 404)
        if exc.status == 401:
            return see_other("/auth/login?next=/")
        key = {403: "forbidden", 409: "conflict", 503: "unavailable"}.get(exc.status, "api_error")
        return render(request, "error.html", exc.status if exc.status >= 400 else 502, message_key=key,
                      reason=exc.detail)
