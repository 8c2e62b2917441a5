"""Review's composition root: settings, database, event store, the centres' calendar, the reports' store."""

from __future__ import annotations

from pathlib import Path

from events.store import Clock, utc_now
from services.common.calendar import load_calendar
from services.common.object_store import S3Objects
from services.common.runtime import build_runtime
from services.common.settings import ObjectStoreSettings
from services.common.vault import PgOwnerKeys, Vault
from services.review import metrics
from services.review.application import ReviewRuntime
from services.review.assignments import Assignments
from services.review.files import PgCaseFiles
from services.review.settings import ReviewSettings

SERVICE = "review"
SCHEMA = "review"
HERE = Path(__file__).parent


def bootstrap(settings: ReviewSettings | None = None, clock: Clock = utc_now) -> ReviewRuntime:
    settings = settings or ReviewSettings()
    # Every partner centre is in mainland China: one calendar serves them all.
    calendar = load_calendar(settings.calendar_file)
    metrics.CALENDAR_LAST_KNOWN_YEAR.set(max(calendar.known_years))
    return build_runtime(SERVICE, SCHEMA, settings, [HERE / "migrations"], clock, runtime_class=ReviewRuntime,
                         calendar=calendar, assignments=Assignments(SCHEMA),
                         files=PgCaseFiles(Vault(settings.master_key_bytes(), PgOwnerKeys(SCHEMA)),
                                           S3Objects(ObjectStoreSettings()), SCHEMA))
