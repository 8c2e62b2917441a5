"""Intake's composition root: settings, database, event store, vault, record storage."""

from __future__ import annotations

from pathlib import Path

from events.store import Clock, utc_now
from services.common.runtime import build_runtime
from services.intake.application import IntakeRuntime
from services.intake.rows import PgIntakeRows
from services.intake.settings import IntakeSettings
from services.intake.vault import Vault

SERVICE = "intake"
SCHEMA = "intake"
HERE = Path(__file__).parent


def bootstrap(settings: IntakeSettings | None = None, clock: Clock = utc_now) -> IntakeRuntime:
    settings = settings or IntakeSettings()
    records_dir = settings.data_dir / "records"
    records_dir.mkdir(parents=True, exist_ok=True)
    rows = PgIntakeRows(SCHEMA)
    return build_runtime(SERVICE, SCHEMA, settings, [HERE / "migrations"], clock, runtime_class=IntakeRuntime,
                         rows=rows, vault=Vault(settings.master_key_bytes(), rows), records_dir=records_dir)
