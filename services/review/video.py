"""The video consultation with the tumour board, step by step. Pure, like `domain`.

Each step is dated after the one before it; the first (the centre's request) after the case's
routing to that centre. The state each step leaves is `domain.VIDEO_STEPS`, folded by `Review`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from events.contract import (
    Event,
    VideoConsultationHeld,
    VideoConsultationMissed,
    VideoConsultationRequested,
    VideoConsultationScheduled,
)
from services.common.errors import InvalidInput, Rejected, not_dated_before
from services.review.domain import Review

Step = Literal["request", "schedule", "held", "missed"]

_STEPS: dict[str, tuple[set[str | None], type[Event]]] = {
    "request": ({None, "missed"}, VideoConsultationRequested),
    "held": ({"scheduled"}, VideoConsultationHeld),
    "missed": ({"scheduled"}, VideoConsultationMissed),
}


def _dated(review: Review, at: datetime) -> None:
    if review.video_at is None:
        not_dated_before(at, review.routed_at, "the case's routing to this centre")
    else:
        not_dated_before(at, review.video_at, "the video consultation's previous step")


def step(review: Review, step: Step, scheduled_for: datetime | None, at: datetime) -> list[Event]:
    if step == "schedule":
        if review.video not in ("requested", "scheduled"):
            raise Rejected("request the video consultation before scheduling it", "video_not_requested")
        if scheduled_for is None:
            raise InvalidInput("scheduled_for", "required to schedule")
        _dated(review, at)
        return [VideoConsultationScheduled(scheduled_for=scheduled_for)]
    allowed, event = _STEPS[step]
    if review.video not in allowed:
        raise Rejected(f"the video consultation is {review.video or 'not requested'}: cannot {step}",
                       "video_transition")
    _dated(review, at)
    return [event()]
