"""Coded vocabularies shared by every event. Events carry codes, never free text."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class TumourSite(StrEnum):
    BREAST = "breast"
    LUNG = "lung"
    GASTRIC = "gastric"
    COLORECTAL = "colorectal"
    LIVER = "liver"
    PANCREAS = "pancreas"
    OESOPHAGUS = "oesophagus"
    NASOPHARYNX = "nasopharynx"
    HEAD_NECK = "head_neck"
    PROSTATE = "prostate"
    CERVIX = "cervix"
    SARCOMA = "sarcoma"
    NEUROENDOCRINE = "neuroendocrine"
    BRAIN = "brain"
    LYMPHOMA = "lymphoma"
    OTHER = "other"


class Histology(StrEnum):
    ADENOCARCINOMA = "adenocarcinoma"
    SQUAMOUS_CELL_CARCINOMA = "squamous_cell_carcinoma"
    SMALL_CELL_CARCINOMA = "small_cell_carcinoma"
    DUCTAL_CARCINOMA = "ductal_carcinoma"
    LOBULAR_CARCINOMA = "lobular_carcinoma"
    HEPATOCELLULAR_CARCINOMA = "hepatocellular_carcinoma"
    UROTHELIAL_CARCINOMA = "urothelial_carcinoma"
    GLIOMA = "glioma"
    LYMPHOMA = "lymphoma"
    # Rare histologies: the seed's "rare tumours" (sarcoma, NET, rare head-and-neck histology).
    SOFT_TISSUE_SARCOMA = "soft_tissue_sarcoma"
    BONE_SARCOMA = "bone_sarcoma"
    GIST = "gist"
    NEUROENDOCRINE_TUMOUR = "neuroendocrine_tumour"
    ADENOID_CYSTIC_CARCINOMA = "adenoid_cystic_carcinoma"
    MUCOEPIDERMOID_CARCINOMA = "mucoepidermoid_carcinoma"
    OLFACTORY_NEUROBLASTOMA = "olfactory_neuroblastoma"
    MUCOSAL_MELANOMA = "mucosal_melanoma"
    OTHER = "other"


RARE_HISTOLOGIES: frozenset[Histology] = frozenset({
    Histology.SOFT_TISSUE_SARCOMA, Histology.BONE_SARCOMA, Histology.GIST, Histology.NEUROENDOCRINE_TUMOUR,
    Histology.ADENOID_CYSTIC_CARCINOMA, Histology.MUCOEPIDERMOID_CARCINOMA, Histology.OLFACTORY_NEUROBLASTOMA,
    Histology.MUCOSAL_MELANOMA,
})


def is_rare(site: TumourSite, histology: Histology, referral_reasons: Iterable[ReferralReason] = ()) -> bool:
    """A rare tumour by its codes, or because the coordinator referred it as one."""
    return (histology in RARE_HISTOLOGIES or site in (TumourSite.SARCOMA, TumourSite.NEUROENDOCRINE)
            or ReferralReason.RARE_TUMOUR in referral_reasons)


class StageGroup(StrEnum):
    STAGE_0 = "0"
    STAGE_I = "I"
    STAGE_II = "II"
    STAGE_III = "III"
    STAGE_IV = "IV"
    UNKNOWN = "unknown"


class ReferralReason(StrEnum):
    RARE_TUMOUR = "rare_tumour"
    STAGE_BORDERLINE = "stage_borderline"
    TREATMENT_INTENT_DISPUTE = "treatment_intent_dispute"
    GENOMIC_GUIDED = "genomic_guided"
    EXPENSIVE_TREATMENT = "expensive_treatment"
    OTHER = "other"


class CentreId(StrEnum):
    SYSUCC = "sysucc"
    CAMS = "cams"
    FUSCC = "fuscc"
    PKUCH = "pkuch"
    WCH = "wch"


# How people name each centre, as the registry does (services/routing/centres.json; a test holds
# the two to the same names): what the worklist shows beside the code.
CENTRE_NAMES: dict[CentreId, str] = {
    CentreId.SYSUCC: "Sun Yat-sen University Cancer Centre",
    CentreId.CAMS: "CAMS Cancer Hospital (National Cancer Centre)",
    CentreId.FUSCC: "Fudan University Shanghai Cancer Centre",
    CentreId.PKUCH: "Peking University Cancer Hospital",
    CentreId.WCH: "West China Hospital",
}


class RecordKind(StrEnum):
    PATHOLOGY_REPORT = "pathology_report"
    PATHOLOGY_SLIDES = "pathology_slides"
    IMAGING = "imaging"
    GENOMIC_REPORT = "genomic_report"
    TREATMENT_HISTORY = "treatment_history"
    ONCOLOGIST_LETTER = "oncologist_letter"


class QuestionTopic(StrEnum):
    """What the patient's question is about, coded by the coordinator (the text stays at intake)."""

    PROTON_THERAPY = "proton_therapy"
    SURGERY_VS_RADIATION = "surgery_vs_radiation"
    SYSTEMIC_THERAPY_CHOICE = "systemic_therapy_choice"
    CLINICAL_TRIAL = "clinical_trial"
    STAGING = "staging"
    DIAGNOSIS = "diagnosis"
    INTEGRATIVE_ONCOLOGY = "integrative_oncology"
    OTHER = "other"


class DeclineReason(StrEnum):
    OUTSIDE_EXPERTISE = "outside_expertise"
    AT_CAPACITY = "at_capacity"
    RECORDS_INSUFFICIENT = "records_insufficient"
    CONFLICT_OF_INTEREST = "conflict_of_interest"
    OTHER = "other"
    # Not a centre's own answer: routing withdrew the case (AssignmentWithdrawn) and review
    # records the centre's decline for it, so every reader treats it as any decline.
    NO_ANSWER = "no_answer"  # the acceptance deadline passed without an answer
    REASSIGNED_BY_COORDINATOR = "reassigned_by_coordinator"  # the coordinator re-routed it first


# The decline reasons only the system records, never a centre (review's API refuses them).
SYSTEM_DECLINE_REASONS = frozenset({DeclineReason.NO_ANSWER, DeclineReason.REASSIGNED_BY_COORDINATOR})


class InformationTopic(StrEnum):
    ADDITIONAL_IMAGING = "additional_imaging"
    PATHOLOGY_BLOCKS = "pathology_blocks"
    RECUT_SLIDES = "recut_slides"
    GENOMIC_RESULTS = "genomic_results"
    TREATMENT_DETAILS = "treatment_details"
    LABORATORY_RESULTS = "laboratory_results"
    OTHER = "other"


class ConsentKind(StrEnum):
    # PIPL: processing sensitive (health) data and transferring it abroad are separate consents.
    HEALTH_DATA_PROCESSING = "health_data_processing"
    TRANSFER_ABROAD = "transfer_abroad"


class ClosureReason(StrEnum):
    RETURNED_HOME_REFINED_PLAN = "returned_home_refined_plan"


class CancellationReason(StrEnum):
    PATIENT_REQUEST = "patient_request"
    FINANCIAL = "financial"
    TREATED_ELSEWHERE = "treated_elsewhere"
    CLINICAL_DETERIORATION = "clinical_deterioration"
    PATIENT_DECEASED = "patient_deceased"
    OTHER = "other"


class WithdrawalReason(StrEnum):
    CONSENT_WITHDRAWN = "consent_withdrawn"
    PATIENT_REQUEST = "patient_request"
    CHANGED_PROVIDER = "changed_provider"
    OTHER = "other"


class OutcomeChange(StrEnum):
    CONCORDANT = "concordant"
    REFINED = "refined"
    MAJOR_CHANGE = "major_change"


class Pathway(StrEnum):
    SURGERY = "surgery"
    RADIOTHERAPY = "radiotherapy"
    PROTON_THERAPY = "proton_therapy"
    CHEMORADIATION = "chemoradiation"
    SYSTEMIC_THERAPY = "systemic_therapy"
    TARGETED_THERAPY = "targeted_therapy"
    IMMUNOTHERAPY = "immunotherapy"
    CLINICAL_TRIAL = "clinical_trial"
    SURVEILLANCE = "surveillance"
    PALLIATIVE_CARE = "palliative_care"


class TreatmentType(StrEnum):
    PROTON_THERAPY = "proton_therapy"
    SURGERY = "surgery"
    CHEMORADIATION = "chemoradiation"
    SYSTEMIC_THERAPY = "systemic_therapy"
    TRIAL_ENROLMENT = "trial_enrolment"
    RADIOTHERAPY = "radiotherapy"


class TravelReason(StrEnum):
    HIGH_COST_THERAPY = "high_cost_therapy"
    EARLY_PHASE_TRIAL = "early_phase_trial"
    INSURER_DOES_NOT_COVER = "insurer_does_not_cover"
    ONE_PROGRAMME = "one_programme"
    OTHER = "other"


# The turnaround the facilitator promises, in business days of the centres' calendar: review's
# SLA clock enforces it and billing's quote states it, from this one place.
TURNAROUND_TARGET_BUSINESS_DAYS = 7
TURNAROUND_LIMIT_BUSINESS_DAYS = 10
