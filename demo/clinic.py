"""The clinical content of a planned case: who the patient is, what the centre finds and says."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from demo.population import (
    COUNTRIES,
    DIAGNOSIS_RATE,
    DIAGNOSIS_SCALE,
    HISTOLOGIES,
    NAMES,
    PHONE_PREFIX,
    PREFERRED,
    PROTON_SITES,
    QUESTIONS,
    SITE_TEXT,
    SITES,
    STAGES,
    TRAVEL_REASONS,
    TREATMENT_COST,
    TREATMENT_OF,
    TREATMENT_RATE,
    TREATMENT_SCALE,
    _pick,
)
from demo.shape import (
    SHARE_GLASS_SLIDES,
    SHARE_PREFERRED_CENTRE,
    SHARE_PROTON_QUESTION,
    SHARE_VIDEO,
    Booking,
    Patient,
    Profile,
    ReviewPlan,
)
from events.codes import (
    CentreId,
    Histology,
    OutcomeChange,
    Pathway,
    QuestionTopic,
    ReferralReason,
    StageGroup,
    TreatmentType,
    TumourSite,
    is_rare,
)


def _neighbour(stage: StageGroup, rng: random.Random) -> str:
    order = [StageGroup.STAGE_0, StageGroup.STAGE_I, StageGroup.STAGE_II, StageGroup.STAGE_III, StageGroup.STAGE_IV]
    if stage not in order:
        return rng.choice((StageGroup.STAGE_II, StageGroup.STAGE_III)).value
    i = order.index(stage)
    options = [order[j] for j in (i - 1, i + 1) if 0 <= j < len(order)]
    return rng.choice(options).value


class Clinic:
    """Draws a case's clinical content from the planner's one random stream (order matters for a seed)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    # -------------------------------------------------------------- who
    def profile(self) -> Profile:
        rng = self.rng
        proton = rng.random() < SHARE_PROTON_QUESTION
        site = _pick(rng, {s: w for s, w in SITES.items() if s in PROTON_SITES} if proton else SITES)
        histology = _pick(rng, HISTOLOGIES[site])
        rare = is_rare(site, histology)
        stage = _pick(rng, STAGES)
        late = stage in (StageGroup.STAGE_III, StageGroup.STAGE_IV)
        reasons: list[ReferralReason] = []
        if rare and rng.random() < 0.9:
            reasons.append(ReferralReason.RARE_TUMOUR)
        if stage in (StageGroup.STAGE_II, StageGroup.STAGE_III) and rng.random() < 0.35:
            reasons.append(ReferralReason.STAGE_BORDERLINE)
        if late and rng.random() < 0.25:
            reasons.append(ReferralReason.TREATMENT_INTENT_DISPUTE)
        genomic_site = site in (TumourSite.LUNG, TumourSite.BREAST, TumourSite.COLORECTAL, TumourSite.GASTRIC)
        if rng.random() < (0.30 if genomic_site and late else 0.08):
            reasons.append(ReferralReason.GENOMIC_GUIDED)
        if proton or (stage == StageGroup.STAGE_IV and rng.random() < 0.15):
            reasons.append(ReferralReason.EXPENSIVE_TREATMENT)
        if not reasons:
            reasons.append(_pick(rng, {ReferralReason.STAGE_BORDERLINE: 4, ReferralReason.TREATMENT_INTENT_DISPUTE: 3,
                                       ReferralReason.OTHER: 3}))
        topics: list[QuestionTopic] = [QuestionTopic.PROTON_THERAPY] if proton else []
        for _ in range(1 if proton else rng.choice((1, 1, 2))):
            topic = _pick(rng, {QuestionTopic.SYSTEMIC_THERAPY_CHOICE: 25, QuestionTopic.SURGERY_VS_RADIATION: 20,
                                QuestionTopic.STAGING: 15, QuestionTopic.DIAGNOSIS: 12,
                                QuestionTopic.CLINICAL_TRIAL: 12, QuestionTopic.INTEGRATIVE_ONCOLOGY: 6,
                                QuestionTopic.OTHER: 10})
            if topic not in topics:
                topics.append(topic)
        country, _, languages = rng.choices(COUNTRIES, weights=[c[1] for c in COUNTRIES])[0]
        preferred = _pick(rng, PREFERRED) if rng.random() < SHARE_PREFERRED_CENTRE else None
        centres = list(CentreId)
        if rng.random() < 0.15:  # a patient who consents to a few named centres only (three or more)
            keep = {CentreId.SYSUCC, *rng.sample([c for c in centres if c is not CentreId.SYSUCC], 2)}
            keep.update(c for c in centres if rng.random() < 0.3)
            if proton:
                keep.add(CentreId.CAMS)
            if preferred:
                keep.add(preferred)
            centres = [c for c in centres if c in keep]
        glass = rng.random() < (0.30 if rare else SHARE_GLASS_SLIDES * 0.85)
        return Profile(
            tumour_site=site, histology=histology, rare_tumour=rare, stage_group=stage,
            referral_reasons=tuple(reasons), country=country, language=_pick(rng, languages),
            preferred_centre=preferred, wants_video=rng.random() < SHARE_VIDEO, question_topics=tuple(topics),
            imaging_studies=_pick(rng, {1: 45, 2: 30, 3: 15, 4: 10}), glass_slides=glass,
            genomic_report=ReferralReason.GENOMIC_GUIDED in reasons or rng.random() < 0.2,
            consented_centres=tuple(centres))

    def patient(self, profile: Profile, opened: date, number: int) -> Patient:
        rng = self.rng
        given, family = NAMES.get(profile.language, NAMES["en"])
        first, last = rng.choice(given), rng.choice(family)
        age = max(18, min(88, int(rng.gauss(57, 12))))
        born = opened - timedelta(days=age * 365 + rng.randrange(365))
        ascii_name = "".join(ch for ch in f"{first}.{last}".lower().replace(" ", "") if ch.isascii() and
                             (ch.isalnum() or ch == "."))
        email = f"{ascii_name}{number}@example.org" if rng.random() < 0.9 else None
        phone = (f"{PHONE_PREFIX.get(profile.country, '+1')} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
                 f" {rng.randrange(100, 999)}" if rng.random() < 0.7 else None)
        passport = ("".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2)) + str(rng.randrange(10**6, 10**7))
                    if rng.random() < 0.6 else None)
        return Patient(f"{first} {last}", born, email, phone, passport)

    def question(self, profile: Profile) -> str:
        topic = profile.question_topics[0] if profile.question_topics else QuestionTopic.OTHER
        site = SITE_TEXT.get(profile.tumour_site, profile.tumour_site.value)
        return QUESTIONS[topic].format(site=site, stage=profile.stage_group.value, lines=self.rng.choice((1, 2, 3)))

    # -------------------------------------------------------------- the review's coded outcome
    def review(self, profile: Profile, business_days: int, information_request: bool) -> ReviewPlan:
        rng = self.rng
        reasons = profile.referral_reasons
        p_diag = DIAGNOSIS_SCALE * sum(DIAGNOSIS_RATE[r] for r in reasons) / len(reasons)
        p_treat = TREATMENT_SCALE * sum(TREATMENT_RATE[r] for r in reasons) / len(reasons)
        diagnosis = OutcomeChange.CONCORDANT
        if rng.random() < p_diag:
            diagnosis = OutcomeChange.REFINED if rng.random() < 0.7 else OutcomeChange.MAJOR_CHANGE
        # A changed diagnosis usually changes the treatment too.
        if diagnosis is not OutcomeChange.CONCORDANT:
            p_treat = min(0.95, p_treat + 0.25)
        treatment = OutcomeChange.CONCORDANT
        if rng.random() < p_treat:
            treatment = OutcomeChange.REFINED if rng.random() < 0.65 else OutcomeChange.MAJOR_CHANGE
        standard = self.standard_pathway(profile)
        pathway = standard
        if treatment is not OutcomeChange.CONCORDANT:
            pathway = self.alternative_pathway(profile, standard)
        elif QuestionTopic.PROTON_THERAPY in profile.question_topics and standard is Pathway.RADIOTHERAPY:
            pathway = Pathway.PROTON_THERAPY  # the home plan was already proton-eligible radiotherapy
        return ReviewPlan(business_days, information_request, pathway, diagnosis, treatment)

    def standard_pathway(self, profile: Profile) -> Pathway:
        site, stage = profile.tumour_site, profile.stage_group
        rng = self.rng
        if stage is StageGroup.STAGE_IV:
            if ReferralReason.GENOMIC_GUIDED in profile.referral_reasons:
                return Pathway.TARGETED_THERAPY
            return Pathway.IMMUNOTHERAPY if rng.random() < 0.25 else Pathway.SYSTEMIC_THERAPY
        if stage is StageGroup.STAGE_0:
            return Pathway.SURVEILLANCE if rng.random() < 0.4 else Pathway.SURGERY
        if site is TumourSite.LYMPHOMA:
            return Pathway.SYSTEMIC_THERAPY
        late = stage is StageGroup.STAGE_III
        if site in (TumourSite.NASOPHARYNX, TumourSite.CERVIX):
            return Pathway.CHEMORADIATION if late else Pathway.RADIOTHERAPY
        if site in (TumourSite.LUNG, TumourSite.OESOPHAGUS, TumourSite.HEAD_NECK):
            return Pathway.CHEMORADIATION if late else Pathway.SURGERY
        if site is TumourSite.PROSTATE:
            return Pathway.RADIOTHERAPY if rng.random() < 0.6 else Pathway.SURGERY
        if site is TumourSite.BREAST and late:
            return Pathway.SYSTEMIC_THERAPY
        if site in (TumourSite.LIVER, TumourSite.PANCREAS) and late:
            return Pathway.SYSTEMIC_THERAPY
        return Pathway.SURGERY

    def alternative_pathway(self, profile: Profile, standard: Pathway) -> Pathway:
        rng = self.rng
        if QuestionTopic.PROTON_THERAPY in profile.question_topics and rng.random() < 0.7:
            return Pathway.PROTON_THERAPY
        if ReferralReason.GENOMIC_GUIDED in profile.referral_reasons and standard is not Pathway.TARGETED_THERAPY \
                and rng.random() < 0.6:
            return Pathway.TARGETED_THERAPY
        if QuestionTopic.CLINICAL_TRIAL in profile.question_topics and rng.random() < 0.6:
            return Pathway.CLINICAL_TRIAL
        options = {Pathway.SURGERY: 18, Pathway.CHEMORADIATION: 14, Pathway.RADIOTHERAPY: 10,
                   Pathway.SYSTEMIC_THERAPY: 14, Pathway.IMMUNOTHERAPY: 10, Pathway.TARGETED_THERAPY: 6,
                   Pathway.CLINICAL_TRIAL: 12, Pathway.SURVEILLANCE: 8, Pathway.PALLIATIVE_CARE: 4}
        if profile.tumour_site in PROTON_SITES:
            options[Pathway.PROTON_THERAPY] = 4
        if profile.stage_group is StageGroup.STAGE_IV:
            options.pop(Pathway.SURGERY)
            options.pop(Pathway.SURVEILLANCE)
        options.pop(standard, None)
        return _pick(rng, options)

    # -------------------------------------------------------------- one case

    def booking(self, pathway: Pathway) -> Booking:
        rng = self.rng
        treatment = TREATMENT_OF[pathway]
        low, high = TREATMENT_COST[treatment]
        return Booking(treatment_type=treatment, travel_reason=_pick(rng, TRAVEL_REASONS[pathway]),
                       estimated_cost_cents=rng.randrange(low, high) * 100,
                       centre=CentreId.CAMS if treatment is TreatmentType.PROTON_THERAPY else None)

    def delivery_body(self, profile: Profile, review: ReviewPlan) -> dict[str, Any]:
        rng = self.rng
        pathology: dict[str, Any] = {"verdict": "agree"}
        imaging: dict[str, Any] = {"verdict": "stage_confirmed"}
        rationale: list[str] = []
        if review.diagnosis_change is OutcomeChange.REFINED:
            if rng.random() < 0.5:
                pathology = {"verdict": "revised_grade", "revised_grade": rng.choice(("G1", "G2", "G3"))}
                rationale.append("grade_revised")
            else:
                imaging = {"verdict": "stage_revised", "revised_stage_group": _neighbour(profile.stage_group, rng)}
                rationale.append("stage_revised")
        elif review.diagnosis_change is OutcomeChange.MAJOR_CHANGE:
            others = [h for h in HISTOLOGIES[profile.tumour_site] if h is not profile.histology] or [Histology.OTHER]
            pathology = {"verdict": "revised_histology", "revised_histology": rng.choice(others).value}
            rationale.append("histology_revised")
            if rng.random() < 0.4:
                imaging = {"verdict": "stage_revised", "revised_stage_group": _neighbour(profile.stage_group, rng)}
        rationale.append({
            Pathway.PROTON_THERAPY: "proton_dosimetric_advantage", Pathway.TARGETED_THERAPY: "actionable_alteration",
            Pathway.CLINICAL_TRIAL: "trial_eligible", Pathway.SURVEILLANCE: "de_escalation",
            Pathway.PALLIATIVE_CARE: "palliative_intent", Pathway.IMMUNOTHERAPY: "biomarker_supports_immunotherapy",
        }.get(review.pathway, "guideline_concordant" if review.treatment_change is OutcomeChange.CONCORDANT
              else "multidisciplinary_consensus"))
        if ReferralReason.RARE_TUMOUR in profile.referral_reasons:
            rationale.append("rare_tumour_expertise")
        trials = []
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2)) + (review.pathway is Pathway.CLINICAL_TRIAL)):
            china_only = rng.random() < 0.45
            trial_id = (f"CTR{rng.randrange(2021_0000, 2026_9999)}" if china_only and rng.random() < 0.5
                        else f"ChiCTR{rng.randrange(2_100_000_000, 2_699_999_999)}" if china_only
                        else f"NCT0{rng.randrange(10**7):07d}")
            trials.append({"trial_id": trial_id, "phase": rng.choice(("I", "I/II", "II", "II", "III")),
                           "china_only": china_only})
        pages = _pick(rng, {5: 15, 6: 35, 7: 30, 8: 12, 9: 4, 10: 3, 12: 1})
        body: dict[str, Any] = {
            "pathology": pathology, "imaging": imaging, "recommended_pathway": review.pathway.value,
            "rationale_codes": rationale, "trial_options": trials,
            "question_answer": _pick(rng, {"answered": 75, "answered_with_caveats": 20, "needs_further_tests": 5}),
            "diagnosis_change": review.diagnosis_change.value, "treatment_change": review.treatment_change.value,
            "report_ref": str(UUID(int=rng.getrandbits(128), version=4)), "page_count": pages,
        }
        if pages > 8:
            body["page_count_reason"] = rng.choice(("complex_multifocal_disease", "several_questions_answered"))
        return body
