"""The largest JSON a schema admits: every accepted event must fit in one broker message.

Computed from the JSON Schema pydantic renders, so a list or string added to the contract
without a bound makes the figure unbounded and the contract test fails.
"""

from __future__ import annotations

import re._parser as sre_parse
from typing import Any

from events.contract import ALL_EVENTS, Envelope, Event

# The broker's default message.max.bytes is 1 MiB; leave room for the record's own framing.
MAX_MESSAGE_BYTES = 1_000_000
UNBOUNDED = float("inf")
_FORMAT_WIDTH = {"uuid": 38, "date-time": 40, "date": 12, "time": 30, "duration": 40}
_NUMBER_WIDTH = 24  # an int64 or a float, in JSON


def worst_case_bytes(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> float:
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return worst_case_bytes(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return max(worst_case_bytes(s, defs) for s in schema[combinator])
    if "enum" in schema:
        return max(len(str(v)) + 2 for v in schema["enum"])
    if "const" in schema:
        return len(str(schema["const"])) + 2
    kind = schema.get("type")
    if kind == "string":
        return _string_width(schema)
    if kind in ("integer", "number"):
        return _NUMBER_WIDTH
    if kind == "boolean":
        return 5
    if kind == "null":
        return 4
    if kind == "array":
        if "maxItems" not in schema:
            return UNBOUNDED
        return 2 + schema["maxItems"] * (worst_case_bytes(schema.get("items", {}), defs) + 1)
    if kind == "object":
        if schema.get("additionalProperties") not in (None, False):
            return UNBOUNDED
        props = schema.get("properties", {})
        return 2 + sum(len(k) + 4 + worst_case_bytes(v, defs) for k, v in props.items())
    return UNBOUNDED


def _string_width(schema: dict[str, Any]) -> float:
    # JSON escapes a character in at most 6 bytes (\\uXXXX); a pattern of ASCII classes in 1.
    if "maxLength" in schema:
        return 2 + 6 * schema["maxLength"]
    if "format" in schema:
        return _FORMAT_WIDTH.get(schema["format"], UNBOUNDED)
    if "pattern" in schema:
        _, widest = sre_parse.parse(schema["pattern"]).getwidth()
        return UNBOUNDED if widest >= sre_parse.MAXREPEAT else 2 + 6 * widest
    return UNBOUNDED


def message_bound(model: type[Event]) -> float:
    """The largest envelope carrying this event, as JSON bytes."""
    envelope = Envelope.model_json_schema()
    envelope["properties"] = {k: v for k, v in envelope["properties"].items() if k != "payload"}
    return worst_case_bytes(envelope) + len('"payload":') + worst_case_bytes(model.model_json_schema())


def widest_events() -> list[tuple[str, float]]:
    return sorted(((m.event_type, message_bound(m)) for m in ALL_EVENTS), key=lambda t: -t[1])
