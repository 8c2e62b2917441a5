"""A generated history of any size, for the rebuild and the cost-as-work-grows figures.

Cases follow one of a few lifecycles (delivered and travelled, delivered and returned home,
declined then delivered, cancelled), their events spread over the four event stores as the
services would append them. The stores are schemas of their own (`bench_history_<service>`), made
by the event store's migrations, so the live stores and projections are not touched.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import orjson
from psycopg import sql

from events.contract import (
    CaseCancelled,
    CaseClosed,
    CaseDeclined,
    CaseOpened,
    CaseRouted,
    Event,
    FeeInvoiced,
    PaymentCaptured,
    QuoteIssued,
    RecordsCompleted,
    RecordsReceived,
    ReviewAccepted,
    ReviewDelivered,
    SlaAtRisk,
    SlaClockStarted,
    SlaClockStopped,
    TreatmentBooked,
)
from events.db import Pool
from events.migrations import EVENT_STORE_MIGRATIONS, migrate

SERVICES = ("intake", "routing", "review", "billing")
T0 = datetime(2025, 1, 6, 1, 0, tzinfo=UTC)


def sources(prefix: str = "bench_history") -> list[str]:
    return [f"{prefix}_{service}" for service in SERVICES]


def _lifecycles() -> list[list[tuple[str, Event]]]:
    quote = QuoteIssued(review_cents=80_000, video_cents=40_000,
                        breakdown=[{"component": "review_base", "cents": 80_000}], price_book_version="2026.2",
                        tumour_site="lung", rare_tumour=False, glass_slides=False, imaging_studies=1,
                        genomic_guided=False, wants_video=False)
    opened = CaseOpened(patient_ref="pr_" + "b" * 32, tumour_site="lung", rare_tumour=False, stage_group="III",
                        referral_reasons=["stage_borderline"], patient_country="GB", language="en")
    received = RecordsReceived(record_id=uuid4(), kind="pathology_report", sha256="0" * 64, size_bytes=1000)
    routed = CaseRouted(centre_id="wch", reason_codes=["specialty_fit"], attempt=1)
    rerouted = CaseRouted(centre_id="fuscc", reason_codes=["specialty_fit"], attempt=2)
    clock = SlaClockStarted(target_due=date(2026, 3, 11), limit_due=date(2026, 3, 16))
    delivered = ReviewDelivered(centre_id="wch", pathology={"verdict": "agree"},
                                imaging={"verdict": "stage_confirmed"}, recommended_pathway="surgery",
                                rationale_codes=["guideline_concordant"], question_answer="answered",
                                diagnosis_change="concordant", treatment_change="major_change", report_ref=uuid4(),
                                page_count=6)
    stopped = SlaClockStopped(business_days_used=6, paused_business_days=0, within_target=True, within_limit=True)
    invoiced = FeeInvoiced(invoice_id=uuid4(), review_fee_cents=80_000, video_fee_cents=0,
                           breakdown=[{"component": "review_base", "cents": 80_000}])
    captured = PaymentCaptured(payment_id=uuid4(), review_fee_cents=80_000)
    booked = TreatmentBooked(centre_id="wch", treatment_type="surgery", travel_reason="one_programme",
                             estimated_cost_cents=2_500_000)
    head = [("billing", quote), ("intake", opened), ("billing", invoiced), ("billing", captured),
            ("intake", received), ("intake", RecordsCompleted(record_count=6)), ("routing", routed)]
    review = [("review", ReviewAccepted(centre_id="wch")), ("review", clock), ("review", delivered),
              ("review", stopped)]
    return [
        head + review + [("intake", booked)],
        head + review + [("review", SlaAtRisk(business_days_left=1, limit_due=date(2026, 3, 16))),
                         ("intake", CaseClosed(reason="returned_home_refined_plan"))],
        [*head, ("review", CaseDeclined(centre_id="wch", reason="at_capacity")), ("routing", rerouted), *review],
        [*head[:4], ("intake", CaseCancelled(reason="financial"))],
    ]


# Streams of generated cases are named so that bench.growth can delete them again from live stores.
GENERATED = "generated-case-"


def _rows(n_events: int, start_at: int = 0) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(service, events row) for about n_events stored events, whole cases only."""
    templates = [[(service, event.event_type, event.schema_version, event.model_dump(mode="json"))
                  for service, event in lifecycle] for lifecycle in _lifecycles()]
    made = 0
    for k in itertools.count(start_at):
        if made >= n_events:
            return
        case_id, quote_id = uuid4(), uuid4()
        start = T0 + timedelta(minutes=7 * k)
        versions = dict.fromkeys(SERVICES, 0)
        for step, (service, event_type, schema_version, payload) in enumerate(templates[k % len(templates)]):
            at = start + timedelta(hours=9 * step)
            on_quote = event_type == "QuoteIssued"
            stream_case = quote_id if on_quote else case_id
            if event_type == "CaseOpened":
                payload = {**payload, "quote_id": str(quote_id)}
            version = 1 if on_quote else versions[service] + 1
            if not on_quote:
                versions[service] = version
            envelope = {"event_id": str(uuid4()), "event_type": event_type, "schema_version": schema_version,
                        "case_id": str(stream_case), "stream_id": f"{GENERATED}{stream_case}",
                        "stream_version": version, "occurred_at": at.isoformat(), "recorded_at": at.isoformat(),
                        "producer": service, "correlation_id": str(uuid4()), "causation_id": None,
                        "payload": payload}
            yield service, (f"{GENERATED}{stream_case}", version, envelope["event_id"], event_type, schema_version,
                            stream_case, at, at, orjson.dumps(envelope).decode())
            made += 1


def generate(pool: Pool, n_events: int, prefix: str = "bench_history") -> int:
    """Replaces the generated stores with about n_events events; returns how many were stored."""
    schemas = dict(zip(SERVICES, sources(prefix), strict=True))
    with pool.connection() as conn:
        for schema in schemas.values():
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    for schema in schemas.values():
        migrate(pool, schema, EVENT_STORE_MIGRATIONS)
    return append(pool, n_events, schemas)


def append(pool: Pool, n_events: int, schemas: dict[str, str], start_at: int = 0) -> int:
    """Adds about n_events events (whole cases) to the given stores (service -> schema), outbox-free:
    nothing is published. `start_at` numbers the first case, spreading successive calls in time."""
    stored = 0
    rows = _rows(n_events, start_at)
    columns = sql.SQL("stream_id, version, event_id, event_type, schema_version, case_id, occurred_at, "
                      "recorded_at, envelope")
    with pool.connection() as conn, conn.transaction():
        # A connection runs one COPY at a time: a slice of the history is buffered, then each
        # store's share of it copied.
        while chunk := list(itertools.islice(rows, 50_000)):
            for service, schema in schemas.items():
                statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(schema, "events"), columns)
                with conn.cursor().copy(statement) as copy:
                    for owner, row in chunk:
                        if owner == service:
                            copy.write_row(row)
            stored += len(chunk)
        for schema in schemas.values():
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, "events")))
    return stored


def drop(pool: Pool, prefix: str = "bench_history") -> None:
    with pool.connection() as conn:
        for schema in sources(prefix):
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))

