"""A fixed-rate (open-loop) driver: request i is due at start + i / rate, whether or not earlier ones
have answered, and its latency counts from when it was due, not from when a thread got to send it.

A closed loop (N threads, each waiting for its answer) slows down with the server and so never
sees the queue a real arrival rate builds: its tail hides the waiting. Here a late start is part
of the latency (coordinated omission corrected). The client shares the machine's cores with the
server, so the driver's own lateness (when each request was sent against when it was due) is
recorded per request and reported beside the latency: a tail the driver made is then seen as such.
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
    service: list[float] = field(default_factory=list)  # seconds, from the send to the answer
    lateness: list[float] = field(default_factory=list)  # seconds, from due time to the send (>= 0)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def achieved_rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    @property
    def max_lateness(self) -> float:
        return max(self.lateness, default=0.0)

    def p(self, point: int) -> float:
        return percentiles(self.latencies, (point,))[point]

    def service_p(self, point: int) -> float:
        return percentiles(self.service, (point,))[point]

    def lateness_p(self, point: int) -> float:
        return percentiles(self.lateness, (point,))[point]


def open_loop(send: Callable[[int], None], rate: float, duration: float, workers: int = 32,
              fail_share: float = 0.01) -> OpenLoopResult:
    """Calls send(i) for each due request i; `workers` threads take the next due one in turn."""
    total = max(2, int(rate * duration))
    result = OpenLoopResult(offered_rate=rate, sent=total)
    lock = threading.Lock()
    cursor = iter(range(total))
    start = time.perf_counter() + 0.05

    def work() -> None:
        latencies, service, lateness, errors = [], [], [], []
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            due = start + i / rate
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
            sent = time.perf_counter()
            lateness.append(max(0.0, sent - due))
            try:
                send(i)
            except Exception as exc:  # the figure reports them; one failure must not stop the run
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            answered = time.perf_counter()
            latencies.append(answered - due)
            service.append(answered - sent)
        with lock:
            result.latencies += latencies
            result.service += service
            result.lateness += lateness
            result.errors += errors

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
