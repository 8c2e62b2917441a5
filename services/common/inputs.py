"""Field types for what clients type in: bounded, printable, and checked against real code lists;
request bodies drawn from the events they become."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import pycountry
from pydantic import AfterValidator, BaseModel, BeforeValidator, StringConstraints, WithJsonSchema, create_model
from pydantic.fields import FieldInfo

from events.contract import CountryCode

# Line breaks and tabs are fine in prose; every other control character (C0, DEL, C1), and lone
# surrogates (which PostgreSQL cannot store as UTF-8), is refused. The patterns put the same rule
# in the schema, so a client generating from the OpenAPI never sends what is refused.
# Each also asks for one character that is not white space: blank text is no text.
SINGLE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
PROSE_PATTERN = (r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f]"
                 r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")
_PROSE_WHITESPACE = frozenset("\n\t\r")


def _no_control_characters(value: str, allowed: frozenset[str] = frozenset()) -> str:
    for ch in value:
        if ch not in allowed and unicodedata.category(ch) in ("Cc", "Cs"):
            raise ValueError(f"must not contain control characters (found U+{ord(ch):04X})")
    return value


def _prose(value: str) -> str:
    return _no_control_characters(value, _PROSE_WHITESPACE)


def _iso_country(value: str) -> str:
    if pycountry.countries.get(alpha_2=value) is None:
        raise ValueError(f"{value} is not an ISO 3166-1 alpha-2 country code")
    return value


def _in_the_past(value: date) -> date:
    # The API's clock, not the event's: a birth date in the future is wrong whatever is simulated.
    if value >= date.today():
        raise ValueError("must be in the past")
    if value < date(1900, 1, 1):
        raise ValueError("must be on or after 1900-01-01")
    return value


# Markers for Annotated[str, StringConstraints(...), SingleLine]: a name or label, or prose.
SingleLine = AfterValidator(_no_control_characters)
MultiLine = AfterValidator(_prose)
# The patient's question, and the coordinator's follow-up questions to the centre.
Question = Annotated[str, StringConstraints(min_length=5, max_length=4000, pattern=PROSE_PATTERN), MultiLine]

# The schemas say what the validators check, so a client (or a fuzzer) generating from the
# OpenAPI produces only what is accepted.
ISO_COUNTRIES = sorted(c.alpha_2 for c in pycountry.countries)
def _whole_number(value: object) -> object:
    # JSON Schema's integer: 3 and 3.0, but not "3" or true (which pydantic's lax int would take).
    if isinstance(value, (str, bytes, bool)):
        raise ValueError("must be a JSON integer")
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Country = Annotated[CountryCode, AfterValidator(_iso_country),
                    WithJsonSchema({"type": "string", "enum": ISO_COUNTRIES, "description": "ISO 3166-1 alpha-2"})]
BirthDate = Annotated[date, AfterValidator(_in_the_past), WithJsonSchema({
    "type": "string", "format": "date", "pattern": r"^(19[0-9]{2}|20[01][0-9]|202[0-5])-[0-9]{2}-[0-9]{2}$",
    "description": "in the past, on or after 1900-01-01"})]
# Event times a simulator may give: 2000-01-01 to 2099-12-31, with a timezone offset.
EventTime = Annotated[datetime, WithJsonSchema({
    "type": "string", "format": "date-time", "pattern": r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}T.*(Z|[+-][0-9]{2}:[0-9]{2})$",
    "description": "only when the stack runs with simulated time; 2000-01-01 to 2099-12-31, with an offset"})]


B = TypeVar("B", bound=BaseModel)


def body_of_event(event: type[BaseModel], base: type[B], name: str, *, leave_out: Collection[str] = (),
                  descriptions: Mapping[str, str] | None = None, **replaced: Any) -> type[B]:
    """A request body with the fields of the event it becomes, in the event's order and with its
    types, bounds and defaults, so that the two cannot drift apart. `leave_out`: what the service
    fills in itself; `descriptions`: what a client is told of a field; `replaced`: a field the
    client sends differently, as (type, Field(...)); `base`: the body's own fields and config."""
    fields: dict[str, Any] = {}
    for field, info in event.model_fields.items():
        if field in leave_out:
            continue
        if field in replaced:
            fields[field] = replaced.pop(field)
            continue
        described = FieldInfo.merge_field_infos(info, description=(descriptions or {}).get(field, info.description))
        fields[field] = (info.annotation, described)
    if replaced:
        raise TypeError(f"{event.__name__} has no field {', '.join(replaced)}")
    return create_model(name, __base__=base, **fields)
