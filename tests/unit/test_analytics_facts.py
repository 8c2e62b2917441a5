"""The projection's rules (services.analytics.facts), folded without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

from events.contract import (
    CaseCancelled,
    CaseDeclined,
    CaseFinallyDeclined,
    CaseOpened,
    CaseRouted,
    CaseWithdrawn,
    Envelope,
    Event,
    FeeInvoiced,
    InformationRequested,
    PatientDataErased,
    QuoteIssued,
    RecordsCompleted,
    RefundIssued,
    ReviewAccepted,
    SlaAtRisk,
    SlaClockBlocked,
    SlaClockResumed,
    SlaClockStarted,
)
from events.registry import Decoded
from services.analytics import facts

T0 = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)


def fold(case_id: UUID, *events: Event, producer: str = "intake") -> tuple[facts.Fold, list[Decoded]]:
    result, decoded = facts.Fold(), []
    for n, event in enumerate(events, start=1):
        at = T0 + timedelta(hours=n)
        env = Envelope(event_id=uuid4(), event_type=event.event_type, schema_version=event.schema_version,
                       case_id=case_id, stream_id=f"case-{case_id}", stream_version=n, occurred_at=at,
                       recorded_at=at, producer=producer, correlation_id=uuid4(),
                       payload=event.model_dump(mode="json"))
        decoded.append(Decoded(env, event))
        result.add(decoded[-1])
    return result, decoded


def opened() -> CaseOpened:
    return CaseOpened(patient_ref="pr_" + "a" * 32, tumour_site="lung", rare_tumour=False, stage_group="II",
                      referral_reasons=["stage_borderline", "other"], patient_country="GB", language="en")


def started(target: date, limit: date) -> SlaClockStarted:
    return SlaClockStarted(target_due=target, limit_due=limit)


def test_an_opened_case_carries_its_codes_as_plain_text():
    case_id = uuid4()
    result, [first] = fold(case_id, opened())
    row = result.cases[case_id]
    assert row["tumour_site"] == "lung" and type(row["tumour_site"]) is str
    assert row["referral_reasons"] == ["stage_borderline", "other"]
    assert row["opened_at"] == first.envelope.occurred_at
    assert row["routing_attempts"] == 0 and row["sla_calendar_unknown"] is False


def test_the_first_completion_of_records_stands():
    case_id = uuid4()
    result, [first, _] = fold(case_id, RecordsCompleted(record_count=6), RecordsCompleted(record_count=7))
    assert result.cases[case_id]["records_completed_at"] == first.envelope.occurred_at


def test_a_decline_resets_the_review_and_counts_the_attempts():
    case_id = uuid4()
    result, _ = fold(case_id, CaseRouted(centre_id="wch", reason_codes=["specialty_fit"], attempt=1),
                     ReviewAccepted(centre_id="wch"), started(date(2026, 3, 11), date(2026, 3, 16)),
                     SlaAtRisk(business_days_left=1, limit_due=None),
                     CaseDeclined(centre_id="wch", reason="at_capacity"),
                     CaseRouted(centre_id="fuscc", reason_codes=["specialty_fit"], attempt=2))
    row = result.cases[case_id]
    assert (row["routing_attempts"], row["declines"], row["centre_id"]) == (2, 1, "fuscc")
    assert row["accepted_at"] is None and row["sla_target_due"] is None and row["sla_at_risk_at"] is None


def test_a_resumed_clock_carries_the_paused_days_and_ends_the_pause():
    case_id = uuid4()
    result, decoded = fold(case_id, started(date(2026, 3, 11), date(2026, 3, 16)),
                           InformationRequested(request_id=uuid4(), topics=["pathology_blocks"]))
    assert result.cases[case_id]["sla_paused_since"] == decoded[1].envelope.occurred_at
    assert result.cases[case_id]["sla_paused_business_days"] == 0
    result.add(_then(decoded[-1], SlaClockResumed(target_due=date(2026, 3, 13),
                                                  limit_due=date(2026, 3, 18), paused_business_days=2)))
    row = result.cases[case_id]
    assert (row["sla_paused_business_days"], row["sla_paused_since"], row["sla_target_due"]) == (
        2, None, date(2026, 3, 13))


def test_the_first_ending_stands():
    case_id = uuid4()
    result, [cancelled, _] = fold(case_id, CaseCancelled(reason="other"), CaseWithdrawn(reason="patient_request"))
    row = result.cases[case_id]
    assert (row["ending"], row["ended_at"]) == ("cancelled", cancelled.envelope.occurred_at)


def test_money_moves_once_per_component_and_never_for_zero():
    case_id = uuid4()
    invoice = FeeInvoiced(invoice_id=uuid4(), review_fee_cents=80_000, video_fee_cents=0,
                          breakdown=[{"component": "review_base", "cents": 80_000},
                                     {"component": "video_consultation", "cents": 0}])
    refund = RefundIssued(refund_id=uuid4(), payment_id=uuid4(), reason="sla_breach", review_cents=8_000, video_cents=0)
    result, [inv, ref] = fold(case_id, invoice, refund, producer="billing")
    assert sorted(result.take_money(), key=lambda r: r[4]) == [
        (inv.envelope.event_id, "review_base", case_id, inv.envelope.occurred_at, "invoiced", 80_000),
        (ref.envelope.event_id, "review", case_id, ref.envelope.occurred_at, "sla_credit", 8_000)]
    assert result.take_money() == []


def test_a_quote_is_no_case_and_events_count_on_their_utc_day():
    quote_id = uuid4()
    quote = QuoteIssued(review_cents=80_000, video_cents=40_000,
                        breakdown=[{"component": "review_base", "cents": 80_000}], price_book_version="2026-01",
                        tumour_site="lung", rare_tumour=False, glass_slides=False, imaging_studies=1,
                        genomic_guided=False, wants_video=True)
    result, [issued] = fold(quote_id, quote, producer="billing")
    assert result.cases == {}
    assert list(result.quotes.values()) == [(quote_id, issued.envelope.occurred_at, "lung", 80_000, 40_000,
                                             "2026-01")]
    # 23:30 UTC plus an hour is the next UTC day, whatever the centres' time zone.
    assert list(result.count_rows()) == [(date(2026, 3, 3), "billing", "QuoteIssued", 1)]


def _then(previous: Decoded, event: Event) -> Decoded:
    env = previous.envelope
    at = env.occurred_at + timedelta(hours=1)
    return Decoded(env.model_copy(update={"event_id": uuid4(), "event_type": event.event_type,
                                          "stream_version": env.stream_version + 1, "occurred_at": at,
                                          "recorded_at": at, "payload": event.model_dump(mode="json")}), event)


def at(decoded: Decoded, moment: datetime) -> Decoded:
    return Decoded(decoded.envelope.model_copy(update={"occurred_at": moment}), decoded.event)


def test_the_first_ending_in_event_time_stands_whichever_arrives_first():
    case_id = uuid4()
    _, [cancelled] = fold(case_id, CaseCancelled(reason="financial"))
    _, [declined] = fold(case_id, CaseFinallyDeclined(declines=2), producer="routing")
    cancelled, declined = at(cancelled, T0 + timedelta(days=2)), at(declined, T0 + timedelta(days=1))
    endings = set()
    for order in ((cancelled, declined), (declined, cancelled)):
        result = facts.Fold()
        for d in order:
            result.add(d)
        endings.add((result.cases[case_id]["ending"], result.cases[case_id]["ended_at"]))
    assert endings == {("declined_by_all_centres", T0 + timedelta(days=1))}


def test_an_erasure_ends_an_open_case_but_not_one_that_ended_before():
    erased, ended = uuid4(), uuid4()
    result, _ = fold(erased, opened(), PatientDataErased(patient_ref="pr_" + "a" * 32))
    assert result.cases[erased]["ending"] == "erased"
    result, _ = fold(ended, opened(), CaseWithdrawn(reason="patient_request"),
                     PatientDataErased(patient_ref="pr_" + "a" * 32))
    assert result.cases[ended]["ending"] == "withdrawn"


def test_an_unknown_calendar_year_lasts_until_the_next_acceptance():
    case_id = uuid4()
    result, _ = fold(case_id, ReviewAccepted(centre_id="wch"), SlaClockBlocked(year=2027),
                     CaseDeclined(centre_id="wch", reason="no_answer"), ReviewAccepted(centre_id="fuscc"),
                     started(date(2026, 3, 11), date(2026, 3, 16)))
    assert result.cases[case_id]["sla_calendar_unknown"] is False
