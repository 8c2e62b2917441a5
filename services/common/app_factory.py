"""The FastAPI app every service is built as: problem+json errors, health, readiness, metrics, latency."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.registry import Collector
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from events import metrics
from events.broker import Broker
from events.contract import TOPIC
from events.db import ConcurrencyConflict, DatabaseUnavailable
from services.common.auth import TokenVerifier
from services.common.body_limit import BodyLimit
from services.common.errors import InvalidInput, NotFound, Rejected
from services.common.runtime import Runtime

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path answers: Starlette's 405 names only the one route it
    tried (GET of a path that also has DELETE and POST routes said `Allow: GET`)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match in (Match.PARTIAL, Match.FULL):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return problem(400, "Bad request", "the body is not valid JSON", field="body", errors=errors)
        return problem(422, "Invalid request", errors[0]["message"] if errors else "invalid",
                       field=errors[0]["field"] if errors else None, errors=errors)

    @app.exception_handler(InvalidInput)
    async def _invalid_input(_: Request, exc: InvalidInput) -> JSONResponse:
        return problem(422, "Invalid request", exc.message, field=exc.field,
                       errors=[{"field": exc.field, "message": exc.message}])

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        # A body too large, or one the multipart parser could not read: the body is at fault.
        extra = {"field": "body"} if exc.status_code in (400, 413) else {}
        response = problem(exc.status_code, _TITLES.get(exc.status_code, "Error"), str(exc.detail), **extra)
        for k, v in (exc.headers or {}).items():
            response.headers[k] = v
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return problem(404, "Not found", str(exc) or "no such resource")

    @app.exception_handler(Rejected)
    async def _rejected(_: Request, exc: Rejected) -> JSONResponse:
        return problem(409, "Conflict", exc.reason, code=exc.code, **({"field": exc.field} if exc.field else {}))

    @app.exception_handler(ConcurrencyConflict)
    async def _conflict(_: Request, exc: ConcurrencyConflict) -> JSONResponse:
        return problem(409, "Conflict", "the case changed since you read it; reload and retry",
                       code="version_conflict", field="If-Match",
                       expected_version=exc.expected, current_version=exc.actual)

    # Every way the database can be away ends as a 503 the client may retry, never a 500.
    @app.exception_handler(DatabaseUnavailable)
    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _db_down(_: Request, exc: Exception) -> JSONResponse:
        response = problem(503, "Service unavailable", "the database is unavailable; retry shortly")
        response.headers["Retry-After"] = "2"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal server error", "an unexpected error; it has been logged")


_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 413: "Content too large", 422: "Invalid request",
           503: "Service unavailable"}

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "field": {"type": ["string", "null"]}, "code": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
# Documented on every route, so a client (and a conformance fuzzer) knows every answer it can get.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": title, "content": {PROBLEM: {"schema": _PROBLEM_SCHEMA}}}
    for status, title in _TITLES.items() if status != 405
}
_READINESS = {"type": "object", "properties": {"ready": {"type": "boolean"}, "checks": {"type": "object"}}}


class TopicCheck:
    """Whether the event topic exists with the configured partitions; asked at most every few seconds."""

    def __init__(self, service: str, ttl_s: float = 3.0) -> None:
        self.service = service
        self.ttl_s = ttl_s
        self._at = float("-inf")
        self._ok = False
        self._broker: Broker | None = None  # keeps its admin client (events/broker.py)
        self._lock = threading.Lock()  # readiness is asked from the server's thread pool

    def ok(self, bootstrap: str, partitions: int) -> bool:
        with self._lock:
            return self._ok_now(bootstrap, partitions)

    def _ok_now(self, bootstrap: str, partitions: int) -> bool:
        if time.monotonic() - self._at < self.ttl_s:
            return self._ok
        if self._broker is None or self._broker.bootstrap != bootstrap:
            self._broker = Broker(bootstrap, f"{self.service}-readiness")
        try:
            view = self._broker.describe(TOPIC)
        except Exception:  # the broker is away or answering errors: not ready, whatever the cause
            view = None
        self._ok = view is not None and view.partitions == partitions
        if view is not None:
            metrics.TOPIC_PARTITIONS.labels(self.service, TOPIC).set(view.partitions)
            metrics.TOPIC_MISCONFIGURED.labels(self.service, TOPIC).set(0 if self._ok else 1)
        self._at = time.monotonic()
        return self._ok


def broker_reachable(bootstrap: str, timeout: float = 1.0) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "localhost", int(port)), timeout=timeout):
                return True
        except OSError:
            continue
    return False


# Fields only a simulator may send: without simulated time they are refused, so not offered.
SIMULATOR_FIELDS = ("occurred_at", "now")


# pydantic writes a bound it cannot place in JSON Schema's words (one on a type with a validator
# before it, as WholeNumber has) under its own names: `ge` is no keyword a client or fuzzer knows.
BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def json_schema_keywords(node: Any) -> Any:
    """The schema with pydantic's bound names in a numeric schema renamed to JSON Schema's keywords."""
    if isinstance(node, list):
        return [json_schema_keywords(item) for item in node]
    if not isinstance(node, dict):
        return node
    numeric = node.get("type") in ("integer", "number")
    return {(BOUNDS[k] if numeric and k in BOUNDS else k): json_schema_keywords(v) for k, v in node.items()}


def _hide_simulator_fields(app: FastAPI) -> None:
    """The published schema matches this process's settings: no event-time fields on a real clock."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = json_schema_keywords(generate())
        settings = getattr(app.state, "settings", None)
        if settings is not None and not settings.simulated_time:
            for component in schema.get("components", {}).get("schemas", {}).values():
                for name in SIMULATOR_FIELDS:
                    component.get("properties", {}).pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _ops_routes(app: FastAPI, service: str, collectors: Callable[[Runtime], Sequence[Collector]] | None) -> None:
    """Liveness, readiness and metrics: what operations and Prometheus read, never behind a token."""
    topic = TopicCheck(service)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", tags=["ops"], responses={
        200: {"content": {"application/json": {"schema": _READINESS}}},
        503: {"description": "not ready", "content": {"application/json": {"schema": _READINESS}}}})
    def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        settings = runtime.settings
        checks = {"database": runtime.database_ok(), "broker": broker_reachable(settings.kafka_bootstrap_servers)}
        # A topic auto-created with the broker's default partitions would reorder nothing per case
        # but would spread cases differently from everything already published: not ready.
        checks["topic"] = checks["broker"] and topic.ok(settings.kafka_bootstrap_servers, settings.topic_partitions)
        status = 200 if all(checks.values()) else 503
        return JSONResponse({"ready": status == 200, "checks": checks}, status_code=status)

    @app.get("/metrics", tags=["ops"], response_class=Response,
             responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}})
    def metrics_endpoint(request: Request) -> Response:
        if request.app.state.settings.prometheus_multiproc_dir:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = CollectorRegistry()
            registry.register(REGISTRY)
        for collector in (collectors(request.app.state.runtime) if collectors else ()):
            registry.register(collector)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class HttpLatency:
    """Request latency by route template and status, as a pure ASGI middleware.

    Starlette's BaseHTTPMiddleware (what @app.middleware makes) runs each request through an
    extra task and memory streams: it cost more than the rest of a request's framework work."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The router leaves the matched route in the scope: its template, never the raw path.
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.HTTP_LATENCY.labels(self.service, scope["method"], route, str(status)).observe(
                time.perf_counter() - start)


def create_service_app(
    *,
    service: str,
    build_runtime: Callable[[], Runtime],
    routers: Sequence[APIRouter],
    description: str,
    collectors: Callable[[Runtime], Sequence[Collector]] | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime()
        app.state.runtime = runtime
        app.state.settings = runtime.settings
        app.state.verifier = TokenVerifier.from_settings(runtime.settings, service)
        try:
            yield
        finally:
            await app.state.verifier.keys.close()
            runtime.close()

    # /docs and /redoc from assets in a package (fastapi-offline), not a CDN: they work offline.
    app = FastAPIOffline(title=f"Case Ledger — {service}", description=description, lifespan=lifespan,
                         responses=ERROR_RESPONSES)
    install_error_handlers(app)

    _ops_routes(app, service, collectors)
    for router in routers:
        app.include_router(router)
    _hide_simulator_fields(app)
    app.add_middleware(HttpLatency, service=service)
    # Outermost, so an oversized or undecodable body is refused before anything reads it.
    app.add_middleware(BodyLimit)
    return app
