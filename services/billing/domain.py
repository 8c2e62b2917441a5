"""Billing's account of one case: invoice, payment, and the fee credit applied once. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from events.codes import ReferralReason
from events.contract import CaseOpened, Event, FeeCreditApplied, FeeInvoiced, PaymentCaptured
from services.common.errors import InvalidInput, Rejected

REVIEW_MIN_CENTS = 80_000
REVIEW_MAX_CENTS = 180_000
VIDEO_CENTS = 50_000


def review_fee_cents(opened: CaseOpened) -> int:
    # Interim rule until the price book: complexity adds to a base, clamped to the published range.
    fee = REVIEW_MIN_CENTS
    if opened.rare_tumour:
        fee += 40_000
    if ReferralReason.GENOMIC_GUIDED in opened.referral_reasons:
        fee += 20_000
    return max(REVIEW_MIN_CENTS, min(fee, REVIEW_MAX_CENTS))


@dataclass
class Account:
    version: int = 0
    invoice: FeeInvoiced | None = None
    paid_review_cents: int = 0
    paid_video_cents: int = 0
    credit: FeeCreditApplied | None = None

    def apply(self, event: Event) -> None:
        self.version += 1
        match event:
            case FeeInvoiced():
                self.invoice = event
            case PaymentCaptured():
                self.paid_review_cents += event.review_fee_cents
                self.paid_video_cents += event.video_fee_cents
            case FeeCreditApplied():
                self.credit = event


def fold(events: list[Event]) -> Account:
    account = Account()
    for e in events:
        account.apply(e)
    return account


def invoice(account: Account, opened: CaseOpened) -> list[Event]:
    if account.invoice is not None:
        return []
    return [FeeInvoiced(invoice_id=uuid4(), review_fee_cents=review_fee_cents(opened),
                        video_fee_cents=VIDEO_CENTS if opened.wants_video else 0)]


def capture(account: Account, payment: PaymentCaptured) -> list[Event]:
    if account.invoice is None:
        raise Rejected("the case has no invoice yet", "not_invoiced")
    if account.paid_review_cents + payment.review_fee_cents > account.invoice.review_fee_cents:
        raise InvalidInput("review_fee_cents", "payment exceeds the invoiced review fee")
    if account.paid_video_cents + payment.video_fee_cents > account.invoice.video_fee_cents:
        raise InvalidInput("video_fee_cents", "payment exceeds the invoiced video fee")
    return [payment]


def apply_fee_credit(account: Account, booking_event_id: UUID) -> list[Event]:
    # The credit is the review fee actually paid; the video add-on is not credited.
    if account.credit is not None or account.paid_review_cents == 0:
        return []
    return [FeeCreditApplied(credit_id=uuid4(), treatment_booking_id=booking_event_id,
                             amount_cents=account.paid_review_cents)]
