from uuid import uuid4

import pytest

from events.codes import ReferralReason
from events.contract import CaseOpened, FeeCreditApplied, FeeInvoiced, PaymentCaptured
from services.billing import domain
from services.common.errors import InvalidInput, Rejected


def opened(rare: bool = False, genomic: bool = False, video: bool = False) -> CaseOpened:
    reasons = [ReferralReason.GENOMIC_GUIDED] if genomic else [ReferralReason.OTHER]
    return CaseOpened(patient_ref="pr_" + "1" * 32, tumour_site="sarcoma" if rare else "breast",
                      rare_tumour=rare, stage_group="II", referral_reasons=reasons,
                      patient_country="US", language="en", wants_video=video)


def invoiced(case: CaseOpened) -> domain.Account:
    account = domain.Account()
    for e in domain.invoice(account, case):
        account.apply(e)
    return account


@pytest.mark.parametrize(("rare", "genomic", "fee"), [(False, False, 80_000), (True, False, 120_000),
                                                       (True, True, 140_000)])
def test_the_review_fee_follows_complexity_within_the_published_range(rare: bool, genomic: bool, fee: int):
    assert domain.review_fee_cents(opened(rare, genomic)) == fee
    assert domain.REVIEW_MIN_CENTS <= fee <= domain.REVIEW_MAX_CENTS


def test_a_case_is_invoiced_once():
    account = invoiced(opened(video=True))
    assert isinstance(account.invoice, FeeInvoiced)
    assert account.invoice.video_fee_cents == domain.VIDEO_CENTS
    assert domain.invoice(account, opened()) == []


def test_a_payment_cannot_exceed_the_invoice():
    account = invoiced(opened())
    with pytest.raises(InvalidInput):
        domain.capture(account, PaymentCaptured(payment_id=uuid4(), review_fee_cents=80_001))


def test_no_payment_before_an_invoice():
    with pytest.raises(Rejected):
        domain.capture(domain.Account(), PaymentCaptured(payment_id=uuid4(), review_fee_cents=1))


def test_the_fee_credit_is_the_paid_review_fee_without_video_and_applied_once():
    account = invoiced(opened(video=True))
    account.apply(PaymentCaptured(payment_id=uuid4(), review_fee_cents=80_000, video_fee_cents=50_000))
    [credit] = domain.apply_fee_credit(account, uuid4())
    assert isinstance(credit, FeeCreditApplied)
    assert credit.amount_cents == 80_000
    account.apply(credit)
    assert domain.apply_fee_credit(account, uuid4()) == []


def test_nothing_is_credited_when_nothing_was_paid():
    assert domain.apply_fee_credit(invoiced(opened()), uuid4()) == []
