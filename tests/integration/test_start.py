"""A start that fails half-way, or whose caller is killed, leaves no process behind; a start waits on
progress, not on a fixed limit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from infra.stack import ROOT, Stack
from tests.integration.conftest import wait_for

BASE = int(os.environ.get("TEST_PORT_BASE", 18000))
BROKER = int(os.environ.get("TEST_BROKER_PORT", 19292))


def processes_of(run_dir: Path) -> list[str]:
    """Every process started for this run directory: supervisord, its programs, their children."""
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            mine = p.environ().get("CASE_LEDGER_RUN_DIR") == str(run_dir) or \
                str(run_dir) in " ".join(p.info["cmdline"] or [])
        except psutil.Error:
            continue
        if mine and p.pid != os.getpid():
            found.append(f"{p.pid} {' '.join(p.info['cmdline'] or [])[:120]}")
    return found


def test_a_start_that_fails_half_way_stops_everything_it_started(tmp_path: Path):
    run_dir = tmp_path / "run"
    stack = Stack(run_dir, port_base=BASE + 400, broker_port=BROKER + 2)
    # The broker's port is taken: the start fails after PostgreSQL, the object store and the
    # identity provider are up.
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", stack.broker_port))
        taken.listen()
        with pytest.raises(SystemExit, match="is taken by another program"):
            stack.up()
    try:
        assert processes_of(run_dir) == []
    finally:
        stack.down()


def test_a_stack_whose_owner_is_killed_mid_start_stops_by_itself(tmp_path: Path):
    run_dir = tmp_path / "run"
    # The owner is a run of its own (as pytest or make bench is), killed with SIGKILL while it
    # starts its stack: nothing of it could clean up.
    code = (f"import os; from pathlib import Path; from infra.stack import Stack; "
            f"Stack(Path({str(run_dir)!r}), port_base={BASE + 500}, broker_port={BROKER + 3}, "
            f"owner=os.getpid()).up()")
    owner = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: Stack(run_dir).pid_of("postgres"), 120, "the owned stack's PostgreSQL to run")
        assert processes_of(run_dir)
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        killed = time.monotonic()
        wait_for(lambda: processes_of(run_dir) == [], 90, "the owned stack to stop after its owner's end")
        print(f"the stack was gone {time.monotonic() - killed:.1f} s after its owner's SIGKILL")
    finally:
        owner.kill()
        Stack(run_dir).down()
