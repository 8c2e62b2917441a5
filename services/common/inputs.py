"""Field types for what clients type in: bounded, printable, and checked against real code lists."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Annotated

import pycountry
from pydantic import AfterValidator

from events.contract import CountryCode

# Line breaks and tabs are fine in prose; every other control character, and lone surrogates
# (which PostgreSQL cannot store as UTF-8), is refused.
_PROSE_WHITESPACE = frozenset("\n\t")


def _no_control_characters(value: str, allowed: frozenset[str] = frozenset()) -> str:
    for ch in value:
        if ch not in allowed and unicodedata.category(ch) in ("Cc", "Cs", "Cn", "Co"):
            raise ValueError(f"must not contain control or unassigned characters (found U+{ord(ch):04X})")
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

Country = Annotated[CountryCode, AfterValidator(_iso_country)]
BirthDate = Annotated[date, AfterValidator(_in_the_past)]
