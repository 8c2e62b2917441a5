"""Billing's application layer: reactions to the case's events, quotes, provider callbacks.

Provider calls happen inside the handler's transaction, keyed by the triggering event: if the
transaction or the call fails, the retry asks the provider for the same operation with the same
key and gets the first answer, so money moves once and the event is appended once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal
from uuid import UUID, uuid4

from events.codes import TumourSite
from events.consumer import Consumer, Handler
from events.contract import (
    CaseOpened,
    Envelope,
    Event,
    PaymentAuthorised,
    PaymentFailed,
    PriceLine,
    QuoteIssued,
    ReviewAccepted,
)
from events.db import Conn, Queries
from events.registry import Decoded
from services.billing import domain
from services.billing.pricing import CaseComplexity, PriceBook, Quote, price
from services.billing.provider import PaymentProvider, ProviderDeclined
from services.common.commands import case_stream, decide_and_append, events_of, load_events
from services.common.errors import NotFound, Rejected
from services.common.runtime import Runtime

_Q = Queries(Path(__file__).with_name("queries.sql"), "billing")
Decide = Callable[[domain.Account], list[Event]]


@dataclass
class Billing(Runtime):
    price_book: PriceBook
    provider: PaymentProvider


def append(rt: Billing, conn: Conn, case_id: UUID, decide: Decide, at: datetime,
           cause: Decoded | None = None) -> list[Envelope]:
    """Appends billing events and their journal lines in the caller's transaction."""
    _, envelopes = decide_and_append(
        rt.store, conn, case_id, lambda h: decide(domain.fold(events_of(h))), occurred_at=at,
        correlation_id=cause.envelope.correlation_id if cause else None,
        causation_id=cause.envelope.event_id if cause else None)
    for env in envelopes:
        event = rt.registry.decode_payload(env.event_type, env.schema_version, env.payload)
        for account, cents in domain.journal(event):
            conn.execute(_Q["journal_line"], {"event_id": env.event_id, "case_id": case_id, "account": account,
                                              "cents": cents, "occurred_at": env.occurred_at})
    return envelopes


def account(rt: Billing, conn: Conn, case_id: UUID) -> domain.Account:
    return domain.fold(load_events(rt.store, conn, case_id))


def facts(conn: Conn, case_id: UUID) -> domain.ReviewFacts:
    row = conn.execute(_Q["facts"], {"case_id": case_id}).fetchone()
    return domain.ReviewFacts(**row) if row else domain.ReviewFacts()


# ------------------------------------------------------------------ quotes

def issue_quote(rt: Billing, conn: Conn, tumour_site: str, case: CaseComplexity, at: datetime) -> tuple[UUID, Quote]:
    quote_id = uuid4()
    q = price(rt.price_book, case)
    issued = QuoteIssued(review_cents=q.review_cents, video_cents=q.video_cents,
                         breakdown=[PriceLine(component=c, cents=n) for c, n in q.breakdown],
                         price_book_version=q.price_book_version, tumour_site=TumourSite(tumour_site),
                         rare_tumour=case.rare_tumour, glass_slides=case.glass_slides,
                         imaging_studies=case.imaging_studies, genomic_guided=case.genomic_guided,
                         wants_video=case.wants_video)
    def decide(history: list[Decoded]) -> list[Event]:
        return [issued]

    # A quote has no case yet: its own id keys its stream and its messages.
    decide_and_append(rt.store, conn, quote_id, decide, occurred_at=at, expected_version=0)
    return quote_id, q


def quoted(rt: Billing, conn: Conn, quote_id: UUID | None) -> Quote | None:
    if quote_id is None:
        return None
    issued = next((e for e in load_events(rt.store, conn, quote_id) if isinstance(e, QuoteIssued)), None)
    if issued is None:
        return None
    return Quote(issued.review_cents, issued.video_cents, tuple((line.component, line.cents)
                                                                for line in issued.breakdown),
                 issued.price_book_version)


# ------------------------------------------------------------------ money moves

def _authorise(rt: Billing, acc: domain.Account, cause: UUID) -> list[Event]:
    if acc.invoice is None or acc.authorisation is not None:
        return []
    payment_id = domain.derived_id("payment", acc.invoice.invoice_id)
    try:
        ref = rt.provider.perform("authorise", f"authorise:{payment_id}", domain.total_due(acc))
    except ProviderDeclined:
        return [PaymentFailed(payment_id=payment_id, stage="authorise", reason="provider_declined")]
    return [PaymentAuthorised(payment_id=payment_id, provider_ref=ref, amount_cents=domain.total_due(acc))]


def capture(rt: Billing, conn: Conn, case_id: UUID, at: datetime, cause: Decoded | None = None) -> None:
    acc = account(rt, conn, case_id)
    if not domain.can_capture(acc):
        return
    assert acc.invoice is not None
    payment_id = domain.derived_id("payment", acc.invoice.invoice_id)
    try:
        ref = rt.provider.perform("capture", f"capture:{payment_id}", domain.total_due(acc),
                                  acc.authorisation.provider_ref if acc.authorisation else None)
    except ProviderDeclined:
        append(rt, conn, case_id, lambda a: [PaymentFailed(payment_id=payment_id, stage="capture",
                                                           reason="provider_declined")], at, cause)
        return
    append(rt, conn, case_id, lambda a: domain.captured(a, payment_id, ref), at, cause)


def settle(rt: Billing, conn: Conn, case_id: UUID,
           trigger: Literal["cancelled", "withdrawn", "declined_by_all_centres", "sla_breach"],
           at: datetime, cause: Decoded) -> None:
    acc = account(rt, conn, case_id)
    if acc.invoice is None:
        return
    if acc.capture is None:
        if trigger != "sla_breach":
            append(rt, conn, case_id, domain.void_uncaptured, at, cause)
        return
    due = domain.refund_due(acc, facts(conn, case_id), trigger)
    if due is None:
        return
    review, video, reason = due
    refund_id = domain.derived_id("refund", cause.envelope.event_id)
    ref = rt.provider.perform("refund", f"refund:{refund_id}", review + video, acc.capture.provider_ref)
    append(rt, conn, case_id, lambda a: domain.refund(a, review, video, reason, cause.envelope.event_id, ref),
           at, cause)


def provider_callback(rt: Billing, conn: Conn, case_id: UUID, provider_ref: str, at: datetime) -> bool:
    """A provider's 'capture succeeded' notice; the same notice twice changes nothing."""
    acc = account(rt, conn, case_id)
    if acc.invoice is None:
        raise NotFound(f"no invoice for case {case_id}")
    if acc.capture is not None and acc.capture.provider_ref == provider_ref:
        return False
    payment_id = domain.derived_id("payment", acc.invoice.invoice_id)
    return bool(append(rt, conn, case_id, lambda a: domain.captured(a, payment_id, provider_ref), at))


def retry_capture(rt: Billing, conn: Conn, case_id: UUID, at: datetime) -> None:
    acc = account(rt, conn, case_id)
    if acc.invoice is None:
        raise NotFound(f"no invoice for case {case_id}")
    if not domain.can_capture(acc):
        raise Rejected("nothing to capture for this case", "not_capturable")
    capture(rt, conn, case_id, at)


def redeem(rt: Billing, conn: Conn, case_id: UUID, treatment_invoice_ref: str, at: datetime) -> None:
    if not load_events(rt.store, conn, case_id):
        raise NotFound(f"no billing account for case {case_id}")
    append(rt, conn, case_id, lambda a: domain.redeem_fee_credit(a, treatment_invoice_ref), at)


# ------------------------------------------------------------------ reactions

def billing_consumer(rt: Billing) -> Consumer:
    def on_opened(conn: Conn, d: Decoded) -> None:
        opened = d.event
        assert isinstance(opened, CaseOpened)
        case_id, at = d.envelope.case_id, d.envelope.occurred_at
        conn.execute(_Q["ensure_facts"], {"case_id": case_id})
        quote = quoted(rt, conn, opened.quote_id)
        append(rt, conn, case_id,
               lambda a: domain.invoice(a, opened, rt.price_book, quote, d.envelope.event_id), at, d)
        append(rt, conn, case_id, lambda a: _authorise(rt, a, d.envelope.event_id), at, d)

    def fact(query: str) -> Handler:
        def handler(conn: Conn, d: Decoded) -> None:
            conn.execute(_Q["ensure_facts"], {"case_id": d.envelope.case_id})
            centre = d.event.centre_id.value if isinstance(d.event, ReviewAccepted) else None
            conn.execute(_Q[query], {"case_id": d.envelope.case_id, "centre_id": centre})
        return handler

    def settling(trigger: Literal["cancelled", "withdrawn", "declined_by_all_centres", "sla_breach"]) -> Handler:
        def handler(conn: Conn, d: Decoded) -> None:
            settle(rt, conn, d.envelope.case_id, trigger, d.envelope.occurred_at, d)
        return handler

    def on_records_completed(conn: Conn, d: Decoded) -> None:
        # No charge until the records are sufficient: capture now, at the completion's event time.
        capture(rt, conn, d.envelope.case_id, d.envelope.occurred_at, d)

    def on_expired(conn: Conn, d: Decoded) -> None:
        append(rt, conn, d.envelope.case_id, domain.void_uncaptured, d.envelope.occurred_at, d)

    def on_booked(conn: Conn, d: Decoded) -> None:
        append(rt, conn, d.envelope.case_id, lambda a: domain.apply_fee_credit(a, d.envelope.event_id),
               d.envelope.occurred_at, d)

    return Consumer("billing", {
        "CaseOpened": on_opened,
        "RecordsCompleted": on_records_completed,
        "ReviewAccepted": fact("accepted"),
        "CaseDeclined": fact("declined"),
        "ReviewDelivered": fact("delivered"),
        "VideoConsultationHeld": fact("video_held"),
        "CaseCancelled": settling("cancelled"),
        "CaseWithdrawn": settling("withdrawn"),
        "CaseFinallyDeclined": settling("declined_by_all_centres"),
        "SlaBreached": settling("sla_breach"),
        "CaseExpired": on_expired,
        "TreatmentBooked": on_booked,
    })


def case_summary(rt: Billing, conn: Conn, case_id: UUID) -> dict[str, object]:
    events = load_events(rt.store, conn, case_id)
    if not events:
        raise NotFound(f"no billing account for case {case_id}")
    acc = domain.fold(events)
    balances = {r["account"]: r["cents"] for r in conn.execute(_Q["case_balances"], {"case_id": case_id})}
    return {
        "case_id": case_id,
        "version": acc.version,
        "price_book_version": acc.invoice.price_book_version if acc.invoice else None,
        "breakdown": [line.model_dump() for line in acc.invoice.breakdown] if acc.invoice else [],
        "review_fee_cents": acc.invoice.review_fee_cents if acc.invoice else None,
        "video_fee_cents": acc.invoice.video_fee_cents if acc.invoice else None,
        "authorised": acc.authorisation is not None,
        "paid_review_cents": acc.captured_review,
        "paid_video_cents": acc.captured_video,
        "refunded_cents": sum(r.review_cents + r.video_cents for r in acc.refunds),
        "refunds": [r.model_dump(mode="json") for r in acc.refunds],
        "payment_failures": [f.model_dump(mode="json") for f in acc.failures],
        "invoice_voided": acc.invoice_voided is not None,
        "fee_credit_cents": acc.fee_credit.amount_cents if acc.fee_credit else 0,
        "fee_credit_redeemed": acc.redemption is not None,
        "ledger": balances,
        "ledger_balance": sum(balances.values()),
        "stream": case_stream(case_id),
    }


def ledger_total(conn: Conn) -> dict[str, int]:
    row = conn.execute(_Q["ledger_total"]).fetchone()
    assert row is not None
    return {"total_cents": int(row["total"]), "cases": int(row["cases"])}
