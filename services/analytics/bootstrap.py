"""The analytics projector's composition root."""

from __future__ import annotations

from events.store import Clock, utc_now
from services.analytics import ddl
from services.analytics.ddl import LIVE_SCHEMA
from services.analytics.settings import AnalyticsSettings
from services.common.runtime import Runtime, build_runtime

SERVICE = "analytics"
# The worker's own bookkeeping: its (empty) event store, processed events, applied migrations.
SCHEMA = "analytics_state"


def bootstrap(settings: AnalyticsSettings | None = None, clock: Clock = utc_now) -> Runtime:
    # The projection migrations take their target schema as a parameter, which events.migrations
    # cannot pass: ddl.migrate applies them once the event store's own migrations are in.
    rt: Runtime = build_runtime(SERVICE, SCHEMA, settings or AnalyticsSettings(), [], clock)
    try:
        ddl.migrate(rt.pool, SCHEMA, LIVE_SCHEMA)
    except BaseException:
        rt.close()
        raise
    return rt
