"""The live views' rules (services/live/fold.py), without faust or a broker."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.contract import (
    CaseCancelled,
    CaseClosed,
    CaseDeclined,
    CaseOpened,
    CaseRouted,
    ConsentGiven,
    ConsentWithdrawn,
    Envelope,
    Event,
    FollowUpAnswered,
    FollowUpAsked,
    InformationReceived,
    InformationRequested,
    PaymentCaptured,
    PaymentFailed,
    RecordsCompleted,
    ReviewAccepted,
    ReviewDelivered,
    SlaAtRisk,
    SlaBreached,
    SlaClockStarted,
    TreatmentBooked,
)
from events.registry import Decoded
from services.live import batches, fold, tables

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Shanghai


_VERSIONS: dict[UUID, int] = {}


def decoded(case_id: UUID, event: Event, at: datetime) -> Decoded:
    # One producer, its stream versions in order: what a life applies once each.
    version = _VERSIONS[case_id] = _VERSIONS.get(case_id, 0) + 1
    env = Envelope(event_id=uuid4(), event_type=event.event_type, schema_version=event.schema_version,
                   case_id=case_id, stream_id=f"case-{case_id}", stream_version=version, occurred_at=at, recorded_at=at,
                   producer="test", correlation_id=uuid4(), payload=event.model_dump(mode="json"))
    return Decoded(env, event)


def opened() -> CaseOpened:
    return CaseOpened(patient_ref="pr_" + "a" * 32, tumour_site="lung", rare_tumour=False, stage_group="II",
                      referral_reasons=["stage_borderline"], patient_country="GB", language="en")


def ready() -> list[Event]:
    return [opened(), ConsentGiven(consent="health_data_processing", text_version="v1"),
            ConsentGiven(consent="transfer_abroad", text_version="v1", centre_ids=["fuscc"]),
            RecordsCompleted(record_count=6)]


def delivered(centre: str = "fuscc") -> ReviewDelivered:
    return ReviewDelivered(centre_id=centre, pathology={"verdict": "agree"}, imaging={"verdict": "stage_confirmed"},
                           recommended_pathway="surgery", rationale_codes=["guideline_concordant"],
                           question_answer="answered", diagnosis_change="concordant", treatment_change="refined",
                           report_ref=uuid4(), page_count=6)


def booked(centre: str = "fuscc") -> TreatmentBooked:
    return TreatmentBooked(centre_id=centre, treatment_type="surgery", travel_reason="one_programme",
                           estimated_cost_cents=1_000_000)


def walk(*events: Event, start: datetime = T0, step: timedelta = timedelta(hours=1)) -> tuple[fold.Case, list]:
    case, counts, case_id = fold.new_case(), [], uuid4()
    for n, event in enumerate(events):
        counts += fold.apply(case, decoded(case_id, event, start + n * step))
    return case, counts


# ---------------------------------------------------------------------------------------- waiting on
def test_the_move_passes_as_the_worklist_says_along_a_case():
    follow_up = uuid4()
    path: list[tuple[Event, str]] = [
        (opened(), "patient"),                                      # collecting records
        (ConsentGiven(consent="health_data_processing", text_version="v1"), "patient"),
        (ConsentGiven(consent="transfer_abroad", text_version="v1"), "patient"),
        (RecordsCompleted(record_count=6), "coordinator"),          # ready, no centre holds it
        (CaseRouted(centre_id="fuscc", reason_codes=["specialty"], attempt=1), "centre"),
        (ReviewAccepted(centre_id="fuscc"), "centre"),
        (InformationRequested(request_id=uuid4(), topics=["additional_imaging"]), "patient"),
        (InformationReceived(request_id=uuid4()), "centre"),
        (PaymentFailed(payment_id=uuid4(), stage="capture", reason="card_declined"), "billing"),
        (PaymentCaptured(payment_id=uuid4(), review_fee_cents=80_000, video_fee_cents=0), "centre"),
        (delivered(), "patient"),                                   # the patient's decision
        (FollowUpAsked(follow_up_id=follow_up, number=1, business_days=3, due=None), "centre"),
        (FollowUpAnswered(follow_up_id=follow_up, document_id=uuid4(), sha256="0" * 64, size_bytes=1,
                          page_count=1, within_limit=True), "patient"),
        (booked(), "nobody"),
    ]
    case, case_id = fold.new_case(), uuid4()
    for n, (event, party) in enumerate(path):
        fold.apply(case, decoded(case_id, event, T0 + timedelta(minutes=n)))
        assert case["wo"] == party, (event.event_type, case)


def test_a_declined_case_goes_back_to_the_coordinator_and_a_withdrawn_consent_to_the_patient():
    case, _ = walk(*ready(), CaseRouted(centre_id="fuscc", reason_codes=["specialty"], attempt=1),
                   CaseDeclined(centre_id="fuscc", reason="at_capacity"))
    assert (fold.status(case), case["wo"], case["c"]) == ("ready_for_review", "coordinator", None)
    case, _ = walk(*ready(), ConsentWithdrawn(consent="transfer_abroad"))
    assert (fold.status(case), case["wo"]) == ("collecting_records", "patient")


def test_since_is_when_the_move_passed_not_the_last_event():
    case, _ = walk(*ready(), CaseRouted(centre_id="fuscc", reason_codes=["specialty"], attempt=1),
                   ReviewAccepted(centre_id="fuscc"))
    routed_at = (T0 + timedelta(hours=4)).timestamp()
    assert case["wo"] == "centre" and case["since"] == routed_at and case["t"] > routed_at


# ---------------------------------------------------------------------------------------- counts
def test_flow_counts_at_the_event_centre_and_sla_counts_at_the_accepting_centre():
    _, counts = walk(*ready(), CaseRouted(centre_id="cams", reason_codes=["specialty"], attempt=1),
                     CaseDeclined(centre_id="cams", reason="at_capacity"),
                     CaseRouted(centre_id="wch", reason_codes=["specialty"], attempt=2),
                     ReviewAccepted(centre_id="wch"), SlaClockStarted(target_due=date(2026, 3, 11),
                                                                      limit_due=date(2026, 3, 16)),
                     SlaAtRisk(business_days_left=2, limit_due=date(2026, 3, 16)),
                     SlaBreached(limit_due=date(2026, 3, 16)), delivered("wch"))
    assert [(c.family, c.what, c.centre) for c in counts] == [
        ("flow", "routed", "cams"), ("flow", "declined", "cams"), ("flow", "routed", "wch"),
        ("flow", "accepted", "wch"), ("sla", "started", "wch"), ("sla", "at_risk", "wch"),
        ("sla", "breached", "wch"), ("flow", "delivered", "wch")]


def test_only_a_delivered_cases_first_decision_counts_for_travel():
    _, counts = walk(*ready(), delivered("pkuch"), booked("pkuch"), CaseClosed(reason="returned_home_refined_plan"))
    assert [(c.what, c.centre) for c in counts if c.family == "travel"] == [("decided", "pkuch"),
                                                                            ("travelled", "pkuch")]
    _, counts = walk(*ready(), CaseClosed(reason="returned_home_refined_plan"))
    assert [c for c in counts if c.family == "travel"] == []
    _, counts = walk(*ready(), delivered(), CaseClosed(reason="returned_home_refined_plan"))
    assert [c.what for c in counts if c.family == "travel"] == ["decided"]


def test_an_ending_that_arrives_before_the_delivery_it_follows_still_counts_the_decision():
    # Review's relay was behind: the closure after delivery reached the live app first.
    case_id, case = uuid4(), fold.new_case()
    counts: list[fold.Count] = []
    for n, event in enumerate(ready()):
        counts += fold.apply(case, decoded(case_id, event, T0 + timedelta(hours=n)))
    delivered_at, cancelled_at = T0 + timedelta(days=3), T0 + timedelta(days=4)
    counts += fold.apply(case, decoded(case_id, CaseCancelled(reason="other"), cancelled_at))
    counts += fold.apply(case, decoded(case_id, delivered("wch"), delivered_at))
    assert [(c.what, c.centre, c.at) for c in counts if c.family == "travel"] == [
        ("decided", "wch", cancelled_at.timestamp())]
    assert (fold.status(case), case["wo"]) == ("cancelled", "nobody")


def test_a_booking_counts_decided_and_travelled_in_its_day():
    table: dict[str, Any] = {}
    b, case_id = batches.Batch(table), uuid4()
    for offset, event in enumerate([*ready(), delivered("cams"), booked("cams")]):
        b.add(batches.Message(0, offset, decoded(case_id, event, T0 + timedelta(minutes=offset))))
    b.write()
    assert tables.travel_share(tables.views(table.items()).days, "cams", T0.timestamp()) == (1, 1)


def test_windows_are_tumbling_utc_hours_and_days_of_event_time():
    at = datetime(2026, 3, 2, 10, 59, 59, tzinfo=UTC).timestamp()
    assert fold.hour_start(at) == datetime(2026, 3, 2, 10, tzinfo=UTC).timestamp()
    assert fold.day_start(at) == datetime(2026, 3, 2, tzinfo=UTC).timestamp()


def test_the_travel_share_hops_by_day_over_thirty_days():
    day = 86400
    t0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    days = {("wch", "decided", int(t0)): 2, ("wch", "travelled", int(t0)): 1,
            ("wch", "decided", int(t0 + 29 * day)): 1, ("wch", "travelled", int(t0 + 29 * day)): 1}
    assert tables.travel_share(days, "wch", t0 + 29 * day + 3600) == (3, 2)
    assert tables.travel_share(days, "wch", t0 + 30 * day) == (1, 1)  # day 0 has left the window
    assert tables.travel_share(days, "cams", t0) == (0, 0)


# ---------------------------------------------------------------------------------------- batches
def stream(cases: int = 6, partitions: int = 3) -> list[batches.Message]:
    """Cases walked end to end, interleaved, each on its own partition (key = case id)."""
    messages: list[batches.Message] = []
    offsets = dict.fromkeys(range(partitions), 0)
    paths = []
    for i in range(cases):
        centre = fold.CENTRES[i % len(fold.CENTRES)]
        paths.append([*ready(), CaseRouted(centre_id=centre, reason_codes=["specialty"], attempt=1),
                      ReviewAccepted(centre_id=centre), SlaClockStarted(target_due=date(2026, 3, 11),
                                                                        limit_due=date(2026, 3, 16)),
                      SlaAtRisk(business_days_left=2, limit_due=date(2026, 3, 16)), delivered(centre),
                      booked(centre) if i % 2 else CaseClosed(reason="returned_home_refined_plan")])
    ids = [uuid4() for _ in paths]
    for step in range(max(len(p) for p in paths)):
        for i, path in enumerate(paths):
            if step < len(path):
                p = i % partitions
                at = T0 + timedelta(minutes=37 * step + i)
                messages.append(batches.Message(p, offsets[p], decoded(ids[i], path[step], at)))
                offsets[p] += 1
    return messages


def run(table: dict[str, Any], messages: list[batches.Message], batch: int,
        topic_id: str | None = "topic-a") -> list[list[tuple[str, Any]]]:
    """Applies the messages in batches, read from the topic `topic_id`; returns each batch's writes in
    the order sent."""
    sent: list[list[tuple[str, Any]]] = []
    for i in range(0, len(messages), batch):
        b = batches.Batch(table, topic_id)
        for m in messages[i:i + batch]:
            b.add(m)
        sent.append([(k, _json(v)) for k, v in b.dirty()])
        b.write()
    return sent


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def test_a_redelivered_stream_changes_nothing():
    messages = stream()
    table: dict[str, Any] = {}
    run(table, messages, 7)
    once = _json(table)
    run(table, messages, 5)
    assert _json(table) == once
    assert tables.views(table.items()).flow_totals[("sysucc", "routed")] == 2


def test_the_same_event_published_again_at_a_new_offset_counts_once():
    # A relay that resends an event after a broker crash gives it a new offset; its id is the same.
    messages = stream()
    table: dict[str, Any] = {}
    run(table, messages, 7)
    once = tables.views(table.items())
    end = max(m.offset for m in messages) + 1
    again = [batches.Message(m.partition, end + i, m.decoded) for i, m in enumerate(messages)]
    run(table, again, 5)
    after = tables.views(table.items())
    assert (after.flow_totals, after.sla_totals, after.hours, after.days) == (
        once.flow_totals, once.sla_totals, once.hours, once.days)


def renumbered(messages: list[batches.Message], first: int = 0) -> list[batches.Message]:
    """The messages as a topic numbers them from `first` on, partition by partition."""
    nxt: dict[int, int] = {}
    out = []
    for m in messages:
        nxt[m.partition] = nxt.get(m.partition, first) + 1
        out.append(batches.Message(m.partition, nxt[m.partition] - 1, m.decoded))
    return out


def windows_of(table: dict[str, Any]) -> tuple[Any, ...]:
    v = tables.views(table.items())
    return v.flow_totals, v.sla_totals, v.hours, v.days, v.waiting, v.awaiting_acceptance


@pytest.mark.parametrize("known", [True, False], ids=["topic id known", "topic id unknown"])
def test_a_topic_created_again_from_offset_0_counts_the_events_it_carries_once(known: bool):
    # An in-memory broker restarted empty: the relays publish every event again on a new topic that
    # numbers them from 0, below the offsets the old topic had reached; its new events land there too.
    messages = stream(cases=8)
    half = len(messages) // 2
    clean: dict[str, Any] = {}
    run(clean, messages, 5)
    table: dict[str, Any] = {}
    run(table, renumbered(messages[:half], first=1_000), 5, "topic-a")
    run(table, renumbered(messages), 5, "topic-b" if known else None)
    if known:
        assert windows_of(table) == windows_of(clean)
    else:  # without the new topic's id the guards hold as written: the new events wait for it
        assert windows_of(table) != windows_of(clean)
        run(table, renumbered(messages), 5, "topic-b")
        assert windows_of(table) == windows_of(clean)


def test_a_batch_read_from_another_topic_than_its_guards_is_marked_suspect():
    messages = renumbered(stream(cases=4), first=1_000)
    table: dict[str, Any] = {}
    run(table, messages, 50)
    again = batches.Batch(table, "topic-a")
    counted = []
    for m in renumbered(stream(cases=1)):  # a new case at offsets the old topic had passed
        counted += again.add(m)
    assert again.suspect > 0 and counted == []
    replayed = batches.Batch(table, "topic-a")
    for m in messages:  # the same events again on the same topic: their ids say so, nothing is suspect
        replayed.add(m)
    assert (replayed.suspect, replayed.duplicates) == (0, len(messages))


def test_recovery_keeps_a_keys_latest_write_even_when_its_offset_is_lower():
    from services.live.recovery import _order

    # A process that began with an empty table writes a key again; an old changelog brought back
    # holds the key as another process wrote it many times, at a higher offset of another topic.
    old_log = {"o": 900, "w": 30, "n": {}}
    b = batches.Batch({}, "topic-b")
    b.forget("0:h:wch:0")
    (_, fresh), = list(b.dirty())
    assert _order(fresh) > _order(old_log)
    assert _order({"o": 7}) > _order({"o": 6})  # written before the write order existed


@settings(max_examples=80, deadline=None)
@given(batch=st.integers(1, 20), commit=st.floats(0, 1), cut=st.floats(0, 1))
def test_a_crash_anywhere_then_a_replay_counts_every_event_once(batch: int, commit: float, cut: float):
    """A crash after the commit of some batch: the changelog holds every write up to that commit (a
    commit flushes the producer first) and, of each partition's later writes, a prefix (sent in
    order). The consumer resumes after the committed offsets. The replayed table equals an
    uninterrupted one: nothing counted twice, nothing lost."""
    messages = stream()
    clean: dict[str, Any] = {}
    batches = run(clean, messages, batch)
    k = int(len(batches) * commit)
    committed_messages = messages[:k * batch]
    persisted = [w for writes in batches[:k] for w in writes]
    later = [w for writes in batches[k:] for w in writes]
    for p in sorted({m.partition for m in messages}):
        own = [w for w in later if fold.key_partition(w[0]) == p]
        persisted += own[:int(len(own) * cut)]
    recovered: dict[str, Any] = dict(persisted)  # recovery replays the changelog in order
    committed = {p: max((m.offset for m in committed_messages if m.partition == p), default=-1)
                 for p in {m.partition for m in messages}}
    run(recovered, [m for m in messages if m.offset > committed[m.partition]], batch)
    assert _unstamped(recovered) == _unstamped(clean)


def _unstamped(table: dict[str, Any]) -> Any:
    """The table without its values' write times (`w`, when each was written)."""
    return {k: {f: x for f, x in v.items() if f != "w"} for k, v in _json(table).items()}


# ---------------------------------------------------------------------------------------- views
def test_views_give_the_oldest_wait_per_party_and_the_centres_awaiting_acceptance():
    table: dict[str, Any] = {}
    b = batches.Batch(table)
    ids = [uuid4(), uuid4(), uuid4()]
    events = [(0, opened()), *[(1, e) for e in ready()],
              (1, CaseRouted(centre_id="wch", reason_codes=["specialty"], attempt=1)),
              *[(2, e) for e in ready()], (2, CaseRouted(centre_id="wch", reason_codes=["specialty"], attempt=1)),
              (2, ReviewAccepted(centre_id="wch"))]
    for offset, (i, event) in enumerate(events):
        b.add(batches.Message(0, offset, decoded(ids[i], event, T0 + timedelta(hours=offset))))
    b.write()
    v = tables.views(table.items())
    assert v.waiting["patient"] == (1, T0.timestamp())
    assert v.waiting["centre"][0] == 2
    assert v.awaiting_acceptance["wch"] == (1, (T0 + timedelta(hours=5)).timestamp())
    assert v.last_acceptance["wch"] == (T0 + timedelta(hours=11)).timestamp()
    assert v.watermark == (T0 + timedelta(hours=11)).timestamp()


# ---------------------------------------------------------------------------------------- business hours
def shanghai(year: int, month: int, day: int, hour: int) -> float:
    return datetime(year, month, day, hour, tzinfo=tables.SHANGHAI).timestamp()


@pytest.mark.parametrize(("start", "end", "hours"), [
    (shanghai(2026, 3, 2, 9), shanghai(2026, 3, 2, 18), 9.0),          # a Monday
    (shanghai(2026, 3, 6, 17), shanghai(2026, 3, 9, 10), 2.0),         # Friday 17:00 to Monday 10:00
    (shanghai(2026, 3, 2, 20), shanghai(2026, 3, 3, 8), 0.0),          # overnight
    # National Day 2026: Oct 1-7 off, Saturday Oct 10 a make-up working day (调休).
    (shanghai(2026, 9, 30, 17), shanghai(2026, 10, 8, 10), 2.0),
    (shanghai(2026, 10, 10, 9), shanghai(2026, 10, 11, 18), 9.0),
])
def test_business_hours_count_office_hours_on_mainland_working_days(start: float, end: float, hours: float):
    assert tables.business_hours(start, end) == pytest.approx(hours)


def test_business_hours_refuse_a_year_the_calendar_does_not_know():
    with pytest.raises(tables.CalendarUnknown):
        tables.business_hours(shanghai(2099, 3, 2, 9), shanghai(2099, 3, 3, 9))


def test_the_windows_document_gives_iso_times_not_epoch_seconds():
    from services.live.windows import document

    hour = int(datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp())
    day = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())
    v = tables.Views(flow_totals={}, sla_totals={}, hours={("fuscc", "flow.routed", hour): 3},
                   days={("fuscc", "decided", day): 1}, waiting={"patient": (2, hour + 90.5), "centre": (0, None)},
                   awaiting_acceptance={}, last_acceptance={}, watermark=hour + 1800)
    assert document(v) == {
        "hours": [{"centre": "fuscc", "kind": "flow.routed", "hour": "2026-03-02T09:00:00+00:00", "count": 3}],
        "days": [{"centre": "fuscc", "kind": "decided", "day": "2026-03-02", "count": 1}],
        "waiting": {"patient": {"cases": 2, "oldest_since": "2026-03-02T09:01:30.500000+00:00"},
                    "centre": {"cases": 0, "oldest_since": None}},
        "watermark": "2026-03-02T09:30:00+00:00",
    }


def test_a_table_mixed_from_two_topics_is_reset_and_folded_again_to_what_a_clean_fold_gives():
    # An old log came back: recovery brought windows of an older changelog back beside cases that
    # hold every event's id, so folding the topic again over them would leave counts missing.
    messages = stream(cases=8)
    clean: dict[str, Any] = {}
    run(clean, messages, 5)
    older: dict[str, Any] = {}
    run(older, messages[: len(messages) // 2], 5, "topic-b")
    mixed: dict[str, Any] = {}
    run(mixed, messages, 5, "topic-b")
    mixed = {**{k: v for k, v in mixed.items() if fold.key_kind(k) == "c"},
             **{k: v for k, v in older.items() if fold.key_kind(k) != "c"}}
    refolded = copy.deepcopy(mixed)
    run(refolded, messages, 7, "topic-a")
    assert windows_of(refolded) != windows_of(clean)  # the ids of the cases say "applied"

    reset = batches.Batch(mixed, "topic-a")
    for key in [k for k, v in mixed.items() if v.get("ti") != "topic-a"]:
        reset.forget(key)
    reset.write()
    assert all(v["ti"] == "topic-a" and v["o"] == -1 for v in mixed.values())
    assert sum(tables.views(mixed.items()).flow_totals.values()) == 0
    run(mixed, messages, 7, "topic-a")
    assert windows_of(mixed) == windows_of(clean)
