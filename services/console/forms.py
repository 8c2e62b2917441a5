"""From a posted form to the body an API takes: pure, so the mapping is unit-tested.

Form fields are named as the API's fields are (`patient.name`, `tumour_site`), so the field a
problem+json answer names is the field the page shows the message beside. Nothing here checks a
rule: an empty or wrong value goes to the API as it came (or is left out), and the API says why
it is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol


class Form(Protocol):
    """A posted form (starlette's FormData) or a query string: one value or several per name."""

    def get(self, key: str, /) -> Any: ...

    def getlist(self, key: str, /) -> list[Any]: ...


def _text(form: Form | Mapping[str, Any], name: str) -> str | None:
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _flag(form: Form, name: str) -> bool:
    return _text(form, name) in ("on", "true", "yes", "1")


def _number(form: Form | Mapping[str, Any], name: str) -> int | str | None:
    value = _text(form, name)
    if value is None:
        return None
    # A number the API can check; anything else goes as typed, for the API to name the field.
    return int(value) if value.isdigit() and len(value) < 10 else value


def _codes(form: Form, name: str) -> list[str]:
    return [v for v in (x.strip() for x in form.getlist(name) if isinstance(x, str)) if v]


def _some(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def values(form: Form, names: Iterable[str]) -> dict[str, str]:
    """What was typed, to fill the form again when the API refused it."""
    return {n: v for n in names if isinstance(v := form.get(n), str)}


PATIENT_FIELDS = ("name", "date_of_birth", "email", "sex")
CASE_FIELDS = ("question", "tumour_site", "histology", "stage_group", "patient_country", "language",
               "preferred_centre", "imaging_studies", *(f"patient.{f}" for f in PATIENT_FIELDS))


def open_case(form: Form) -> dict[str, Any]:
    """POST /cases at intake, from the coordinator's new-case form."""
    patient = _some({f: _text(form, f"patient.{f}") for f in PATIENT_FIELDS})
    return _some({
        "patient": patient, "question": _text(form, "question"),
        "tumour_site": _text(form, "tumour_site"), "histology": _text(form, "histology"),
        "rare_tumour": _flag(form, "rare_tumour"), "stage_group": _text(form, "stage_group"),
        "referral_reasons": _codes(form, "referral_reasons"),
        "patient_country": (_text(form, "patient_country") or "").upper() or None,
        "language": _text(form, "language"), "preferred_centre": _text(form, "preferred_centre"),
        "wants_video": _flag(form, "wants_video"), "question_topics": _codes(form, "question_topics"),
        "imaging_studies": _number(form, "imaging_studies"), "glass_slides": _flag(form, "glass_slides"),
    })


def consent(form: Form) -> dict[str, Any]:
    kind = _text(form, "consent")
    body: dict[str, Any] = {"consent": kind, "text_version": _text(form, "text_version") or "v2026_1"}
    if kind == "transfer_abroad":
        body["centre_ids"] = _codes(form, "centre_ids")
    return body


def booking(form: Form) -> dict[str, Any]:
    """POST /cases/{id}/treatment-booking; the estimate is typed in dollars, sent in cents."""
    dollars = _text(form, "estimated_cost")
    cents: int | str | None = None
    if dollars is not None:
        whole, _, frac = dollars.replace(",", "").partition(".")
        cents = int(whole) * 100 + int((frac + "00")[:2]) if whole.isdigit() and (not frac or frac.isdigit()) \
            and len(whole) < 9 else dollars
    return _some({"centre_id": _text(form, "centre_id"), "treatment_type": _text(form, "treatment_type"),
                  "travel_reason": _text(form, "travel_reason"), "estimated_cost_cents": cents})


def delivery(form: Form) -> dict[str, Any]:
    """POST /cases/{id}/delivery at review: the coded sections of the written review."""
    pathology = _some({"verdict": _text(form, "pathology.verdict"),
                       "revised_grade": _text(form, "pathology.revised_grade"),
                       "revised_histology": _text(form, "pathology.revised_histology")})
    imaging = _some({"verdict": _text(form, "imaging.verdict"),
                     "revised_stage_group": _text(form, "imaging.revised_stage_group")})
    trials = []
    for trial_id, phase, china in zip(form.getlist("trial.id"), form.getlist("trial.phase"),
                                      form.getlist("trial.china_only"), strict=False):
        if isinstance(trial_id, str) and trial_id.strip():
            trials.append({"trial_id": trial_id.strip(), "phase": phase, "china_only": china == "yes"})
    rationale = [c for c in (_text(form, "rationale_codes") or "").replace(",", " ").split() if c]
    return _some({
        "pathology": pathology, "imaging": imaging, "recommended_pathway": _text(form, "recommended_pathway"),
        "rationale_codes": rationale, "trial_options": trials, "question_answer": _text(form, "question_answer"),
        "diagnosis_change": _text(form, "diagnosis_change"), "treatment_change": _text(form, "treatment_change"),
        "report_ref": _text(form, "report_ref"), "page_count_reason": _text(form, "page_count_reason"),
    })


# The quote wizard's steps, in order: each a question with the name of the answer it keeps.
QUOTE_STEPS = ("tumour_site", "histology", "stage_group", "imaging_studies", "rare_tumour", "wants_video")


def quote(answers: Mapping[str, str]) -> dict[str, Any]:
    """POST /quotes at billing, from the wizard's answers (the same body the API documents)."""
    return _some({"tumour_site": _text(answers, "tumour_site"), "histology": _text(answers, "histology"),
                  "imaging_studies": _number(answers, "imaging_studies"),
                  "rare_tumour": _text(answers, "rare_tumour") == "yes",
                  "wants_video": _text(answers, "wants_video") == "yes",
                  "referral_reasons": ["rare_tumour"] if _text(answers, "rare_tumour") == "yes" else []})


def patient_request(answers: Mapping[str, str], lang: str) -> dict[str, Any]:
    """POST /cases at intake for a patient's own request: the wizard's answers, who they are, their question."""
    rare = _text(answers, "rare_tumour") == "yes"
    patient = _some({"name": _text(answers, "patient.name"), "email": _text(answers, "patient.email"),
                     "date_of_birth": _text(answers, "patient.date_of_birth")})
    return _some({
        "patient": patient, "question": _text(answers, "question"),
        "tumour_site": _text(answers, "tumour_site"), "histology": _text(answers, "histology"),
        "rare_tumour": rare, "stage_group": _text(answers, "stage_group"),
        # The patient cannot code a referral; the coordinator refines it. A rare tumour says so.
        "referral_reasons": ["rare_tumour"] if rare else ["other"],
        "patient_country": (_text(answers, "patient_country") or "").upper() or None,
        "language": "zh" if lang == "zh-CN" else "en", "wants_video": _text(answers, "wants_video") == "yes",
        "imaging_studies": _number(answers, "imaging_studies"), "quote_id": _text(answers, "quote_id"),
    })
