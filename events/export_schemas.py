"""JSON Schema of the envelope and every event, for readers that are not Python.

`python -m events.export_schemas` rewrites events/jsonschema/; a test fails when it is stale.
"""

from __future__ import annotations

import json
from pathlib import Path

from events.contract import ALL_EVENTS, Envelope

OUT = Path(__file__).with_name("jsonschema")


def rendered() -> dict[str, str]:
    files = {"Envelope.json": Envelope.model_json_schema()}
    for model in ALL_EVENTS:
        schema = model.model_json_schema()
        schema["x-event-type"] = model.event_type
        schema["x-schema-version"] = model.schema_version
        files[f"{model.event_type}.v{model.schema_version}.json"] = schema
    return {name: json.dumps(s, indent=2, sort_keys=True) + "\n" for name, s in files.items()}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    wanted = rendered()
    for stale in OUT.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        (OUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(wanted)} schemas to {OUT}")


if __name__ == "__main__":
    main()
