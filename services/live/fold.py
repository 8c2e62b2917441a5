"""The live views' rules, pure: one case's state folded from its events, and what each event adds to
the windows operations watch. No faust, Kafka or Prometheus here (services/live/app.py wires them).

Whose move it is ("waiting on") follows services/intake/worklist.sql, block `page`, first match:
an ended case is nobody's; missing records, consents or requested information are the patient's;
a failed payment is billing's; an open follow-up is the centre's; a delivered review is the
patient's (their decision on treatment); a case no centre holds is the coordinator's; a case at a
centre is the centre's.

Where this fold differs from the SQL (which joins intake's own rows):
- the case's status comes from the events as intake's domain computes it (`Case.status`), whereas
  intake's row switches to `review_delivered` only from `ready_for_review`: a review delivered while
  a consent was withdrawn reads `review_delivered` here, `collecting_records` in the worklist until
  intake next refreshes the row;
- "since" (how long the case has waited on its party) is the event time of the event that handed
  the move to that party; the worklist has no such column.

A case's state is a plain dict (JSON in the changelog): see `new_case`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from events.codes import ConsentKind
from events.contract import (
    CaseCancelled,
    CaseClosed,
    CaseDeclined,
    CaseExpired,
    CaseFinallyDeclined,
    CaseOpened,
    CaseRouted,
    CaseWithdrawn,
    ConsentGiven,
    ConsentWithdrawn,
    FollowUpAnswered,
    FollowUpAsked,
    InformationReceived,
    InformationRequested,
    PatientDataErased,
    PaymentAuthorised,
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

Party = Literal["patient", "centre", "coordinator", "billing", "nobody"]
PARTIES: tuple[Party, ...] = ("patient", "centre", "coordinator", "billing")
# What the windows count, per centre: the flow of cases, and the SLA clock's states.
FLOW_KINDS = ("routed", "accepted", "declined", "delivered")
SLA_STATES = ("started", "at_risk", "breached")
CENTRES = ("sysucc", "cams", "fuscc", "pkuch", "wch")
# An SLA event of a case whose centre is not known (its acceptance never reached the stream).
UNKNOWN_CENTRE = "unknown"
HOUR = 3600
DAY = 86400
TRAVEL_WINDOW_DAYS = 30

_ENDINGS = {TreatmentBooked: "treatment_booked", CaseClosed: "closed", CaseCancelled: "cancelled",
            CaseWithdrawn: "withdrawn", CaseExpired: "expired"}
_ALL_CONSENTS = frozenset(k.value for k in ConsentKind)

Case = dict[str, Any]


def new_case() -> Case:
    """A case no event has touched yet. Keys are short: every change of it is a changelog message."""
    return {
        "o": -1,          # the source offset of the last event applied (the replay guard)
        "t": None,        # event time of the last event applied (epoch s)
        "done": False,    # records complete
        "cons": [],       # consents in force
        "end": None,      # the ending: treatment_booked, closed, cancelled, withdrawn, expired, erased
        "et": None,       # when it ended (epoch s)
        "dlv": False,     # review delivered
        "dc": None,       # the centre that delivered
        "c": None,        # the centre holding the case now
        "att": 0,         # routing attempt of that assignment
        "acc": False,     # that centre accepted it
        "rt": None,       # when it was routed to that centre (epoch s)
        "at": None,       # when a centre last accepted it (epoch s), and which: "ac"
        "ac": None,
        "info": False,    # the centre waits on information from the patient
        "payf": False,    # a payment failed and nothing succeeded since
        "fu": [],         # open follow-up questions
        "dec": None,      # travel decision: "travelled" or "home"
        "wo": "coordinator",
        "since": None,    # when the move passed to `wo` (epoch s)
        "ids": [],        # the events applied to it: the same event again at a new offset is skipped
    }


def status(case: Mapping[str, Any]) -> str:
    """The case's status as intake's domain computes it (services/intake/domain.py: Case.status)."""
    if case["end"] is not None:
        return str(case["end"])
    if case["dlv"]:
        return "review_delivered"
    if case["done"] and set(case["cons"]) == _ALL_CONSENTS:
        return "ready_for_review"
    return "collecting_records"


def waiting_on(case: Mapping[str, Any]) -> Party:
    """Whose move it is, by the worklist's rules (services/intake/worklist.sql, block `page`)."""
    st = status(case)
    if case["end"] is not None:
        return "nobody"
    if st == "collecting_records" or case["info"]:
        return "patient"
    if case["payf"]:
        return "billing"
    if case["fu"]:
        return "centre"
    if st == "review_delivered":
        return "patient"
    if case["c"] is None:
        return "coordinator"
    return "centre"


@dataclass(frozen=True)
class Count:
    """One thing an event adds to a window: `what` of `centre` at event time `at` (epoch s)."""

    family: Literal["flow", "sla", "travel"]
    what: str  # a FLOW_KIND, an SLA_STATE, or "decided" / "travelled"
    centre: str
    at: float


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def apply(case: Case, decoded: Decoded) -> list[Count]:
    """Folds one event into its case (in place) and returns what it adds to the windows.

    The counts are decided on the state before the event (an SLA event counts at the centre holding
    the case when it happened; only a delivered case's first decision counts).
    """
    e, at = decoded.event, epoch(decoded.envelope.occurred_at)
    counts: list[Count] = []
    match e:
        case CaseOpened():
            pass
        case ConsentGiven():
            case["cons"] = sorted({*case["cons"], e.consent.value})
        case ConsentWithdrawn():
            case["cons"] = [c for c in case["cons"] if c != e.consent.value]
        case RecordsCompleted():
            case["done"] = True
        case CaseRouted():
            # A later attempt (after a decline) replaces an earlier one, as intake's assignments do.
            if e.attempt > case["att"]:
                case.update(c=e.centre_id.value, att=e.attempt, acc=False, rt=at)
            counts.append(Count("flow", "routed", e.centre_id.value, at))
        case ReviewAccepted():
            case.update(acc=True, at=at, ac=e.centre_id.value)
            counts.append(Count("flow", "accepted", e.centre_id.value, at))
        case CaseDeclined():
            if case["c"] == e.centre_id.value:
                case.update(c=None, acc=False, rt=None)
            counts.append(Count("flow", "declined", e.centre_id.value, at))
        case CaseFinallyDeclined():
            case.update(c=None, acc=False, rt=None)
            counts += _decision(case, "home", at)
        case InformationRequested():
            case["info"] = True
        case InformationReceived():
            case["info"] = False
        case PaymentFailed():
            case["payf"] = True
        case PaymentAuthorised() | PaymentCaptured():
            case["payf"] = False
        case FollowUpAsked():
            case["fu"] = sorted({*case["fu"], str(e.follow_up_id)})
        case FollowUpAnswered():
            case["fu"] = [f for f in case["fu"] if f != str(e.follow_up_id)]
        case SlaClockStarted():
            counts.append(Count("sla", "started", _sla_centre(case), at))
        case SlaAtRisk():
            counts.append(Count("sla", "at_risk", _sla_centre(case), at))
        case SlaBreached():
            counts.append(Count("sla", "breached", _sla_centre(case), at))
        case ReviewDelivered():
            case.update(dlv=True, dc=e.centre_id.value)
            counts.append(Count("flow", "delivered", e.centre_id.value, at))
            counts += _ended_before_delivery_arrived(case, at)
        case TreatmentBooked():
            counts += _decision(case, "travelled", at)
            case["end"] = _ENDINGS[TreatmentBooked]
        case CaseClosed() | CaseCancelled() | CaseWithdrawn() | CaseExpired():
            counts += _decision(case, "home", at)
            if case["end"] is None:
                case["end"], case["et"] = _ENDINGS[type(e)], at
        case PatientDataErased():
            case["end"] = case["end"] or "erased"
        case _:
            return counts
    case["t"] = at
    party = waiting_on(case)
    if party != case["wo"] or case["since"] is None:
        case["wo"], case["since"] = party, at
    return counts


def _ended_before_delivery_arrived(case: Case, delivered_at: float) -> list[Count]:
    """A delivery that reached us after the case's ending (review's relay was behind intake's):
    the ending is the patient's decision all the same, as analytics counts it, at the later of
    the two moments."""
    if case["end"] in (None, "erased", "treatment_booked") or case["dec"] is not None:
        return []
    case["dec"] = "home"
    at = max(delivered_at, case.get("et") or delivered_at)
    return [Count("travel", "decided", str(case["dc"] or UNKNOWN_CENTRE), at)]


def _sla_centre(case: Mapping[str, Any]) -> str:
    return str(case["ac"] or case["c"] or UNKNOWN_CENTRE)


def _decision(case: Case, outcome: Literal["travelled", "home"], at: float) -> list[Count]:
    """A delivered case's first decision (analytics.travel_outcomes: a booking travelled; a closure,
    or any ending after delivery, returned home). Undecided cases are never in the denominator."""
    if not case["dlv"] or case["dec"] is not None or case["end"] is not None:
        return []
    case["dec"] = outcome
    centre = str(case["dc"] or UNKNOWN_CENTRE)
    counts = [Count("travel", "decided", centre, at)]
    if outcome == "travelled":
        counts.append(Count("travel", "travelled", centre, at))
    return counts


# ---------------------------------------------------------------------------------------- windows
def hour_start(at: float) -> int:
    """The tumbling hour (UTC) an event time falls in, as its start (epoch s)."""
    return int(at // HOUR) * HOUR


def day_start(at: float) -> int:
    return int(at // DAY) * DAY


def window_key(partition: int, count: Count) -> str:
    """The table key a count goes to. Every key names its source partition: a key is then only ever
    written while processing that partition, so its changelog messages are in that partition's order
    and its value can carry that partition's last applied offset (the replay guard)."""
    if count.family == "travel":
        return f"{partition}:d:{count.centre}:{day_start(count.at)}"
    return f"{partition}:h:{count.centre}:{hour_start(count.at)}"


def case_key(partition: int, case_id: object) -> str:
    return f"{partition}:c:{case_id}"


def key_partition(key: str) -> int:
    return int(key.split(":", 1)[0])


def add_count(window: dict[str, Any], count: Count) -> None:
    counts = window.setdefault("n", {})
    name = count.what if count.family == "travel" else f"{count.family}.{count.what}"
    counts[name] = counts.get(name, 0) + 1


# ---------------------------------------------------------------------------------------- batches
@dataclass(frozen=True)
class Message:
    """A decoded message with where it came from."""

    partition: int
    offset: int
    decoded: Decoded


class Batch:
    """Applies messages to a table (any mutable mapping of key -> JSON value), guarded by offsets.

    Every value records the last source offset applied to it; a message whose offset is not newer
    than a value's is not applied to that value again. Redelivered messages (faust is at-least-once:
    after a crash, everything after the last committed offset comes again) so change nothing, even
    when the crash fell between the writes of one batch.

    `dirty()` gives the keys to write, windows before cases: the writes of one source partition go
    to one changelog partition, in order, so a case whose new value was persisted implies that the
    windows its events counted in were persisted too (a replay then finds it has nothing to redo).
    """

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self._windows: dict[str, dict[str, Any]] = {}
        self._cases: dict[str, dict[str, Any]] = {}
        self.applied = 0
        self.duplicates = 0

    def add(self, message: Message) -> list[Count]:
        key = case_key(message.partition, message.decoded.envelope.case_id)
        # Always a copy (lists inside are replaced, never mutated): an event the fold fails on
        # leaves the batch as it was.
        source = self._cases.get(key)
        if source is None:
            source = self.table.get(key)
        case = dict(source) if source is not None else new_case()
        event_id = str(message.decoded.envelope.event_id)
        # The offset guard covers a redelivery; the event id covers the same event published
        # again at a new offset (a relay that resent it after a broker crash), which the other
        # consumers drop by its id too.
        if message.offset <= case["o"] or event_id in case.get("ids", ()):
            self.duplicates += 1
            return []
        before = dict(case)
        counts = apply(case, message.decoded)
        applied: list[Count] = []
        by_key: dict[str, list[Count]] = {}
        for count in counts:
            by_key.setdefault(window_key(message.partition, count), []).append(count)
        for wkey, own in by_key.items():
            window = self._windows.get(wkey)
            if window is None:
                stored = self.table.get(wkey)
                window = _copy_window(stored) if stored is not None else {"o": -1, "n": {}}
            # One message may add several counts to one window (a booking: decided and travelled).
            if message.offset > window["o"]:
                for count in own:
                    add_count(window, count)
                window["o"] = message.offset
                self._windows[wkey] = window
                applied += own
        if case != before or applied:
            case["o"] = message.offset
            case["ids"] = [*case.get("ids", ()), event_id]
            self._cases[key] = case
        self.applied += 1
        return applied

    def dirty(self) -> Iterator[tuple[str, dict[str, Any]]]:
        yield from self._windows.items()
        yield from self._cases.items()

    def write(self) -> int:
        n = 0
        for key, value in self.dirty():
            self.table[key] = value
            n += 1
        return n


def _copy_window(value: Mapping[str, Any]) -> dict[str, Any]:
    return {"o": value["o"], "n": dict(value["n"])}


# ---------------------------------------------------------------------------------------- views
@dataclass(frozen=True)
class Views:
    """What the table holds, summed over partitions, as the exporter reports it."""

    flow_totals: dict[tuple[str, str], int]          # (centre, kind) -> count, every window
    sla_totals: dict[tuple[str, str], int]           # (centre, state) -> count
    hours: dict[tuple[str, str, int], int]           # (centre, "flow.kind"/"sla.state", hour start) -> count
    days: dict[tuple[str, str, int], int]            # (centre, decided/travelled, day start) -> count
    waiting: dict[str, tuple[int, float | None]]     # party -> (cases, oldest since)
    awaiting_acceptance: dict[str, tuple[int, float | None]]  # centre -> (cases, oldest routed at)
    last_acceptance: dict[str, float]                # centre -> event time of its last acceptance
    watermark: float | None                          # the newest event time the table holds


def views(items: Iterable[tuple[str, Any]]) -> Views:
    flow: dict[tuple[str, str], int] = {}
    sla: dict[tuple[str, str], int] = {}
    hours: dict[tuple[str, str, int], int] = {}
    days: dict[tuple[str, str, int], int] = {}
    waiting: dict[str, tuple[int, float | None]] = {p: (0, None) for p in PARTIES}
    awaiting: dict[str, tuple[int, float | None]] = {c: (0, None) for c in CENTRES}
    accepted: dict[str, float] = {}
    watermark: float | None = None
    for key, value in items:
        _, kind, rest = key.split(":", 2)
        if kind == "c":
            if value["t"] is not None:
                watermark = value["t"] if watermark is None else max(watermark, value["t"])
            if value["ac"] is not None and value["at"] is not None:
                accepted[value["ac"]] = max(accepted.get(value["ac"], value["at"]), value["at"])
            party = value["wo"]
            if party in waiting and value["since"] is not None:
                n, oldest = waiting[party]
                waiting[party] = (n + 1, value["since"] if oldest is None else min(oldest, value["since"]))
            centre = value["c"]
            if centre is not None and not value["acc"] and value["end"] is None and value["rt"] is not None:
                n, oldest = awaiting.get(centre, (0, None))
                awaiting[centre] = (n + 1, value["rt"] if oldest is None else min(oldest, value["rt"]))
            continue
        centre, start_text = rest.rsplit(":", 1)
        start = int(start_text)
        for name, n in value["n"].items():
            if kind == "d":
                days[(centre, name, start)] = days.get((centre, name, start), 0) + n
                continue
            hours[(centre, name, start)] = hours.get((centre, name, start), 0) + n
            family, what = name.split(".", 1)
            totals = flow if family == "flow" else sla
            totals[(centre, what)] = totals.get((centre, what), 0) + n
    return Views(flow, sla, hours, days, waiting, awaiting, accepted, watermark)


def travel_share(days: Mapping[tuple[str, str, int], int], centre: str, now: float,
                 window_days: int = TRAVEL_WINDOW_DAYS) -> tuple[int, int]:
    """(decided, travelled) of `centre` in the hopping window of `window_days` days that ends with the
    day of `now`: daily panes summed, so the window hops one day at a time."""
    last = day_start(now)
    first = last - (window_days - 1) * DAY
    decided = sum(n for (c, name, start), n in days.items() if c == centre and name == "decided"
                  and first <= start <= last)
    travelled = sum(n for (c, name, start), n in days.items() if c == centre and name == "travelled"
                    and first <= start <= last)
    return decided, travelled


# ---------------------------------------------------------------------------------------- business hours
SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE_OPENS, OFFICE_CLOSES = time(9, 0), time(18, 0)


class CalendarUnknown(Exception):
    """The mainland calendar does not know a year the count needs: no guess is made."""


def is_workday(day: date) -> bool:
    import chinese_calendar  # the official schedule, make-up working days (调休) included

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        raise CalendarUnknown(str(day.year)) from None


def business_hours(start: float, end: float) -> float:
    """Office hours (09:00-18:00 Asia/Shanghai, on mainland working days) between two event times.

    Raises CalendarUnknown when a day in between falls in a year the calendar does not know.
    """
    if end <= start:
        return 0.0
    a = datetime.fromtimestamp(start, UTC).astimezone(SHANGHAI)
    b = datetime.fromtimestamp(end, UTC).astimezone(SHANGHAI)
    total = 0.0
    day = a.date()
    while day <= b.date():
        if is_workday(day):
            opens = datetime.combine(day, OFFICE_OPENS, SHANGHAI)
            closes = datetime.combine(day, OFFICE_CLOSES, SHANGHAI)
            lo, hi = max(opens, a), min(closes, b)
            if hi > lo:
                total += (hi - lo).total_seconds() / 3600
        day += timedelta(days=1)
    return total
