"""One fault run: drive cases, inject the fault mid-load, wait for quiescence, judge from the stores."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from uuid import UUID

import psycopg

from chaos.driver import CaseDriver, Outcome, drive_many
from chaos.faults import Fault
from chaos.hostile import Guard
from chaos.invariants import Verdict, judge, wait_quiet
from chaos.live_check import compare, differences
from demo.api import SERVICES, Api
from infra.signin import SignInError, sign_in, stack_tokens
from infra.stack import ROOT, Stack


@dataclass
class Result:
    fault: str
    verdict: Verdict
    recovery_s: float
    quiet_s: float
    rebuild_identical: bool | None
    # Hostile tokens sent to the APIs during the run, and those let in (must be none).
    hostile_sent: int = 0
    hostile_accepted: list[str] = field(default_factory=list)
    # From the fault until a person can sign in again (the provider's own fault, or none).
    sign_in_s: float = 0.0
    # The cases the run opened (a fault's own account of the run reads them, chaos/cutoff.py).
    case_ids: list[UUID] = field(default_factory=list)
    # The live app's windows against the recomputation from the stores, once quiet: the windows
    # that differ (0: equal), None when it was not compared.
    live_differing: int | None = None
    live_sample: list[str] = field(default_factory=list)  # a few of those windows: key, live, stores


def _probe_sign_in(stack: Stack, started: float, timeout: float) -> float:
    """Seconds from `started` until a fresh sign-in through the browser flow succeeds."""
    provider = stack.provider
    password = provider.passwords()["coordinator"]
    while time.monotonic() - started < timeout:
        try:
            sign_in(provider.issuer, "coordinator", password, timeout=5)
            return time.monotonic() - started
        except SignInError:
            time.sleep(0.2)
    return float("inf")


def _probe_projected(api: Api, db_url: str, timeout: float) -> float:
    """Seconds until a case opened now reaches the analytics projection: the pipeline flows again."""
    started = time.monotonic()
    body = {"tumour_site": "lung", "stage_group": "I", "referral_reasons": ["stage_borderline"],
            "patient_country": "GB", "language": "en", "patient": {"name": "Probe", "date_of_birth": "1980-01-01"}}
    case_id = api.call("intake", "POST", "/cases", json=body).json()["case_id"]
    while time.monotonic() - started < timeout:
        with psycopg.connect(db_url, autocommit=True) as conn:
            row = conn.execute("SELECT 1 FROM analytics.case_timeline WHERE case_id = %s", (case_id,)).fetchone()
        if row:
            return time.monotonic() - started
        time.sleep(0.2)
    return float("inf")


def run(stack: Stack, fault: Fault, cases: int, *, threads: int = 4, rebuild_check: bool = True,
        live_check: bool = False, timeout: float = 300.0) -> Result:
    tokens = stack_tokens(stack.run_dir, stack.port_base)
    api = Api({s: stack.url(s) for s in SERVICES}, tokens, attempts=25)
    db_url = stack.database_url()
    driver = CaseDriver(api)
    progress = threading.Event()
    outcomes: list[Outcome] = []

    def on_progress(done: int) -> None:
        if done >= max(1, cases // 3):
            progress.set()

    load = threading.Thread(target=lambda: outcomes.extend(drive_many(driver, cases, threads, on_progress)))
    with Guard(stack, tokens) as guard:
        load.start()
        # Mid-load: a third of the cases done, the rest in flight.
        progress.wait(timeout)
        fault_at = time.monotonic()
        fault.inject(stack)
        signed_in = _probe_sign_in(stack, fault_at, timeout)
        recovery = _probe_projected(api, db_url, timeout)
        load.join()
    ids = [o.case_id for o in outcomes if o.case_id is not None]
    started = time.monotonic()
    wait_quiet(db_url, ids, timeout)
    # Reactions are eventually consistent: a consumer that was down catches up after its restart.
    # Judge until clean or out of time; the time it took is part of the result.
    verdict = judge(db_url, outcomes)
    while not verdict.clean and time.monotonic() - started < timeout:
        time.sleep(1.0)
        verdict = judge(db_url, outcomes)
    quiet = time.monotonic() - started
    live_differing, live_sample = None, []
    if live_check:
        equal, live, stores = compare(stack, db_url, timeout)
        differing = differences(live, stores)
        live_differing = 0 if equal else len(differing) or -1  # -1: never caught up
        live_sample = [f"live window {k}: live {a}, stores {b}" for k, (a, b) in sorted(differing.items())[:5]]
    identical = None
    if rebuild_check:
        identical = subprocess.call(
            [sys.executable, "-m", "infra.stack", "rebuild-check", "--run-dir", str(stack.run_dir),
             "--port-base", str(stack.port_base), "--broker-port", str(stack.broker_port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0
    api.close()
    return Result(fault.name, verdict, recovery, quiet, identical, guard.sent, guard.accepted, signed_in, ids,
                  live_differing, live_sample)
