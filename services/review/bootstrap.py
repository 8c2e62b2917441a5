"""Review's composition root."""

from __future__ import annotations

from pathlib import Path

from events.store import Clock, utc_now
from services.common.runtime import Runtime, build_runtime
from services.review.settings import ReviewSettings

SERVICE = "review"
SCHEMA = "review"
HERE = Path(__file__).parent


def bootstrap(settings: ReviewSettings | None = None, clock: Clock = utc_now) -> Runtime:
    return build_runtime(SERVICE, SCHEMA, settings or ReviewSettings(),
                         [HERE / "migrations"], clock)
