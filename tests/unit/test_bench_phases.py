"""A bench phase past its budget is killed with what it started, and its cleanup runs."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from bench.phases import Phase, budget, run_phase


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of a killed parent is reaped by init; until then it is a zombie.
    status = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return status not in ("Z", "X")


def test_a_phase_past_its_budget_is_killed_with_its_child_processes_and_cleaned_up(tmp_path: Path):
    marker = tmp_path / "grandchild.pid"
    cleaned: list[str] = []

    def slow() -> list[tuple[str, float, str]]:
        sleeper = subprocess.Popen(["sleep", "60"])
        marker.write_text(str(sleeper.pid))
        time.sleep(60)
        return []

    started = time.monotonic()
    figures, failed = run_phase(Phase("slow", "a phase that hangs", slow, 1.0, lambda: cleaned.append("done")),
                                {}, seconds=1.0)
    assert time.monotonic() - started < 10
    assert figures is None and failed is not None and failed.startswith(" (timeout)")
    assert "cleaned up" in failed and cleaned == ["done"]
    grandchild = int(marker.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_a_phase_that_finishes_returns_its_figures_and_summary_and_is_not_cleaned_up():
    cleaned: list[str] = []

    def quick() -> list[tuple[str, float, str]]:
        summary["figure"] = 42.0
        return [("figure", 42.0, "x")]

    summary: dict[str, object] = {}
    figures, failed = run_phase(Phase("quick", "a phase that ends", quick, 30.0, lambda: cleaned.append("done")),
                                summary, seconds=30.0)
    assert figures == [("figure", 42.0, "x")] and failed is None
    assert summary == {"figure": 42.0} and cleaned == []


def test_a_budget_stretches_with_the_load_per_core_and_never_shrinks(monkeypatch):
    monkeypatch.delenv("BENCH_TIME_FACTOR", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    phase = Phase("p", "a phase", lambda: [], 100)
    assert budget(phase, 1.0, load=0.4) == 100  # an idle machine: the budget as written
    assert budget(phase, 1.0, load=10.0) == 500  # load 10 on 2 cores: a fifth of the cores each
    monkeypatch.setenv("BENCH_TIME_FACTOR", "8")
    assert budget(phase, 1.0, load=10.0) == 800  # the larger of the two, not their product
