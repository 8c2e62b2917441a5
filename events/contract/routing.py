"""The events routing emits: where a case went, or why it could not go anywhere."""

from __future__ import annotations

from pydantic import Field

from events.codes import (
    CentreId,
)
from events.contract.base import (
    MAX_CODES,
    Code,
    Event,
)


class CaseRouted(Event):
    event_type = "CaseRouted"

    centre_id: CentreId
    reason_codes: list[Code] = Field(min_length=1, max_length=MAX_CODES)
    attempt: int = Field(ge=1)


class CaseRoutingBlocked(Event):
    """No centre can take the case as it stands; a coordinator must act."""

    event_type = "CaseRoutingBlocked"

    reason_codes: list[Code] = Field(min_length=1, max_length=MAX_CODES)


class CaseFinallyDeclined(Event):
    """The final decline: no centre will review the case (billing refunds in full)."""

    event_type = "CaseFinallyDeclined"

    # 0 when the coordinator ends a case that no consented centre could take at all.
    declines: int = Field(ge=0)
