"""The live views' rules, pure: one case's state folded from its events, and what each event adds to
the windows operations watch. No faust, Kafka or Prometheus here (services/live/app.py wires them).

A case's status, whose move it is and since when are events.lifecycle's, the module the worklist
and analytics fold with too: the life rides in the case's value, and what the views read of it
(the party, since when, the centre holding the case) is written beside it after every event, so a
view never folds. What is the live views' own is what an event adds to a window: counts decided
on the case as it stood before the event (an SLA event counts at the centre that accepted the case;
only a delivered case's first decision counts for travel).

A case's state is a plain dict (JSON in the changelog): see `new_case`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from events import lifecycle
from events.contract import (
    CaseDeclined,
    CaseRouted,
    ReviewAccepted,
    ReviewDelivered,
    SlaAtRisk,
    SlaBreached,
    SlaClockStarted,
)
from events.lifecycle import PARTIES as ALL_PARTIES
from events.lifecycle import Life, Party, Status
from events.registry import Decoded

# The parties a case can wait on (an ended case waits on nobody, and no view shows that).
PARTIES: tuple[Party, ...] = tuple(p for p in ALL_PARTIES if p != "nobody")
# What the windows count, per centre: the flow of cases, and the SLA clock's states.
FLOW_KINDS = ("routed", "accepted", "declined", "delivered")
SLA_STATES = ("started", "at_risk", "breached")
CENTRES = lifecycle.CENTRES
# An SLA event of a case whose centre is not known (its acceptance never reached the stream).
UNKNOWN_CENTRE = "unknown"
HOUR = 3600
DAY = 86400
TRAVEL_WINDOW_DAYS = 30

Case = dict[str, Any]


def new_case() -> Case:
    """A case no event has touched yet. Keys are short: every change of it is a changelog message."""
    return {
        "o": -1,          # the source offset of the last event applied (the replay guard)
        "ids": [],        # the events applied to it: the same event again at a new offset is skipped
        "L": {},          # its life (events.lifecycle), as JSON
        "t": None,        # event time of the newest event applied (epoch s)
        "at": None,       # when a centre last accepted it (epoch s), and which: "ac"
        "ac": None,
        "dc": None,       # the centre that delivered
        "dec": None,      # travel decision counted: "travelled" or "home"
        # What the views read, the life's answers after the last event:
        "wo": "coordinator",  # whose move it is
        "since": None,    # since when (epoch s)
        "c": None,        # the centre holding it
        "acc": False,     # that centre accepted it
        "rt": None,       # when it was routed there (epoch s)
        "end": None,      # its ending status, if it ended
    }


def life_of(case: Case) -> Life:
    return lifecycle.load(case.get("L"))


def status(case: Case) -> str:
    """The case's status, as every read model has it (events.lifecycle)."""
    return life_of(case).status.value


@dataclass(frozen=True)
class Count:
    """One thing an event adds to a window: `what` of `centre` at event time `at` (epoch s)."""

    family: Literal["flow", "sla", "travel"]
    what: str  # a FLOW_KIND, an SLA_STATE, or "decided" / "travelled"
    centre: str
    at: float


def epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def apply(case: Case, decoded: Decoded, life: Life | None = None) -> list[Count]:
    """Folds one event into its case (in place) and returns what it adds to the windows. `life`: the
    case's life already parsed, which a batch keeps between events and writes into the case once
    (`store_life`); without it the case's own is parsed and written back at once."""
    kept = life is not None
    life = life if life is not None else life_of(case)
    counts = _counts(case, life, decoded)
    if not lifecycle.apply(life, decoded):
        return counts
    e, at = decoded.event, decoded.envelope.occurred_at.timestamp()
    if isinstance(e, ReviewAccepted):
        case.update(at=at, ac=e.centre_id.value)
    if isinstance(e, ReviewDelivered):
        case["dc"] = e.centre_id.value
    counts += _decision(case, life)
    _answers(case, life)
    if not kept:
        store_life(case, life)
    return counts


def store_life(case: Case, life: Life) -> None:
    case["L"] = lifecycle.dump(life)


def _answers(case: Case, life: Life) -> None:
    party, since = life.waiting
    case.update(t=epoch(life.updated_at), wo=party, since=epoch(since), c=life.centre,
                acc=life.clock.accepted, rt=epoch(life.routed_at) if life.centre else None,
                end=life.status.value if life.ended else None)


def _counts(case: Case, life: Life, decoded: Decoded) -> list[Count]:
    """The flow and SLA counts of an event, decided on the case before it."""
    e, at = decoded.event, decoded.envelope.occurred_at.timestamp()
    match e:
        case CaseRouted():
            return [Count("flow", "routed", e.centre_id.value, at)]
        case ReviewAccepted():
            return [Count("flow", "accepted", e.centre_id.value, at)]
        case CaseDeclined():
            return [Count("flow", "declined", e.centre_id.value, at)]
        case ReviewDelivered():
            return [Count("flow", "delivered", e.centre_id.value, at)]
        case SlaClockStarted() | SlaAtRisk() | SlaBreached():
            state = {SlaClockStarted: "started", SlaAtRisk: "at_risk", SlaBreached: "breached"}[type(e)]
            return [Count("sla", state, str(case["ac"] or life.centre or UNKNOWN_CENTRE), at)]
    return []


def _decision(case: Case, life: Life) -> list[Count]:
    """A delivered case's first decision (analytics.travel_outcomes: a booking travelled; a closure,
    or any ending after delivery, returned home), once both the delivery and the ending are known,
    whichever arrived first, at the later of the two moments. Undecided cases are never counted."""
    if case["dec"] is not None or life.delivered_at is None or (ending := life.ending) is None:
        return []
    if ending[0] == "PatientDataErased":
        return []
    travelled = life.status is Status.TREATMENT_BOOKED
    case["dec"] = "travelled" if travelled else "home"
    centre = str(case["dc"] or UNKNOWN_CENTRE)
    moment = max(ending[1].timestamp(), life.delivered_at.timestamp())
    counts = [Count("travel", "decided", centre, moment)]
    if travelled:
        counts.append(Count("travel", "travelled", centre, moment))
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


def key_kind(key: str) -> str:
    """"c" for a case, "h" for an hour's window, "d" for a day's."""
    return key.split(":", 2)[1]


def add_count(window: dict[str, Any], count: Count) -> None:
    counts = window.setdefault("n", {})
    name = count.what if count.family == "travel" else f"{count.family}.{count.what}"
    counts[name] = counts.get(name, 0) + 1


