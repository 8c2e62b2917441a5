from events.codes import CentreId, TumourSite
from services.routing.domain import CaseFacts, choose_centre


def test_a_specialty_fit_picks_the_specialised_centre():
    routed = choose_centre(CaseFacts(TumourSite.BREAST, rare_tumour=False, preferred_centre=None))
    assert routed.centre_id is CentreId.FUSCC
    assert routed.reason_codes == ["specialty_fit"]


def test_a_fitting_preference_is_honoured():
    routed = choose_centre(CaseFacts(TumourSite.BREAST, rare_tumour=False, preferred_centre=CentreId.PKUCH))
    assert routed.centre_id is CentreId.PKUCH
    assert "patient_preference" in routed.reason_codes


def test_a_preference_without_the_specialty_is_overridden_with_a_reason():
    routed = choose_centre(CaseFacts(TumourSite.GASTRIC, rare_tumour=False, preferred_centre=CentreId.WCH))
    assert routed.centre_id is CentreId.FUSCC
    assert "preference_not_fitting" in routed.reason_codes


def test_a_rare_tumour_goes_to_the_centre_with_the_breadth_for_it():
    routed = choose_centre(CaseFacts(TumourSite.SARCOMA, rare_tumour=True, preferred_centre=CentreId.FUSCC))
    assert routed.centre_id is CentreId.SYSUCC
    assert routed.reason_codes == ["rare_tumour_breadth"]
