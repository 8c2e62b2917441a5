"""Cross-service projections, fed by every event on the topic.

Live they are the tables of schema `analytics`, written a consumer batch at a time. The rules are
the fold of services.analytics.facts, which the rebuild (services.analytics.rebuild) runs over the
whole history; the target schema is a parameter of the queries, so tests can project into another.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from psycopg import sql

from events.consumer import Consumer
from events.contract import ALL_EVENTS
from events.db import Conn, Queries, load_queries
from events.registry import Decoded
from services.analytics import facts
from services.analytics.ddl import LIVE_SCHEMA
from services.common.runtime import Runtime

QUERIES = Path(__file__).with_name("queries.sql")


def _rows(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    # orjson writes UUIDs, dates and aware datetimes (microseconds and offset kept) as the text
    # PostgreSQL parses back into the same values.
    return orjson.dumps([dict(zip(columns, row, strict=True)) for row in rows]).decode()


class Projection:
    """The projection's writes and reads against the tables of one target schema."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._q = Queries(QUERIES, target)
        self._put_cases = sql.SQL(load_queries(QUERIES)["put_cases"]).format(
            schema=sql.Identifier(target),
            assignments=sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in facts.CASE_COLUMNS[1:]))

    def project_batch(self, conn: Conn, batch: Sequence[Decoded]) -> None:
        """Folds the batch's events, in order, into the rows they change; one statement per table."""
        q = self._q
        case_ids = list({d.envelope.case_id for d in batch if facts.touches_case(d)})
        stored: dict[UUID, facts.Row] = {}
        if case_ids:
            stored = {r["case_id"]: r for r in conn.execute(q["cases_for_update"], {"case_ids": case_ids})}
        fold = facts.Fold(stored)
        for decoded in batch:
            fold.add(decoded)
        conn.execute(q["add_to_timeline"], {"rows": _rows(facts.TIMELINE_COLUMNS, map(facts.timeline_row, batch))})
        conn.execute(q["count_events"], {"rows": _rows(facts.COUNT_COLUMNS, fold.count_rows())})
        if fold.cases:
            conn.execute(self._put_cases, {"rows": _rows(facts.CASE_COLUMNS, fold.case_rows())})
        if fold.quotes:
            conn.execute(q["add_quotes"], {"rows": _rows(facts.QUOTE_COLUMNS, fold.quotes.values())})
        if money := fold.take_money():
            conn.execute(q["add_money"], {"rows": _rows(facts.MONEY_COLUMNS, money)})

    def timeline(self, conn: Conn, case_id: UUID) -> list[dict[str, Any]]:
        return conn.execute(self._q["timeline"], {"case_id": case_id}).fetchall()


LIVE = Projection(LIVE_SCHEMA)


def fact_projector() -> Consumer:
    """Projects every fact of every service, a consumer batch at a time."""
    # "timeline" is the name its consumer group and processed-events rows were stored under; a new
    # name would make it project the whole history a second time.
    return Consumer.batched("timeline", (model.event_type for model in ALL_EVENTS), LIVE.project_batch)


def timeline(rt: Runtime, case_id: UUID) -> list[dict[str, Any]]:
    with rt.pool.connection() as conn:
        return LIVE.timeline(conn, case_id)
