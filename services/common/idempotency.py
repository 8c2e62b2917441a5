"""Commands run in one transaction, optionally under an Idempotency-Key.

The key's row is claimed, the command applied and its response stored in the same transaction:
a retry with the same key gets the first response and appends nothing; the same key with a
different request is refused. A failed command rolls its claim back, so a retry runs it again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from psycopg.types.json import Jsonb

from events.db import Conn, Queries, transaction
from services.common.errors import InvalidInput
from services.common.runtime import Runtime

_SQL = Path(__file__).with_name("idempotency.sql")


@dataclass(frozen=True)
class Outcome:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def idempotency_key(key: Annotated[str | None, Header(alias="Idempotency-Key")] = None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise InvalidInput("Idempotency-Key", "must be 1 to 200 printable characters")
    return key


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(jsonable_encoder(parts), sort_keys=True).encode()).hexdigest()


def run_command(rt: Runtime, *, key: str | None, principal: str, request_fingerprint: str,
                command: Callable[[Conn], Outcome]) -> JSONResponse:
    q = Queries(_SQL, rt.store.schema)
    ids = {"principal": principal, "key": key}
    with transaction(rt.pool) as conn:
        if key is not None:
            claimed = conn.execute(q["claim"], {**ids, "fingerprint": request_fingerprint}).fetchone()
            if claimed is None:
                stored = conn.execute(q["stored"], ids).fetchone()
                assert stored is not None  # the claim conflicted with a committed row
                if stored["fingerprint"] != request_fingerprint:
                    raise InvalidInput("Idempotency-Key", "this key was already used for a different request")
                return JSONResponse(stored["body"], status_code=stored["status"],
                                    headers={**stored["headers"], "Idempotent-Replayed": "true"})
        outcome = command(conn)
        body = jsonable_encoder(outcome.body)
        if key is not None:
            conn.execute(q["complete"], {**ids, "status": outcome.status, "body": Jsonb(body),
                                         "headers": Jsonb(outcome.headers)})
    return JSONResponse(body, status_code=outcome.status, headers=outcome.headers)
