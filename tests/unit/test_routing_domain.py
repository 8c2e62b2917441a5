from events.codes import CentreId, TumourSite
from events.contract import CaseRouted, CaseRoutingBlocked
from services.routing.domain import CaseFacts, choose_centre


def routed(facts: CaseFacts) -> CaseRouted:
    decision = choose_centre(facts)
    assert isinstance(decision, CaseRouted), decision
    return decision


def test_a_specialty_fit_picks_the_specialised_centre():
    decision = routed(CaseFacts(TumourSite.BREAST, rare_tumour=False, preferred_centre=None))
    assert decision.centre_id is CentreId.FUSCC
    assert decision.reason_codes == ["specialty_fit"]


def test_a_fitting_preference_is_honoured():
    decision = routed(CaseFacts(TumourSite.BREAST, rare_tumour=False, preferred_centre=CentreId.PKUCH))
    assert decision.centre_id is CentreId.PKUCH
    assert "patient_preference" in decision.reason_codes


def test_a_preference_without_the_specialty_is_overridden_with_a_reason():
    decision = routed(CaseFacts(TumourSite.GASTRIC, rare_tumour=False, preferred_centre=CentreId.WCH))
    assert decision.centre_id is CentreId.FUSCC
    assert "preference_not_fitting" in decision.reason_codes


def test_a_rare_tumour_goes_to_the_centre_with_the_breadth_for_it():
    decision = routed(CaseFacts(TumourSite.SARCOMA, rare_tumour=True, preferred_centre=CentreId.FUSCC))
    assert decision.centre_id is CentreId.SYSUCC
    assert decision.reason_codes == ["rare_tumour_breadth"]


def test_only_centres_named_in_the_transfer_consent_are_candidates():
    facts = CaseFacts(TumourSite.BREAST, rare_tumour=False, preferred_centre=None,
                      consented_centres=frozenset({CentreId.PKUCH}))
    assert routed(facts).centre_id is CentreId.PKUCH
    blocked = choose_centre(CaseFacts(TumourSite.BREAST, rare_tumour=False, preferred_centre=None,
                                      consented_centres=frozenset({CentreId.WCH})))
    assert isinstance(blocked, CaseRoutingBlocked)
    assert blocked.reason_codes == ["no_consented_centre_fits"]
