"""`python -m demo [--cases N] [--seed S] [--year 2026]`: a realistic year of cases, then the analyst's summary.

Starts the embedded stack when it is not running (infra.stack: idempotent, skips what runs), plans
the year (demo/plan.py), plays every case through the services' public HTTP APIs with a simulated
clock, waits for the analytics projection to catch up, and prints the summary from its views.
Every wait lasts as long as the stack keeps writing (demo/progress.py): only --stall-timeout
seconds in which nothing moved make a case fail.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

from demo.api import SERVICES, Api, StepFailed
from demo.plan import YearPlan, plan_year
from demo.play import CaseResult, PlayResult, finish_expiries, play_year
from demo.progress import Patience, Pulse, names_every_failure
from demo.report import connect, reconcile, scope_to_run, summary, wait_until_projected
from infra.signin import stack_tokens
from infra.stack import ROOT, Stack


def _stack_env(stack: Stack) -> dict[str, str]:
    path = stack.run_dir / "stack.env"
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description="Plays a realistic year of cases "
                                     "through the public HTTP APIs, then prints the analyst's summary.")
    parser.add_argument("--cases", type=int, default=300, help="cases to play (default 300)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the plan (default 2026)")
    parser.add_argument("--year", type=int, default=2026, help="business year; the calendar must know it")
    parser.add_argument("--workers", type=int, default=8, help="cases played at once (default 8)")
    parser.add_argument("--scope", choices=("run", "ledger"), default="run",
                        help="summarise this run's cases only (default) or every case in the ledger")
    parser.add_argument("--run-dir", type=Path, default=ROOT / ".run", help="the stack's run directory")
    parser.add_argument("--port-base", type=int, default=8000, help="services listen on port base + 1..5")
    parser.add_argument("--broker-port", type=int, default=19092, help="the embedded broker's port")
    parser.add_argument("--stall-timeout", type=float, default=120.0, metavar="SECONDS",
                        help="a wait gives up only after this long with nothing written in the stack's "
                             "stores; while anything moves it goes on (default 120)")
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be at least 1")
    if args.stall_timeout <= 0:
        parser.error("--stall-timeout must be positive")
    return args


def _simulated_stack(args: argparse.Namespace) -> Stack | None:
    """The stack, up, on simulated time without timer sweeps; None (and a message) if it cannot be."""
    stack = Stack(args.run_dir.resolve(), args.port_base, args.broker_port)
    t = time.monotonic()
    already = all(stack.pid_of(f"{s}-{p}") for s in SERVICES for p in ("api", "worker"))
    was_simulated = already and _stack_env(stack).get("CASE_LEDGER_SIMULATED_TIME") == "true"
    # The demo dates its facts itself, and drives time through POST /admin/timers: the services'
    # live timer sweeps, on the wall clock (after every simulated date), would expire its cases
    # between two uploads. So the stack runs simulated time without them; a stack `make up`
    # started restarts its services so (its data stays), and `make up` switches them back.
    os.environ.setdefault("CASE_LEDGER_SIMULATED_TIME", "true")
    os.environ.setdefault("INTAKE_TIMER_PERIOD", "0")
    os.environ.setdefault("REVIEW_SLA_TIMER_PERIOD", "0")
    os.environ.setdefault("ROUTING_TIMER_PERIOD", "0")
    stack.up()
    stack_s = time.monotonic() - t
    if _stack_env(stack).get("CASE_LEDGER_SIMULATED_TIME") != "true":
        print("error: CASE_LEDGER_SIMULATED_TIME is set to something other than true, and the demo dates its "
              "facts itself; unset it and run `make demo` again", file=sys.stderr)
        return None
    if not already:
        how = "started (make down stops it)"
    elif was_simulated:
        how = "already running"
    else:
        how = "restarted its services with simulated time and no timer sweeps (make up switches back)"
    print(f"  stack {how} ({stack_s:.1f} s): {', '.join(f'{s} {stack.url(s)}' for s in SERVICES)}")
    return stack


def _plan_against_ledger(played: PlayResult, diffs: list[str], failed: list[CaseResult], abandoned: list[str]) -> None:
    print("\nPLAN AGAINST LEDGER")
    checked = len(played.cases) - len(failed)
    print(f"  {checked - len(diffs)}/{checked} played cases match their plan in analytics.cases "
          "(ending, decision, delivery, at-risk, breach, business days, declines)")
    for line in diffs[:15]:
        print(f"  - {line}")
    if len(diffs) > 15:
        print(f"  ... and {len(diffs) - 15} more")
    notes = Counter(n for r in played.cases for n in r.notes)
    for note, n in notes.most_common():
        print(f"  note ({n} cases): {note}")
    if abandoned:
        print(f"  abandoned attempts (left in the ledger as expired cases, outside this run's figures): "
              f"{', '.join(abandoned)}")
    failures: list[tuple[str, object]] = [(f"case {r.number} ({r.case_id}) at {r.failed_step}", r.error)
                                          for r in failed]
    failures += [(f"quote {n}", err) for n, err in enumerate(played.quote_errors, 1)]
    for line in names_every_failure(failures):
        print(line)


def _play(args: argparse.Namespace, stack: Stack, year: YearPlan, patience: Patience) -> PlayResult:
    api = Api({s: stack.url(s) for s in SERVICES}, stack_tokens(stack.run_dir, stack.port_base))
    try:
        print(f"  playing with {args.workers} workers; a wait gives up only after {args.stall_timeout:.0f} s "
              "in which the stack wrote nothing (--stall-timeout)")
        played = play_year(api, year, args.workers, patience)
        expired = finish_expiries(api, year, played.cases)
    finally:
        api.close()
    failed = sum(r.error is not None for r in played.cases)
    print(f"  played in {played.seconds:.0f} s: {played.requests} HTTP requests, "
          f"{len(played.cases) - failed} cases completed their plan, {failed} failed"
          + (f"; intake's timers appended {expired} reminder/expiry events" if expired else ""))
    return played


def _report(args: argparse.Namespace, database_url: str, year: YearPlan, played: PlayResult,
            patience: Patience) -> bool:
    """The summary and the plan against the ledger; False if the projection never caught up."""
    failed = [r for r in played.cases if r.error is not None]
    case_ids = [UUID(r.case_id) for r in played.cases if r.case_id]
    abandoned = [a for r in played.cases for a in r.abandoned]
    quote_ids = [UUID(q) for q in played.quote_ids] + [UUID(r.quote_id) for r in played.cases if r.quote_id]
    with connect(database_url) as conn:
        try:
            events, waited = wait_until_projected(conn, case_ids + quote_ids, patience)
        except StepFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return False
        print(f"  analytics caught up: {events} events of this run projected (waited {waited:.1f} s)")
        schema = scope_to_run(conn, case_ids, quote_ids) if args.scope == "run" else "analytics"
        if args.scope == "ledger":
            total = conn.execute("SELECT count(*) AS n FROM analytics.cases").fetchone()
            print(f"  scope: the whole ledger ({total['n'] if total else '?'} cases; {len(case_ids)} from this run)")
        else:
            print(f"  scope: this run's {len(case_ids)} cases and {len(quote_ids)} quotes")
        summary(conn, schema)
        diffs = reconcile(conn, schema, year, played.cases)
    _plan_against_ledger(played, diffs, failed, abandoned)
    return True


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    started = time.monotonic()
    print(f"Case Ledger demo: {args.cases} cases in {args.year}, seed {args.seed}")
    t = time.monotonic()
    stack = _simulated_stack(args)
    if stack is None:
        return 2
    stack_s = time.monotonic() - t
    t = time.monotonic()
    try:
        year = plan_year(args.cases, args.seed, args.year)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    plan_s = time.monotonic() - t
    fates = Counter(c.fate for c in year.cases)
    print(f"  planned {len(year.cases)} cases ({', '.join(f'{k} {v}' for k, v in fates.most_common())}) and "
          f"{len(year.extra_quotes)} quotes that never become a case, {sum(len(c.steps) for c in year.cases)} steps "
          f"({plan_s:.1f} s)")
    database_url = _stack_env(stack)["DATABASE_URL"]
    pulse = Pulse.of_database(database_url)
    patience = Patience(pulse, args.stall_timeout)
    try:
        played = _play(args, stack, year, patience)
        t = time.monotonic()
        projected = _report(args, database_url, year, played, patience)
    finally:
        pulse.close()
    report_s = time.monotonic() - t
    total_s = time.monotonic() - started
    print(f"\nTimings: stack {stack_s:.1f} s, plan {plan_s:.1f} s, play {played.seconds:.1f} s "
          f"({played.requests / played.seconds:.0f} requests/s), projection + summary {report_s:.1f} s, "
          f"total {total_s:.1f} s")
    return 1 if not projected or played.quote_errors or any(r.error for r in played.cases) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: cases in flight stopped after their current step", file=sys.stderr)
        sys.exit(130)
