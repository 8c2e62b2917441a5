"""The live app's OpenAPI document: its pages are faust views, which publish none of their own."""

from __future__ import annotations

from typing import Any

WINDOW_FIELDS: dict[str, Any] = {
    "centre": {"type": "string"}, "kind": {"type": "string", "description": "flow.<kind> or sla.<state>"},
    "count": {"type": "integer", "minimum": 0}}
WINDOW: dict[str, Any] = {"type": "object", "required": ["centre", "kind", "count"], "properties": WINDOW_FIELDS}
SCHEMAS: dict[str, Any] = {
    "Windows": {"type": "object", "required": ["hours", "days", "waiting", "watermark"], "properties": {
        "hours": {"type": "array", "items": {**WINDOW, "properties": {
            **WINDOW_FIELDS, "hour": {"type": "string", "format": "date-time"}}}},
        "days": {"type": "array", "items": {**WINDOW, "properties": {
            **WINDOW_FIELDS, "kind": {"type": "string", "enum": ["decided", "travelled"]},
            "day": {"type": "string", "format": "date"}}}},
        "waiting": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "cases": {"type": "integer", "minimum": 0},
            "oldest_since": {"type": ["string", "null"], "format": "date-time"}}}},
        "watermark": {"type": ["string", "null"], "format": "date-time",
                      "description": "the newest event time the tables hold"}}},
    "Progress": {"type": "object", "required": ["ready", "applied", "committed", "highwater", "lag", "keys"],
                 "properties": {
                     "ready": {"type": "boolean"},
                     "applied": {"type": "object", "additionalProperties": {"type": "integer"},
                                 "description": "source partition -> last offset taken"},
                     "committed": {"type": "object", "additionalProperties": {"type": "integer"}},
                     "highwater": {"type": "object", "additionalProperties": {"type": ["integer", "null"]}},
                     "lag": {"type": ["integer", "null"], "minimum": 0},
                     "keys": {"type": "integer", "minimum": 0}}},
    "Ready": {"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}}},
}


def _json(schema: str, description: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"get": {"summary": description, "responses": {
        "200": {"description": description,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}},
        **(extra or {})}}}


def document(version: str = "1") -> dict[str, Any]:
    not_ready = {"503": {"description": "recovering its tables, or not yet assigned its partitions",
                         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ready"}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Case Ledger live views", "version": version,
                 "description": "Event-time windows of the case flow, folded from the event topic (docs/live.md)."},
        "paths": {
            "/windows": _json("Windows", "every window the tables hold, times in ISO 8601"),
            "/progress": _json("Progress", "the offsets applied and committed, and the lag"),
            "/readyz": _json("Ready", "ready once its tables are recovered", not_ready),
            "/healthz": {"get": {"summary": "alive", "responses": {"200": {"description": "alive"}}}},
            "/metrics": {"get": {"summary": "the Prometheus exposition", "responses": {"200": {
                "description": "text format 0.0.4", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "this document", "responses": {"200": {"description": "OpenAPI"}}}},
        },
        "components": {"schemas": SCHEMAS},
    }
