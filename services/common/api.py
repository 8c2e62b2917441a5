"""Request pieces every service's API shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Request

from services.common.errors import InvalidInput
from services.common.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def expected_version(if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> int | None:
    """If-Match carries the case version the client last read; a stale one is a 409."""
    if if_match is None:
        return None
    value = if_match.strip().strip('"').removeprefix("W/").strip('"')
    if not value.isdigit():
        raise InvalidInput("If-Match", "must be the case version number the client read")
    return int(value)


ExpectedVersion = Annotated[int | None, Depends(expected_version)]


def event_time(occurred_at: datetime | None, rt: Runtime) -> datetime:
    """Business time of the fact: the client's (e.g. a simulator's) if given, else our clock."""
    if occurred_at is None:
        return rt.store.clock()
    if occurred_at.tzinfo is None:
        raise InvalidInput("occurred_at", "must include a timezone offset")
    return occurred_at.astimezone(UTC)
