"""The analytics projector's composition root."""

from __future__ import annotations

from pathlib import Path

from events.store import Clock, utc_now
from services.analytics.settings import AnalyticsSettings
from services.common.runtime import Runtime, build_runtime

SERVICE = "analytics"
SCHEMA = "analytics_state"
HERE = Path(__file__).parent


def bootstrap(settings: AnalyticsSettings | None = None, clock: Clock = utc_now) -> Runtime:
    return build_runtime(SERVICE, SCHEMA, settings or AnalyticsSettings(),
                         [HERE / "migrations"], clock)
