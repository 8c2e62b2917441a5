"""Bringing the embedded stack up, and taking down what a start that failed half-way had started.

Order: PostgreSQL and the object store start together; the identity provider is migrated and
seeded (three CLI runs of Canaille, seconds each) while the object store and the broker come up;
then every service's API and worker and the live app start at once, and the start waits for them
all. Each wait gives up only when nothing has moved for CASE_LEDGER_READY_TIMEOUT_S (infra/readiness.py).

Whoever called it (make up, the test suite's fixture, make bench, chaos), a start that fails stops
what it started: everything, when it started supervisord; else the programs that were not running.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from infra import objectstore, postgres
from infra.readiness import Waiting, buckets_ready, cpu_signs, ensure_topics_soon, wait_until
from infra.stack import brokers as tansu
from infra.supervisor import Supervisor

if TYPE_CHECKING:
    from infra.stack import Stack

RUNNING = ("RUNNING", "STARTING")


def up(stack: Stack, owner: int | None = None) -> dict[str, str]:
    stack.run_dir.mkdir(parents=True, exist_ok=True)
    sup = stack.supervisor
    fresh = not sup.running()
    before = set() if fresh else {i["name"] for i in sup.all_info() if i["statename"] in RUNNING}
    steps: list[_Background] = []
    try:
        return _up(stack, sup, fresh, owner, steps)
    except BaseException:
        # SystemExit from a wait, Ctrl-C, a SIGTERM turned into SystemExit, any error: nothing
        # this call started may outlive it, holding ports for the next run.
        print(f"the start failed: stopping what it started in {stack.run_dir}", file=sys.stderr, flush=True)
        for step in steps:  # a step still running (the provider's seeding) would start its program after
            step.finish()
        if fresh:
            stack.down()
        else:
            started = [i["name"] for i in sup.all_info() if i["statename"] in RUNNING and i["name"] not in before]
            sup.stop(*started)
        raise


def _up(stack: Stack, sup: Supervisor, fresh: bool, owner: int | None, steps: list[_Background]) -> dict[str, str]:
    from infra.stack import CONSOLE, LIVE, ROOT, SERVICES

    if fresh:
        # Multiprocess metric files of dead processes would be summed into live ones.
        shutil.rmtree(stack.run_dir / "prom", ignore_errors=True)
    before = stack._service_settings()
    programs = stack.programs(owner)
    # A service whose settings changed (e.g. simulated time switched on) restarts with them;
    # one whose settings are the same keeps running.
    changed = {name for name, now in stack._service_settings().items() if before.get(name, now) != now}
    names = {p.name for p in programs}
    sup.write_config(programs, [sys.executable, "-m", "infra.launch"], ROOT)
    sup.start_daemon(dict(os.environ, PYTHONPATH=str(ROOT), CASE_LEDGER_RUN_DIR=str(stack.run_dir)))
    if "owner" in names:
        sup.start("owner", wait=False)  # first: from now on the owner's end takes the stack down
    db_url = stack.database_url()
    if "postgres" in names:
        postgres.init(stack.pgdata)
        sup.start("postgres", wait=False)
    if "objectstore" in names:
        sup.start("objectstore", wait=False)
    wait_until(lambda: postgres.ready(db_url), "PostgreSQL", stack.logs / "postgres.log",
               signs=lambda: program_signs(sup, ["postgres"]))
    identity = _Background(lambda: stack.provider.start(sup, fresh, stack.logs / "identity.log")) \
        if "identity" in names else None
    steps.extend([identity] if identity else [])
    s3 = stack.s3_env()
    if "objectstore" in names or stack.broker_storage == "s3":
        wait_until(lambda: buckets_ready(s3) and ("objectstore" not in names or objectstore.volumes_loaded(
            stack.run_dir / "objectstore", stack.port_base)), f"the object store at {s3['S3_ENDPOINT']}",
            stack.logs / "objectstore.log", signs=lambda: program_signs(sup, ["objectstore"]))
    bootstrap = stack.bootstrap_servers()
    if "broker" in names:
        tansu.start(sup, stack.broker_port, stack.brokers, stack.logs)
    if "broker-compactor" in names:
        sup.start("broker-compactor", wait=False)
    ensure_topics_soon(bootstrap, stack.topic_partitions())
    sup.stop(*tansu.members_beyond(stack.members))
    order = [*(f"{s}-{part}" for s in SERVICES for part in ("api", "worker")),
             *(m for s in SERVICES for m in tansu.extra_members(s, stack.members)), LIVE, CONSOLE]
    # Stopped together: one after the other, twelve programs took 8 s to stop.
    sup.stop(*(name for name in order if name in changed and not fresh))
    for name in order:
        sup.start(name, wait=False)
    if identity is not None:
        identity.join()
        stack.provider.wait(sup, stack.logs / "identity.log")
    stack.wait_ready()
    (stack.run_dir / "stack.env").write_text(
        f"DATABASE_URL={db_url}\nKAFKA_BOOTSTRAP_SERVERS={bootstrap}\nS3_ENDPOINT={s3['S3_ENDPOINT']}\n"
        f"CASE_LEDGER_BROKER_STORAGE={stack.broker_storage}\nCASE_LEDGER_OIDC_ISSUER={stack.issuer()}\n"
        f"CASE_LEDGER_SIMULATED_TIME={os.environ.get('CASE_LEDGER_SIMULATED_TIME', 'false')}\n"
        + "".join(f"{s.upper()}_URL={stack.url(s)}\n" for s in (*SERVICES, LIVE, CONSOLE)))
    return {"database": db_url, "object store": s3["S3_ENDPOINT"], "broker": bootstrap,
            "identity": stack.issuer(), **{s: stack.url(s) for s in (*SERVICES, LIVE, CONSOLE)}}


class _Background:
    """A step run in a thread while the start goes on; `join` re-raises what it raised."""

    def __init__(self, step: Any) -> None:
        self._error: BaseException | None = None

        def run() -> None:
            try:
                step()
            except BaseException as exc:  # SystemExit included: the start must fail with it
                self._error = exc

        self._thread = threading.Thread(target=run, name="start-step", daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error

    def finish(self) -> None:
        """Waits for the step to end, whatever it raised: the start failed already."""
        self._thread.join()


def program_signs(sup: Supervisor, names: list[str]) -> tuple[Any, ...]:
    """What moves while programs start: their states and, while they run, their CPU time."""
    states = tuple(sup.state(n) for n in names)
    for name, state in zip(names, states, strict=True):
        if state == "FATAL":
            raise SystemExit(f"{name} could not be started; see {sup.logs / (name + '.log')}")
    return states, cpu_signs(sup.pid(n) for n in names)


def readiness(url: str) -> str:
    """What a service's /readyz says: "ready", its failing checks, or that its port does not answer."""
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
            return "ready" if r.status == 200 else f"HTTP {r.status}"
    except urllib.error.HTTPError as exc:
        try:
            checks = json.loads(exc.read() or b"{}").get("checks") or {}
        except ValueError:
            checks = {}
        failing = sorted(k for k, ok in checks.items() if not ok)
        return f"not ready ({', '.join(failing)})" if failing else f"HTTP {exc.code}"
    except OSError:
        return "not answering"


def wait_ready(stack: Stack) -> None:
    """Every service and the live app answer /readyz with 200; the wait lasts while any of them moves."""
    from infra.stack import CONSOLE, LIVE, SERVICES

    sup = stack.supervisor
    pending = {*SERVICES, LIVE, CONSOLE}
    status: dict[str, str] = {}

    def programs(service: str) -> list[str]:
        return [service] if service in (LIVE, CONSOLE) else [f"{service}-api", f"{service}-worker"]

    def signs() -> tuple[Any, ...]:
        # A program still starting moves its CPU time; once its port answers, its checks move.
        starting = [n for s in pending if status.get(s) == "not answering" for n in programs(s)]
        return tuple(sorted(status.items())), program_signs(sup, sorted(starting))

    def detail() -> str:
        return "; ".join(f"{s} {status.get(s, 'starting')}" for s in sorted(pending))

    waiting = Waiting("the services", stack.logs, signs)
    while pending:
        for s in list(pending):
            status[s] = readiness(stack.url(s))
            if status[s] == "ready":
                pending.discard(s)
        if pending:
            waiting.still(detail())
            threading.Event().wait(0.2)
