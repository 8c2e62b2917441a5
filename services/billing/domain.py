"""Billing's account of one case: invoice, payment, refunds, credits and the journal. Pure.

Written refund policy (docs/billing.md repeats it for people):
- cancelled or withdrawn before the centre accepts, or declined by every centre: full refund;
- cancelled or withdrawn after acceptance and before delivery: half the review fee back, and the
  video add-on back unless the consultation was held;
- after delivery: no refund;
- an SLA breach: a credit of 20% of the review fee paid, once.
A refund never exceeds what was captured net of earlier refunds. "Before" and "after" are by
event time: an ending is settled on review's answer to it (`ReviewEnded`), which says what the
centre had done by the ending's moment, whichever service's event reached billing first. A breach
credit dated after the ending (a sweep that ran before review learned of it) was not owed: it
counts towards the ending's refund. When the patient books treatment at the centre that reviewed
the case, the review fee actually paid (net of refunds and SLA credits, never the video add-on)
is credited to the treatment account once; a booking elsewhere earns no credit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal
from uuid import UUID, uuid5

from events.codes import CentreId, ReferralReason
from events.contract import (
    CaseOpened,
    Event,
    FeeCreditApplied,
    FeeCreditRedeemed,
    FeeInvoiced,
    InvoiceVoided,
    PaymentAuthorised,
    PaymentCaptured,
    PaymentFailed,
    PaymentVoided,
    PriceLine,
    RefundIssued,
    ReviewEnded,
)
from services.billing.pricing import CaseComplexity, PriceBook, Quote, price
from services.common.errors import InvalidInput, Rejected, not_dated_before

PARTIAL_REFUND_AFTER_ACCEPTANCE = Decimal("0.50")
SLA_BREACH_CREDIT = Decimal("0.20")
# Deterministic ids from the triggering event: a redelivered trigger derives the same id, so the
# provider's idempotency key and our own event are the same ones as the first time.
_NS = UUID("2f6f7a52-1f0e-4c61-9b61-6a3f0c7d8e90")
RefundReason = Literal["cancelled_before_acceptance", "cancelled_after_acceptance", "withdrawn_before_acceptance",
                       "withdrawn_after_acceptance", "declined_by_all_centres", "sla_breach"]


def derived_id(kind: str, cause: UUID) -> UUID:
    return uuid5(_NS, f"{kind}:{cause}")


@dataclass(frozen=True)
class ProviderCall:
    """Money the decider wants moved: the application asks the payment provider, then records
    what the answer means. Keyed by the fact that caused it, so a retry asks for the same operation
    and gets the first answer."""

    operation: Literal["authorise", "capture", "refund"]
    key: str
    amount_cents: int
    reference: str | None
    done: Callable[[str], list[Event]]  # the provider's reference -> the events to append
    declined: Callable[[], list[Event]] | None = None  # None: a refusal is an error, retried


def _share(cents: int, fraction: Decimal) -> int:
    # Money is Decimal until the final rounding to whole cents (banker's rounding).
    return int((Decimal(cents) * fraction).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class ReviewFacts:
    """What the centre had done when the case ended (None: an ending that is not the patient's)."""

    accepted: bool = False
    delivered: bool = False
    video_held: bool = False
    ended_at: datetime | None = None


def facts_at_ending(ended: ReviewEnded) -> ReviewFacts:
    # Review already reports the state in force at the ending's moment; comparing again keeps
    # billing's policy on event time even if an older review reported later facts.
    def by(t: datetime | None) -> bool:
        return t is not None and t <= ended.ended_at

    return ReviewFacts(accepted=by(ended.accepted_at), delivered=by(ended.delivered_at),
                       video_held=by(ended.video_held_at), ended_at=ended.ended_at)


@dataclass
class Account:
    invoice: FeeInvoiced | None = None
    authorisation: PaymentAuthorised | None = None
    capture: PaymentCaptured | None = None
    failures: list[PaymentFailed] = field(default_factory=list)
    voided_payment: bool = False
    invoice_voided: InvoiceVoided | None = None
    refunds: list[RefundIssued] = field(default_factory=list)
    refunded_at: list[datetime] = field(default_factory=list)  # each refund's event time, in order
    fee_credit: FeeCreditApplied | None = None
    redemption: FeeCreditRedeemed | None = None
    version: int = 0
    credited_at: datetime | None = None  # when the fee credit was applied: a redemption follows it
    failed_at: datetime | None = None  # the latest payment failure: a capture retried by hand follows it

    def apply(self, event: Event, at: datetime | None = None) -> None:
        self.version += 1
        match event:
            case FeeInvoiced():
                self.invoice = event
            case PaymentAuthorised():
                self.authorisation = event
            case PaymentFailed():
                self.failures.append(event)
                self.failed_at = at
            case PaymentCaptured():
                self.capture = event
            case PaymentVoided():
                self.voided_payment = True
            case InvoiceVoided():
                self.invoice_voided = event
            case RefundIssued():
                self.refunds.append(event)
                if at is not None:
                    self.refunded_at.append(at)
            case FeeCreditApplied():
                self.fee_credit, self.credited_at = event, at
            case FeeCreditRedeemed():
                self.redemption = event

    @property
    def captured_review(self) -> int:
        return self.capture.review_fee_cents if self.capture else 0

    @property
    def captured_video(self) -> int:
        return self.capture.video_fee_cents if self.capture else 0

    @property
    def net_review(self) -> int:
        return self.captured_review - sum(r.review_cents for r in self.refunds)

    @property
    def net_video(self) -> int:
        return self.captured_video - sum(r.video_cents for r in self.refunds)

    def breach_credits_after(self, moment: datetime) -> int:
        return sum(r.review_cents for r, at in zip(self.refunds, self.refunded_at, strict=False)
                   if r.reason == "sla_breach" and at > moment)

    def refunded(self, *reasons: str) -> bool:
        return any(r.reason in reasons for r in self.refunds)

    @property
    def settled(self) -> bool:
        """The case's money is final: fully refunded, voided, or credited to treatment."""
        return self.invoice_voided is not None or self.fee_credit is not None or any(
            r.reason not in ("sla_breach",) for r in self.refunds)


def fold(events: list[Event]) -> Account:
    account = Account()
    for e in events:
        account.apply(e)
    return account


def complexity(opened: CaseOpened) -> CaseComplexity:
    return CaseComplexity(rare_tumour=opened.is_rare_tumour, glass_slides=opened.glass_slides,
                          imaging_studies=opened.imaging_studies,
                          genomic_guided=ReferralReason.GENOMIC_GUIDED in opened.referral_reasons,
                          wants_video=opened.wants_video)


def invoice(account: Account, opened: CaseOpened, book: PriceBook, quote: Quote | None, cause: UUID) -> list[Event]:
    """The case is invoiced at its quote's price when it came from one, else at today's book."""
    if account.invoice is not None:
        return []
    q = quote or price(book, complexity(opened))
    return [FeeInvoiced(invoice_id=derived_id("invoice", cause), review_fee_cents=q.review_cents,
                        video_fee_cents=q.video_cents, price_book_version=q.price_book_version,
                        breakdown=[PriceLine(component=c, cents=n) for c, n in q.breakdown],
                        quote_id=opened.quote_id)]


def total_due(account: Account) -> int:
    assert account.invoice is not None
    return account.invoice.review_fee_cents + account.invoice.video_fee_cents


def can_capture(account: Account) -> bool:
    return (account.invoice is not None and account.capture is None and not account.voided_payment
            and account.invoice_voided is None)


def authorisation(account: Account) -> ProviderCall | None:
    """The authorisation of an invoiced case, once."""
    if account.invoice is None or account.authorisation is not None:
        return None
    payment_id = derived_id("payment", account.invoice.invoice_id)
    amount = total_due(account)
    return ProviderCall(
        "authorise", f"authorise:{payment_id}", amount, None,
        done=lambda ref: [PaymentAuthorised(payment_id=payment_id, provider_ref=ref, amount_cents=amount)],
        declined=lambda: [PaymentFailed(payment_id=payment_id, stage="authorise", reason="provider_declined")])


def capture(account: Account) -> ProviderCall | None:
    """Charges what was authorised, keyed by the invoice."""
    if not can_capture(account):
        return None
    assert account.invoice is not None
    payment_id = derived_id("payment", account.invoice.invoice_id)
    return ProviderCall(
        "capture", f"capture:{payment_id}", total_due(account),
        account.authorisation.provider_ref if account.authorisation else None,
        done=lambda ref: captured(account, payment_id, ref),
        declined=lambda: [PaymentFailed(payment_id=payment_id, stage="capture", reason="provider_declined")])


def captured(account: Account, payment_id: UUID, provider_ref: str) -> list[Event]:
    if account.capture is not None:
        if account.capture.provider_ref != provider_ref:
            raise Rejected("the case was already captured under another reference", "already_captured")
        return []  # the same capture reported again (e.g. a doubled provider callback)
    if not can_capture(account):
        raise Rejected("nothing to capture for this case", "not_capturable")
    assert account.invoice is not None
    return [PaymentCaptured(payment_id=payment_id, review_fee_cents=account.invoice.review_fee_cents,
                            video_fee_cents=account.invoice.video_fee_cents, provider_ref=provider_ref)]


Trigger = Literal["cancelled", "withdrawn", "declined_by_all_centres", "sla_breach"]
RefundDue = tuple[int, int, RefundReason]


def settlement(account: Account, facts: ReviewFacts, trigger: Trigger, cause: UUID) -> list[Event] | ProviderCall:
    """What an ending (or a breach) does to the money: write off what was never charged (events to
    append), refund through the provider (a call keyed by the cause), or nothing (no events)."""
    if account.invoice is None:
        return []
    if account.capture is None:
        # A breach on an uncaptured case changes nothing: the case goes on, and is charged later.
        return void_uncaptured(account) if trigger != "sla_breach" else []
    due = refund_due(account, facts, trigger)
    if due is None:
        return []
    review, video, reason = due
    return ProviderCall("refund", f"refund:{derived_id('refund', cause)}", review + video,
                        account.capture.provider_ref,
                        done=lambda ref: refund(account, review, video, reason, cause, ref))


def refund_due(account: Account, facts: ReviewFacts, trigger: Trigger) -> RefundDue | None:
    """(review, video, reason) to refund under the written policy, or None."""
    if account.capture is None:
        return None
    if trigger == "sla_breach":
        if account.refunded("sla_breach") or account.fee_credit is not None:
            return None
        amount = min(_share(account.captured_review, SLA_BREACH_CREDIT), account.net_review)
        return (amount, 0, "sla_breach") if amount > 0 else None
    if account.settled:
        return None
    if trigger == "declined_by_all_centres":
        return account.net_review, account.net_video, "declined_by_all_centres"
    if facts.delivered:
        return None
    if not facts.accepted:
        before: RefundReason = (
            "cancelled_before_acceptance" if trigger == "cancelled" else "withdrawn_before_acceptance")
        return account.net_review, account.net_video, before
    # A breach credited after the ending's moment was not owed then: it is part of this refund.
    late = account.breach_credits_after(facts.ended_at) if facts.ended_at is not None else 0
    half = _share(account.captured_review, PARTIAL_REFUND_AFTER_ACCEPTANCE)
    review_back = min(max(half - late, 0), account.net_review)
    video_back = 0 if facts.video_held else account.net_video
    after: RefundReason = "cancelled_after_acceptance" if trigger == "cancelled" else "withdrawn_after_acceptance"
    return review_back, video_back, after


def refund(account: Account, review: int, video: int, reason: RefundReason, cause: UUID,
           provider_ref: str | None) -> list[Event]:
    assert account.capture is not None
    if review > account.net_review or video > account.net_video or review < 0 or video < 0:
        raise InvalidInput("amount", "a refund can never exceed what was paid")
    if review == 0 and video == 0:
        return []
    return [RefundIssued(refund_id=derived_id("refund", cause), payment_id=account.capture.payment_id,
                         review_cents=review, video_cents=video, reason=reason, provider_ref=provider_ref)]


def void_uncaptured(account: Account) -> list[Event]:
    """Ends a case that was never charged: release the authorisation, write the invoice off."""
    if account.invoice is None or account.capture is not None or account.invoice_voided is not None:
        return []
    out: list[Event] = []
    if account.authorisation is not None and not account.voided_payment:
        out.append(PaymentVoided(payment_id=account.authorisation.payment_id))
    out.append(InvoiceVoided(invoice_id=account.invoice.invoice_id, review_cents=account.invoice.review_fee_cents,
                             video_cents=account.invoice.video_fee_cents))
    return out


def fee_credit_owed(booked_at: CentreId | None, reviewed_by: CentreId | None) -> bool | None:
    """Whether a booking earns the credit: only at the centre whose board reviewed the case, which
    is the one that takes the fee off its own treatment bill. None: not known yet (the booking or
    the delivery has not reached billing)."""
    if booked_at is None or reviewed_by is None:
        return None
    return booked_at is reviewed_by


def apply_fee_credit(account: Account, booking_event_id: UUID, booked_at: CentreId | None,
                     reviewed_by: CentreId | None) -> list[Event]:
    # The credit is the review fee actually paid, net of refunds; the video add-on is not credited.
    if account.fee_credit is not None or account.net_review <= 0:
        return []
    if not fee_credit_owed(booked_at, reviewed_by):
        return []
    return [FeeCreditApplied(credit_id=derived_id("credit", booking_event_id), treatment_booking_id=booking_event_id,
                             amount_cents=account.net_review)]


def retried_capture(account: Account, at: datetime) -> ProviderCall | None:
    """A capture retried by hand (billing's staff) answers the failure before it: not dated before it."""
    if not can_capture(account):
        raise Rejected("nothing to capture for this case", "not_capturable")
    not_dated_before(at, account.failed_at, "the payment failure it retries")
    return capture(account)


def redeem_fee_credit(account: Account, treatment_invoice_ref: str, at: datetime) -> list[Event]:
    """The treating centre billed the treatment: the credit is deducted from that bill, once."""
    if account.fee_credit is None:
        raise Rejected("no fee credit was applied to this case", "no_fee_credit")
    if account.redemption is not None:
        if account.redemption.treatment_invoice_ref == treatment_invoice_ref:
            return []
        raise Rejected("the fee credit was already redeemed", "already_redeemed")
    not_dated_before(at, account.credited_at, "the fee credit's being applied")
    return [FeeCreditRedeemed(credit_id=account.fee_credit.credit_id, amount_cents=account.fee_credit.amount_cents,
                              treatment_invoice_ref=treatment_invoice_ref)]


# ------------------------------------------------------------------ the double-entry journal

Line = tuple[str, int]  # (account, signed cents): debit positive, credit negative


def journal(event: Event) -> list[Line]:
    """The balanced journal entry of one billing event (an empty list: no money moved)."""
    match event:
        case FeeInvoiced():
            r, v = event.review_fee_cents, event.video_fee_cents
            return [("receivable", r + v), ("revenue_review", -r), ("revenue_video", -v)]
        case PaymentCaptured():
            t = event.review_fee_cents + event.video_fee_cents
            return [("cash", t), ("receivable", -t)]
        case InvoiceVoided():
            r, v = event.review_cents, event.video_cents
            return [("revenue_review", r), ("revenue_video", v), ("receivable", -(r + v))]
        case RefundIssued():
            contra = "sla_credits" if event.reason == "sla_breach" else "refunds"
            return [(f"{contra}_review", event.review_cents), (f"{contra}_video", event.video_cents),
                    ("cash", -(event.review_cents + event.video_cents))]
        case FeeCreditApplied():
            return [("fee_credits", event.amount_cents), ("treatment_credit_liability", -event.amount_cents)]
        case FeeCreditRedeemed():
            # The liability is settled by the deduction passed on to the treating centre's bill.
            return [("treatment_credit_liability", event.amount_cents),
                    ("treatment_settlements", -event.amount_cents)]
    return []


def balances(events: list[Event]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for e in events:
        for acct, cents in journal(e):
            totals[acct] = totals.get(acct, 0) + cents
    return totals
