"""The services' own APIs, called with the signed-in person's token: the console decides nothing.

Every answer the APIs give as application/problem+json becomes an ApiError carrying the field it
names, so a page can show the message beside that field. A 404 stays a 404: a centre asking for a
case that is not its own gets exactly what it gets for a case that does not exist.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from services.console import metrics
from services.console.settings import ConsoleSettings

SERVICES = ("intake", "routing", "review", "billing", "analytics")


class ApiError(Exception):
    def __init__(self, status: int, detail: str, field: str | None = None, code: str | None = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail, self.field, self.code, self.errors = status, detail, field, code, errors or []

    def by_field(self) -> dict[str, str]:
        """Each named field's first message (the form shows it beside the field)."""
        found: dict[str, str] = {}
        for e in self.errors or [{"field": self.field, "message": self.detail}]:
            if e.get("field"):
                # "referral_reasons.0" is shown beside referral_reasons: the form has one field for the list.
                name = ".".join(p for p in str(e["field"]).split(".") if not p.isdigit())
                found.setdefault(name, str(e.get("message") or self.detail))
        return found


    def shown(self, lang: str, fallback: str = "_") -> dict[str, str]:
        """What the page shows beside each field: the refusal in the person's language when its code
        is known (i18n_problems), else the API's own words; `fallback` holds one that names no field."""
        from services.console.i18n import problem

        found, known = self.by_field(), problem(self.code, lang)
        if known:
            return {name: known for name in found} or {fallback: known}
        return found or {fallback: self.detail}


def error_of(r: httpx.Response) -> ApiError:
    try:
        body = r.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = body.get("detail")
    if not isinstance(detail, str):
        detail = r.reason_phrase or "the service refused"
    errors = body.get("errors") if isinstance(body.get("errors"), list) else []
    return ApiError(r.status_code, detail, body.get("field"), body.get("code"), errors)


class Backend:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        self._clients = {s: httpx.AsyncClient(base_url=settings.api(s), timeout=settings.api_timeout_s,
                                              limits=limits) for s in SERVICES}
        self.plain = httpx.AsyncClient(timeout=5.0)

    async def close(self) -> None:
        for c in self._clients.values():
            await c.aclose()
        await self.plain.aclose()

    async def request(self, service: str, method: str, path: str, token: str | None, *,
                      idempotency_key: str | None = None, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if method != "GET":
            # A form posted twice (a double click, a retry) acts once: the key came with the form.
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        started = time.perf_counter()
        try:
            r = await self._clients[service].request(method, path, headers=headers, **kw)
        except httpx.TransportError as exc:
            metrics.API_CALLS.labels(service, "unreachable").inc()
            raise ApiError(503, f"the {service} service is unreachable; try again shortly") from exc
        finally:
            metrics.API_SECONDS.labels(service).observe(time.perf_counter() - started)
        metrics.API_CALLS.labels(service, str(r.status_code // 100) + "xx").inc()
        return r

    async def json(self, service: str, method: str, path: str, token: str | None, **kw: Any) -> Any:
        r = await self.request(service, method, path, token, **kw)
        if r.status_code >= 400:
            raise error_of(r)
        return r.json()

    async def get(self, service: str, path: str, token: str | None, **kw: Any) -> Any:
        return await self.json(service, "GET", path, token, **kw)

    async def maybe(self, service: str, path: str, token: str | None, **kw: Any) -> Any:
        """A section of a page that may not exist yet (not routed, no account): None instead of 404."""
        try:
            return await self.get(service, path, token, **kw)
        except ApiError as exc:
            if exc.status in (404, 403):
                return None
            raise
