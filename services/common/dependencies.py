"""The FastAPI dependencies of a service's endpoints: its runtime, If-Match, the business time of a request."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from pydantic import WithJsonSchema

from services.common.errors import InvalidInput
from services.common.idempotency import idempotency_key
from services.common.runtime import Runtime


# The dependencies that do no I/O are async: FastAPI runs a sync one on a worker thread, a
# hop per dependency per request, and together they cost more than the endpoint itself.
async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# An endpoint that retries safely: the client's Idempotency-Key, if it sent one.
IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


IF_MATCH = r'^(W/)?"?[0-9]{1,9}"?$'


# A header is a string or absent, never null: the schema says so (pydantic would add "null").
async def expected_version(if_match: Annotated[str | None, Header(
        alias="If-Match", pattern=IF_MATCH, description="the case version the client last read (its ETag)"),
        WithJsonSchema({"type": "string", "pattern": IF_MATCH})] = None) -> int | None:
    """If-Match carries the case version the client last read; a stale one is a 409."""
    if if_match is None:
        return None
    value = if_match.strip().strip('"').removeprefix("W/").strip('"')
    if not value.isdigit():
        raise InvalidInput("If-Match", "must be the case version number the client read")
    return int(value)


ExpectedVersion = Annotated[int | None, Depends(expected_version)]


# Event times outside these bounds are refused: the SLA calendar, the timers' arithmetic and the
# analytics all assume a plausible date, and year 9999 overflows a datetime plus a timedelta.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def event_time(occurred_at: datetime | None, rt: Runtime, field: str = "occurred_at") -> datetime:
    """Business time of the fact: our clock, or a simulator's when the stack runs simulated time."""
    if occurred_at is None:
        return rt.store.clock()
    if not rt.settings.simulated_time:
        raise InvalidInput(field, "event time is the server's clock; a client may set it only when the "
                                  "stack runs with CASE_LEDGER_SIMULATED_TIME=true")
    return checked_time(occurred_at, field)


def checked_time(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput(field, "must include a timezone offset")
    if not EARLIEST <= value < LATEST:
        raise InvalidInput(field, "must be on or after 2000-01-01 and before 2100-01-01")
    return value.astimezone(UTC)
