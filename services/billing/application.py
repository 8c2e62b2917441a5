"""Billing's application layer: reactions to the case's events, quotes, provider callbacks.

Where the price is decided: `pricing.price` (the price book) through `domain.invoice`; where the
fee credit is decided: `domain.apply_fee_credit`, and what an ending refunds: `domain.settlement`.

A case's events reach billing from four services in the order their relays publish them. No
rule here depends on that order: an ending is settled on review's answer to it (`ReviewEnded`,
published after every review event of the case), and the fee credit waits for both the booking
and the delivery, whichever comes second.

The deciders are pure: they return the provider call they want (`domain.ProviderCall`) and
`perform` makes it, inside the handler's transaction, keyed by the triggering fact: if the
transaction or the call fails, the retry asks the provider for the same operation with the same
key and gets the first answer, so money moves once and the event is appended once.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from events.codes import TumourSite
from events.consumer import Consumer, Handler
from events.contract import (
    CaseOpened,
    Event,
    PriceLine,
    QuoteIssued,
    ReviewDelivered,
    ReviewEnded,
    TreatmentBooked,
)
from events.db import Conn
from events.registry import Decoded
from services.billing import domain
from services.billing.books import BillingBooks, CreditFacts
from services.billing.pricing import CaseComplexity, PriceBook, Quote, price
from services.billing.provider import PaymentProvider, ProviderDeclined
from services.billing.settings import BillingSettings
from services.common.errors import NotFound
from services.common.kernel import Handled, Kernel, case_stream
from services.common.runtime import Runtime

Decide = Callable[[domain.Account], list[Event]]


@dataclass
class BillingRuntime(Runtime[BillingSettings]):
    price_book: PriceBook
    provider: PaymentProvider
    books: BillingBooks

    @functools.cached_property
    def kernel(self) -> Kernel[domain.Account]:
        return Kernel(self.store, lambda conn, case_id: domain.Account(), lambda a, event, at: a.apply(event, at),
                      self._journal)

    def _journal(self, conn: Conn, _: domain.Account, appended: list[Decoded]) -> None:
        # The journal lines of each event, in the same transaction: the ledger never lags the stream.
        for d in appended:
            for account, cents in domain.journal(d.event):
                self.books.journal(conn, d.envelope.event_id, d.envelope.case_id, account, cents,
                                   d.envelope.occurred_at)


def append(rt: BillingRuntime, conn: Conn, case_id: UUID, decide: Decide, at: datetime,
           cause: Decoded | None = None) -> Handled[domain.Account]:
    return rt.kernel.handle(conn, case_id, decide, occurred_at=at, cause=cause)


def account(rt: BillingRuntime, conn: Conn, case_id: UUID) -> domain.Account:
    return rt.kernel.load(conn, case_id).state


# ------------------------------------------------------------------ quotes

def issue_quote(rt: BillingRuntime, conn: Conn, tumour_site: str, case: CaseComplexity,
                at: datetime) -> tuple[UUID, Quote]:
    quote_id = uuid4()
    q = price(rt.price_book, case)
    issued = QuoteIssued(review_cents=q.review_cents, video_cents=q.video_cents,
                         breakdown=[PriceLine(component=c, cents=n) for c, n in q.breakdown],
                         price_book_version=q.price_book_version, tumour_site=TumourSite(tumour_site),
                         rare_tumour=case.rare_tumour, glass_slides=case.glass_slides,
                         imaging_studies=case.imaging_studies, genomic_guided=case.genomic_guided,
                         wants_video=case.wants_video)
    # A quote has no case yet: its own id keys its stream and its messages.
    rt.kernel.handle(conn, quote_id, lambda _: [issued], occurred_at=at, expected_version=0)
    return quote_id, q


def quoted(rt: BillingRuntime, conn: Conn, quote_id: UUID | None) -> Quote | None:
    if quote_id is None:
        return None
    history = rt.store.load(conn, case_stream(quote_id))
    issued = next((d.event for d in history if isinstance(d.event, QuoteIssued)), None)
    if issued is None:
        return None
    return Quote(issued.review_cents, issued.video_cents, tuple((line.component, line.cents)
                                                                for line in issued.breakdown),
                 issued.price_book_version)


# ------------------------------------------------------------------ money moves

def perform(rt: BillingRuntime, call: domain.ProviderCall | list[Event] | None) -> list[Event]:
    """Carries out what a decider asked of the provider, inside the handler's transaction: if the
    transaction fails after the call, the retry asks again with the same key and gets the first answer."""
    if call is None:
        return []
    if isinstance(call, list):
        return call
    try:
        ref = rt.provider.perform(call.operation, call.key, call.amount_cents, call.reference)
    except ProviderDeclined:
        if call.declined is None:
            raise
        return call.declined()
    return call.done(ref)


def capture(rt: BillingRuntime, conn: Conn, case_id: UUID, at: datetime,
            cause: Decoded | None = None) -> Handled[domain.Account]:
    return append(rt, conn, case_id, lambda acc: perform(rt, domain.capture(acc)), at, cause)


def settle(rt: BillingRuntime, conn: Conn, case_id: UUID, trigger: domain.Trigger, at: datetime,
           cause: Decoded, facts: domain.ReviewFacts | None = None) -> None:
    """`facts`: what the centre had done by the ending (review's answer); a breach or a final
    decline needs none."""
    facts = facts or domain.ReviewFacts()

    append(rt, conn, case_id, lambda acc: perform(rt, domain.settlement(acc, facts, trigger, cause.envelope.event_id)),
           at, cause)


def credit_if_owed(rt: BillingRuntime, conn: Conn, case_id: UUID, cause: Decoded) -> None:
    """The fee credit once both the booking and the delivery are known, dated at the booking."""
    known = rt.books.credit_facts(conn, case_id)
    if known.booking_event_id is None or known.booked_at is None or known.reviewed_by is None:
        return
    booking = known.booking_event_id
    append(rt, conn, case_id,
           lambda a: domain.apply_fee_credit(a, booking, known.booked_centre, known.reviewed_by),
           known.booked_at, cause)


def provider_callback(rt: BillingRuntime, conn: Conn, case_id: UUID, provider_ref: str, at: datetime) -> bool:
    """A provider's 'capture succeeded' notice; the same notice twice changes nothing."""
    def decide(acc: domain.Account) -> list[Event]:
        if acc.invoice is None:
            raise NotFound(f"no invoice for case {case_id}")
        if acc.capture is not None and acc.capture.provider_ref == provider_ref:
            return []
        return domain.captured(acc, domain.derived_id("payment", acc.invoice.invoice_id), provider_ref)

    return bool(append(rt, conn, case_id, decide, at).appended)


def retry_capture(rt: BillingRuntime, conn: Conn, case_id: UUID, at: datetime) -> Handled[domain.Account]:
    def decide(acc: domain.Account) -> list[Event]:
        if acc.invoice is None:
            raise NotFound(f"no invoice for case {case_id}")
        return perform(rt, domain.retried_capture(acc, at))

    return append(rt, conn, case_id, decide, at)


def redeem(rt: BillingRuntime, conn: Conn, case_id: UUID, treatment_invoice_ref: str,
           at: datetime) -> Handled[domain.Account]:
    def decide(a: domain.Account) -> list[Event]:
        if a.version == 0:
            raise NotFound(f"no billing account for case {case_id}")
        return domain.redeem_fee_credit(a, treatment_invoice_ref, at)

    return append(rt, conn, case_id, decide, at)


# ------------------------------------------------------------------ reactions

# The patient's endings billing settles, once review has answered them.
_ENDING_TRIGGERS: dict[str, domain.Trigger] = {"CaseCancelled": "cancelled", "CaseWithdrawn": "withdrawn"}


def billing_consumer(rt: BillingRuntime) -> Consumer:
    def on_opened(conn: Conn, d: Decoded) -> None:
        opened = d.event
        assert isinstance(opened, CaseOpened)
        rt.books.ensure(conn, d.envelope.case_id)
        quote = quoted(rt, conn, opened.quote_id)

        def invoice_and_authorise(a: domain.Account) -> list[Event]:
            invoiced = domain.invoice(a, opened, rt.price_book, quote, d.envelope.event_id)
            # Authorise against the invoice just decided: one read, one append.
            after = copy.deepcopy(a)
            for e in invoiced:
                after.apply(e)
            return invoiced + perform(rt, domain.authorisation(after))

        append(rt, conn, d.envelope.case_id, invoice_and_authorise, d.envelope.occurred_at, d)

    def settling(trigger: domain.Trigger) -> Handler:
        def handler(conn: Conn, d: Decoded) -> None:
            settle(rt, conn, d.envelope.case_id, trigger, d.envelope.occurred_at, d)
        return handler

    def on_records_completed(conn: Conn, d: Decoded) -> None:
        # No charge until the records are sufficient: capture now, at the completion's event time.
        capture(rt, conn, d.envelope.case_id, d.envelope.occurred_at, d)

    def on_expired(conn: Conn, d: Decoded) -> None:
        append(rt, conn, d.envelope.case_id, domain.void_uncaptured, d.envelope.occurred_at, d)

    def on_review_ended(conn: Conn, d: Decoded) -> None:
        ended = d.event
        assert isinstance(ended, ReviewEnded)
        trigger = _ENDING_TRIGGERS.get(ended.ending)
        if trigger is not None:  # an expiry voids on CaseExpired; an erasure moves no money
            settle(rt, conn, d.envelope.case_id, trigger, d.envelope.occurred_at, d, domain.facts_at_ending(ended))

    def on_delivered(conn: Conn, d: Decoded) -> None:
        assert isinstance(d.event, ReviewDelivered)
        rt.books.reviewed(conn, d.envelope.case_id, d.event.centre_id)
        credit_if_owed(rt, conn, d.envelope.case_id, d)

    def on_booked(conn: Conn, d: Decoded) -> None:
        assert isinstance(d.event, TreatmentBooked)
        rt.books.booked(conn, d.envelope.case_id, d.event.centre_id, d.envelope.event_id, d.envelope.occurred_at)
        credit_if_owed(rt, conn, d.envelope.case_id, d)

    return Consumer("billing", {
        "CaseOpened": on_opened,
        "RecordsCompleted": on_records_completed,
        "ReviewDelivered": on_delivered,
        "ReviewEnded": on_review_ended,
        "CaseFinallyDeclined": settling("declined_by_all_centres"),
        "SlaBreached": settling("sla_breach"),
        "CaseExpired": on_expired,
        "TreatmentBooked": on_booked,
    }, scope=rt.kernel.batch)


def case_summary(rt: BillingRuntime, conn: Conn, case_id: UUID,
                 acc: domain.Account | None = None) -> dict[str, object]:
    acc = acc or account(rt, conn, case_id)  # a command's answer passes the state it just made
    if acc.version == 0:
        raise NotFound(f"no billing account for case {case_id}")
    balances = rt.books.balances(conn, case_id)
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
        "fee_credit_status": _credit_status(acc, rt.books.credit_facts(conn, case_id)),
        "fee_credit_redeemed": acc.redemption is not None,
        "ledger": balances,
        "ledger_balance": sum(balances.values()),
        "stream": case_stream(case_id),
    }


def _credit_status(acc: domain.Account, known: CreditFacts) -> str | None:
    if acc.fee_credit is not None:
        return "applied"
    if known.booked_centre is None:
        return None
    owed = domain.fee_credit_owed(known.booked_centre, known.reviewed_by)
    if owed is None:
        return "awaiting_delivery"
    return "not_owed_booked_at_another_centre" if not owed else "nothing_paid"


def ledger_total(rt: BillingRuntime, conn: Conn) -> dict[str, int]:
    return rt.books.total(conn)
