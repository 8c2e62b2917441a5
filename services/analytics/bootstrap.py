"""The analytics projector's composition root."""

from __future__ import annotations

from events.db import Connections
from events.store import Clock, utc_now
from services.analytics import ddl
from services.analytics.ddl import LIVE_SCHEMA
from services.analytics.settings import AnalyticsSettings
from services.common.runtime import Runtime, ServiceStore, build_runtime

SERVICE = "analytics"
# The worker's own bookkeeping: its (empty) event store, processed events, applied migrations.
SCHEMA = "analytics_state"


def bootstrap(settings: AnalyticsSettings | None = None, clock: Clock = utc_now, *, pool: Connections | None = None,
              store: ServiceStore | None = None) -> Runtime:
    """The projector's runtime; without `pool` the real one, with the projection's tables migrated."""
    rt: Runtime = build_runtime(SERVICE, SCHEMA, settings or AnalyticsSettings(), [], clock, pool=pool, store=store)
    if pool is not None:
        return rt  # the caller's pool, prepared by the caller (build_runtime)
    # The projection migrations take their target schema as a parameter, which events.migrations
    # cannot pass: ddl.migrate applies them once the event store's own migrations are in.
    try:
        ddl.migrate(rt.pool, SCHEMA, LIVE_SCHEMA)
    except BaseException:
        rt.close()
        raise
    return rt
