"""Commands run in one transaction, optionally under an Idempotency-Key.

The key's row is claimed, the command applied and its response stored in the same transaction:
a retry with the same key gets the first response and appends nothing; the same key with a
different request is refused. A failed command rolls its claim back, so a retry runs it again.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from psycopg.types.json import Jsonb
from pydantic import WithJsonSchema

from events.db import Conn, Queries, StreamRaced, transaction
from services.common import actor, kernel
from services.common.errors import Rejected
from services.common.runtime import Runtime

_SQL = Path(__file__).with_name("idempotency.sql")


@dataclass(frozen=True)
class Outcome:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


# Printable ASCII, no leading or trailing space (HTTP would strip it): what the schema says.
KEY_PATTERN = r"^[!-~]([ -~]{0,198}[!-~])?$"


async def idempotency_key(key: Annotated[str | None, Header(
        alias="Idempotency-Key", pattern=KEY_PATTERN, max_length=200,
        description="retrying with the same key returns the first answer instead of acting twice"),
        WithJsonSchema({"type": "string", "pattern": KEY_PATTERN, "maxLength": 200})] = None,
) -> str | None:
    return key


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(jsonable_encoder(parts), sort_keys=True).encode()).hexdigest()


# A command without If-Match that lost a race to another writer of its case (two record uploads
# in parallel) runs again on the new state: the client asked for no version, so a 409
# version_conflict would only make it retry itself. Bounded: a stream that busy is the client's to see.
RACE_RETRIES = 5


def run_command(rt: Runtime, *, key: str | None, principal: str, request_fingerprint: str,
                command: Callable[[Conn], Outcome]) -> JSONResponse:
    for attempt in range(RACE_RETRIES):
        token = kernel.queue_behind_writers.set(attempt > 0)  # a retry queues behind the case's writers
        try:
            return _run_once(rt, key, principal, request_fingerprint, command)
        except StreamRaced:
            if attempt == RACE_RETRIES - 1:
                raise
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # apart, so the racers do not meet again
        finally:
            kernel.queue_behind_writers.reset(token)
    raise AssertionError("unreachable")


def _run_once(rt: Runtime, key: str | None, principal: str, request_fingerprint: str,
              command: Callable[[Conn], Outcome]) -> JSONResponse:
    q = Queries(_SQL, rt.store.schema)
    # A key is its sender's: two people of one role never share one, so neither's act is taken
    # for the other's replay.
    sender = actor.current()
    ids = {"principal": f"{principal}/{sender.id}" if sender else principal, "key": key}
    with transaction(rt.pool) as conn:
        if key is not None:
            claimed = conn.execute(q["claim"], {**ids, "fingerprint": request_fingerprint}).fetchone()
            if claimed is None:
                stored = conn.execute(q["stored"], ids).fetchone()
                assert stored is not None  # the claim conflicted with a committed row
                if stored["fingerprint"] != request_fingerprint:
                    # A conflict with the earlier request, as for a stale version: 409, not bad input.
                    raise Rejected("this Idempotency-Key was already used for a different request",
                                   "idempotency_key_reused", field="Idempotency-Key")
                return JSONResponse(stored["body"], status_code=stored["status"],
                                    headers={**stored["headers"], "Idempotent-Replayed": "true"})
        outcome = command(conn)
        body = jsonable_encoder(outcome.body)
        if key is not None:
            conn.execute(q["complete"], {**ids, "status": outcome.status, "body": Jsonb(body),
                                         "headers": Jsonb(outcome.headers)})
    return JSONResponse(body, status_code=outcome.status, headers=outcome.headers)
