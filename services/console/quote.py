"""The patient's quote wizard at /quote: public, one question per page, then billing's quote and the request.

The steps are GET pages that carry the answers so far in the URL (nothing is stored until the
patient asks for the price). The price is billing's POST /quotes, asked with the console's machine
identity (services/console/portal.py); "Request this second opinion" opens the case at intake the
same way, marked as requested by a patient, the identity and the question going into intake's
vault like any other. Both posts carry a CSRF token, are bounded in size and rate-limited per
client address; junk gets a 4xx page that says what is wrong.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from services.console import forms, metrics
from services.console.backend import ApiError
from services.console.web import Refused, checked_form, lang_of, render

router = APIRouter()
# The vocabulary each step offers (yes/no steps have none) and the field's API name.
STEP_VOCABULARY = {"tumour_site": "tumour_site", "histology": "histology", "stage_group": "stage_group"}
_LIMITER = MovingWindowRateLimiter(MemoryStorage())
REQUEST_FIELDS = ("patient.name", "patient.email", "patient.date_of_birth", "patient_country", "question")


def limited(request: Request, what: str, rate: str) -> None:
    """One process keeps the counts (the console runs as one); a client over its rate gets 429."""
    client = request.client.host if request.client else "unknown"
    if not _LIMITER.hit(parse(rate), "console", what, client):
        metrics.REFUSED.labels("rate").inc()
        raise Refused(429, "too_many_requests", rate)


def answers_of(source: Any) -> dict[str, str]:
    return {k: v for k in (*forms.QUOTE_STEPS, "quote_id") if isinstance(v := source.get(k), str) and len(v) <= 64}


@router.get("/quote")
async def step(request: Request) -> Response:
    limited(request, "quote-step", request.app.state.settings.public_rate)
    answers = answers_of(request.query_params)
    wanted = request.query_params.get("step")
    # The first step not yet answered, unless the patient went back to change one.
    current = wanted if wanted in forms.QUOTE_STEPS else next((s for s in forms.QUOTE_STEPS if s not in answers), None)
    if current is None:
        return render(request, "quote_check.html", answers=answers, steps=forms.QUOTE_STEPS)
    index = forms.QUOTE_STEPS.index(current)
    return render(request, "quote_step.html", step=current, index=index, total=len(forms.QUOTE_STEPS),
                  previous=forms.QUOTE_STEPS[index - 1] if index else None,
                  vocabulary=STEP_VOCABULARY.get(current), answers=answers,
                  kept={k: v for k, v in answers.items() if k != current}, errors={})


@router.post("/quote")
async def price(request: Request) -> Response:
    limited(request, "quote", request.app.state.settings.public_rate)
    form = await checked_form(request)
    answers = answers_of(form)
    if missing := [s for s in forms.QUOTE_STEPS if s not in answers]:
        raise Refused(422, "quote_incomplete", ", ".join(missing))
    b, portal = request.app.state.backend, request.app.state.portal
    try:
        quoted = await b.json("billing", "POST", "/quotes", await portal.token(), json=forms.quote(answers))
    except ApiError as exc:
        if exc.status != 422:
            raise
        raise Refused(422, "quote_refused", exc.detail) from None
    return render(request, "quote_result.html", answers={**answers, "quote_id": str(quoted["quote_id"])},
                  quote=quoted, errors={}, values={})


@router.post("/quote/request")
async def request_opinion(request: Request) -> Response:
    limited(request, "request", request.app.state.settings.request_rate)
    form = await checked_form(request)
    answers = answers_of(form)
    if missing := [s for s in (*forms.QUOTE_STEPS, "quote_id") if s not in answers]:
        raise Refused(422, "quote_incomplete", ", ".join(missing))
    values = forms.values(form, REQUEST_FIELDS)
    body = forms.patient_request({**answers, **values}, lang_of(request))
    b, portal = request.app.state.backend, request.app.state.portal
    try:
        opened = await b.json("intake", "POST", "/cases", await portal.token(), json=body, idempotency_key=_idem(form))
    except ApiError as exc:
        if exc.status not in (400, 422):
            raise
        return render(request, "quote_request.html", 422, answers=answers, errors=exc.shown(lang_of(request)),
                      values=values)
    return render(request, "quote_done.html", answers=answers, reference=opened["case_id"])


@router.get("/quote/request")
async def request_form(request: Request) -> Response:
    limited(request, "quote-step", request.app.state.settings.public_rate)
    answers = answers_of(request.query_params)
    return render(request, "quote_request.html", answers=answers, errors={}, values={})


def _idem(form: Any) -> str | None:
    idem = form.get("idem")
    return idem if isinstance(idem, str) and 8 <= len(idem) <= 100 else None
