"""Intake's composition root: settings, database, event store, consumers."""

from __future__ import annotations

from pathlib import Path

from events.store import Clock, utc_now
from services.common.runtime import Runtime, build_runtime
from services.intake.settings import IntakeSettings

SERVICE = "intake"
SCHEMA = "intake"
HERE = Path(__file__).parent


def bootstrap(settings: IntakeSettings | None = None, clock: Clock = utc_now) -> Runtime:
    return build_runtime(SERVICE, SCHEMA, settings or IntakeSettings(),
                         [HERE / "migrations"], clock)
