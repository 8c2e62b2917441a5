"""Intake's reaction to the review's delivery: the delivered review's payload, which a booking and the
FHIR export read. The case's status, who holds it and how it ended are the worklist's life
(services/intake/worklist.py), folded by its own consumer."""

from __future__ import annotations

from events.consumer import Consumer
from events.db import Conn
from events.registry import Decoded
from services.intake.application import IntakeRuntime


def deliveries(rt: IntakeRuntime) -> Consumer:
    def on_review_delivered(conn: Conn, decoded: Decoded) -> None:
        env = decoded.envelope
        rt.rows.record_delivery(conn, env.case_id, env.event_id, env.occurred_at, env.payload)

    return Consumer("deliveries", {"ReviewDelivered": on_review_delivered})
