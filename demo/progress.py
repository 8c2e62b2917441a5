"""How long the demo waits, and what it shows while it plays.

A fixed timeout on each wait made `make demo` fail on timing alone: on a loaded machine a case
waited 45 s for routing's decision, "failed", and was routed a little later. The stack is either
still working (its consumers are applying events, however slowly) or stuck, and only the second
is a failure. So a wait here lasts as long as the stack makes progress, and gives up only after a
stretch (`stall_s`) in which nothing moved.

"Moved" is read from PostgreSQL's own counters of rows written in the services' schemas
(pg_stat_user_tables): every event appended, every event a consumer applies (its processed-events
row) and every projection row moves them, and an idle stack leaves them still (the demo's own
reads do not count). PostgreSQL publishes a busy backend's counters at least every second and an
idle one's within 10 s, well inside any useful stall.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

import psycopg

from demo.api import StepFailed

T = TypeVar("T")
SCHEMAS = ("intake", "routing", "review", "billing", "analytics", "analytics_state")
WRITES = ("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint AS n FROM pg_stat_user_tables "
          "WHERE schemaname = ANY(%s)")


class Pulse:
    """When the stack last moved: a figure that grows while it works, sampled at most once per `every` s."""

    def __init__(self, sample: Callable[[], int | None], every: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, on_close: Callable[[], None] = lambda: None) -> None:
        self.sample, self.every, self.clock, self.close = sample, every, clock, on_close
        self._lock = threading.Lock()
        self._value: int | None = None
        self._sampled_at = float("-inf")
        self.moved_at = clock()

    @classmethod
    def of_database(cls, database_url: str) -> Pulse:
        held: list[psycopg.Connection[Any]] = [psycopg.connect(database_url, autocommit=True)]

        def writes() -> int | None:
            # A database that is away (restarting) is no progress, and no reason to fail a wait by
            # itself: the next look connects again.
            try:
                if not held:
                    held.append(psycopg.connect(database_url, autocommit=True, connect_timeout=5))
                row = held[0].execute(WRITES, (list(SCHEMAS),)).fetchone()
                return int(row[0]) if row else 0
            except psycopg.Error:
                close()
                return None

        def close() -> None:
            while held:
                held.pop().close()

        return cls(writes, on_close=close)

    def look(self) -> float:
        """Samples the figure if the last look is old enough; returns when it last changed."""
        with self._lock:
            now = self.clock()
            if now - self._sampled_at >= self.every:
                self._sampled_at = now
                value = self.sample()  # None: could not tell, which is not progress
                if value is not None and value != self._value:
                    self._value, self.moved_at = value, now
            return self.moved_at


class Patience:
    """Waits for a condition for as long as the stack keeps moving."""

    def __init__(self, pulse: Pulse, stall_s: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.pulse, self.stall_s, self.clock, self.sleep = pulse, stall_s, clock, sleep

    def wait(self, probe: Callable[[], T | None], what: str, interval: float = 0.1) -> T:
        """Polls `probe` until it returns something truthy; raises StepFailed once neither the probe
        nor the stack has moved for `stall_s` seconds."""
        started = self.clock()
        while True:
            value = probe()
            if value:
                return value
            now = self.clock()
            still = now - max(started, self.pulse.look())
            if still > self.stall_s:
                raise StepFailed(f"gave up after {now - started:.0f}s waiting for {what}: the stack wrote "
                                 f"nothing for {still:.0f}s (--stall-timeout {self.stall_s:.0f})")
            self.sleep(interval)
            interval = min(interval * 1.5, 1.0)


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_line(done: int, total: int, failed: int, elapsed: float, width: int = 30) -> str:
    """`[#######.......]  12/30 cases  40%  1 failed  1m05s, about 1m38s left`."""
    share = done / total if total else 1.0
    filled = int(share * width)
    left = ("done" if done >= total else "estimating the time left" if not done
            else f"about {duration(elapsed / done * (total - done))} left")
    return (f"  [{'#' * filled}{'.' * (width - filled)}] {done:>{len(str(total))}}/{total} cases {share:4.0%}"
            + (f"  {failed} failed" if failed else "") + f"  {duration(elapsed)}, {left}")


class ProgressBar:
    """The play's progress: redrawn in place on a terminal, a line every tenth (or 30 s) otherwise."""

    def __init__(self, total: int, out: TextIO = sys.stdout, clock: Callable[[], float] = time.monotonic,
                 tty: bool | None = None) -> None:
        self.total, self.out, self.clock = total, out, clock
        self.tty = out.isatty() if tty is None else tty
        self.started = clock()
        self.done = self.failed = 0
        self._printed_at = self.started
        self._step = max(1, total // 10)
        self._next_mark = self._step
        self._lock = threading.Lock()

    def case_done(self, failed: bool) -> None:
        with self._lock:
            self.done += 1
            self.failed += failed
            self._draw(force=self.done == self.total, changed=True)

    def tick(self) -> None:
        """Redraws the elapsed time and the estimate while no case finishes."""
        with self._lock:
            self._draw(force=False, changed=False)

    def _draw(self, force: bool, changed: bool) -> None:
        now = self.clock()
        if self.tty:  # one line, rewritten: every finished case, and the clock every half second
            if force or changed or now - self._printed_at >= 0.5:
                self._emit("\r" + progress_line(self.done, self.total, self.failed, now - self.started),
                           end="\n" if self.done >= self.total else "")
                self._printed_at = now
            return
        crossed = self.done >= self._next_mark
        if force or crossed or now - self._printed_at >= 30:
            self._emit(progress_line(self.done, self.total, self.failed, now - self.started))
            self._printed_at = now
            while self._next_mark <= self.done:
                self._next_mark += self._step

    def _emit(self, text: str, end: str = "\n") -> None:
        print(text, end=end, file=self.out, flush=True)

    def run_ticker(self, stop: threading.Event, every: float = 1.0) -> threading.Thread:
        def ticker() -> None:
            while not stop.wait(every):
                self.tick()

        thread = threading.Thread(target=ticker, name="demo-progress", daemon=True)
        thread.start()
        return thread


def names_every_failure(failures: list[tuple[str, Any]], detailed: int = 5) -> list[str]:
    """One line per failure, and the full request and response of the first `detailed` of them."""
    lines = [f"  FAILED {label}: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
             for label, error in failures]
    for label, error in failures[:detailed]:
        lines.append(f"  {label} in full:\n    {error}")
    if len(failures) > detailed:
        lines.append(f"  (request and response shown for the first {detailed} of {len(failures)} failures; "
                     "every one is named above)")
    return lines
