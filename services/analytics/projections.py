"""Cross-service projections, fed by every event on the topic.

Live they are the tables of schema `analytics`. A rebuild (services.analytics.rebuild) replays
the event stores through these same handlers into a scratch schema, so the target schema is a
parameter of the queries rather than part of their text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from events.consumer import Consumer
from events.contract import ALL_EVENTS
from events.db import Conn, Queries
from events.registry import Decoded
from services.analytics.bootstrap import LIVE_SCHEMA
from services.common.runtime import Runtime

QUERIES = Path(__file__).with_name("queries.sql")


class Projection:
    """The projection's writes and reads against the tables of one target schema."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._q = Queries(QUERIES, target)

    def project(self, conn: Conn, decoded: Decoded) -> None:
        env = decoded.envelope
        params = {
            "case_id": env.case_id, "event_id": env.event_id, "event_type": env.event_type,
            "producer": env.producer, "stream_version": env.stream_version,
            "occurred_at": env.occurred_at, "recorded_at": env.recorded_at,
        }
        conn.execute(self._q["add_to_timeline"], params)
        conn.execute(self._q["count_event"], params)

    def timeline(self, conn: Conn, case_id: UUID) -> list[dict[str, Any]]:
        return conn.execute(self._q["timeline"], {"case_id": case_id}).fetchall()


LIVE = Projection(LIVE_SCHEMA)
project = LIVE.project


def timeline_consumer(target: str = LIVE_SCHEMA) -> Consumer:
    """The live consumer; a rebuild takes its handlers with the scratch schema as the target."""
    projection = LIVE if target == LIVE_SCHEMA else Projection(target)
    return Consumer("timeline", {model.event_type: projection.project for model in ALL_EVENTS})


def timeline(rt: Runtime, case_id: UUID) -> list[dict[str, Any]]:
    with rt.pool.connection() as conn:
        return LIVE.timeline(conn, case_id)
