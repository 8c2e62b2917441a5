"""The stack's command line behind `make up`, `make down`, `make status`, `make logs`, `make psql` and the rebuilds."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from infra import postgres
from infra.stack import CONSOLE, LIVE, ROOT, SERVICES, Stack


def all_run_dirs(root: Path = ROOT / ".run") -> list[Path]:
    """Every run directory with a stack (the dev one, the tests', the benchmark's)."""
    return sorted({p.parent for p in root.rglob("supervisord.conf")})


def status(stack: Stack) -> list[tuple[str, str, int]]:
    """Each program, its state and how often supervisord restarted it."""
    restarts = stack.restarts()
    rows = []
    for info in stack.supervisor.all_info():
        state = info["statename"].lower()
        if info["statename"] == "RUNNING":
            state = f"running, pid {info['pid']}"
        rows.append((info["name"], state, restarts.get(info["name"], 0)))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.stack")
    parser.add_argument("command", choices=["up", "down", "down-all", "status", "logs", "rebuild", "rebuild-check",
                                            "psql"])
    parser.add_argument("--run-dir", type=Path, default=ROOT / ".run")
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("CASE_LEDGER_PORT_BASE", 8000)))
    parser.add_argument("--broker-port", type=int, default=int(os.environ.get("CASE_LEDGER_BROKER_PORT", 19092)))
    parser.add_argument("--brokers", type=int, default=int(os.environ.get("CASE_LEDGER_BROKERS", 1)),
                        help="Tansu brokers over the same log, on --broker-port and the ports after it")
    args = parser.parse_args(argv)
    if not 1 <= args.brokers <= 9:
        parser.error("--brokers must be between 1 and 9")
    stack = Stack(args.run_dir.resolve(), args.port_base, args.broker_port, brokers=args.brokers)
    if args.command == "up":
        urls = stack.up()
        print("Case Ledger is up.")
        for name, url in urls.items():
            path = "/docs" if name in SERVICES else "/metrics" if name == LIVE else "/" if name == CONSOLE else ""
            print(f"  {name:<12} {url}{path}")
        if not os.environ.get("CASE_LEDGER_OIDC_ISSUER"):
            print(f"  {'users':<12} {stack.provider.users_file}  (python -m infra.tools token --user NAME)")
        print(f"  {'logs':<12} {stack.logs}  (make logs)")
    elif args.command == "down":
        stack.down()
        print("Case Ledger is down.")
    elif args.command == "down-all":
        for run_dir in all_run_dirs(args.run_dir):
            Stack(run_dir).down()
            print(f"stopped the stack in {run_dir}")
    elif args.command == "logs":
        files = sorted(stack.logs.glob("*.log"))
        if not files:
            raise SystemExit("no logs yet: run `make up` first")
        os.execvp("tail", ["tail", "-n", "20", "-F", *map(str, files)])
    elif args.command in ("rebuild", "rebuild-check", "psql"):
        env_file = stack.run_dir / "stack.env"
        servers = dict(line.split("=", 1) for line in env_file.read_text().splitlines()
                       if "=" in line) if env_file.exists() else {}
        # Said at once, before a client waits on a server that is not there.
        if not servers or not postgres.ready(servers["DATABASE_URL"]):
            raise SystemExit("the stack is not up: run `make up`")
        if args.command == "psql":
            # pgserver ships its own psql: no client needs to be installed on the machine.
            client = postgres.psql()
            os.execv(client, [str(client), servers["DATABASE_URL"]])
        # The rebuild runs with the analytics service's own settings against the running stack.
        extra = ["--check"] if args.command == "rebuild-check" else []
        env = stack.service_env("analytics", servers["DATABASE_URL"], servers["KAFKA_BOOTSTRAP_SERVERS"])
        raise SystemExit(subprocess.call([sys.executable, "-m", "services.analytics.rebuild", *extra],
                                         cwd=ROOT, env=env))
    else:
        rows = status(stack)
        if not rows:
            print("Case Ledger is not running (make up starts it).")
        for name, state, restarts in rows:
            print(f"  {name:<18} {state:<24} restarts {restarts}")


if __name__ == "__main__":
    main()
