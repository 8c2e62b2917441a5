"""`make chaos`: the fault scenarios at a larger size, on a stack of its own, as a table.

    python -m chaos [--cases N] [--threads T]

Each row: one fault injected mid-load into a real process; lost, duplicated and stuck are judged
from the event stores after quiescence; recovery is the time from the fault until a new case
reaches the analytics projection; quiet is the time until every reaction is in place. Throughout,
hostile tokens go to every API (chaos/hostile.py): "bad tokens in" counts those let in, of those
sent (must be 0); sign-in is the time from the fault until a person can sign in again; "live =
stores" holds the live app's windows, once quiet, to their recomputation from the event stores
(chaos/live_check.py): "equal", or how many windows differ.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time

from chaos.faults import Cut, Fault, Kill, Nothing, Pause, RestartPostgres
from chaos.scenario import Result, run
from infra.stack import ROOT, Stack

RUN_DIR = ROOT / ".run" / "chaos"

# Each row: the broker storage it runs on, and its fault.
FAULTS: list[tuple[str, Fault]] = [
    ("s3", Nothing("no fault (control)")),
    ("s3", Kill("broker kill -9 (log on S3)", "broker")),
    ("memory", Kill("broker kill -9 (in memory)", "broker")),
    ("s3", Kill("worker SIGKILL (billing)", "billing-worker")),
    ("s3", Kill("worker SIGKILL (routing)", "routing-worker")),
    ("s3", Pause("broker SIGSTOP 10 s", "broker", 10.0)),
    ("s3", RestartPostgres("PostgreSQL restart")),
    ("s3", Kill("identity provider kill -9", "identity")),
    ("s3", Kill("object store kill -9", "objectstore")),
    ("s3", Kill("PostgreSQL kill -9", "postgres")),
    ("s3", Kill("live app kill -9", "live")),
    ("s3", Cut("billing member cut off 20 s", 20.0)),
]


def _row(r: Result, cases: int) -> str:
    v = r.verdict
    rebuild = "-" if r.rebuild_identical is None else ("identical" if r.rebuild_identical else "DIFFERS")
    return (f"| {r.fault:<28} | {cases:>5} | {len(v.lost):>4} | {len(v.duplicated):>10} | {len(v.stuck):>5} "
            f"| {r.recovery_s:>10.1f} | {r.quiet_s:>7.1f} | {v.unbalanced_cents:>8} | {rebuild:<9} "
            f"| {len(r.hostile_accepted):>6}/{r.hostile_sent:<6} | {r.sign_in_s:>9.1f} | {_live(r):<13} |")


def _live(r: Result) -> str:
    if r.live_differing is None:
        return "-"
    return {0: "equal", -1: "NOT CAUGHT UP"}.get(r.live_differing, f"{r.live_differing} DIFFER")


def _run_row(stack: Stack, fault: Fault, args: argparse.Namespace) -> tuple[Stack, str, bool]:
    """One fault's row, printed with what it found wrong and its own account; the stack after it."""
    stack = fault.arrange(stack)
    result = run(stack, fault, args.cases, threads=args.threads, rebuild_check=True, live_check=True)
    row = _row(result, args.cases)
    fine = (result.verdict.clean and result.rebuild_identical is not False and not result.hostile_accepted
            and result.live_differing in (0, None))
    print(row, flush=True)
    for detail in (result.verdict.lost + result.verdict.duplicated + result.verdict.stuck
                   + result.hostile_accepted)[:5] + result.live_sample:
        print(f"    {detail}", flush=True)
    lines, explained_fine = fault.explain(stack, result.case_ids)
    for line in lines:
        print(f"    {line}", flush=True)
    return fault.restore(stack), row, fine and explained_fine


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos")
    parser.add_argument("--cases", type=int, default=30, help="cases driven per fault")
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--port-base", type=int, default=8200)
    parser.add_argument("--broker-port", type=int, default=19392)
    parser.add_argument("--only", nargs="*", default=[], help="run only the faults whose name holds one of these")
    args = parser.parse_args()
    for var in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "S3_ENDPOINT"):
        os.environ.pop(var, None)
    os.environ.setdefault("INTAKE_TIMER_PERIOD", "0")
    os.environ.setdefault("REVIEW_SLA_TIMER_PERIOD", "0")
    os.environ.setdefault("ROUTING_TIMER_PERIOD", "0")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    stack = Stack(RUN_DIR, port_base=args.port_base, broker_port=args.broker_port, broker_storage="s3",
                  owner=os.getpid())
    stack.down()
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    faults = FAULTS
    if args.only:
        faults = [f for f in faults if any(word in f[1].name for word in args.only)]
    # The run's topic gets the partitions its rows need: a member's cut matters only when the
    # group's two members share them (chosen once per broker log; CASE_LEDGER_TOPIC_PARTITIONS wins).
    partitions = max((f.partitions for _, f in faults), default=1)
    if partitions > 1:
        os.environ.setdefault("CASE_LEDGER_TOPIC_PARTITIONS", str(partitions))
    print(f"chaos: {args.cases} cases per fault, {args.threads} drivers, stack in {RUN_DIR}, "
          f"{stack.topic_partitions()} topic partitions", flush=True)
    rows: list[str] = []
    failed = False
    try:
        started = time.monotonic()
        stack.up()
        print(f"  stack up in {time.monotonic() - started:.0f} s", flush=True)
        header = ("| fault                        | cases | lost | duplicated | stuck | recovery s | quiet s "
                  "| journal¢ | rebuild   | bad tokens in | sign-in s | live = stores |")
        for storage, fault in faults:
            if storage != stack.broker_storage:
                stack = stack.with_broker_storage(storage)
            stack, row, fine = _run_row(stack, fault, args)
            rows.append(row)
            failed |= not fine
        print("\n" + header + "\n|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
        print("\n".join(rows))
    finally:
        stack.down()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
