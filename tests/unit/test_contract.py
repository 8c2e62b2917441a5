import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from events import export_schemas
from events.codes import ReferralReason, TumourSite
from events.contract import ALL_EVENTS, CaseOpened, Envelope, RecordsCompleted
from events.registry import DecodeError, build_registry


def envelope(event_type: str, version: int, payload: dict) -> bytes:
    now = datetime.now(UTC)
    return Envelope(
        event_id=uuid4(), event_type=event_type, schema_version=version, case_id=uuid4(),
        stream_id="case-x", stream_version=1, occurred_at=now, recorded_at=now, producer="test",
        correlation_id=uuid4(), payload=payload,
    ).model_dump_json().encode()


OPENED_V2 = {
    "patient_ref": "pr_" + "a" * 32, "tumour_site": "sarcoma", "rare_tumour": True, "stage_group": "II",
    "referral_reasons": ["rare_tumour"], "patient_country": "NG", "language": "en",
}


def test_checked_in_json_schemas_match_the_models():
    on_disk = {p.name: p.read_text() for p in export_schemas.OUT.glob("*.json")}
    assert on_disk == export_schemas.rendered(), "run `make schemas` and commit events/jsonschema"


def test_every_event_is_frozen_and_named_in_the_past_tense():
    for model in ALL_EVENTS:
        assert model.model_config.get("frozen") is True
        # The at-risk events keep the name the business uses for the state the clock entered.
        if model.event_type not in ("SlaAtRisk", "FollowUpAtRisk"):
            assert model.event_type.endswith(("ed", "Given", "Sent", "Withdrawn", "Held")), model.event_type
    event = RecordsCompleted(record_count=3)
    with pytest.raises(ValidationError):
        event.record_count = 4  # type: ignore[misc]


def test_a_message_decodes_into_the_current_model():
    decoded = build_registry().decode(envelope("CaseOpened", 2, OPENED_V2))
    assert isinstance(decoded.event, CaseOpened)
    assert decoded.event.tumour_site is TumourSite.SARCOMA


def test_a_version_1_case_opened_is_upcast_to_a_list_of_reasons():
    v1 = {k: v for k, v in OPENED_V2.items() if k != "referral_reasons"} | {"referral_reason": "rare_tumour"}
    decoded = build_registry().decode(envelope("CaseOpened", 1, v1))
    assert isinstance(decoded.event, CaseOpened)
    assert decoded.event.referral_reasons == [ReferralReason.RARE_TUMOUR]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\x00 not json", "invalid_envelope"),
        (b'{"event_type": "CaseOpened"}', "invalid_envelope"),
        (envelope("PatientTeleported", 1, {}), "unknown_event_type"),
        (envelope("CaseOpened", 3, OPENED_V2), "unknown_schema_version"),
        (envelope("CaseOpened", 2, {**OPENED_V2, "tumour_site": "elbow"}), "invalid_payload"),
        (envelope("CaseOpened", 2, {**OPENED_V2, "patient_name": "Jane Doe"}), "invalid_payload"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(raw: bytes, reason: str):
    with pytest.raises(DecodeError) as info:
        build_registry().decode(raw)
    assert info.value.reason == reason


def test_events_carry_no_free_text_fields():
    # Every string field of every event is constrained: an enum, a pattern or a literal.
    for model in ALL_EVENTS:
        for name, prop in model.model_json_schema().get("properties", {}).items():
            options = prop.get("anyOf", [prop])
            for option in options:
                if option.get("type") == "string" and option.get("format") not in ("uuid", "date", "date-time"):
                    assert "pattern" in option or "enum" in option or "const" in option, (model, name)
            if prop.get("type") == "array":
                for item in prop["items"].get("anyOf", [prop["items"]]):
                    assert {"$ref", "enum", "pattern", "const"} & set(item), (model, name)


def test_envelope_round_trips_as_json_bytes():
    raw = envelope("CaseOpened", 2, OPENED_V2)
    assert Envelope.model_validate_json(raw).model_dump_json().encode() == raw
    assert json.loads(raw)["payload"]["tumour_site"] == "sarcoma"


def test_every_event_fits_in_one_broker_message_whatever_the_input():
    from events.bounds import MAX_MESSAGE_BYTES, widest_events

    for event_type, bound in widest_events():
        assert bound <= MAX_MESSAGE_BYTES, f"{event_type} can reach {bound} bytes: bound its lists and strings"


def test_an_unbounded_list_makes_the_bound_infinite():
    from events.bounds import UNBOUNDED, worst_case_bytes

    assert worst_case_bytes({"type": "array", "items": {"type": "string", "maxLength": 3}}) == UNBOUNDED
    assert worst_case_bytes({"type": "string", "pattern": "^[a-z]+$"}) == UNBOUNDED
    assert worst_case_bytes({"type": "array", "maxItems": 2, "items": {"type": "string", "maxLength": 3}}) == 2 + 2 * 21
