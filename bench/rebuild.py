"""The analytics rebuild: every stored event replayed into a scratch schema (the work `make rebuild`
does before it compares and switches), in events per second, and the memory it took."""

from __future__ import annotations

import resource
import time
from typing import Any

from bench import Figures
from events.db import open_pool
from events.registry import build_registry
from services.analytics import rebuild
from services.analytics.settings import AnalyticsSettings


def run(database_url: str, summary: dict[str, Any]) -> Figures:
    sources = AnalyticsSettings.model_fields["rebuild_sources"].default
    pool = open_pool(database_url, max_size=2, name="bench-rebuild")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        start = time.perf_counter()
        applied, per_source = rebuild.build(pool, build_registry(), sources)
        elapsed = time.perf_counter() - start
        rebuild.drop_scratch(pool)
    finally:
        pool.close()
    events = sum(per_source.values())
    rate = events / elapsed
    summary["rebuild_events_per_s"] = rate
    # ru_maxrss is the process's peak in KiB: growth over what the bench already held.
    grown = max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    return [("stored events replayed", events, ""), ("projected", applied, ""), ("time", elapsed, "s"),
            ("rebuild rate", rate, "events/s"), ("peak memory growth", grown, "MiB")]
