"""Request bodies drawn from the events they become: the same fields and rules, never a copy."""

from __future__ import annotations

from uuid import uuid4

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from events.contract import MAX_CODES, ReviewDelivered
from services.common.inputs import body_of_event
from services.review.api import Delivery

SECTIONS = {"pathology": {"verdict": "agree"}, "imaging": {"verdict": "stage_confirmed"},
            "recommended_pathway": "surgery", "rationale_codes": ["guideline_concordant"],
            "question_answer": "answered", "diagnosis_change": "concordant", "treatment_change": "refined"}


def test_the_delivery_body_is_review_delivered_but_the_centre_with_the_event_time_of_a_simulator():
    assert set(Delivery.model_fields) == set(ReviewDelivered.model_fields) - {"centre_id"} | {"occurred_at"}
    body = Delivery.model_validate({**SECTIONS, "report_ref": str(uuid4())})
    assert body.model_dump()["page_count"] is None and body.model_dump()["trial_options"] == []


def test_the_delivery_body_refuses_what_the_event_refuses_and_a_centre_of_the_client_s_choosing():
    report = {"report_ref": str(uuid4())}
    wrongs: list[dict[str, object]] = [{"rationale_codes": []}, {"rationale_codes": ["a_code"] * (MAX_CODES + 1)},
                                       {"question_answer": "maybe"}, {"centre_id": "fuscc"}]
    for wrong in wrongs:
        with pytest.raises(ValidationError):
            Delivery.model_validate({**SECTIONS, **report, **wrong})


def test_a_body_can_only_replace_fields_its_event_has():
    class Base(BaseModel):
        model_config = ConfigDict(extra="forbid")

    with pytest.raises(TypeError, match="no field colour"):
        body_of_event(ReviewDelivered, Base, "Wrong", colour=(str, None))
