"""The coordinators' worklist: a read model intake's `worklist` consumer keeps from the other services'
events, joined with intake's own cases and assignments, walked page by page in a stable order.

It also keeps the documents review stored (reports, versions, addenda) for the FHIR export.

A walk: the first page (no cursor) fixes the cases the filters match and their order, nearest
deadline first, as they stand then; following `next_cursor` pages through exactly those, in that
order, each shown as it is now. A case whose deadline moves mid-walk is neither repeated nor
skipped; one that stops matching the filters is left out; one that starts matching is in the next
walk. A walk's cursors last an hour (then 422: start again) and only with the filters it began with.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from uuid import UUID, uuid4

from psycopg import sql

from events.codes import CENTRE_NAMES, CentreId
from events.consumer import Consumer
from events.contract import FollowUpAnswered, FollowUpAsked, ReportAmended, ReportUploaded, ReviewDelivered
from events.db import Conn, load_queries
from events.registry import Decoded
from services.common.errors import InvalidInput
from services.intake import worklist_clock
from services.intake.worklist_clock import SlaState

Row = dict[str, Any]
WaitingOn = Literal["patient", "centre", "coordinator", "billing", "nobody"]
Scope = Literal["open", "ended", "all"]
MAX_PAGE = 200
__all__ = ["MAX_PAGE", "Cursor", "Filters", "PgWorklist", "Scope", "SlaState", "WaitingOn", "Worklist"]
# Filter values only an ended case has: asking for one asks for ended cases.
_ENDED_ONLY = {"status": {"treatment_booked", "closed", "cancelled", "withdrawn", "expired", "erased",
                          "declined_by_all_centres"}, "sla_state": {"stopped"}, "waiting_on": {"nobody"}}


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
    """Where a page of a walk ended: the walk, the last case's sort key (an ISO date, or PostgreSQL's
    -infinity / infinity) and id, and the filters the walk began with."""

    walk_id: UUID
    sort_key: str
    case_id: UUID
    filters: str

    def encode(self) -> str:
        raw = json.dumps({"w": str(self.walk_id), "k": self.sort_key, "c": str(self.case_id), "f": self.filters})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            key = str(raw["k"])
            if key not in ("-infinity", "infinity"):
                datetime.strptime(key, "%Y-%m-%d")
            return cls(UUID(raw["w"]), key, UUID(raw["c"]), str(raw["f"]))
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
            raise InvalidInput("cursor", "is not a cursor this list returned") from None


class Worklist(Protocol):
    def page(self, conn: Conn, filters: Filters, after: Cursor | None, limit: int,
             now: datetime) -> tuple[list[Row], Cursor | None]: ...

    def item(self, conn: Conn, case_id: UUID, now: datetime) -> Row | None: ...

    def documents(self, conn: Conn, case_id: UUID) -> list[Row]: ...

    def consumer(self) -> Consumer: ...


def _bound(path: Path, schema: str) -> dict[str, bytes]:
    """The file's named blocks bound to `schema`; `{items}` in a block is the `items` block."""
    blocks, ident = dict(load_queries(path)), sql.Identifier(schema)  # the loader caches its dict
    items = sql.SQL(blocks.pop("items")).format(schema=ident)
    return {name: sql.SQL(text).format(schema=ident, items=items).as_bytes(None) for name, text in blocks.items()}


def _shown(row: Row) -> Row:
    centre = row.get("centre_id")
    row["centre_name"] = CENTRE_NAMES.get(CentreId(centre)) if centre else None
    return row


class PgWorklist:
    def __init__(self, schema: str = "intake") -> None:
        self._q = _bound(Path(__file__).with_name("worklist.sql"), schema)

    def page(self, conn: Conn, filters: Filters, after: Cursor | None, limit: int,
             now: datetime) -> tuple[list[Row], Cursor | None]:
        params, q = {**filters.params(), "now": now}, self._q
        with conn.transaction():
            if after is None:
                walk, after_key, after_case = uuid4(), None, None
                conn.execute(q["expire_walks"])
                conn.execute(q["start_walk"], {**params, "walk_id": walk})
            else:
                if after.filters != filters.fingerprint():
                    raise InvalidInput("cursor", "belongs to a walk with other filters: start again without it")
                if conn.execute(q["walk_exists"], {"walk_id": after.walk_id}).fetchone() is None:
                    raise InvalidInput("cursor", "this walk has expired (a walk lasts an hour): start again")
                walk, after_key, after_case = after.walk_id, after.sort_key, after.case_id
            rows = conn.execute(q["walk_page"], {**params, "walk_id": walk, "after_key": after_key,
                                                 "after_case": after_case, "limit": limit + 1}).fetchall()
            more = len(rows) > limit
            if after is None and not more:
                conn.execute(q["end_walk"], {"walk_id": walk})
        rows = rows[:limit]
        last = Cursor(walk, rows[-1]["walk_key"], rows[-1]["case_id"], filters.fingerprint()) if more else None
        return [_shown({k: v for k, v in r.items() if k != "walk_key"}) for r in rows], last

    def item(self, conn: Conn, case_id: UUID, now: datetime) -> Row | None:
        row = conn.execute(self._q["item"], {"case_id": case_id, "now": now}).fetchone()
        return _shown(row) if row else None

    def documents(self, conn: Conn, case_id: UUID) -> list[Row]:
        return conn.execute(self._q["documents"], {"case_id": case_id}).fetchall()

    def consumer(self) -> Consumer:
        q = self._q

        def clock(conn: Conn, decoded: Decoded) -> None:
            # Read, fold, write back: the row's facts are worklist_clock's, whatever their order.
            env = decoded.envelope
            stored = conn.execute(q["clock"], {"case_id": env.case_id}).fetchone()
            folded = worklist_clock.fold(worklist_clock.from_row(stored), decoded.event, env.occurred_at)
            conn.execute(q["save_clock"], {"case_id": env.case_id, **folded.row()})
            if isinstance(decoded.event, ReviewDelivered):
                conn.execute(q["report_delivered"], {"case_id": env.case_id, "document_id": decoded.event.report_ref})

        def follow_up_asked(conn: Conn, decoded: Decoded) -> None:
            e = decoded.event
            assert isinstance(e, FollowUpAsked)
            conn.execute(q["follow_up_asked"], {"case_id": decoded.envelope.case_id, "follow_up_id": e.follow_up_id,
                                                "due": e.due, "at": decoded.envelope.occurred_at})

        def document(conn: Conn, decoded: Decoded) -> None:
            e, at = decoded.event, decoded.envelope.occurred_at
            assert isinstance(e, ReportUploaded | ReportAmended | FollowUpAnswered)
            kind, version = ("addendum", None) if isinstance(e, FollowUpAnswered) else \
                ("report", e.version if isinstance(e, ReportAmended) else None)
            conn.execute(q["document_stored"], {"case_id": decoded.envelope.case_id, "at": at,
                                                "document_id": e.document_id, "kind": kind, "version": version,
                                                "sha256": e.sha256, "size_bytes": e.size_bytes,
                                                "page_count": e.page_count})
            if isinstance(e, FollowUpAnswered):
                conn.execute(q["follow_up_answered"], {"follow_up_id": e.follow_up_id, "at": at})

        return Consumer("worklist", {
            **{t: clock for t in worklist_clock.FOLDED},
            "FollowUpAsked": follow_up_asked,
            **{t: document for t in ("ReportUploaded", "ReportAmended", "FollowUpAnswered")},
        })
