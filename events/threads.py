"""A worker's threads, stopped together: one dead or wedged thread ends the process, and the
supervisor starts it again."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)


def run_threads(targets: Mapping[str, Callable[[threading.Event], Any]], stop: threading.Event,
                beats: Mapping[str, Callable[[], float]] | None = None, wedged_after: float = 120.0,
                join_timeout: float = 10.0) -> None:
    """Runs each target in a thread until `stop`; a thread that dies, or whose loop has not turned
    for `wedged_after` seconds (its last beat, monotonic), stops them all, and the supervisor
    starts the process again: a call blocked for good cannot be interrupted from Python, so each
    thread is given `join_timeout` seconds to end, and a blocked one is left behind (daemon)."""
    threads = [threading.Thread(target=fn, args=(stop,), name=name, daemon=True)
               for name, fn in targets.items()]
    for t in threads:
        t.start()
    while not stop.is_set():
        stop.wait(0.5)
        dead = [t.name for t in threads if not t.is_alive()]
        if dead:
            log.error("worker threads died: %s", dead)
            stop.set()
        wedged = [name for name, beat in (beats or {}).items() if time.monotonic() - beat() > wedged_after]
        if wedged:
            log.error("worker threads stuck for over %.0fs: %s; stopping the worker", wedged_after, wedged)
            stop.set()
    for t in threads:
        t.join(timeout=join_timeout)
