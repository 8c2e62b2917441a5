"""Routing's choice of centre. Pure: a function of the case's coded facts, the partner centres and load.

Order of the rules:
1. Only centres the patient consented to (PIPL) and that have not declined.
2. A capability the question asks for is required: a proton-therapy question needs a proton
   centre, an integrative-oncology question an integrative programme, a clinical-trial question
   an early-phase trial programme. A rare tumour needs the breadth for it (SYSUCC, CAMS).
   No such centre left: the case waits for a coordinator (CaseRoutingBlocked).
3. Among those, the tumour site must be a specialty. When a capability was asked for and no
   capable centre has the specialty, the capability wins: the case goes to a capable centre with
   `capability_over_specialty`, since only such a centre can answer the question asked.
4. A fitting patient preference is honoured unless that centre is full.
5. Otherwise the least loaded fitting centre (load against capacity) wins.
6. Over capacity: when every fitting centre is full, the case still goes to the least loaded of
   them (`all_fitting_centres_at_capacity`) and routing counts it for an alert. The centre is
   the authority on its own capacity: it may decline `at_capacity`, which re-routes. Queueing
   instead would stop the case for a coordinator who has no better centre to offer.

Every routing carries an acceptance deadline (`accept_by`, business days of the centres'
calendar). A centre that has not accepted by its end loses the case (`due_withdrawal`), as does
one whose case the coordinator re-routes (`reassign`); either way routing only withdraws the
offer, review records the centre's decline unless its acceptance came first, and that decline
re-routes (`after_decline`) like any other. docs/routing.md says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from events.codes import CentreId, DeclineReason, QuestionTopic, TumourSite
from events.contract import AssignmentWithdrawn, CaseFinallyDeclined, CaseRouted, CaseRoutingBlocked, Event
from services.common.calendar import BusinessCalendar, CalendarUnknown, centre_date, end_of_centre_day
from services.common.errors import Rejected, not_dated_before
from services.routing.centres import Capability, Centre, PartnerCentres

# What each question topic needs of a centre, with the reason codes for "found" and "none left".
QUESTION_CAPABILITIES: tuple[tuple[QuestionTopic, Capability, str, str], ...] = (
    (QuestionTopic.PROTON_THERAPY, "proton_therapy", "proton_therapy_question", "no_proton_centre_available"),
    (QuestionTopic.INTEGRATIVE_ONCOLOGY, "integrative_oncology", "integrative_oncology_question",
     "no_integrative_oncology_centre_available"),
    (QuestionTopic.CLINICAL_TRIAL, "early_phase_trials", "early_phase_trial_question",
     "no_early_phase_trial_centre_available"),
)

# Declines after which the case goes to the coordinator queue instead of the next centre.
DECLINES_BEFORE_QUEUE = 2


@dataclass(frozen=True)
class CaseFacts:
    tumour_site: TumourSite
    rare_tumour: bool
    preferred_centre: CentreId | None
    question_topics: frozenset[QuestionTopic] = frozenset()
    consented_centres: frozenset[CentreId] = field(default_factory=lambda: frozenset(CentreId))
    declined: tuple[CentreId, ...] = ()
    ready: bool = True


def _blocked(*codes: str) -> CaseRoutingBlocked:
    return CaseRoutingBlocked(reason_codes=list(codes))


def choose_centre(partners: PartnerCentres, facts: CaseFacts, load: Mapping[CentreId, int],
                  attempt: int = 1, rerouted: str = "rerouted_after_decline") -> CaseRouted | CaseRoutingBlocked:
    candidates = [c for c in partners.centres if c.id in facts.consented_centres and c.id not in facts.declined]
    if not candidates:
        return _blocked("no_consented_centre_left")
    reasons: list[str] = []
    asked_capability = False
    for topic, capability, found, none_left in QUESTION_CAPABILITIES:
        if topic in facts.question_topics:
            candidates = [c for c in candidates if capability in c.capabilities]
            if not candidates:
                return _blocked(none_left)
            reasons.append(found)
            asked_capability = True
    if facts.rare_tumour:
        candidates = [c for c in candidates if "rare_tumour_breadth" in c.capabilities]
        if not candidates:
            return _blocked("no_rare_tumour_centre_available")
        reasons.append("rare_tumour_breadth")
    fitting = [c for c in candidates if facts.tumour_site in c.specialties]
    if fitting:
        candidates = fitting
        reasons.append("specialty_fit")
    elif asked_capability:
        reasons.append("capability_over_specialty")
    else:
        return _blocked("no_specialty_fit")
    if attempt > 1:
        reasons.append(rerouted)

    preferred = next((c for c in candidates if c.id is facts.preferred_centre), None)
    if preferred is not None and load.get(preferred.id, 0) < preferred.capacity:
        return CaseRouted(centre_id=preferred.id, reason_codes=[*reasons, "patient_preference"], attempt=attempt)
    if facts.preferred_centre is not None:
        reasons.append("preference_over_capacity" if preferred else "preference_not_fitting")

    def pressure(c: Centre) -> tuple[float, int, int]:
        # Least loaded relative to capacity; then the more specialised centre; then the file's order.
        return (load.get(c.id, 0) / c.capacity, len(c.specialties), partners.centres.index(c))

    chosen = min(candidates, key=pressure)
    if len(candidates) > 1:
        reasons.append("least_loaded")
    if load.get(chosen.id, 0) >= chosen.capacity:
        reasons.append("all_fitting_centres_at_capacity")
    return CaseRouted(centre_id=chosen.id, reason_codes=reasons, attempt=attempt)


def after_decline(partners: PartnerCentres, facts: CaseFacts, load: Mapping[CentreId, int],
                  coordinator_assigned: bool, reason: DeclineReason = DeclineReason.OTHER,
                  reassign_to: CentreId | None = None, attempt: int | None = None) -> Event:
    """The next step once a centre declined: the next centre, the coordinator queue, or the end.

    `reassign_to`: the coordinator's pick a re-routing was waiting for, which the case goes to
    whatever the decline's reason (the centre may have declined on its own meanwhile). `reason` is
    the decline's: `no_answer` at the coordinator's own pick returns the case to the queue, since
    only a centre's answer, not its silence, ends a case. `attempt` numbers the next routing
    (default: one per decline so far)."""
    declines = len(facts.declined)
    attempt = attempt if attempt is not None else declines + 1
    if reassign_to is not None:
        if reassign_to in facts.consented_centres and reassign_to not in facts.declined:
            return CaseRouted(centre_id=reassign_to, reason_codes=["coordinator_assignment"], attempt=attempt)
        return _blocked("reassignment_target_unavailable")  # its consent was withdrawn meanwhile
    if coordinator_assigned:
        # The coordinator's own pick declined too: that is the final decline.
        return _blocked("no_answer") if reason is DeclineReason.NO_ANSWER else CaseFinallyDeclined(declines=declines)
    if declines >= DECLINES_BEFORE_QUEUE:
        return _blocked("declined_twice")
    rerouted = "rerouted_after_no_answer" if reason is DeclineReason.NO_ANSWER else "rerouted_after_decline"
    return choose_centre(partners, facts, load, attempt=attempt, rerouted=rerouted)


# ------------------------------------------------------------------ the acceptance deadline

@dataclass(frozen=True)
class Assignment:
    """Where the case stands at its centre, as routing knows it."""

    centre: CentreId | None  # the centre holding the case (None: nobody)
    attempt: int
    accept_by: date | None  # its last day to accept (None: none known)
    accepted: bool  # that centre's acceptance reached routing
    withdrawing: bool  # routing withdrew the case and awaits review's answer


def acceptance_deadline(calendar: BusinessCalendar, routed_at: datetime, business_days: int) -> date | None:
    """The last day a centre has to accept: the `business_days`-th business day after the routing
    date (as the SLA clock counts: the routing date itself never counts); the case is withdrawn when
    that day ends. None when the calendar does not know the year: no deadline is guessed."""
    try:
        return calendar.add_business_days(centre_date(routed_at), business_days)
    except CalendarUnknown:
        return None


def with_deadline(decision: Event, accept_by: date | None) -> Event:
    """A routing decision with its acceptance deadline; any other decision as it is."""
    return decision.model_copy(update={"accept_by": accept_by}) if isinstance(decision, CaseRouted) else decision


def due_withdrawal(assignment: Assignment, now: datetime) -> tuple[AssignmentWithdrawn, datetime] | None:
    """The withdrawal due by `now` (event time), dated at the end of the deadline day; None if none."""
    a = assignment
    if a.centre is None or a.accepted or a.withdrawing or a.accept_by is None:
        return None
    moment = end_of_centre_day(a.accept_by)
    if moment > now:
        return None
    return AssignmentWithdrawn(centre_id=a.centre, attempt=a.attempt, reason="no_answer"), moment


@dataclass
class Decisions:
    """Routing's stream of a case: its decisions, and when the latest was made (event time)."""

    events: list[Event] = field(default_factory=list)
    last_at: datetime | None = None

    def apply(self, event: Event, at: datetime) -> None:
        self.events.append(event)
        self.last_at = at if self.last_at is None else max(self.last_at, at)


def coordinators(decisions: Decisions, decision: Event, at: datetime) -> list[Event]:
    """A coordinator's decision (an assignment from the queue, a re-route, a final decline) answers
    routing's latest decision on the case (the block that queued it, the routing it re-routes): it
    is not dated before it."""
    not_dated_before(at, decisions.last_at, "routing's latest decision on the case")
    return [decision]


def check_coordinator_pick(facts: CaseFacts, centre: CentreId) -> None:
    if centre not in facts.consented_centres:
        raise Rejected("the patient did not consent to transfer to this centre", "centre_not_consented")
    if centre in facts.declined:
        raise Rejected("this centre already declined the case", "centre_declined")


def reassign(assignment: Assignment, facts: CaseFacts, centre: CentreId) -> AssignmentWithdrawn:
    """The coordinator re-routes a case its centre has not accepted: the offer is withdrawn first."""
    a = assignment
    assert a.centre is not None
    if a.accepted:
        raise Rejected("the centre accepted the case: it is no longer re-routed", "already_accepted")
    if a.withdrawing:
        raise Rejected("the case is already being withdrawn from its centre", "withdrawal_pending")
    if centre is a.centre:
        raise Rejected("the case is already at this centre", "same_centre")
    check_coordinator_pick(facts, centre)
    return AssignmentWithdrawn(centre_id=a.centre, attempt=a.attempt, reason="reassigned_by_coordinator",
                               reassign_to=centre)
