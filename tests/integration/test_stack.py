"""The embedded stack under its supervisor: killed processes come back, history survives down/up."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request

import psutil

from infra.stack import ROOT, SERVICES, Stack
from tests.integration.conftest import Api, open_case, wait_for


def test_every_killed_program_is_restarted_by_the_supervisor(stack: Stack, api: Api):
    for name in ("intake-api", "billing-worker", "broker-compactor"):
        pid = stack.kill(name, signal.SIGKILL)
        stack.wait_restarted(name, pid, timeout=30)
    wait_for(lambda: _ready(stack), timeout=60, what="the stack to be ready again")
    assert open_case(api)


def test_status_shows_each_program_and_its_restarts(stack: Stack):
    out = subprocess.run([sys.executable, "-m", "infra.stack", "status", "--run-dir", str(stack.run_dir),
                          "--port-base", str(stack.port_base), "--broker-port", str(stack.broker_port)],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in ("postgres", "objectstore", "broker", "broker-compactor",
                 *(f"{s}-{p}" for s in SERVICES for p in ("api", "worker"))):
        line = next(line for line in out.splitlines() if line.split()[0] == name)
        assert "running" in line and "restarts" in line, line


def test_the_broker_keeps_its_log_in_the_object_store(stack: Stack):
    assert stack.broker_storage == "s3"
    broker = psutil.Process(stack.pid_of("broker"))
    assert "s3://" in " ".join(broker.cmdline())


def _ready(stack: Stack) -> bool:
    try:
        return all(urllib.request.urlopen(stack.url(s) + "/readyz", timeout=2).status == 200 for s in SERVICES)
    except OSError:
        return False


def test_down_stops_everything_and_up_brings_the_history_back(tmp_path, tokens, monkeypatch):
    import os
    from uuid import UUID

    import httpx
    import psycopg
    from kafka import KafkaConsumer

    from events.contract import TOPIC

    base = int(os.environ.get("TEST_PORT_BASE", 18000)) + 300
    second = Stack(tmp_path / "run", port_base=base, broker_port=int(os.environ.get("TEST_BROKER_PORT", 19292)) + 1)
    try:
        second.up()
        from infra.signin import claims, stack_tokens
        from tests.integration.conftest import NEW_CASE

        toks = stack_tokens(second.run_dir, base)
        subject = claims(toks["COORDINATOR_TOKEN"])["sub"]
        r = httpx.post(second.url("intake") + "/cases", json=NEW_CASE,
                       headers={"Authorization": f"Bearer {toks['COORDINATOR_TOKEN']}"})
        assert r.status_code == 201, r.text
        case_id = UUID(r.json()["case_id"])
        db = second.database_url()

        def published() -> bool:
            with psycopg.connect(db) as conn:
                row = conn.execute("SELECT count(*) FROM intake.outbox WHERE published_at IS NULL").fetchone()
                return row is not None and row[0] == 0
        wait_for(published, timeout=30, what="the case to be published")
        second.down()
        leftovers = [p.info["pid"] for p in psutil.process_iter(["pid", "cmdline"])
                     if str(second.run_dir) in " ".join(p.info["cmdline"] or [])]
        assert leftovers == []
        # What needs the stack says so at once, without a client's traceback.
        for command in ("psql", "rebuild-check"):
            done = subprocess.run([sys.executable, "-m", "infra.stack", command, "--run-dir", str(second.run_dir),
                                   "--port-base", str(base)], cwd=ROOT, capture_output=True, text=True, timeout=20)
            assert (done.returncode, done.stderr.strip()) == (1, "the stack is not up: run `make up`")

        second.up()
        # The provider kept its users: the same person, the same opaque subject, signing in anew.
        toks = stack_tokens(second.run_dir, base)
        assert claims(toks["COORDINATOR_TOKEN"])["sub"] == subject
        r = httpx.get(second.url("intake") + f"/cases/{case_id}",
                      headers={"Authorization": f"Bearer {toks['COORDINATOR_TOKEN']}"})
        assert r.status_code == 200, r.text
        consumer = KafkaConsumer(TOPIC, bootstrap_servers=second.bootstrap_servers(), auto_offset_reset="earliest",
                                 enable_auto_commit=False)
        keys: set[bytes] = set()

        def case_in_the_log() -> bool:
            # Read until the case's events are found, not until 5 s of silence after the log's end.
            keys.update(m.key for batch in consumer.poll(timeout_ms=1000).values() for m in batch)
            return str(case_id).encode() in keys
        try:
            wait_for(case_in_the_log, timeout=60, what="the case's events in the restarted broker's log")
        finally:
            consumer.close()

        # `up` on a running stack restarts exactly the services whose settings changed.
        before = {name: second.pid_of(name) for name in ("intake-api", "postgres", "broker")}
        # The tests run it on simulated time; back to the server's clock, a dated fact is refused.
        assert os.environ["CASE_LEDGER_SIMULATED_TIME"] == "true"
        dated = {**NEW_CASE, "occurred_at": "2026-05-04T09:00:00Z"}
        monkeypatch.setenv("CASE_LEDGER_SIMULATED_TIME", "false")
        second.up()
        after = {name: second.pid_of(name) for name in before}
        assert after["intake-api"] != before["intake-api"]
        assert (after["postgres"], after["broker"]) == (before["postgres"], before["broker"])
        r = httpx.post(second.url("intake") + "/cases", json=dated,
                       headers={"Authorization": f"Bearer {toks['COORDINATOR_TOKEN']}"})
        assert r.status_code == 422 and r.json()["field"] == "occurred_at", r.text
    finally:
        second.down()
