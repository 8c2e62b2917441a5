"""Review's composition root: settings, database, event store, the centres' calendar, the reports' store."""

from __future__ import annotations

from pathlib import Path

from events.db import Connections
from events.store import Clock, utc_now
from services.common.calendar import load_calendar
from services.common.object_store import S3Objects
from services.common.runtime import ServiceStore, build_runtime
from services.common.settings import ObjectStoreSettings
from services.common.vault import PgOwnerKeys, Vault
from services.review import metrics
from services.review.application import ReviewRuntime
from services.review.assignments import AssignmentBook, Assignments
from services.review.files import CaseFiles, PgCaseFiles
from services.review.settings import ReviewSettings

SERVICE = "review"
SCHEMA = "review"
HERE = Path(__file__).parent


def bootstrap(settings: ReviewSettings | None = None, clock: Clock = utc_now, *, pool: Connections | None = None,
              store: ServiceStore | None = None, assignments: AssignmentBook | None = None,
              files: CaseFiles | None = None) -> ReviewRuntime:
    """Review's runtime; each dependency left out is the real one (build_runtime says which for
    `pool` and `store`; the files are the object store's, encrypted per case), and a unit test
    hands in fakes."""
    settings = settings or ReviewSettings()
    # Every partner centre is in mainland China: one calendar serves them all.
    calendar = load_calendar(settings.calendar_file)
    metrics.CALENDAR_LAST_KNOWN_YEAR.set(max(calendar.known_years))
    if files is None:
        files = PgCaseFiles(Vault(settings.master_key_bytes(), PgOwnerKeys(SCHEMA)), S3Objects(ObjectStoreSettings()),
                            SCHEMA)
    return build_runtime(SERVICE, SCHEMA, settings, [HERE / "migrations"], clock, runtime_class=ReviewRuntime,
                         pool=pool, store=store, calendar=calendar, assignments=assignments or Assignments(SCHEMA),
                         files=files)
