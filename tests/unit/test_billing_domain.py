"""Billing's policy and ledger, including a property test over random histories."""

from __future__ import annotations

from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from events.codes import CentreId, ReferralReason
from events.contract import CaseOpened, Event, FeeCreditApplied, RefundIssued
from services.billing import domain
from services.billing.pricing import load_price_book

BOOK = load_price_book()


def opened(rare: bool = False, video: bool = False) -> CaseOpened:
    return CaseOpened(patient_ref="pr_" + "1" * 32, tumour_site="sarcoma" if rare else "breast",
                      rare_tumour=rare, stage_group="II", referral_reasons=[ReferralReason.OTHER],
                      patient_country="US", language="en", wants_video=video,
                      imaging_studies=0)  # nothing to re-read: the base fee, round figures below


class Case:
    """A billing account driven the way the worker drives it, with every event kept."""

    def __init__(self, video: bool = True) -> None:
        self.account = domain.Account()
        self.events: list[Event] = []
        self.facts = domain.ReviewFacts()
        self.emit(domain.invoice(self.account, opened(video=video), BOOK, None, uuid4()))

    def emit(self, events: list[Event]) -> list[Event]:
        for e in events:
            self.account.apply(e)
            self.events.append(e)
        return events

    def capture(self) -> None:
        if domain.can_capture(self.account):
            self.emit(domain.captured(self.account, uuid4(), "sim_ref"))

    def settle(self, trigger: str, cause: UUID) -> None:
        due = domain.settlement(self.account, self.facts, trigger, cause)  # type: ignore[arg-type]
        # The provider's answer, as the application would pass it back.
        self.emit(due if isinstance(due, list) else due.done("sim_refund"))

    def book(self, booking: UUID) -> None:
        self.emit(domain.apply_fee_credit(self.account, booking, CentreId.CAMS, CentreId.CAMS))


def test_a_cancellation_before_acceptance_refunds_everything():
    c = Case()
    c.capture()
    c.settle("cancelled", uuid4())
    [refund] = [e for e in c.events if isinstance(e, RefundIssued)]
    assert (refund.review_cents, refund.video_cents, refund.reason) == (80_000, 40_000, "cancelled_before_acceptance")
    assert domain.balances(c.events)["cash"] == 0


def test_a_cancellation_after_acceptance_refunds_half_the_review_and_an_unheld_video():
    c = Case()
    c.capture()
    c.facts = domain.ReviewFacts(accepted=True)
    c.settle("cancelled", uuid4())
    [refund] = [e for e in c.events if isinstance(e, RefundIssued)]
    assert (refund.review_cents, refund.video_cents) == (40_000, 40_000)


def test_nothing_is_refunded_after_delivery():
    c = Case()
    c.capture()
    c.facts = domain.ReviewFacts(accepted=True, delivered=True, video_held=True)
    c.settle("cancelled", uuid4())
    assert not [e for e in c.events if isinstance(e, RefundIssued)]


def test_an_uncaptured_case_is_voided_not_refunded():
    c = Case()
    c.settle("cancelled", uuid4())
    assert domain.balances(c.events).get("receivable", 0) == 0
    assert not [e for e in c.events if isinstance(e, RefundIssued)]


def test_an_sla_breach_credits_twenty_percent_once_and_reduces_the_fee_credit():
    c = Case()
    c.capture()
    c.settle("sla_breach", uuid4())
    c.settle("sla_breach", uuid4())
    refunds = [e for e in c.events if isinstance(e, RefundIssued)]
    assert [(r.review_cents, r.reason) for r in refunds] == [(16_000, "sla_breach")]
    c.book(uuid4())
    [credit] = [e for e in c.events if isinstance(e, FeeCreditApplied)]
    assert credit.amount_cents == 64_000


def test_the_fee_credit_is_the_net_review_fee_without_video_and_applied_once():
    c = Case()
    c.capture()
    booking = uuid4()
    c.book(booking)
    c.book(booking)
    c.book(uuid4())
    credits = [e for e in c.events if isinstance(e, FeeCreditApplied)]
    assert [cr.amount_cents for cr in credits] == [80_000]


def test_every_journal_entry_balances():
    c = Case()
    c.capture()
    c.facts = domain.ReviewFacts(accepted=True)
    c.settle("withdrawn", uuid4())
    for e in c.events:
        assert sum(cents for _, cents in domain.journal(e)) == 0


STEPS = st.sampled_from(["capture", "accept", "deliver", "video_held", "cancel", "withdraw", "decline_all",
                         "sla_breach", "book", "redeliver"])


@settings(max_examples=400, deadline=None)
@given(st.lists(STEPS, max_size=25), st.booleans())
def test_random_histories_keep_the_money_right(steps: list[str], video: bool):
    c = Case(video=video)
    seen: list[tuple[str, UUID]] = []
    net_review_at_booking: list[int] = []

    def run(step: str, cause: UUID) -> None:
        match step:
            case "capture":
                c.capture()
            case "accept":
                c.facts = domain.ReviewFacts(accepted=True, delivered=c.facts.delivered, video_held=c.facts.video_held)
            case "deliver":
                c.facts = domain.ReviewFacts(accepted=True, delivered=True, video_held=c.facts.video_held)
            case "video_held":
                c.facts = domain.ReviewFacts(c.facts.accepted, c.facts.delivered, True)
            case "cancel" | "withdraw" | "decline_all" | "sla_breach":
                trigger = {"cancel": "cancelled", "withdraw": "withdrawn",
                           "decline_all": "declined_by_all_centres", "sla_breach": "sla_breach"}[step]
                c.settle(trigger, cause)
            case "book":
                net_before = c.account.net_review
                before = len(c.events)
                c.book(cause)
                for e in c.events[before:]:
                    assert isinstance(e, FeeCreditApplied) and e.amount_cents == net_before > 0
                    net_review_at_booking.append(net_before)

    for step in steps:
        if step == "redeliver":
            if seen:
                run(*seen[-1])  # the same trigger again, as after a redelivery
            continue
        cause = uuid4()
        seen.append((step, cause))
        run(step, cause)

    totals = domain.balances(c.events)
    assert sum(totals.values()) == 0
    captured = c.account.captured_review + c.account.captured_video
    refunded = sum(r.review_cents + r.video_cents for r in c.account.refunds)
    assert 0 <= refunded <= captured
    assert c.account.net_review >= 0 and c.account.net_video >= 0
    assert totals.get("cash", 0) == captured - refunded
    credits = [e for e in c.events if isinstance(e, FeeCreditApplied)]
    assert len(credits) <= 1
    if credits:
        assert credits[0].amount_cents == net_review_at_booking[0]
    refund_ids = [r.refund_id for r in c.account.refunds]
    assert len(refund_ids) == len(set(refund_ids))


def test_the_fee_credit_is_owed_only_at_the_centre_that_reviewed_the_case():
    c = Case()
    c.capture()
    assert domain.apply_fee_credit(c.account, uuid4(), CentreId.FUSCC, CentreId.WCH) == []
    assert domain.apply_fee_credit(c.account, uuid4(), CentreId.FUSCC, None) == []  # delivery not known yet
    assert domain.fee_credit_owed(CentreId.FUSCC, None) is None
    assert domain.fee_credit_owed(CentreId.WCH, CentreId.WCH) is True


def test_the_deciders_ask_for_provider_calls_keyed_by_their_cause_and_make_none():
    c = Case()
    call = domain.capture(c.account)
    assert call is not None and (call.operation, call.reference) == ("capture", None)
    assert call.key == domain.capture(c.account).key  # type: ignore[union-attr]  # a retry asks the same
    c.emit(call.done("sim_capture"))
    assert domain.capture(c.account) is None  # captured: nothing more to ask
    cause = uuid4()
    refund = domain.settlement(c.account, domain.ReviewFacts(), "cancelled", cause)
    assert isinstance(refund, domain.ProviderCall)
    assert (refund.operation, refund.key, refund.amount_cents, refund.reference) == (
        "refund", f"refund:{domain.derived_id('refund', cause)}", 120_000, "sim_capture")
