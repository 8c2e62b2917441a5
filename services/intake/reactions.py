"""Intake's reactions to the other services' events: deliveries, the centre holding each case, the
final decline. Each applies in the consumer's transaction (events.consumer)."""

from __future__ import annotations

from collections.abc import Callable

from events.consumer import Consumer
from events.contract import CaseDeclined, CaseRouted
from events.db import Conn
from events.registry import Decoded
from services.intake import domain
from services.intake.application import IntakeRuntime


def on_review_delivered(rt: IntakeRuntime) -> Callable[[Conn, Decoded], None]:
    def handler(conn: Conn, decoded: Decoded) -> None:
        env = decoded.envelope
        rt.rows.record_delivery(conn, env.case_id, env.event_id, env.occurred_at, env.payload)
        rt.rows.set_status(conn, env.case_id, domain.CaseStatus.REVIEW_DELIVERED.value, env.occurred_at,
                           only_from=domain.CaseStatus.READY_FOR_REVIEW.value)
    return handler


def end_finally_declined(rt: IntakeRuntime, conn: Conn, decoded: Decoded) -> None:
    """No centre will review the case: intake ends it, unless an ending of its own came first."""
    env = decoded.envelope
    rt.rows.lock_case(conn, env.case_id)  # a command deciding meanwhile sees the decline, or went first
    rt.rows.record_final_decline(conn, env.case_id, env.event_id, env.occurred_at)
    f = rt.kernel.load(conn, env.case_id).state
    status = f.case.status(f.delivered is not None).value
    if f.row is not None and f.row["status"] != status:
        rt.rows.set_status(conn, env.case_id, status, env.occurred_at)


def centre_assignments(rt: IntakeRuntime) -> Consumer:
    """Which centre holds each case, from routing's and review's events: who may read the package."""
    def on_routed(conn: Conn, decoded: Decoded) -> None:
        routed = decoded.event
        assert isinstance(routed, CaseRouted)
        rt.rows.assign_centre(conn, decoded.envelope.case_id, routed.centre_id.value, routed.attempt,
                              routed.accept_by, decoded.envelope.occurred_at)

    def on_declined(conn: Conn, decoded: Decoded) -> None:
        declined = decoded.event
        assert isinstance(declined, CaseDeclined)
        rt.rows.release_centre(conn, decoded.envelope.case_id, declined.centre_id.value, decoded.envelope.occurred_at)

    def on_finally_declined(conn: Conn, decoded: Decoded) -> None:
        rt.rows.release_centre(conn, decoded.envelope.case_id, None, decoded.envelope.occurred_at)
        end_finally_declined(rt, conn, decoded)

    return Consumer("centre_assignments", {"CaseRouted": on_routed, "CaseDeclined": on_declined,
                                           "CaseFinallyDeclined": on_finally_declined})
