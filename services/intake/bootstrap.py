"""Intake's composition root: settings, database, event store, vault, the record files' object store."""

from __future__ import annotations

import hashlib
from pathlib import Path

from events.store import Clock, utc_now
from services.common.object_store import S3Objects
from services.common.runtime import build_runtime
from services.common.settings import ObjectStoreSettings
from services.common.vault import PgOwnerKeys, Vault
from services.intake.application import IntakeRuntime
from services.intake.legacy_records import move_local_records
from services.intake.rows import PgIntakeRows
from services.intake.settings import IntakeSettings
from services.intake.worklist import PgWorklist

SERVICE = "intake"
SCHEMA = "intake"
HERE = Path(__file__).parent


def bootstrap(settings: IntakeSettings | None = None, clock: Clock = utc_now) -> IntakeRuntime:
    settings = settings or IntakeSettings()
    objects = S3Objects(ObjectStoreSettings())
    # Record files an older version kept under the data directory go to the bucket, once.
    move_local_records(settings.data_dir / "records", objects)
    rows = PgIntakeRows(SCHEMA)
    master = settings.master_key_bytes()
    return build_runtime(SERVICE, SCHEMA, settings, [HERE / "migrations"], clock, runtime_class=IntakeRuntime,
                         rows=rows, vault=Vault(master, PgOwnerKeys(SCHEMA)), objects=objects,
                         uid_secret=hashlib.sha256(b"dicom-uid:" + master).digest(), worklist=PgWorklist(SCHEMA))
