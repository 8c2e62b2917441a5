import json
from pathlib import Path

import pytest

from events.codes import CentreId, QuestionTopic, TumourSite
from events.contract import CaseFinallyDeclined, CaseRouted, CaseRoutingBlocked
from services.common.data_file import DataFileError
from services.routing.centres import load_centres
from services.routing.domain import CaseFacts, after_decline, choose_centre

PARTNERS = load_centres()
C = CentreId


def facts(site: TumourSite = TumourSite.BREAST, **kw: object) -> CaseFacts:
    return CaseFacts(tumour_site=site, rare_tumour=bool(kw.pop("rare", False)),
                     preferred_centre=kw.pop("preferred", None), **kw)  # type: ignore[arg-type]


def routed(f: CaseFacts, load: dict[CentreId, int] | None = None) -> CaseRouted:
    decision = choose_centre(PARTNERS, f, load or {})
    assert isinstance(decision, CaseRouted), decision
    return decision


def test_the_partner_centres_are_the_five_centres_of_the_seed():
    assert {c.id for c in PARTNERS.centres} == set(CentreId)
    assert "proton_therapy" in PARTNERS.get(C.CAMS).capabilities
    assert TumourSite.GASTRIC in PARTNERS.get(C.PKUCH).specialties


def test_an_invalid_centres_file_is_refused_at_load(tmp_path: Path):
    data = json.loads(Path("services/routing/centres.json").read_text())
    data["centres"][0]["capacity"] = 0
    bad = tmp_path / "centres.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(DataFileError, match="capacity"):
        load_centres(bad)
    data["centres"][0]["capacity"] = 5
    data["centres"].append(data["centres"][0])
    bad.write_text(json.dumps(data))
    with pytest.raises(DataFileError, match="twice"):
        load_centres(bad)


def test_a_specialty_fit_picks_the_more_specialised_centre_when_loads_are_equal():
    decision = routed(facts(TumourSite.GASTRIC))
    assert decision.centre_id is C.PKUCH
    assert decision.reason_codes == ["specialty_fit", "least_loaded"]


def test_load_against_capacity_decides_between_fitting_centres():
    assert routed(facts(TumourSite.GASTRIC), {C.PKUCH: 15}).centre_id is C.FUSCC
    assert "least_loaded" in routed(facts(TumourSite.GASTRIC), {C.PKUCH: 15}).reason_codes


def test_a_fitting_preference_is_honoured():
    decision = routed(facts(TumourSite.BREAST, preferred=C.FUSCC), {C.FUSCC: 20})
    assert decision.centre_id is C.FUSCC
    assert "patient_preference" in decision.reason_codes


def test_a_preference_without_the_specialty_is_overridden_with_a_reason():
    decision = routed(facts(TumourSite.GASTRIC, preferred=C.WCH))
    assert decision.centre_id in (C.PKUCH, C.FUSCC, C.SYSUCC)
    assert "preference_not_fitting" in decision.reason_codes


def test_a_preference_for_a_full_centre_is_overridden_with_a_reason():
    decision = routed(facts(TumourSite.BREAST, preferred=C.PKUCH), {C.PKUCH: 20})
    assert decision.centre_id is not C.PKUCH
    assert "preference_over_capacity" in decision.reason_codes


def test_a_proton_therapy_question_goes_to_a_proton_centre():
    decision = routed(facts(TumourSite.LUNG, question_topics=frozenset({QuestionTopic.PROTON_THERAPY})))
    assert decision.centre_id is C.CAMS
    assert "proton_therapy_question" in decision.reason_codes


def test_a_rare_tumour_goes_to_a_centre_with_the_breadth_for_it():
    decision = routed(facts(TumourSite.SARCOMA, rare=True, preferred=C.FUSCC))
    assert decision.centre_id in (C.SYSUCC, C.CAMS)
    assert "rare_tumour_breadth" in decision.reason_codes
    breast_rare = routed(facts(TumourSite.BREAST, rare=True))
    assert breast_rare.centre_id is C.SYSUCC


def test_only_centres_named_in_the_transfer_consent_are_candidates():
    assert routed(facts(consented_centres=frozenset({C.PKUCH}))).centre_id is C.PKUCH
    blocked = choose_centre(PARTNERS, facts(consented_centres=frozenset({C.WCH})), {})
    assert isinstance(blocked, CaseRoutingBlocked)
    assert blocked.reason_codes == ["no_specialty_fit"]


def test_a_decline_reroutes_to_the_next_fitting_centre_then_the_coordinator_queue():
    first = routed(facts(TumourSite.GASTRIC))
    after_one = after_decline(PARTNERS, facts(TumourSite.GASTRIC, declined=(first.centre_id,)), {}, False)
    assert isinstance(after_one, CaseRouted)
    assert after_one.centre_id not in (first.centre_id,) and after_one.attempt == 2
    assert "rerouted_after_decline" in after_one.reason_codes
    after_two = after_decline(PARTNERS, facts(TumourSite.GASTRIC, declined=(first.centre_id, after_one.centre_id)),
                              {}, False)
    assert isinstance(after_two, CaseRoutingBlocked) and after_two.reason_codes == ["declined_twice"]
    final = after_decline(PARTNERS, facts(TumourSite.GASTRIC, declined=(C.PKUCH, C.FUSCC, C.SYSUCC)), {}, True)
    assert isinstance(final, CaseFinallyDeclined) and final.declines == 3


@pytest.mark.parametrize("site", [TumourSite.BREAST, TumourSite.GASTRIC, TumourSite.COLORECTAL, TumourSite.PANCREAS,
                                  TumourSite.CERVIX, TumourSite.NEUROENDOCRINE, TumourSite.LYMPHOMA])
def test_a_proton_question_outside_the_proton_centres_specialties_still_goes_to_the_proton_centre(site):
    decision = routed(facts(site, question_topics=frozenset({QuestionTopic.PROTON_THERAPY})))
    assert decision.centre_id is C.CAMS
    assert decision.reason_codes[:2] == ["proton_therapy_question", "capability_over_specialty"]


def test_an_integrative_oncology_question_needs_an_integrative_programme():
    lung = routed(facts(TumourSite.LUNG, question_topics=frozenset({QuestionTopic.INTEGRATIVE_ONCOLOGY})))
    assert lung.centre_id in (C.CAMS, C.WCH) and "specialty_fit" in lung.reason_codes
    breast = routed(facts(TumourSite.BREAST, preferred=C.PKUCH,
                          question_topics=frozenset({QuestionTopic.INTEGRATIVE_ONCOLOGY})))
    assert breast.centre_id in (C.CAMS, C.WCH)
    assert {"integrative_oncology_question", "capability_over_specialty", "preference_not_fitting"} <= set(
        breast.reason_codes)


def test_a_clinical_trial_question_goes_to_an_early_phase_programme_with_the_specialty_when_there_is_one():
    gastric = routed(facts(TumourSite.GASTRIC, question_topics=frozenset({QuestionTopic.CLINICAL_TRIAL})))
    assert gastric.centre_id in (C.SYSUCC, C.FUSCC)
    assert gastric.reason_codes[:2] == ["early_phase_trial_question", "specialty_fit"]


def test_a_capability_no_consented_centre_has_blocks_with_its_own_reason():
    blocked = choose_centre(PARTNERS, facts(TumourSite.LUNG, consented_centres=frozenset({C.WCH, C.FUSCC}),
                                            question_topics=frozenset({QuestionTopic.PROTON_THERAPY})), {})
    assert isinstance(blocked, CaseRoutingBlocked) and blocked.reason_codes == ["no_proton_centre_available"]


def test_when_every_fitting_centre_is_full_the_least_loaded_one_takes_the_case_over_capacity():
    load = {C.PKUCH: 25, C.FUSCC: 30, C.SYSUCC: 60}  # 125%, 100%, 150% of capacity
    decision = routed(facts(TumourSite.GASTRIC), load)
    assert decision.centre_id is C.FUSCC
    assert decision.reason_codes[-1] == "all_fitting_centres_at_capacity"
    assert "all_fitting_centres_at_capacity" not in routed(facts(TumourSite.GASTRIC), {C.FUSCC: 29}).reason_codes
