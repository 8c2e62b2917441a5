"""The events routing emits: where a case went, or why it could not go anywhere."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

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
    """v2: `accept_by`, the last business day (Asia/Shanghai, the centres' calendar) for the centre
    to accept; after its end routing withdraws the case (AssignmentWithdrawn). None when the
    calendar does not know that year (nobody is chased then), and in v1 events."""

    event_type = "CaseRouted"
    schema_version = 2

    centre_id: CentreId
    reason_codes: list[Code] = Field(min_length=1, max_length=MAX_CODES)
    attempt: int = Field(ge=1)
    accept_by: date | None = None


class AssignmentWithdrawn(Event):
    """Routing takes a case back from a centre that has not accepted it: its acceptance deadline
    passed (`no_answer`, dated at the deadline) or the coordinator re-routes it to `reassign_to`.

    It is an offer withdrawn, not yet a decline: review records the centre's CaseDeclined with this
    reason unless that centre's acceptance is dated before this event, in which case the acceptance
    stands. Routing re-routes on that decline, as on any other (docs/routing.md)."""

    event_type = "AssignmentWithdrawn"

    centre_id: CentreId
    attempt: int = Field(ge=1)
    reason: Literal["no_answer", "reassigned_by_coordinator"]
    reassign_to: CentreId | None = None


class CaseRoutingBlocked(Event):
    """No centre can take the case as it stands; a coordinator must act."""

    event_type = "CaseRoutingBlocked"

    reason_codes: list[Code] = Field(min_length=1, max_length=MAX_CODES)


class CaseFinallyDeclined(Event):
    """The final decline: no centre will review the case (billing refunds in full)."""

    event_type = "CaseFinallyDeclined"

    # 0 when the coordinator ends a case that no consented centre could take at all.
    declines: int = Field(ge=0)


def acceptance_stands(accepted_at: datetime, withdrawn_at: datetime) -> bool:
    """What AssignmentWithdrawn means, applied alike by routing and review (neither imports the
    other): the centre's acceptance dated before the withdrawal wins; one at or after it loses."""
    return accepted_at < withdrawn_at
