"""A fixed-rate (open-loop) driver: request i is due at start + i / rate, whether or not earlier ones
have answered, and its latency counts from when it was due, not from when a thread got to send it.

A closed loop (N threads, each waiting for its answer) slows down with the server and so never
sees the queue a real arrival rate builds: its tail hides the waiting. Here a late start is part
of the latency. The client shares the machine's cores with the server; that is stated, not hidden.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import BenchFailed, percentiles


@dataclass
class OpenLoopResult:
    offered_rate: float
    sent: int
    latencies: list[float] = field(default_factory=list)  # seconds, from due time to answer
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    max_lateness: float = 0.0  # how far behind schedule a send started, at worst

    @property
    def achieved_rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def p(self, point: int) -> float:
        return percentiles(self.latencies, (point,))[point]


def open_loop(send: Callable[[int], None], rate: float, duration: float, workers: int = 32,
              fail_share: float = 0.01) -> OpenLoopResult:
    """Calls send(i) for each due request i; `workers` threads take the next due one in turn."""
    total = max(2, int(rate * duration))
    result = OpenLoopResult(offered_rate=rate, sent=total)
    lock = threading.Lock()
    cursor = iter(range(total))
    start = time.perf_counter() + 0.05

    def work() -> None:
        latencies, errors, lateness = [], [], 0.0
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            due = start + i / rate
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
            else:
                lateness = max(lateness, now - due)
            try:
                send(i)
            except Exception as exc:  # the figure reports them; one failure must not stop the run
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - due)
        with lock:
            result.latencies += latencies
            result.errors += errors
            result.max_lateness = max(result.max_lateness, lateness)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.elapsed = time.perf_counter() - start
    if len(result.errors) > fail_share * total:
        raise BenchFailed(f"{len(result.errors)} of {total} requests failed at {rate:.0f}/s, first: "
                          f"{result.errors[0]}")
    return result
