"""Coded vocabularies shared by every event. Events carry codes, never free text."""

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


class RecordKind(StrEnum):
    PATHOLOGY_REPORT = "pathology_report"
    PATHOLOGY_SLIDES = "pathology_slides"
    IMAGING = "imaging"
    GENOMIC_REPORT = "genomic_report"
    TREATMENT_HISTORY = "treatment_history"
    ONCOLOGIST_LETTER = "oncologist_letter"


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
