"""The contract's foundation: the topic, the bounds, the envelope and the base of every event.

An event travels as JSON bytes of its `Envelope`; `payload` holds the event model's fields.
Payloads carry opaque ids, codes, amounts and timestamps only: never a name, date of birth,
contact, passport number, DICOM UID or free clinical text.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

TOPIC = "case-ledger"
DLQ_TOPIC = "case-ledger.dlq"

# Every list and string of the contract is bounded, so that no accepted command can produce a
# message over the broker's limit (tests/unit/test_contract.py computes the worst case).
MAX_CODES = 16
MAX_TRIAL_OPTIONS = 20
MAX_PRICE_LINES = 32
# USD 100 million: far above any real fee or treatment estimate, far below an overflow.
MAX_CENTS = 10**10
Cents = Annotated[int, Field(ge=0, le=MAX_CENTS, description="money in integer US cents")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]
PatientRef = Annotated[str, StringConstraints(pattern=r"^pr_[0-9a-f]{32}$")]
# A machine code (snake_case), never prose.
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,47}$")]


# An opaque subject (a UUID from the provider), service:<name> or system:<what>.
ACTOR_PATTERN = r"^([A-Za-z0-9][A-Za-z0-9._-]{0,63}|service:[a-z]{1,32}|system:[a-z]{1,32})$"
ACTOR_ROLE_PATTERN = r"^(coordinator|billing|analyst|admin|centre:[a-z]{1,32}|service|system)$"


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    event_type: str = Field(max_length=64)
    schema_version: int = Field(ge=1, le=1000)
    case_id: UUID
    stream_id: str = Field(max_length=120)
    stream_version: int = Field(ge=1, le=2**31 - 1)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    producer: str = Field(max_length=64)
    correlation_id: UUID
    causation_id: UUID | None = None
    # Who acted: an access token's opaque subject for a person's command, `service:<name>` for a
    # reaction, `system:timer` for a timer; and in what capacity (coordinator, centre:<id>, ...,
    # service, system). Never a name or an email. Events stored before actors were recorded have
    # none: they decode with null (the envelope's upcast).
    actor: str | None = Field(None, pattern=ACTOR_PATTERN)
    actor_role: str | None = Field(None, pattern=ACTOR_ROLE_PATTERN)
    payload: dict[str, Any]


class Event(BaseModel):
    """Base of every event payload; subclasses declare their type name and version."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
