"""Billing's application layer on fakes: invoices, money moves, settlements and the journal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from events.codes import CentreId, ReferralReason
from events.contract import (
    CaseCancelled,
    CaseExpired,
    CaseFinallyDeclined,
    CaseOpened,
    CaseWithdrawn,
    ImagingReread,
    PathologyReview,
    RecordsCompleted,
    ReviewDelivered,
    ReviewEnded,
    SlaBreached,
    TreatmentBooked,
)
from events.registry import Decoded
from services.billing import application
from services.billing.bootstrap import bootstrap
from services.billing.pricing import CaseComplexity, load_price_book
from services.billing.settings import BillingSettings
from services.common.errors import NotFound, Rejected
from tests.unit.fakes import CONN, Clock, FakeBooks, FakePool, FakeProvider, Upstream, deliver, in_memory, memory_store

T0 = datetime(2026, 3, 2, 1, tzinfo=UTC)
BOOK = load_price_book()


def runtime() -> application.BillingRuntime:
    return bootstrap(BillingSettings.model_construct(), pool=FakePool(), store=memory_store("billing", Clock(T0)),
                     provider=FakeProvider(), books=FakeBooks())


def opened(video: bool = True, quote_id: UUID | None = None) -> CaseOpened:
    return CaseOpened(patient_ref="pr_" + "1" * 32, tumour_site="breast", rare_tumour=False, stage_group="II",
                      referral_reasons=[ReferralReason.OTHER], patient_country="US", language="en",
                      wants_video=video, imaging_studies=0, quote_id=quote_id)


class Case:
    """One case's upstream facts, delivered to billing's consumer as the worker would."""

    def __init__(self, rt: application.BillingRuntime, video: bool = True, quote_id: UUID | None = None) -> None:
        self.rt, self.case_id = rt, uuid4()
        self.consumer = application.billing_consumer(rt)
        self.upstream = Upstream("intake")
        self.at = T0
        self.send(opened(video, quote_id))

    def send(self, event: Any) -> Decoded:
        self.at += timedelta(hours=1)
        decoded = self.upstream.emit(self.case_id, event, self.at)
        deliver(self.consumer, decoded)
        return decoded

    def kinds(self) -> list[str]:
        return [d.envelope.event_type for d in self.rt.store.load(CONN, f"case-{self.case_id}")]

    def summary(self) -> dict[str, Any]:
        return application.case_summary(self.rt, CONN, self.case_id)


def test_an_opened_case_is_invoiced_and_authorised_in_one_append():
    rt = runtime()
    case = Case(rt)
    assert case.kinds() == ["FeeInvoiced", "PaymentAuthorised"]
    store = in_memory(rt.store)
    history = store.load(CONN, f"case-{case.case_id}")
    # One append: one correlation, the case opening as the cause of both.
    assert {d.envelope.correlation_id for d in history} == {history[0].envelope.correlation_id}
    assert {d.envelope.causation_id for d in history} == {case.upstream.store.published[0].event_id}
    assert case.summary()["review_fee_cents"] == 80_000 and case.summary()["video_fee_cents"] == 40_000


def test_a_redelivered_opening_neither_invoices_nor_authorises_twice():
    rt = runtime()
    case = Case(rt)
    deliver(case.consumer, case.upstream.store.decoded(case.upstream.store.published[0]))
    assert case.kinds() == ["FeeInvoiced", "PaymentAuthorised"]
    assert len(cast(FakeProvider, rt.provider).done) == 1


def test_completed_records_capture_what_was_authorised_and_the_journal_balances():
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    summary = case.summary()
    assert (summary["paid_review_cents"], summary["paid_video_cents"]) == (80_000, 40_000)
    assert summary["ledger_balance"] == 0
    assert application.ledger_total(rt, CONN)["total_cents"] == 0


def test_a_declined_capture_is_recorded_and_can_be_retried():
    rt = runtime()
    case = Case(rt)
    provider = cast(FakeProvider, rt.provider)
    provider.declining.add("capture")
    case.send(RecordsCompleted(record_count=6))
    assert case.kinds()[-1] == "PaymentFailed"
    provider.declining.clear()
    application.retry_capture(rt, CONN, case.case_id, case.at)
    assert case.summary()["paid_review_cents"] == 80_000


def test_a_retry_with_nothing_to_capture_is_rejected():
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    with pytest.raises(Rejected):
        application.retry_capture(rt, CONN, case.case_id, case.at)
    with pytest.raises(NotFound):
        application.retry_capture(rt, CONN, uuid4(), case.at)


def review_answers(case: Case, ending: Decoded, accepted_at: datetime | None = None,
                   delivered_at: datetime | None = None, video_held_at: datetime | None = None) -> None:
    """Review's answer to an ending, as review's reaction would publish it."""
    env = ending.envelope
    case.send(ReviewEnded(ending=env.event_type, ending_event_id=env.event_id, ended_at=env.occurred_at,
                          centre_id=CentreId.FUSCC if accepted_at else None, accepted_at=accepted_at,
                          delivered_at=delivered_at, video_held_at=video_held_at))


def test_an_ending_moves_no_money_until_review_has_answered_it():
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    case.send(CaseCancelled(reason="patient_request"))
    assert case.summary()["refunds"] == [] and not case.summary()["invoice_voided"]


def test_a_cancellation_before_capture_voids_the_invoice_without_the_provider():
    rt = runtime()
    case = Case(rt)
    review_answers(case, case.send(CaseCancelled(reason="patient_request")))
    assert case.kinds()[-2:] == ["PaymentVoided", "InvoiceVoided"]
    assert case.summary()["ledger_balance"] == 0 and case.summary()["invoice_voided"]


def test_a_cancellation_after_acceptance_refunds_half_the_review_and_the_unheld_video():
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    accepted = case.at
    review_answers(case, case.send(CaseCancelled(reason="patient_request")), accepted_at=accepted)
    [refund] = case.summary()["refunds"]
    assert (refund["review_cents"], refund["video_cents"], refund["reason"]) == (
        40_000, 40_000, "cancelled_after_acceptance")


def test_a_withdrawal_reaching_billing_before_the_acceptance_is_still_refunded_as_after_it():
    # The reported case: accepted on 03-13, withdrawn on 03-16, and billing saw the withdrawal
    # first. Review's answer carries the acceptance, so the policy's half is refunded, not all.
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    case.at = datetime(2026, 3, 16, 2, tzinfo=UTC)
    withdrawn = case.send(CaseWithdrawn(reason="patient_request"))
    review_answers(case, withdrawn, accepted_at=datetime(2026, 3, 13, 2, tzinfo=UTC))
    [refund] = case.summary()["refunds"]
    assert (refund["review_cents"], refund["reason"]) == (40_000, "withdrawn_after_acceptance")


def test_an_acceptance_dated_after_the_ending_does_not_count():
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    cancelled = case.send(CaseCancelled(reason="patient_request"))
    review_answers(case, cancelled, accepted_at=cancelled.envelope.occurred_at + timedelta(hours=5))
    [refund] = case.summary()["refunds"]
    assert (refund["review_cents"], refund["video_cents"], refund["reason"]) == (
        80_000, 40_000, "cancelled_before_acceptance")


def test_a_held_video_is_not_refunded():
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    accepted = case.at
    review_answers(case, case.send(CaseCancelled(reason="patient_request")), accepted_at=accepted,
                   video_held_at=accepted + timedelta(minutes=30))
    [refund] = case.summary()["refunds"]
    assert refund["video_cents"] == 0


def test_nothing_is_refunded_after_delivery():
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    accepted = case.at
    review_answers(case, case.send(CaseCancelled(reason="patient_request")), accepted_at=accepted,
                   delivered_at=accepted + timedelta(minutes=30))
    assert case.summary()["refunds"] == []


def test_a_breach_credited_after_the_ending_counts_towards_the_endings_refund():
    # A sweep dated a breach after the cancellation before review learned of it: the patient
    # gets the policy's half in all, not the half and the breach credit too.
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    accepted = case.at
    cancelled = case.upstream.emit(case.case_id, CaseCancelled(reason="patient_request"),
                                   case.at + timedelta(minutes=30))
    case.send(SlaBreached(limit_due=T0.date()))  # dated an hour on: half an hour after the cancellation
    deliver(case.consumer, cancelled)
    review_answers(case, cancelled, accepted_at=accepted)
    refunds = case.summary()["refunds"]
    assert [(r["reason"], r["review_cents"]) for r in refunds] == [("sla_breach", 16_000),
                                                                    ("cancelled_after_acceptance", 24_000)]
    assert sum(r["review_cents"] for r in refunds) == 40_000


def test_a_final_decline_refunds_everything_once_even_if_redelivered():
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    declined = case.send(CaseFinallyDeclined(declines=3))
    deliver(case.consumer, declined)
    summary = case.summary()
    assert summary["refunded_cents"] == 120_000 and len(summary["refunds"]) == 1
    refund_keys = [k for k in cast(FakeProvider, rt.provider).done if k.startswith("refund:")]
    assert len(refund_keys) == 1


def test_a_breach_credits_a_fifth_of_the_captured_review():
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    case.send(SlaBreached(limit_due=T0.date()))
    [refund] = case.summary()["refunds"]
    assert (refund["review_cents"], refund["reason"]) == (16_000, "sla_breach")


def test_a_breach_before_capture_changes_nothing():
    rt = runtime()
    case = Case(rt)
    case.send(SlaBreached(limit_due=T0.date()))
    assert case.kinds() == ["FeeInvoiced", "PaymentAuthorised"]


def test_an_expired_case_is_written_off():
    rt = runtime()
    case = Case(rt, video=False)
    case.send(CaseExpired(dormant_days=60))
    assert case.kinds()[-1] == "InvoiceVoided"


def booking(centre: CentreId) -> TreatmentBooked:
    return TreatmentBooked(centre_id=centre, treatment_type="proton_therapy", travel_reason="high_cost_therapy",
                           estimated_cost_cents=3_000_000)


def delivered_by(centre: CentreId) -> ReviewDelivered:
    return ReviewDelivered(centre_id=centre, pathology=PathologyReview(verdict="agree"),
                           imaging=ImagingReread(verdict="stage_confirmed"), recommended_pathway="surgery",
                           rationale_codes=["guideline_concordant"], question_answer="answered",
                           diagnosis_change="concordant", treatment_change="refined", report_ref=uuid4(), page_count=6)


def test_a_booked_treatment_earns_the_paid_review_fee_as_credit_redeemable_once():
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    case.send(delivered_by(CentreId.CAMS))
    case.send(booking(CentreId.CAMS))
    assert case.summary()["fee_credit_cents"] == 80_000
    assert case.summary()["fee_credit_status"] == "applied"
    done = application.redeem(rt, CONN, case.case_id, "inv-1", case.at)
    assert application.case_summary(rt, CONN, case.case_id, done.state)["fee_credit_redeemed"]
    with pytest.raises(Rejected):
        application.redeem(rt, CONN, case.case_id, "inv-2", case.at)


def test_a_booking_at_another_centre_than_the_reviewing_one_earns_no_credit():
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    case.send(delivered_by(CentreId.WCH))
    case.send(booking(CentreId.FUSCC))
    summary = case.summary()
    assert summary["fee_credit_cents"] == 0
    assert summary["fee_credit_status"] == "not_owed_booked_at_another_centre"
    assert "FeeCreditApplied" not in case.kinds()


def test_a_booking_that_reaches_billing_before_the_delivery_is_credited_when_the_delivery_comes():
    rt = runtime()
    case = Case(rt)
    case.send(RecordsCompleted(record_count=6))
    booked = case.send(booking(CentreId.CAMS))
    assert case.summary()["fee_credit_status"] == "awaiting_delivery"
    case.send(delivered_by(CentreId.CAMS))
    history = rt.store.load(CONN, f"case-{case.case_id}")
    [credit] = [d for d in history if d.envelope.event_type == "FeeCreditApplied"]
    assert credit.envelope.occurred_at == booked.envelope.occurred_at  # dated at the booking
    assert case.summary()["fee_credit_cents"] == 80_000


def test_redeeming_without_an_account_is_not_found():
    with pytest.raises(NotFound):
        application.redeem(runtime(), CONN, uuid4(), "inv-1", T0)


def test_a_quote_fixes_the_price_of_the_case_opened_with_it():
    rt = runtime()
    quote_id, q = application.issue_quote(rt, CONN, "breast", CaseComplexity(
        rare_tumour=False, glass_slides=True, imaging_studies=2, genomic_guided=False, wants_video=False), T0)
    assert application.quoted(rt, CONN, quote_id) == q
    case = Case(rt, video=False, quote_id=quote_id)
    assert case.summary()["review_fee_cents"] == q.review_cents == 80_000 + 15_000 + 2 * 5_000


def test_a_provider_callback_applies_once():
    rt = runtime()
    case = Case(rt)
    assert application.provider_callback(rt, CONN, case.case_id, "ref_external", case.at)
    assert not application.provider_callback(rt, CONN, case.case_id, "ref_external", case.at)
    with pytest.raises(NotFound):
        application.provider_callback(rt, CONN, uuid4(), "ref_external", case.at)
