"""Routing's choice of centre. Pure: a function of the case's coded facts."""

from __future__ import annotations

from dataclasses import dataclass, field

from events.codes import CentreId, TumourSite
from events.contract import CaseRouted, CaseRoutingBlocked

# Specialties from the seed; SYSUCC, a cancer-only centre, has the breadth for anything.
SPECIALTIES: dict[CentreId, frozenset[TumourSite]] = {
    CentreId.SYSUCC: frozenset(TumourSite),
    CentreId.CAMS: frozenset({TumourSite.LUNG, TumourSite.OESOPHAGUS, TumourSite.HEAD_NECK,
                              TumourSite.PROSTATE, TumourSite.BRAIN, TumourSite.LIVER}),
    CentreId.FUSCC: frozenset({TumourSite.BREAST, TumourSite.GASTRIC, TumourSite.COLORECTAL,
                               TumourSite.PANCREAS, TumourSite.LUNG}),
    CentreId.PKUCH: frozenset({TumourSite.BREAST, TumourSite.GASTRIC}),
    CentreId.WCH: frozenset({TumourSite.LUNG}),
}
# When several centres fit, the more specialised one is preferred; SYSUCC is the fallback.
ORDER: tuple[CentreId, ...] = (CentreId.FUSCC, CentreId.PKUCH, CentreId.WCH, CentreId.CAMS, CentreId.SYSUCC)


@dataclass(frozen=True)
class CaseFacts:
    tumour_site: TumourSite
    rare_tumour: bool
    preferred_centre: CentreId | None
    consented_centres: frozenset[CentreId] = field(default_factory=lambda: frozenset(CentreId))
    ready: bool = True


def choose_centre(facts: CaseFacts, attempt: int = 1) -> CaseRouted | CaseRoutingBlocked:
    # Only centres the patient consented to send data to (PIPL) are candidates at all.
    fitting = [c for c in ORDER if facts.tumour_site in SPECIALTIES[c] and c in facts.consented_centres]
    if facts.rare_tumour:
        if CentreId.SYSUCC in fitting:
            return CaseRouted(centre_id=CentreId.SYSUCC, reason_codes=["rare_tumour_breadth"], attempt=attempt)
        return CaseRoutingBlocked(reason_codes=["rare_tumour_centre_not_consented"])
    if not fitting:
        return CaseRoutingBlocked(reason_codes=["no_consented_centre_fits"])
    if facts.preferred_centre is not None:
        if facts.preferred_centre in fitting:
            return CaseRouted(centre_id=facts.preferred_centre,
                              reason_codes=["specialty_fit", "patient_preference"], attempt=attempt)
        return CaseRouted(centre_id=fitting[0],
                          reason_codes=["specialty_fit", "preference_not_fitting"], attempt=attempt)
    return CaseRouted(centre_id=fitting[0], reason_codes=["specialty_fit"], attempt=attempt)
