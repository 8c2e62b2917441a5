"""The demo's HTTP client: one keep-alive client per thread and service, bearer tokens, bounded retries.

Every command carries an Idempotency-Key unique to this run, so a retry after a timeout or a dropped
connection gets the first answer instead of appending twice. A version conflict (another writer,
e.g. a timer sweep, appended to the same stream first) is retried as well; any other answer is the
caller's to judge.
"""

from __future__ import annotations

import itertools
import json as jsonlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
SERVICES = ("intake", "routing", "review", "billing", "analytics")
ATTEMPTS = 6  # the default; a fault run allows more (Api(attempts=...))


class StepFailed(Exception):
    """A call answered something the plan did not allow for; carries the exact request and response."""

    def __init__(self, what: str, request: str = "", response: str = "", code: str | None = None) -> None:
        super().__init__(what)
        self.what, self.request, self.response, self.code = what, request, response, code

    def __str__(self) -> str:
        parts = [self.what]
        if self.request:
            parts.append(f"request:  {self.request}")
        if self.response:
            parts.append(f"response: {self.response}")
        return "\n    ".join(parts)


class Api:
    def __init__(self, urls: dict[str, str], tokens: Mapping[str, str], timeout: float = 30.0,
                 attempts: int = ATTEMPTS) -> None:
        self.urls, self.tokens, self.timeout, self.attempts = urls, tokens, timeout, attempts
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()
        self._count = itertools.count(1)
        self.requests = 0

    def _client(self, service: str) -> httpx.Client:
        clients: dict[str, httpx.Client] | None = getattr(self._local, "clients", None)
        if clients is None:
            clients = self._local.clients = {}
        if service not in clients:
            client = httpx.Client(base_url=self.urls[service], timeout=self.timeout)
            clients[service] = client
            with self._lock:
                self._clients.append(client)
        return clients[service]

    def call(self, service: str, method: str, path: str, *, token: str = "COORDINATOR_TOKEN", key: str | None = None,
             expect: Iterable[int] = (200, 201), json: Any = None, data: dict[str, str] | None = None,
             files: dict[str, tuple[str, bytes, str]] | None = None, check: bool = True) -> httpx.Response:
        """One request, retried on transport errors, 5xx and version conflicts; raises StepFailed when the
        final answer is not in `expect` (unless check=False)."""
        headers = {"Authorization": f"Bearer {self.tokens[token]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        shown = f"{method} {self.urls[service]}{path}" + (f" {_short(json)}" if json is not None else "") + (
            f" form={data}" if data else "")
        response: httpx.Response | None = None
        error = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(min(2.0, 0.1 * 2 ** attempt))
            with self._lock:
                self.requests += 1
            try:
                response = self._client(service).request(method, path, headers=headers, json=json, data=data,
                                                         files=files)
            except httpx.TransportError as exc:
                error, response = f"{type(exc).__name__}: {exc}", None
                continue
            if response.status_code >= 500 or (response.status_code == 409 and problem_code(response) ==
                                                "version_conflict"):
                continue
            break
        if response is None:
            raise StepFailed(f"no answer after {self.attempts} attempts ({error})", shown)
        if check and response.status_code not in set(expect):
            raise StepFailed(f"unexpected HTTP {response.status_code}", shown,
                             f"{response.status_code} {response.text[:600]}", problem_code(response))
        return response

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()


def problem_code(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 45.0, interval: float = 0.1) -> T:
    """Polls `probe` until it returns something truthy; bounded by `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise StepFailed(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 1.5, 1.0)


def _short(body: Any, limit: int = 400) -> str:
    text = jsonlib.dumps(body, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."
