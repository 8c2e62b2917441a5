"""What a consumer applies: one handler per event type, or a batch at once for a projection."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from events.applier import Consumer, Handler
from events.codes import CancellationReason
from events.contract import ALL_EVENTS, CaseCancelled, CaseExpired
from events.registry import Decoded
from services.analytics.projections import fact_projector
from tests.unit.fakes import CONN, Upstream

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def events() -> list[Decoded]:
    upstream, case_id = Upstream("intake"), uuid4()
    return [upstream.emit(case_id, CaseCancelled(reason=CancellationReason.PATIENT_REQUEST), T0),
            upstream.emit(case_id, CaseExpired(dormant_days=30), T0)]


def test_a_consumer_with_handlers_applies_each_event_with_its_type_s_handler():
    seen: list[str] = []

    def handler(name: str) -> Handler:
        return lambda conn, decoded: seen.append(name)

    consumer = Consumer("probe", {"CaseCancelled": handler("cancelled"), "CaseExpired": handler("expired")})
    consumer.apply(CONN, events())
    assert consumer.event_types == {"CaseCancelled", "CaseExpired"}
    assert seen == ["cancelled", "expired"]


def test_a_batched_consumer_gets_the_batch_in_order_in_one_call():
    batches: list[list[str]] = []
    consumer = Consumer.batched("probe", ["CaseCancelled", "CaseExpired"],
                                lambda conn, batch: batches.append([d.envelope.event_type for d in batch]))
    consumer.apply(CONN, events())
    assert consumer.event_types == {"CaseCancelled", "CaseExpired"} and not consumer.handlers
    assert batches == [["CaseCancelled", "CaseExpired"]]


def test_the_analytics_projector_takes_every_event_a_batch_at_a_time():
    projector = fact_projector()
    assert projector.event_types == {model.event_type for model in ALL_EVENTS}
    assert not projector.handlers  # no per-event path the batch would leave unreachable
