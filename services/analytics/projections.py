"""Cross-service projections in schema `analytics`, fed by every event on the topic."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from events.consumer import Consumer
from events.contract import ALL_EVENTS
from events.db import Conn, Queries
from events.registry import Decoded
from services.common.runtime import Runtime

_Q = Queries(Path(__file__).with_name("queries.sql"), "analytics")


def project(conn: Conn, decoded: Decoded) -> None:
    env = decoded.envelope
    params = {
        "case_id": env.case_id, "event_id": env.event_id, "event_type": env.event_type,
        "producer": env.producer, "stream_version": env.stream_version,
        "occurred_at": env.occurred_at, "recorded_at": env.recorded_at,
    }
    conn.execute(_Q["add_to_timeline"], params)
    conn.execute(_Q["count_event"], params)


def timeline_consumer() -> Consumer:
    return Consumer("timeline", {model.event_type: project for model in ALL_EVENTS})


def timeline(rt: Runtime, case_id: UUID) -> list[dict[str, Any]]:
    with rt.pool.connection() as conn:
        return conn.execute(_Q["timeline"], {"case_id": case_id}).fetchall()
