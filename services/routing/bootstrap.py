"""Routing's composition root."""

from __future__ import annotations

from pathlib import Path

from events.store import Clock, utc_now
from services.common.runtime import Runtime, build_runtime
from services.routing.settings import RoutingSettings

SERVICE = "routing"
SCHEMA = "routing"
HERE = Path(__file__).parent


def bootstrap(settings: RoutingSettings | None = None, clock: Clock = utc_now) -> Runtime:
    return build_runtime(SERVICE, SCHEMA, settings or RoutingSettings(),
                         [HERE / "migrations"], clock)
