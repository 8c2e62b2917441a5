"""The relay and the topics under abuse: an unpublishable row, a topic made by the wrong hands."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import httpx
from kafka import KafkaConsumer, KafkaProducer

from events.broker import Broker, TopicView
from infra.stack import ROOT, Stack
from tests.integration.conftest import Api, open_case, wait_for


def _metric(api: Api, service: str, name: str) -> float:
    for line in api.call(service, "GET", "/metrics", token=None).text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exposed by {service}")


def test_an_unpublishable_row_is_parked_and_holds_back_only_its_own_case(api: Api, db):
    blocked = open_case(api, occurred_at="2026-04-01T09:00:00Z")
    wait_for(lambda: db.execute("SELECT count(*) AS n FROM intake.outbox WHERE published_at IS NULL")
             .fetchone()["n"] == 0, what="the outbox to drain")
    # A row over the broker's message limit, as an older, unbounded API could write it.
    huge = os.urandom(1_500_000)
    db.execute("INSERT INTO intake.outbox (event_id, topic, message_key, message) VALUES (%s, 'case-ledger', %s, %s)",
               (uuid.uuid4(), str(blocked).encode(), huge))
    try:
        # A later event of the same case waits behind it ...
        r = api.call("intake", "POST", f"/cases/{blocked}/records-requests",
                     json={"occurred_at": "2026-04-01T10:00:00Z"})
        assert r.status_code == 200, r.text
        # ... while other cases flow: each is routed, invoiced and projected.
        flowing = [open_case(api) for _ in range(3)]
        wait_for(lambda: db.execute("SELECT count(*) AS n FROM billing.events WHERE event_type = 'FeeInvoiced' "
                                    "AND case_id = ANY(%s)", (flowing,)).fetchone()["n"] == 3,
                 what="billing to invoice the other cases")
        parked = db.execute("SELECT park_reason FROM intake.outbox WHERE parked_at IS NOT NULL").fetchall()
        assert [p["park_reason"].split(":")[0] for p in parked] == ["message_too_large"]
        held = db.execute("SELECT count(*) AS n FROM intake.outbox o JOIN intake.events e USING (event_id) "
                          "WHERE e.case_id = %s AND e.event_type = 'RecordsRequested' AND o.published_at IS NULL",
                          (blocked,)).fetchone()["n"]
        assert held == 1
        wait_for(lambda: _metric(api, "intake", "case_ledger_outbox_parked") == 1, what="the parked gauge")
    finally:
        # What an operator does once the cause is dealt with: drop the row, and the case flows again.
        db.execute("DELETE FROM intake.outbox WHERE parked_at IS NOT NULL")
    wait_for(lambda: db.execute("SELECT count(*) AS n FROM intake.outbox WHERE published_at IS NULL")
             .fetchone()["n"] == 0, what="the held-back event to go out")
    wait_for(lambda: _metric(api, "intake", "case_ledger_outbox_parked") == 0, what="the parked gauge to clear")


def _scratch_topic_holding_a_record(bootstrap: str) -> tuple[Broker, str, TopicView]:
    name = f"scratch-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    producer.send(name, b"a record").get(timeout=10)
    producer.close()
    broker = Broker(bootstrap, "test")
    view = broker.describe(name)
    assert view is not None
    return broker, name, view


def test_a_topic_a_client_auto_created_empty_is_remade_with_our_partitions(env):
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    name = f"scratch-{uuid.uuid4().hex[:8]}"
    # Tansu creates a topic on any request for it, whatever the client asks (allow_auto_create_topics).
    asking = KafkaConsumer(name, bootstrap_servers=bootstrap, group_id=name, consumer_timeout_ms=1500,
                           allow_auto_create_topics=False)
    for _ in asking:
        pass
    asking.close()
    broker = Broker(bootstrap, "test")
    made = broker.describe(name)
    assert made is not None and made.partitions != 6
    views = broker.ensure([name], 6)
    assert views[name].partitions == 6 and views[name].topic_id != made.topic_id


def test_a_topic_with_records_and_the_wrong_partitions_is_left_alone_and_fails_readiness(stack: Stack, env,
                                                                                        tmp_path):
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    # A service configured for 4 partitions sees the real 6-partition topic as misconfigured.
    port = stack.port_base + 250
    run_env = {**stack.service_env("routing"), "CASE_LEDGER_TOPIC_PARTITIONS": "4",
               "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}  # its own metric files, not the stack's
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "services.routing.api:create_app",
                             "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=run_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def readiness() -> httpx.Response | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            except httpx.TransportError:
                return None
        r = wait_for(readiness, timeout=30, what="the extra API")
        assert r.status_code == 503 and r.json()["checks"] == {"database": True, "broker": True, "topic": False}
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'case_ledger_topic_misconfigured{service="routing",topic="case-ledger"} 1.0' in metrics
    finally:
        proc.terminate()
        proc.wait(10)
    # And a topic holding records is never deleted to fix its count.
    broker, name, before = _scratch_topic_holding_a_record(bootstrap)
    time.sleep(0.5)
    after = broker.ensure([name], before.partitions + 2)[name]
    assert after.topic_id == before.topic_id and after.partitions == before.partitions


def test_a_topic_with_records_that_the_caller_can_republish_is_remade_with_our_partitions(env):
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    broker, name, before = _scratch_topic_holding_a_record(bootstrap)
    asked: list[str | None] = []

    def recreated_behind_us(view) -> bool:
        asked.append(view.topic_id)
        return view.topic_id == before.topic_id

    after = broker.ensure([name], before.partitions + 2, rebuildable=recreated_behind_us)[name]
    assert before.topic_id in asked
    assert after.partitions == before.partitions + 2 and after.topic_id != before.topic_id
