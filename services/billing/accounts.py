"""Billing's application layer: reactions to the case's events, and payments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from events.consumer import Consumer, Handler
from events.contract import CaseOpened, Event, PaymentCaptured
from events.db import Conn, transaction
from events.registry import Decoded
from services.billing import domain
from services.common.commands import decide_and_append, events_of, load_events
from services.common.errors import NotFound
from services.common.runtime import Runtime


def billing_consumer(rt: Runtime) -> Consumer:
    def react(decide: Callable[[domain.Account, Decoded], list[Event]]) -> Handler:
        def handler(conn: Conn, decoded: Decoded) -> None:
            env = decoded.envelope
            decide_and_append(rt.store, conn, env.case_id, lambda h: decide(domain.fold(events_of(h)), decoded),
                              occurred_at=env.occurred_at, correlation_id=env.correlation_id,
                              causation_id=env.event_id)
        return handler

    def on_opened(account: domain.Account, decoded: Decoded) -> list[Event]:
        assert isinstance(decoded.event, CaseOpened)
        return domain.invoice(account, decoded.event)

    def on_booked(account: domain.Account, decoded: Decoded) -> list[Event]:
        return domain.apply_fee_credit(account, decoded.envelope.event_id)

    return Consumer("billing", {"CaseOpened": react(on_opened), "TreatmentBooked": react(on_booked)})


def capture_payment(rt: Runtime, case_id: UUID, payment: PaymentCaptured, occurred_at: datetime) -> int:
    with transaction(rt.pool) as conn:
        if not load_events(rt.store, conn, case_id):
            raise NotFound(f"no billing account for case {case_id}")
        version, _ = decide_and_append(rt.store, conn, case_id,
                                       lambda h: domain.capture(domain.fold(events_of(h)), payment),
                                       occurred_at=occurred_at)
    return version


def account(rt: Runtime, case_id: UUID) -> domain.Account:
    with rt.pool.connection() as conn:
        events = load_events(rt.store, conn, case_id)
    if not events:
        raise NotFound(f"no billing account for case {case_id}")
    return domain.fold(events)
