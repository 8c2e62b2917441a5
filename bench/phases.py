"""Each benchmark of `make bench` as a phase: progress printed as it starts and ends, its time bounded.

A phase runs in a forked child. Past its budget the child is killed and the phase prints
`FAILED (timeout)`: a thread could not be stopped, and a benchmark left running would disturb
every later one on the same two cores. What the child wrote into the summary comes back through a
pipe; a killed phase's figures stay null. `BENCH_ONLY` (comma-separated phase keys) runs a subset,
every budget is stretched by the load average per core at the phase's start, and
`BENCH_TIME_FACTOR` stretches it further (a machine known to be loaded). A killed phase cannot
run its own `finally`: a phase that writes into the live stores names a `cleanup`, which the parent
runs after a kill, so what it left (a million generated events, a scratch schema) does not
disturb every later phase.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import BenchFailed, Figures, settle


@dataclass(frozen=True)
class Phase:
    key: str  # what BENCH_ONLY names it by
    title: str
    run: Callable[[], Figures]
    budget_s: float  # at the default scale on an idle machine; BENCH_SCALE, the load, BENCH_TIME_FACTOR stretch it
    cleanup: Callable[[], None] | None = None  # run by the parent when the phase was killed


def selected(phases: list[Phase]) -> list[Phase]:
    only = {k.strip() for k in os.environ.get("BENCH_ONLY", "").split(",") if k.strip()}
    unknown = only - {p.key for p in phases}
    if unknown:
        raise SystemExit(f"BENCH_ONLY names no phase {sorted(unknown)}; phases: {[p.key for p in phases]}")
    return [p for p in phases if not only or p.key in only]


def budget(phase: Phase, bench_scale: float, load: float | None = None) -> float:
    factor = float(os.environ.get("BENCH_TIME_FACTOR", "1"))
    # Counts scale with BENCH_SCALE, fixed costs (a stack's connections, a warm-up) do not.
    return phase.budget_s * max(bench_scale, 0.3) * max(factor, load_factor(load))


def load_factor(load: float | None = None) -> float:
    """How much longer a phase may take on a machine busy with other work: its share of the cores
    shrinks as the run queue grows. The budgets bound a hang, not a speed: at load average 10 on 2
    cores a phase whose work takes 100 s alone takes ~500 s, and would otherwise be killed for it."""
    one_minute = os.getloadavg()[0] if load is None else load
    return max(1.0, one_minute / (os.cpu_count() or 1))


def _child(phase: Phase, summary: dict[str, Any], out: Any) -> None:
    # A process group of its own: a kill past the budget takes what the phase started with it
    # (the rebuild's child process, the empty endpoint's server), not only the phase.
    os.setpgid(0, 0)
    before = dict(summary)
    try:
        figures: Figures | None = phase.run()
        failed = None
    except BenchFailed as exc:
        figures, failed = None, f": {exc}"
    except Exception as exc:  # an error in a benchmark is its failure, never the whole run's
        figures, failed = None, f": {type(exc).__name__}: {exc}"
    changed = {k: v for k, v in summary.items() if k not in before or before[k] != v}
    out.send((figures, failed, changed))
    out.close()


def run_phase(phase: Phase, summary: dict[str, Any], seconds: float) -> tuple[Figures | None, str | None]:
    """The phase's figures, or None and why it failed; its summary keys are merged into `summary`."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(phase, summary, send), name=f"bench-{phase.key}")
    child.start()
    send.close()
    result = None
    try:
        if receive.poll(seconds):
            try:
                result = receive.recv()
            except EOFError:
                result = None
        child.join(timeout=5 if result is not None else 0)
    finally:
        # Past the budget, or the bench itself interrupted (Ctrl-C reaches only the foreground group).
        if child.is_alive():
            _kill_group(child)
    if result is None:
        why = " (timeout)" if child.exitcode in (None, -9) else f" (the phase died, exit {child.exitcode})"
        return None, why + _clean_up(phase)
    figures, failed, changed = result
    summary.update(changed)
    return figures, failed


def _kill_group(child: Any) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:  # killed before it made its group: the phase alone
        child.kill()
    child.join()


def _clean_up(phase: Phase) -> str:
    if phase.cleanup is None:
        return ""
    try:
        phase.cleanup()
    except Exception as exc:  # said, not raised: the next phases still run
        return f"; its cleanup failed: {type(exc).__name__}: {exc}"
    return "; what it left was cleaned up"


def run_all(phases: list[Phase], database_url: str, summary: dict[str, Any], bench_scale: float,
            show: Callable[[str, Figures, float], None]) -> int:
    """Runs the phases one after the other, printing progress and figures; how many failed."""
    failures = 0
    chosen = selected(phases)
    for n, phase in enumerate(chosen, start=1):
        # The previous benchmark's events must not still be flowing through the stack.
        if not settle(database_url):
            print("  (the stack did not settle within 60s; figures below may be disturbed)")
        seconds = budget(phase, bench_scale)
        print(f"\n[{n}/{len(chosen)}] {phase.key}: started at {time.strftime('%H:%M:%S')}, "
              f"budget {seconds:.0f}s (load average {os.getloadavg()[0]:.1f}) ...", flush=True)
        start = time.monotonic()
        figures, failed = run_phase(phase, summary, seconds)
        took = time.monotonic() - start
        if figures is None:
            failures += 1
            print(f"\n{phase.title}  ({took:.1f}s)\n  FAILED{failed}", flush=True)
            continue
        show(phase.title, figures, took)
    return failures
