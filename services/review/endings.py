"""Review's answer to a case's ending at intake (`ReviewEnded`). Pure, like `domain`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from events import lifecycle
from events.contract import Event, ReviewEnded
from services.review.domain import Acceptance, Review

# The endings review answers: those of intake's that stop the centre's work (events.lifecycle).
# ReviewEnded's contract names them too; a unit test holds the two to each other.
Ending = Literal["CaseCancelled", "CaseWithdrawn", "CaseExpired", "PatientDataErased"]
ENDINGS: tuple[str, ...] = lifecycle.INTAKE_STOPPING


def _in_force(review: Review, at: datetime) -> Acceptance | None:
    # By event time: an acceptance dated after the ending, made before review learned of it, was
    # not in force when the case ended; one released (declined) after the ending still was.
    for a in reversed(review.acceptances):
        if a.accepted_at <= at and (a.released_at is None or a.released_at > at):
            return a
    return None


def end(review: Review, ending: Ending, ending_event_id: UUID, ended_at: datetime) -> list[Event]:
    """What the centre had done by the ending's event time; once, for the first ending."""
    if review.ended is not None:
        return []
    acceptance = _in_force(review, ended_at)
    delivered = review.delivered_at if review.delivered_at and review.delivered_at <= ended_at else None
    held = review.video_held_at if review.video_held_at and review.video_held_at <= ended_at else None
    return [ReviewEnded(ending=ending, ending_event_id=ending_event_id, ended_at=ended_at,
                        centre_id=acceptance.centre if acceptance else None,
                        accepted_at=acceptance.accepted_at if acceptance else None,
                        delivered_at=delivered, video_held_at=held)]
