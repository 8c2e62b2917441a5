"""Routing's composition root: settings, database, event store, the partner centres, the centres' calendar."""

from __future__ import annotations

from pathlib import Path

from events.db import Connections
from events.store import Clock, utc_now
from services.common.calendar import load_calendar
from services.common.runtime import ServiceStore, build_runtime
from services.routing.application import RoutingRuntime
from services.routing.board import PgRoutingBoard, RoutingBoard
from services.routing.centres import load_centres
from services.routing.settings import RoutingSettings

SERVICE = "routing"
SCHEMA = "routing"
HERE = Path(__file__).parent


def bootstrap(settings: RoutingSettings | None = None, clock: Clock = utc_now, *, pool: Connections | None = None,
              store: ServiceStore | None = None, board: RoutingBoard | None = None) -> RoutingRuntime:
    """Routing's runtime; each dependency left out is the real one (build_runtime says which for
    `pool` and `store`), and a unit test hands in fakes."""
    settings = settings or RoutingSettings()
    partners = load_centres(settings.centres_file)  # refuse to start on an invalid centres file
    calendar = load_calendar(settings.calendar_file)  # and on an invalid operator calendar
    return build_runtime(SERVICE, SCHEMA, settings, [HERE / "migrations"], clock, runtime_class=RoutingRuntime,
                         pool=pool, store=store, partners=partners, board=board or PgRoutingBoard(SCHEMA),
                         calendar=calendar)
