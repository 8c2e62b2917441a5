"""Routing's choice of centre. Pure: a function of the case's coded facts."""

from __future__ import annotations

from dataclasses import dataclass

from events.codes import CentreId, TumourSite
from events.contract import CaseRouted

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


def choose_centre(facts: CaseFacts, attempt: int = 1) -> CaseRouted:
    fitting = [c for c in ORDER if facts.tumour_site in SPECIALTIES[c]]
    if facts.rare_tumour:
        return CaseRouted(centre_id=CentreId.SYSUCC, reason_codes=["rare_tumour_breadth"], attempt=attempt)
    if facts.preferred_centre is not None:
        if facts.preferred_centre in fitting:
            return CaseRouted(centre_id=facts.preferred_centre,
                              reason_codes=["specialty_fit", "patient_preference"], attempt=attempt)
        return CaseRouted(centre_id=fitting[0],
                          reason_codes=["specialty_fit", "preference_not_fitting"], attempt=attempt)
    return CaseRouted(centre_id=fitting[0], reason_codes=["specialty_fit"], attempt=attempt)
