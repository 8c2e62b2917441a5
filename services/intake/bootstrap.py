"""Intake's composition root: settings, database, event store, vault, the record files' object store."""

from __future__ import annotations

import hashlib
from pathlib import Path

from events.db import Connections
from events.store import Clock, utc_now
from services.common.object_store import ObjectStore, S3Objects
from services.common.runtime import ServiceStore, build_runtime
from services.common.settings import ObjectStoreSettings
from services.common.vault import OwnerKeys, PgOwnerKeys, Vault
from services.intake.application import IntakeRuntime
from services.intake.legacy_records import move_local_records
from services.intake.rows import IntakeRows, PgIntakeRows
from services.intake.settings import IntakeSettings
from services.intake.worklist import PgWorklist, Worklist

SERVICE = "intake"
SCHEMA = "intake"
HERE = Path(__file__).parent


def bootstrap(settings: IntakeSettings | None = None, clock: Clock = utc_now, *, pool: Connections | None = None,
              store: ServiceStore | None = None, objects: ObjectStore | None = None, rows: IntakeRows | None = None,
              keys: OwnerKeys | None = None, worklist: Worklist | None = None) -> IntakeRuntime:
    """Intake's runtime; each dependency left out is the real one (build_runtime says which for
    `pool` and `store`), and a unit test hands in fakes."""
    settings = settings or IntakeSettings()
    if objects is None:
        objects = S3Objects(ObjectStoreSettings())
        # Record files an older version kept under the data directory go to the bucket, once.
        move_local_records(settings.data_dir / "records", objects)
    master = settings.master_key_bytes()
    return build_runtime(SERVICE, SCHEMA, settings, [HERE / "migrations"], clock, runtime_class=IntakeRuntime,
                         pool=pool, store=store, rows=rows or PgIntakeRows(SCHEMA),
                         vault=Vault(master, keys or PgOwnerKeys(SCHEMA)), objects=objects,
                         uid_secret=hashlib.sha256(b"dicom-uid:" + master).digest(),
                         worklist=worklist or PgWorklist(SCHEMA))
