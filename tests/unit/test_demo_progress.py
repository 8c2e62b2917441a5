"""The demo's waits follow the stack's progress, not a fixed time; its progress bar and failure list."""

from __future__ import annotations

import io

import pytest

from demo.api import StepFailed
from demo.progress import Patience, ProgressBar, Pulse, duration, names_every_failure, progress_line


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_wait_outlasts_the_stall_timeout_while_the_stack_keeps_writing():
    clock = Clock()
    writes = iter(range(10_000))  # a figure that grows at every look: the stack works
    pulse = Pulse(lambda: next(writes), every=1.0, clock=clock)
    ready_at = clock.now + 300  # five times the stall timeout, which a fixed timeout would have failed
    patience = Patience(pulse, stall_s=60, clock=clock, sleep=clock.sleep)
    assert patience.wait(lambda: clock.now >= ready_at and "routed", "routing") == "routed"
    assert clock.now >= ready_at


def test_a_wait_gives_up_after_the_stall_timeout_once_nothing_moves():
    clock = Clock()
    figure = {"n": 0}

    def sample() -> int:
        if clock.now < 1100:  # the stack works for 100 s, then stops writing
            figure["n"] += 1
        return figure["n"]

    patience = Patience(Pulse(sample, every=1.0, clock=clock), stall_s=60, clock=clock, sleep=clock.sleep)
    with pytest.raises(StepFailed) as failed:
        patience.wait(lambda: None, "a routing decision")
    assert 1160 <= clock.now <= 1163  # the last write at ~1100, then 60 s of stillness
    assert "a routing decision" in str(failed.value) and "wrote nothing for 6" in str(failed.value)


def test_a_still_stack_fails_a_wait_after_the_stall_timeout_counted_from_the_wait_start():
    clock = Clock()
    pulse = Pulse(lambda: 7, clock=clock)
    clock.now += 500  # the stack was still long before this wait began: the wait still gets its 30 s
    with pytest.raises(StepFailed):
        Patience(pulse, stall_s=30, clock=clock, sleep=clock.sleep).wait(lambda: None, "x")
    assert 1530 <= clock.now <= 1532


def test_the_pulse_samples_at_most_once_per_period():
    clock = Clock()
    calls: list[float] = []

    def sample() -> int:
        calls.append(clock.now)
        return len(calls)

    pulse = Pulse(sample, every=1.0, clock=clock)
    for _ in range(10):
        pulse.look()
        clock.now += 0.25
    assert len(calls) == 3  # at 0, 1.0 and 2.0 s


def test_the_progress_line_estimates_the_time_left_from_the_pace_so_far():
    line = progress_line(done=30, total=120, failed=2, elapsed=60, width=12)
    assert line.startswith("  [###.........]  30/120 cases  25%  2 failed")
    assert line.endswith("1m00s, about 3m00s left")
    assert progress_line(0, 10, 0, 5).endswith("estimating the time left")
    assert progress_line(10, 10, 0, 5).endswith("done")
    assert (duration(59.6), duration(61), duration(3725)) == ("1m00s", "1m01s", "1h02m")


def test_off_a_terminal_the_bar_prints_a_line_every_tenth_and_the_last():
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar(30, out=out, clock=clock, tty=False)
    for n in range(30):
        clock.now += 1
        bar.case_done(failed=n == 4)
    lines = out.getvalue().splitlines()
    assert [line.split("]")[1].split("cases")[0].strip() for line in lines] == [f"{n}/30" for n in range(3, 31, 3)]
    assert "1 failed" in lines[-1] and lines[-1].endswith("done")


def test_on_a_terminal_the_bar_is_redrawn_in_place():
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar(2, out=out, clock=clock, tty=True)
    bar.case_done(failed=False)
    clock.now += 1
    bar.tick()
    bar.case_done(failed=False)
    text = out.getvalue()
    assert text.count("\r") == 3 and text.endswith("done\n") and text.count("\n") == 1


def test_the_summary_names_every_failure_and_details_the_first_few():
    failures = [(f"case {n}", StepFailed(f"timed out {n}", f"GET /cases/{n}", "404")) for n in range(12)]
    lines = names_every_failure(list(failures), detailed=5)
    named = [line for line in lines if line.startswith("  FAILED ")]
    assert [line.split(":")[0] for line in named] == [f"  FAILED case {n}" for n in range(12)]
    assert sum("in full" in line for line in lines) == 5
    assert lines[-1].startswith("  (request and response shown for the first 5 of 12 failures")
    assert not any("shown for the first" in line for line in names_every_failure(failures[:3]))


def test_a_database_it_cannot_read_is_no_progress_and_no_failure_by_itself():
    clock = Clock()
    answers = iter([5, None, None, 6])  # the stack's database restarts between two looks
    pulse = Pulse(lambda: next(answers), every=1.0, clock=clock)
    assert pulse.look() == 1000.0
    for _ in range(2):
        clock.now += 1
        assert pulse.look() == 1000.0  # unknown: not counted as a move
    clock.now += 1
    assert pulse.look() == 1003.0
