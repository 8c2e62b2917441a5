"""The live app's (services/live, faust) sustained events/s while the pipeline runs, and whether its
lag grew over the run.

Cases are opened straight in intake's store by the pipeline benchmark's writers (bench/pipeline.py)
for LOAD_S seconds, paced so that the stores gain events (cases and reactions) at the rate the
pipeline benchmark measured (as fast as they go when it has no figure); the services react as
usual, and every event reaches `case-ledger`. The live app's
/progress (offsets applied per partition, lag from the fetches' high-water marks) is sampled every
second. The figure is the messages it applied from the first commit until it had caught up with all
of them (lag 0, outboxes empty), over that time. "Lag grew" when the lag's floor (its minimum) over
the last third of the load is more than one second of the pipeline's traffic above the first
third's: the lag comes in bursts as the relays publish batches, and a consumer that keeps up
returns to near zero between them (the least-squares slope is reported too).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import psycopg

from bench import OUTBOX_SCHEMAS, BenchFailed, Figures, scaled, stored_events
from bench.pipeline import BATCH, WRITERS, _kernel, _open_cases
from events.db import Pool, open_pool

LOAD_S = 20.0
CATCH_UP_S = 180.0
_BACKLOG = " + ".join(f"(SELECT count(*) FROM {s}.outbox WHERE published_at IS NULL)" for s in OUTBOX_SCHEMAS)


def _progress(url: str) -> dict[str, Any]:
    r = httpx.get(url + "/progress", timeout=5)
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


def _applied(p: dict[str, Any]) -> int:
    """Messages behind the app's position: applied ones, or the committed offset where it has applied
    none since it started."""
    parts = set(p["applied"]) | set(p["committed"])
    return sum(int(p["applied"][k]) + 1 if k in p["applied"] else int(p["committed"].get(k, 0)) for k in parts)


def _slope(samples: list[tuple[float, float]]) -> float:
    n = len(samples)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in samples) / n
    ml = sum(v for _, v in samples) / n
    den = sum((t - mt) ** 2 for t, _ in samples)
    return sum((t - mt) * (v - ml) for t, v in samples) / den if den else 0.0


def run(live_url: str, database_url: str, summary: dict[str, Any]) -> Figures:
    start_progress = _progress(live_url)
    if not start_progress["ready"] or start_progress["lag"] is None:
        raise BenchFailed(f"the live app is not ready: {start_progress}")
    applied_before = _applied(start_progress)
    # Paced on what the stores gain (cases opened and every reaction), at the pipeline benchmark's
    # rate; as fast as the writers go when it has no figure.
    target = summary.get("pipeline_events_per_s")
    load_s = LOAD_S * max(0.25, min(1.0, scaled(100) / 100))
    pool = open_pool(database_url, max_size=WRITERS, name="bench-live")
    with psycopg.connect(database_url, autocommit=True) as conn:
        stored_before = stored_events(conn)
        started = time.monotonic()
        samples = _load(live_url, pool, conn, load_s, target, stored_before, started)
        loaded = time.monotonic() - started
        p = _caught_up(live_url, conn)
        elapsed = time.monotonic() - started
        stored = stored_events(conn) - stored_before
    applied = _applied(p) - applied_before
    # The services' reactions go on after the writers stop: the stores' growth over the whole run
    # is the rate the pipeline carried, and the live app can apply an event only once published.
    return _figures(summary, samples, applied / elapsed, stored / elapsed, loaded)


def _load(live_url: str, pool: Pool, conn: psycopg.Connection[Any], load_s: float, target: float | None,
          stored_before: int, started: float) -> list[tuple[float, float]]:
    """The writers open cases on `pool` for `load_s` seconds, at most at `target` stored events per
    second, and close it when they stop; the live app's lag, sampled every second of it."""
    kernel = _kernel()
    stop, ahead = threading.Event(), threading.Event()
    samples: list[tuple[float, float]] = []

    def writer() -> None:
        while not stop.is_set():
            if ahead.is_set():
                time.sleep(0.05)
                continue
            _open_cases(pool, kernel, BATCH)

    threads = [threading.Thread(target=writer, name=f"bench-live-{i}") for i in range(WRITERS)]
    try:
        for t in threads:
            t.start()
        next_sample = started + 1.0
        while time.monotonic() - started < load_s:
            time.sleep(0.25)
            if target:
                gained = stored_events(conn) - stored_before
                if gained > target * (time.monotonic() - started):
                    ahead.set()
                else:
                    ahead.clear()
            if time.monotonic() >= next_sample:
                next_sample += 1.0
                p = _progress(live_url)
                if p["lag"] is not None:
                    samples.append((time.monotonic() - started, float(p["lag"])))
    finally:
        stop.set()
        for t in threads:
            t.join()
        pool.close()
    return samples


def _caught_up(live_url: str, conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """The live app's progress once it has applied everything and every outbox is published."""
    deadline = time.monotonic() + CATCH_UP_S
    while True:
        p = _progress(live_url)
        row = conn.execute(f"SELECT {_BACKLOG}").fetchone()
        if p["lag"] == 0 and row is not None and row[0] == 0:
            return p
        if time.monotonic() > deadline:
            raise BenchFailed(f"the live app did not catch up within {CATCH_UP_S:.0f}s: lag {p['lag']}")
        time.sleep(0.2)


def _figures(summary: dict[str, Any], samples: list[tuple[float, float]], rate: float, carried: float,
             loaded: float) -> Figures:
    slope = _slope(samples)
    # The lag comes in bursts (the relays publish in batches): a consumer that keeps up returns to
    # near zero between them, one that falls behind has a rising floor. Grew: the floor of the last
    # third of the load is more than a second of the pipeline's traffic above the first third's.
    third = max(1, len(samples) // 3)
    floor_first = min((v for _, v in samples[:third]), default=0.0)
    floor_last = min((v for _, v in samples[-third:]), default=0.0)
    grew = floor_last - floor_first > carried
    summary["live_events_per_s"] = rate
    summary["live_pipeline_events_per_s"] = carried
    summary["live_lag_slope_msgs_per_s"] = slope
    summary["live_lag_floor_first_last"] = [floor_first, floor_last]
    summary["live_lag_grew"] = grew
    summary["live_max_lag"] = max((v for _, v in samples), default=0.0)
    return [(f"events the stores gained ({loaded:.0f}s of writers, then the reactions), per second", carried,
             "events/s"),
            ("live app applied, first commit until caught up", rate, "events/s"),
            ("live app lag: largest sample during the load", summary["live_max_lag"], "msgs"),
            ("live app lag slope during the load (least squares)", slope, "msgs/s"),
            ("live app lag floor, first third of the load", floor_first, "msgs"),
            (f"live app lag floor, last third of the load ({'GREW' if grew else 'did not grow'})", floor_last,
             "msgs")]
