"""The coordinators' worklist: each case's life (events.lifecycle) as intake folds it, and the answers
the lifecycle reads from it in indexed columns, walked page by page in a stable order.

Every service's facts fold into one row per case: intake's own commands fold theirs in their own
transaction (read your writes), and the `worklist_life` consumer folds the others' (and intake's
again, which changes nothing: a life applies each producer's stream version once). It also keeps the
documents review stored (reports, versions, addenda) for the FHIR export.

A walk: the first page (no cursor) lists the cases the filters match, nearest deadline first. When
the client asks for the next page, the rest of the walk is fixed in the order its cases have then,
leaving out those the first page showed, and every later page follows that order, each case as it
is now. So no case is listed twice or skipped however deadlines move; a case that stops matching the
filters is left out. A walk's cursors last an hour (then 422: start again) and keep their filters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from uuid import UUID, uuid4

from psycopg.types.json import Jsonb

from events import lifecycle
from events.codes import CENTRE_NAMES, CentreId
from events.consumer import Consumer
from events.contract import FollowUpAnswered, ReportAmended, ReportUploaded, ReviewDelivered
from events.db import Conn, Queries
from events.lifecycle import Life, Party, SlaState
from events.registry import Decoded
from services.common.errors import InvalidInput

Row = dict[str, Any]
Scope = Literal["open", "ended", "all"]
MAX_PAGE = 200
__all__ = ["MAX_PAGE", "Cursor", "Filters", "Party", "PgWorklist", "Scope", "SlaState", "Worklist"]
# Filter values only an ended case has: asking for one asks for ended cases.
_ENDED_ONLY = {"status": {s.value for s in lifecycle.ENDED}, "sla_state": {"stopped"}, "waiting_on": {"nobody"}}
_DOCUMENTS = ("ReportUploaded", "ReportAmended", "FollowUpAnswered", "ReviewDelivered")


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    centre: str | None = None
    sla_state: str | None = None
    waiting_on: str | None = None
    # Open cases unless asked otherwise; a filter only ended cases can match asks for them too.
    scope: Scope | None = None

    def params(self) -> dict[str, Any]:
        asks_ended = any(getattr(self, k) in values for k, values in _ENDED_ONLY.items())
        return {**asdict(self), "scope": self.scope or ("all" if asks_ended else "open")}

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.params(), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Cursor:
    """Where a page of a walk ended: the walk, the last position shown, whether the walk's order is
    fixed yet (after its second page), and the filters the walk began with."""

    walk_id: UUID
    position: int
    fixed: bool
    filters: str

    def encode(self) -> str:
        raw = json.dumps({"w": str(self.walk_id), "p": self.position, "x": self.fixed, "f": self.filters})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            position = raw["p"]
            if not isinstance(position, int) or isinstance(position, bool) or position < 1:
                raise ValueError(position)
            return cls(UUID(raw["w"]), position, bool(raw["x"]), str(raw["f"]))
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
            raise InvalidInput("cursor", "is not a cursor this list returned") from None


class Worklist(Protocol):
    def lives(self, conn: Conn, case_ids: Iterable[UUID]) -> dict[UUID, Life]:
        """The cases' lives, locked for this transaction (an empty life for a case not seen yet)."""
        ...

    def save(self, conn: Conn, lives: dict[UUID, Life]) -> None: ...

    def collecting(self, conn: Conn) -> list[UUID]: ...

    def page(self, conn: Conn, filters: Filters, after: Cursor | None, limit: int,
             now: datetime) -> tuple[list[Row], Cursor | None]: ...

    def item(self, conn: Conn, case_id: UUID, now: datetime) -> Row | None: ...

    def documents(self, conn: Conn, case_id: UUID) -> list[Row]: ...

    def consumer(self) -> Consumer: ...


def _shown(row: Row) -> Row:
    row.pop("position", None)
    centre = row.get("centre_id")
    row["centre_name"] = CENTRE_NAMES.get(CentreId(centre)) if centre else None
    return row


def fold_into(lives: dict[UUID, Life], events: Iterable[Decoded]) -> dict[UUID, Life]:
    """Folds events into the lives of their cases (in place); the lives that changed."""
    changed: dict[UUID, Life] = {}
    for d in events:
        life = lives.get(d.envelope.case_id)
        if life is not None and lifecycle.apply(life, d):
            changed[d.envelope.case_id] = life
    return changed


def stored(case_id: UUID, life: Life) -> Row:
    """A case's row as the `save` block takes it: its life and lifecycle's summary of it."""
    return lifecycle.jsonable({"case_id": str(case_id), "life": lifecycle.dump(life), **life.summary()})


class PgWorklist:
    def __init__(self, schema: str = "intake") -> None:
        self._q = Queries(Path(__file__).with_name("worklist.sql"), schema)

    def lives(self, conn: Conn, case_ids: Iterable[UUID]) -> dict[UUID, Life]:
        ids = sorted(set(case_ids))
        found = {r["case_id"]: lifecycle.load(r["life"])
                 for r in conn.execute(self._q["lives"], {"case_ids": ids})}
        return {case_id: found.get(case_id) or Life() for case_id in ids}

    def save(self, conn: Conn, lives: dict[UUID, Life]) -> None:
        if lives:
            conn.execute(self._q["save"], {"rows": Jsonb([stored(c, life) for c, life in lives.items()])})

    def collecting(self, conn: Conn) -> list[UUID]:
        return [r["case_id"] for r in conn.execute(self._q["collecting"])]

    def page(self, conn: Conn, filters: Filters, after: Cursor | None, limit: int,
             now: datetime) -> tuple[list[Row], Cursor | None]:
        params, q = {**filters.params(), "now": now, "limit": limit + 1}, self._q
        with conn.transaction():
            if after is None:
                rows = conn.execute(q["first_page"], params).fetchall()
                walk, fixed, last = uuid4(), False, min(len(rows), limit)
                if len(rows) > limit:
                    conn.execute(q["expire_walks"])
                    shown = [r["case_id"] for r in rows[:limit]]
                    conn.execute(q["remember_shown"], {"walk_id": walk, "case_ids": shown})
            else:
                walk, fixed, rows = after.walk_id, True, self._later_page(conn, filters, after, params)
                last = rows[min(len(rows), limit) - 1]["position"] if rows else after.position
        more = len(rows) > limit
        cursor = Cursor(walk, last, fixed, filters.fingerprint()) if more else None
        return [_shown(r) for r in rows[:limit]], cursor

    def _later_page(self, conn: Conn, filters: Filters, after: Cursor, params: Row) -> list[Row]:
        q = self._q
        if after.filters != filters.fingerprint():
            raise InvalidInput("cursor", "belongs to a walk with other filters: start again without it")
        if conn.execute(q["walk_exists"], {"walk_id": after.walk_id}).fetchone() is None:
            raise InvalidInput("cursor", "this walk has expired (a walk lasts an hour): start again")
        if not after.fixed:
            conn.execute(q["snapshot"], {**params, "walk_id": after.walk_id, "shown": after.position})
        return conn.execute(q["walk_page"], {**params, "walk_id": after.walk_id, "after": after.position}).fetchall()

    def item(self, conn: Conn, case_id: UUID, now: datetime) -> Row | None:
        row = conn.execute(self._q["item"], {"case_id": case_id, "now": now}).fetchone()
        return _shown(row) if row else None

    def documents(self, conn: Conn, case_id: UUID) -> list[Row]:
        return conn.execute(self._q["documents"], {"case_id": case_id}).fetchall()

    def consumer(self) -> Consumer:
        def fold_batch(conn: Conn, events: list[Decoded]) -> None:
            # One read and one write for the whole batch; each life folds its events in order.
            lives = self.lives(conn, (d.envelope.case_id for d in events if d.envelope.event_type in lifecycle.FOLDED))
            for d in events:
                if d.envelope.event_type in _DOCUMENTS:
                    self._document(conn, d)
            self.save(conn, fold_into(lives, events))

        # "worklist_life": a new name, so a stack that kept the old worklist folds the topic again.
        return Consumer.batched("worklist_life", {*lifecycle.FOLDED, *_DOCUMENTS}, fold_batch)

    def _document(self, conn: Conn, decoded: Decoded) -> None:
        e, case_id, at = decoded.event, decoded.envelope.case_id, decoded.envelope.occurred_at
        if isinstance(e, ReviewDelivered):
            conn.execute(self._q["report_delivered"], {"case_id": case_id, "document_id": e.report_ref})
            return
        assert isinstance(e, ReportUploaded | ReportAmended | FollowUpAnswered)
        kind, version = ("addendum", None) if isinstance(e, FollowUpAnswered) else \
            ("report", e.version if isinstance(e, ReportAmended) else None)
        conn.execute(self._q["document_stored"], {"case_id": case_id, "at": at, "document_id": e.document_id,
                                                  "kind": kind, "version": version, "sha256": e.sha256,
                                                  "size_bytes": e.size_bytes, "page_count": e.page_count})
