"""The open-loop driver counts a late send as waiting and reports its own lateness apart."""

from __future__ import annotations

import time

import pytest

from bench import BenchFailed
from bench.openloop import open_loop


def test_a_sender_slower_than_the_rate_is_reported_late_and_its_latency_counts_from_the_due_time():
    # One sender, 200 requests/s offered, 20 ms each: request i is due at 5i ms but cannot be sent
    # before 20i ms, so it is at least 15i ms late, and that wait is part of its latency.
    result = open_loop(lambda i: time.sleep(0.02), rate=200.0, duration=0.05, workers=1)
    assert result.sent == 10 and len(result.lateness) == 10 and len(result.latencies) == 10
    for i, (late, latency, service) in enumerate(zip(result.lateness, result.latencies, result.service,
                                                     strict=True)):
        assert late >= 0.015 * i - 0.002
        assert service >= 0.02
        assert latency == pytest.approx(late + service, abs=0.002)
    assert result.max_lateness == max(result.lateness) >= 0.13


def test_failed_sends_count_as_lateness_samples_but_not_as_latencies_and_too_many_fail_the_run():
    def flaky(i: int) -> None:
        if i % 2:
            raise ValueError("refused")

    with pytest.raises(BenchFailed, match="5 of 10 requests failed"):
        open_loop(flaky, rate=1000.0, duration=0.01, workers=2)
    tolerated = open_loop(flaky, rate=1000.0, duration=0.01, workers=2, fail_share=1.0)
    assert len(tolerated.lateness) == 10
    assert len(tolerated.latencies) == len(tolerated.service) == 5
    assert tolerated.errors == ["ValueError: refused"] * 5
