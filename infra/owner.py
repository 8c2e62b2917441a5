"""`python -m infra.owner RUN_DIR PID START`: stops the stack in RUN_DIR once process PID has ended.

A stack that belongs to one run (the test suite's, the benchmark's, chaos') is started with its
owner's pid (`Stack.up(owner=...)`), and supervisord runs this as one of its programs. A run that
is killed where it cannot clean up (SIGKILL, a CI timeout, a closed terminal) left supervisord and
every program running, holding the ports for hours; this shuts supervisord down, and every program
with it, within seconds of the owner's end. START, the owner's start time, tells a pid the kernel
gave to another process apart from the owner.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def started_at(pid: int) -> float | None:
    """The process's start time, or None when there is no such process."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def alive(pid: int, start: float) -> bool:
    now = started_at(pid)
    return now is not None and abs(now - start) < 1.0


def main(argv: list[str]) -> None:
    run_dir, pid, start = Path(argv[0]), int(argv[1]), float(argv[2])
    while alive(pid, start):
        time.sleep(1.0)
    from infra.supervisor import Supervisor

    print(f"the owner of this stack (pid {pid}) has ended: stopping the stack", flush=True)
    sup = Supervisor(run_dir)
    if sup.running():
        sup.rpc().shutdown()  # supervisord stops every program, this one too, then exits
    time.sleep(60)  # until supervisord stops this program: exiting first would only be restarted


if __name__ == "__main__":
    main(sys.argv[1:])
