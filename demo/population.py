"""The demo population: tumour sites, histologies, countries, questions and outcome odds, and small helpers."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

from demo.shape import (
    TZ,
    BusinessDays,
    T,
)
from events.codes import (
    CentreId,
    Histology,
    InformationTopic,
    Pathway,
    QuestionTopic,
    RecordKind,
    ReferralReason,
    StageGroup,
    TravelReason,
    TreatmentType,
    TumourSite,
)

# ------------------------------------------------------------------ the population
SITES: dict[TumourSite, float] = {
    TumourSite.BREAST: 15, TumourSite.LUNG: 18, TumourSite.GASTRIC: 9, TumourSite.COLORECTAL: 8,
    TumourSite.LIVER: 9, TumourSite.NASOPHARYNX: 7, TumourSite.HEAD_NECK: 5, TumourSite.OESOPHAGUS: 5,
    TumourSite.PANCREAS: 4, TumourSite.SARCOMA: 5, TumourSite.NEUROENDOCRINE: 3, TumourSite.PROSTATE: 3,
    TumourSite.CERVIX: 3, TumourSite.BRAIN: 3, TumourSite.LYMPHOMA: 2, TumourSite.OTHER: 1,
}
H = Histology
HISTOLOGIES: dict[TumourSite, dict[Histology, float]] = {
    TumourSite.BREAST: {H.DUCTAL_CARCINOMA: 78, H.LOBULAR_CARCINOMA: 15, H.OTHER: 5, H.ADENOID_CYSTIC_CARCINOMA: 1,
                        H.SOFT_TISSUE_SARCOMA: 1},
    TumourSite.LUNG: {H.ADENOCARCINOMA: 62, H.SQUAMOUS_CELL_CARCINOMA: 24, H.SMALL_CELL_CARCINOMA: 10,
                      H.NEUROENDOCRINE_TUMOUR: 3, H.MUCOEPIDERMOID_CARCINOMA: 1},
    TumourSite.GASTRIC: {H.ADENOCARCINOMA: 87, H.GIST: 9, H.NEUROENDOCRINE_TUMOUR: 3, H.OTHER: 1},
    TumourSite.COLORECTAL: {H.ADENOCARCINOMA: 94, H.NEUROENDOCRINE_TUMOUR: 3, H.GIST: 2, H.OTHER: 1},
    TumourSite.LIVER: {H.HEPATOCELLULAR_CARCINOMA: 88, H.ADENOCARCINOMA: 9, H.OTHER: 3},
    TumourSite.NASOPHARYNX: {H.SQUAMOUS_CELL_CARCINOMA: 95, H.OTHER: 3, H.ADENOID_CYSTIC_CARCINOMA: 2},
    TumourSite.HEAD_NECK: {H.SQUAMOUS_CELL_CARCINOMA: 70, H.ADENOID_CYSTIC_CARCINOMA: 10,
                           H.MUCOEPIDERMOID_CARCINOMA: 8, H.MUCOSAL_MELANOMA: 5, H.OLFACTORY_NEUROBLASTOMA: 4,
                           H.OTHER: 3},
    TumourSite.OESOPHAGUS: {H.SQUAMOUS_CELL_CARCINOMA: 80, H.ADENOCARCINOMA: 18, H.SMALL_CELL_CARCINOMA: 2},
    TumourSite.PANCREAS: {H.ADENOCARCINOMA: 88, H.NEUROENDOCRINE_TUMOUR: 12},
    TumourSite.SARCOMA: {H.SOFT_TISSUE_SARCOMA: 70, H.BONE_SARCOMA: 20, H.GIST: 10},
    TumourSite.NEUROENDOCRINE: {H.NEUROENDOCRINE_TUMOUR: 80, H.SMALL_CELL_CARCINOMA: 20},
    TumourSite.PROSTATE: {H.ADENOCARCINOMA: 97, H.OTHER: 3},
    TumourSite.CERVIX: {H.SQUAMOUS_CELL_CARCINOMA: 80, H.ADENOCARCINOMA: 20},
    TumourSite.BRAIN: {H.GLIOMA: 90, H.OTHER: 10},
    TumourSite.LYMPHOMA: {H.LYMPHOMA: 100},
    TumourSite.OTHER: {H.OTHER: 55, H.UROTHELIAL_CARCINOMA: 25, H.MUCOSAL_MELANOMA: 20},
}
STAGES: dict[StageGroup, float] = {StageGroup.STAGE_0: 2, StageGroup.STAGE_I: 12, StageGroup.STAGE_II: 25,
                                   StageGroup.STAGE_III: 33, StageGroup.STAGE_IV: 25, StageGroup.UNKNOWN: 3}
# Sites the proton centre (CAMS) reviews: a proton question on another site would find no centre.
PROTON_SITES = frozenset({TumourSite.LUNG, TumourSite.OESOPHAGUS, TumourSite.HEAD_NECK, TumourSite.NASOPHARYNX,
                          TumourSite.PROSTATE, TumourSite.BRAIN, TumourSite.LIVER, TumourSite.SARCOMA})
PREFERRED: dict[CentreId, float] = {CentreId.SYSUCC: 35, CentreId.FUSCC: 25, CentreId.CAMS: 20,
                                    CentreId.PKUCH: 10, CentreId.WCH: 10}
# (country, weight, languages with weights)
COUNTRIES: list[tuple[str, float, dict[str, float]]] = [
    ("US", 12, {"en": 8, "zh": 2}), ("GB", 8, {"en": 1}), ("AU", 7, {"en": 8, "zh": 2}),
    ("CA", 6, {"en": 7, "fr": 2, "zh": 1}), ("NZ", 2, {"en": 1}), ("SG", 7, {"en": 6, "zh": 4}),
    ("MY", 7, {"ms": 5, "en": 3, "zh": 3}), ("ID", 7, {"id": 1}), ("TH", 5, {"th": 1}), ("VN", 6, {"vi": 1}),
    ("PH", 4, {"en": 2, "fil": 1}), ("AE", 4, {"ar": 3, "en": 2}), ("SA", 3, {"ar": 1}), ("RU", 7, {"ru": 1}),
    ("KZ", 4, {"ru": 3, "kk": 2}), ("MN", 3, {"mn": 1}), ("DE", 2, {"de": 1}), ("FR", 2, {"fr": 1}),
    ("IT", 1, {"it": 1}), ("ES", 1, {"es": 1}), ("PK", 3, {"ur": 2, "en": 1}), ("NP", 2, {"ne": 1}),
    ("BD", 2, {"bn": 1}), ("KH", 2, {"km": 1}), ("MM", 2, {"my": 1}), ("LA", 1, {"lo": 1}),
]
PHONE_PREFIX = {"US": "+1", "CA": "+1", "GB": "+44", "AU": "+61", "NZ": "+64", "SG": "+65", "MY": "+60",
                "ID": "+62", "TH": "+66", "VN": "+84", "PH": "+63", "AE": "+971", "SA": "+966", "RU": "+7",
                "KZ": "+7", "MN": "+976", "DE": "+49", "FR": "+33", "IT": "+39", "ES": "+34", "PK": "+92",
                "NP": "+977", "BD": "+880", "KH": "+855", "MM": "+95", "LA": "+856"}
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (("James", "Mary", "Robert", "Patricia", "David", "Jennifer", "Michael", "Linda", "Sarah", "Thomas"),
           ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Evans", "Walker", "Hughes", "Clarke", "Reid")),
    "zh": (("Wei", "Mei", "Jun", "Li Na", "Hao", "Xiu Ying", "Ming", "Yan"),
           ("Tan", "Lim", "Chen", "Wong", "Lee", "Ng", "Ho", "Chua")),
    "ms": (("Ahmad", "Siti", "Muhammad", "Nurul", "Aziz", "Farah"), ("bin Ismail", "binti Hassan", "bin Omar",
                                                                    "binti Yusof", "bin Rahman", "binti Ali")),
    "id": (("Budi", "Siti", "Agus", "Dewi", "Eko", "Rina"), ("Santoso", "Wijaya", "Pratama", "Hidayat", "Saputra",
                                                             "Kusuma")),
    "th": (("Somchai", "Malee", "Niran", "Ploy", "Anan", "Sunee"), ("Srisuk", "Chaiyaporn", "Boonmee",
                                                                    "Wongsawat", "Rattanakorn", "Kaewmanee")),
    "vi": (("Anh", "Minh", "Huong", "Tuan", "Lan", "Duc"), ("Nguyen", "Tran", "Le", "Pham", "Hoang", "Vu")),
    "fil": (("Jose", "Maria", "Juan", "Ana", "Mark", "Grace"), ("Santos", "Reyes", "Cruz", "Bautista", "Garcia",
                                                                "Mendoza")),
    "ar": (("Ahmed", "Fatima", "Omar", "Aisha", "Khalid", "Mariam"), ("Al-Mansouri", "Al-Harbi", "Haddad",
                                                                      "Al-Qahtani", "Nasser", "Saleh")),
    "ru": (("Ivan", "Olga", "Sergei", "Natalia", "Dmitri", "Elena"), ("Ivanov", "Petrova", "Smirnov", "Kuznetsova",
                                                                      "Popov", "Volkova")),
    "kk": (("Nursultan", "Aigerim", "Yerlan", "Dana", "Arman", "Saule"), ("Nurlanov", "Abenova", "Seitkali",
                                                                          "Tulegenova", "Omarov", "Zhaksybek")),
    "mn": (("Bat-Erdene", "Oyuun", "Gantulga", "Sarangerel", "Tömör", "Enkhjargal"), ("Batbayar", "Dorj",
                                                                                       "Ganbold", "Tserendorj")),
    "de": (("Klaus", "Anna", "Jürgen", "Petra", "Stefan", "Sabine"), ("Müller", "Schmidt", "Schneider", "Fischer",
                                                                      "Weber", "Becker")),
    "fr": (("Jean", "Marie", "Pierre", "Isabelle", "Luc", "Claire"), ("Martin", "Bernard", "Dubois", "Laurent",
                                                                      "Moreau", "Lefèvre")),
    "it": (("Marco", "Giulia", "Luca", "Francesca"), ("Rossi", "Bianchi", "Romano", "Colombo")),
    "es": (("Carlos", "Lucía", "Javier", "Carmen"), ("García", "Martínez", "López", "Sánchez")),
    "ur": (("Imran", "Ayesha", "Bilal", "Sana"), ("Khan", "Qureshi", "Malik", "Siddiqui")),
    "ne": (("Ram", "Sita", "Bikash", "Anita"), ("Shrestha", "Gurung", "Thapa", "Rai")),
    "bn": (("Rahim", "Nasrin", "Karim", "Taslima"), ("Hossain", "Rahman", "Islam", "Akter")),
    "km": (("Sok", "Srey", "Dara", "Channary"), ("Chan", "Heng", "Sok", "Kim")),
    "my": (("Aung", "Thida", "Kyaw", "Hnin"), ("Win", "Myint", "Htun", "Oo")),
    "lo": (("Somphone", "Khamla", "Bounmy", "Noy"), ("Phommachanh", "Sisavath", "Vongsa", "Keomany")),
}
SITE_TEXT = {TumourSite.HEAD_NECK: "head and neck", TumourSite.NASOPHARYNX: "nasopharyngeal",
             TumourSite.OESOPHAGUS: "oesophageal", TumourSite.NEUROENDOCRINE: "neuroendocrine",
             TumourSite.OTHER: "rare", TumourSite.LYMPHOMA: "lymphoma", TumourSite.SARCOMA: "sarcoma",
             TumourSite.PANCREAS: "pancreatic", TumourSite.GASTRIC: "stomach", TumourSite.COLORECTAL: "bowel"}
QUESTIONS: dict[QuestionTopic, str] = {
    QuestionTopic.PROTON_THERAPY: "Would proton therapy spare more healthy tissue than photon radiotherapy for my "
                                  "{site} cancer, and is it worth travelling for?",
    QuestionTopic.SURGERY_VS_RADIATION: "For my stage {stage} {site} cancer, should I have surgery first or "
                                        "radiotherapy?",
    QuestionTopic.SYSTEMIC_THERAPY_CHOICE: "Which systemic treatment gives the best chance for my {site} cancer "
                                           "after {lines} line(s) of treatment?",
    QuestionTopic.CLINICAL_TRIAL: "Is there a clinical trial in China I could join for my {site} cancer?",
    QuestionTopic.STAGING: "My scans were read as stage {stage}; is that staging right, and does it change the "
                           "plan?",
    QuestionTopic.DIAGNOSIS: "Is the pathology diagnosis of my {site} tumour correct? Two labs disagreed.",
    QuestionTopic.INTEGRATIVE_ONCOLOGY: "Can integrative oncology help me tolerate treatment for my {site} "
                                        "cancer?",
    QuestionTopic.OTHER: "What would your tumour board recommend as the next step for my {site} cancer?",
}
DIAGNOSIS_RATE: dict[ReferralReason, float] = {
    ReferralReason.RARE_TUMOUR: 0.27, ReferralReason.STAGE_BORDERLINE: 0.19,
    ReferralReason.TREATMENT_INTENT_DISPUTE: 0.09, ReferralReason.GENOMIC_GUIDED: 0.10,
    ReferralReason.EXPENSIVE_TREATMENT: 0.07, ReferralReason.OTHER: 0.10}
TREATMENT_RATE: dict[ReferralReason, float] = {
    ReferralReason.RARE_TUMOUR: 0.40, ReferralReason.STAGE_BORDERLINE: 0.38,
    ReferralReason.TREATMENT_INTENT_DISPUTE: 0.46, ReferralReason.GENOMIC_GUIDED: 0.42,
    ReferralReason.EXPENSIVE_TREATMENT: 0.25, ReferralReason.OTHER: 0.24}
# Calibrated so the whole population lands on DIAGNOSIS_CHANGED / TREATMENT_CHANGED (tests check it).
DIAGNOSIS_SCALE = 1.06
TREATMENT_SCALE = 0.83
# How likely a patient travels, relative to the mean, by the recommended pathway.
TRAVEL_WEIGHT: dict[Pathway, float] = {
    Pathway.PROTON_THERAPY: 2.1, Pathway.CLINICAL_TRIAL: 1.7, Pathway.TARGETED_THERAPY: 1.35,
    Pathway.IMMUNOTHERAPY: 1.35, Pathway.SURGERY: 1.0, Pathway.CHEMORADIATION: 0.95, Pathway.RADIOTHERAPY: 0.85,
    Pathway.SYSTEMIC_THERAPY: 0.85, Pathway.SURVEILLANCE: 0.0, Pathway.PALLIATIVE_CARE: 0.0}
TRAVEL_SCALE = 0.385  # calibrated: booked / decided lands near SHARE_BOOKED_OF_DECIDED
TREATMENT_OF: dict[Pathway, TreatmentType] = {
    Pathway.PROTON_THERAPY: TreatmentType.PROTON_THERAPY, Pathway.CLINICAL_TRIAL: TreatmentType.TRIAL_ENROLMENT,
    Pathway.TARGETED_THERAPY: TreatmentType.SYSTEMIC_THERAPY, Pathway.IMMUNOTHERAPY: TreatmentType.SYSTEMIC_THERAPY,
    Pathway.SYSTEMIC_THERAPY: TreatmentType.SYSTEMIC_THERAPY, Pathway.SURGERY: TreatmentType.SURGERY,
    Pathway.CHEMORADIATION: TreatmentType.CHEMORADIATION, Pathway.RADIOTHERAPY: TreatmentType.RADIOTHERAPY}
TRAVEL_REASONS: dict[Pathway, dict[TravelReason, float]] = {
    Pathway.PROTON_THERAPY: {TravelReason.HIGH_COST_THERAPY: 1},
    Pathway.CLINICAL_TRIAL: {TravelReason.EARLY_PHASE_TRIAL: 1},
    Pathway.TARGETED_THERAPY: {TravelReason.HIGH_COST_THERAPY: 7, TravelReason.INSURER_DOES_NOT_COVER: 3},
    Pathway.IMMUNOTHERAPY: {TravelReason.HIGH_COST_THERAPY: 7, TravelReason.INSURER_DOES_NOT_COVER: 3},
    Pathway.SYSTEMIC_THERAPY: {TravelReason.INSURER_DOES_NOT_COVER: 5, TravelReason.ONE_PROGRAMME: 4,
                               TravelReason.OTHER: 1},
    Pathway.SURGERY: {TravelReason.ONE_PROGRAMME: 6, TravelReason.INSURER_DOES_NOT_COVER: 3, TravelReason.OTHER: 1},
    Pathway.CHEMORADIATION: {TravelReason.ONE_PROGRAMME: 6, TravelReason.INSURER_DOES_NOT_COVER: 3,
                             TravelReason.OTHER: 1},
    Pathway.RADIOTHERAPY: {TravelReason.ONE_PROGRAMME: 5, TravelReason.HIGH_COST_THERAPY: 2,
                           TravelReason.INSURER_DOES_NOT_COVER: 3},
}
# Estimated treatment cost in China, USD (low, high).
TREATMENT_COST: dict[TreatmentType, tuple[int, int]] = {
    TreatmentType.PROTON_THERAPY: (30_000, 55_000), TreatmentType.SURGERY: (8_000, 25_000),
    TreatmentType.CHEMORADIATION: (10_000, 25_000), TreatmentType.RADIOTHERAPY: (6_000, 18_000),
    TreatmentType.SYSTEMIC_THERAPY: (10_000, 40_000), TreatmentType.TRIAL_ENROLMENT: (2_000, 10_000)}
RECORD_FOR_TOPIC: dict[InformationTopic, RecordKind] = {
    InformationTopic.ADDITIONAL_IMAGING: RecordKind.IMAGING, InformationTopic.PATHOLOGY_BLOCKS:
    RecordKind.PATHOLOGY_SLIDES, InformationTopic.RECUT_SLIDES: RecordKind.PATHOLOGY_SLIDES,
    InformationTopic.GENOMIC_RESULTS: RecordKind.GENOMIC_REPORT, InformationTopic.TREATMENT_DETAILS:
    RecordKind.TREATMENT_HISTORY, InformationTopic.LABORATORY_RESULTS: RecordKind.TREATMENT_HISTORY}


def _pick(rng: random.Random, weights: Mapping[T, float]) -> T:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _add_business_days(cal: BusinessDays, start: date, n: int) -> date:
    d = start
    while n:
        d += timedelta(days=1)
        n -= cal.is_business_day(d)
    return d


def _at(day: date, hours: float) -> datetime:
    return datetime.combine(day, time(), TZ) + timedelta(minutes=int(hours * 60))


def _hours(t: datetime) -> float:
    local = t.astimezone(TZ)
    return local.hour + local.minute / 60 + local.second / 3600
