"""The published schemas speak JSON Schema: bounds are minimum/maximum, never pydantic's ge/le."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from services.common.app_factory import json_schema_keywords
from services.common.inputs import WholeNumber


def keys(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*(keys(i) for i in node)) if node else set()
    if isinstance(node, dict):
        return set(node) | (set().union(*(keys(v) for v in node.values())) if node else set())
    return set()


def test_bounds_on_a_whole_number_are_minimum_and_maximum():
    class Delivery(BaseModel):
        page_count: WholeNumber | None = Field(None, ge=1, le=10_000)
        amount_cents: Annotated[WholeNumber, Field(gt=0, lt=100)]
        # A property may be named like a bound: it keeps its name.
        ge: int = 0

    raw = Delivery.model_json_schema()
    assert "ge" in keys(raw["properties"]["page_count"])  # what pydantic writes, the defect
    fixed = json_schema_keywords(raw)
    page = next(s for s in fixed["properties"]["page_count"]["anyOf"] if s.get("type") == "integer")
    assert (page["minimum"], page["maximum"]) == (1, 10_000)
    amount = fixed["properties"]["amount_cents"]
    assert (amount["exclusiveMinimum"], amount["exclusiveMaximum"]) == (0, 100)
    assert "ge" in fixed["properties"]
    assert not {"le", "gt", "lt"} & keys(fixed)
