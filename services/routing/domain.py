"""Routing's choice of centre. Pure: a function of the case's coded facts, the registry and load.

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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from events.codes import CentreId, QuestionTopic, TumourSite
from events.contract import CaseFinallyDeclined, CaseRouted, CaseRoutingBlocked, Event
from services.routing.registry import Capability, Centre, CentreRegistry

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


def choose_centre(registry: CentreRegistry, facts: CaseFacts, load: Mapping[CentreId, int],
                  attempt: int = 1) -> CaseRouted | CaseRoutingBlocked:
    candidates = [c for c in registry.centres if c.id in facts.consented_centres and c.id not in facts.declined]
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
        reasons.append("rerouted_after_decline")

    preferred = next((c for c in candidates if c.id is facts.preferred_centre), None)
    if preferred is not None and load.get(preferred.id, 0) < preferred.capacity:
        return CaseRouted(centre_id=preferred.id, reason_codes=[*reasons, "patient_preference"], attempt=attempt)
    if facts.preferred_centre is not None:
        reasons.append("preference_over_capacity" if preferred else "preference_not_fitting")

    def pressure(c: Centre) -> tuple[float, int, int]:
        # Least loaded relative to capacity; then the more specialised centre; then registry order.
        return (load.get(c.id, 0) / c.capacity, len(c.specialties), registry.centres.index(c))

    chosen = min(candidates, key=pressure)
    if len(candidates) > 1:
        reasons.append("least_loaded")
    if load.get(chosen.id, 0) >= chosen.capacity:
        reasons.append("all_fitting_centres_at_capacity")
    return CaseRouted(centre_id=chosen.id, reason_codes=reasons, attempt=attempt)


def after_decline(registry: CentreRegistry, facts: CaseFacts, load: Mapping[CentreId, int],
                  coordinator_assigned: bool) -> Event:
    """The next step once a centre declined: the next centre, the coordinator queue, or the end."""
    declines = len(facts.declined)
    if coordinator_assigned:
        # The coordinator's own pick declined too: that is the final decline.
        return CaseFinallyDeclined(declines=declines)
    if declines >= DECLINES_BEFORE_QUEUE:
        return _blocked("declined_twice")
    return choose_centre(registry, facts, load, attempt=declines + 1)
