"""Request bodies are bounded before anything reads them, and JSON must decode before a route sees it.

A JSON body is read whole (it is small by then) and checked here, so an oversized, undecodable
or absurdly nested body gets a problem+json answer instead of tying up a worker or reaching
the framework's own plain-text errors. Uploads stream through, counted, to the route's own limit.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_LIMIT = 2**20


class BodyTooLarge(HTTPException):
    # An HTTPException, so that the framework's body parsing passes it on instead of turning
    # every failure while reading a form into a 400.
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is over the {limit} bytes allowed")
        self.limit = limit


def _limits(scope: Scope) -> tuple[int, int]:
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    body = getattr(settings, "max_body_bytes", DEFAULT_LIMIT)
    return body, max(body, getattr(settings, "max_upload_bytes", body))


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        json_limit, upload_limit = _limits(scope)
        content_type = headers.get("content-type", "")
        limit = upload_limit if content_type.lower().startswith("multipart/") else json_limit
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _answer(send, 400, "Bad request", "Content-Length is not a number", "Content-Length")
                return
            if int(declared) > limit:
                await _answer(send, 413, "Content too large", f"the body is over the {limit} bytes allowed")
                return
        if _is_json(content_type):
            await self._json(scope, receive, send, limit)
            return
        await self.app(scope, _counting(receive, limit), send)

    async def _json(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _answer(send, 413, "Content too large", f"the body is over the {limit} bytes allowed")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            problem = _undecodable(body)
            if problem:
                await _answer(send, 400, "Bad request", problem)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _undecodable(body: bytes) -> str | None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the body is not valid UTF-8 (byte {exc.start})"
    try:
        json.loads(text)
    except RecursionError:
        return "the body's JSON is nested too deeply"
    except ValueError as exc:
        return f"the body is not valid JSON: {exc}"
    return None


def _counting(receive: Receive, limit: int) -> Receive:
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        size += len(message.get("body", b""))
        if size > limit:
            raise BodyTooLarge(limit)
        return message

    return counted


async def _answer(send: Send, status: int, title: str, detail: str, field: str = "body") -> None:
    payload: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail,
                               "field": field}
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

