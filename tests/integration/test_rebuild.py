"""The analytics rebuild against the real stack: replay the event stores, prove identical, switch."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from typing import Any
from uuid import UUID

import psycopg

from infra.stack import ROOT, Stack
from tests.integration.conftest import Api, open_case, wait_for, wait_until_projected

Db = psycopg.Connection[dict[str, Any]]

# Every relation of schema analytics, each in an order that makes two reads comparable.
def relations(db: Db) -> dict[str, str]:
    """Every table and view analysts see in schema analytics, with its kind."""
    rows = db.execute("SELECT table_name, table_type FROM information_schema.tables "
                      "WHERE table_schema = 'analytics'").fetchall()
    return {r["table_name"]: "view" if r["table_type"] == "VIEW" else "table" for r in rows}
# A line of the command's comparison table: relation, kind, live rows and checksum, rebuilt ones, verdict.
ROW = re.compile(r"^\s*analytics\.(\w+)\s+(table|view)\s+(\d+)\s+([0-9a-f]{32})\s+(\d+)\s+([0-9a-f]{32})\s+(\w+)$",
                 re.MULTILINE)


def run_rebuild(stack: Stack, env: dict[str, str], *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    run_env = stack.service_env("analytics", env["DATABASE_URL"], env["KAFKA_BOOTSTRAP_SERVERS"])
    run_env.update(settings)
    return subprocess.run([sys.executable, "-m", "services.analytics.rebuild", *args], cwd=ROOT, env=run_env,
                          capture_output=True, text=True, timeout=300)


def opened_and_settled(api: Api, db: Db, n: int = 3) -> list[UUID]:
    """Opens cases and waits for billing's reaction to each and for the projection of it all."""
    cases = [open_case(api) for _ in range(n)]
    wait_for(lambda: db.execute("SELECT count(DISTINCT case_id) AS n FROM billing.events WHERE case_id = ANY(%s) "
                                "AND event_type = 'FeeInvoiced'", (cases,)).fetchone()["n"] == n,  # type: ignore[index]
             what="billing to invoice every case")
    wait_until_projected(db)
    return cases


def snapshot(db: Db) -> dict[str, list[str]]:
    return {name: sorted(repr(r) for r in db.execute(f"SELECT * FROM analytics.{name}").fetchall())
            for name in relations(db)}


def timeline_oid(db: Db) -> int:
    return int(db.execute("SELECT 'analytics.case_timeline'::regclass::oid AS oid").fetchone()["oid"])  # type: ignore[index]


def schemas(db: Db) -> set[str]:
    return {r["nspname"] for r in db.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'analytics%'")}


def reported(output: str) -> dict[str, tuple[str, ...]]:
    """The last comparison table the command printed, by relation."""
    return {m[0]: m[1:] for m in ROW.findall(output)}


def test_the_rebuild_proves_itself_identical_switches_and_the_projector_writes_on(
        api: Api, db: Db, stack: Stack, env: dict[str, str]):
    opened_and_settled(api, db)
    before, oid = snapshot(db), timeline_oid(db)

    result = run_rebuild(stack, env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "identical and switched" in result.stdout
    table = reported(result.stdout)
    kinds = relations(db)
    assert set(table) == set(kinds) >= {"case_timeline", "event_counts", "case_summary", "cases", "sla_cases",
                                        "travel_outcomes", "review_outcomes", "revenue", "case_funnel"}
    for name, (kind, live_rows, live_md5, rebuilt_rows, rebuilt_md5, verdict) in table.items():
        assert (live_rows, live_md5, verdict) == (rebuilt_rows, rebuilt_md5, "identical"), name
        assert int(live_rows) == len(before[name]), name
        assert kind == kinds[name]

    # New tables under the old name, holding the same rows; nothing left behind.
    assert timeline_oid(db) != oid
    assert snapshot(db) == before
    assert schemas(db) == {"analytics", "analytics_state"}

    # The live projector, which ran on throughout, writes into the switched tables.
    (later,) = opened_and_settled(api, db, n=1)
    types = {r["event_type"] for r in db.execute(
        "SELECT event_type FROM analytics.case_timeline WHERE case_id = %s", (later,))}
    assert {"CaseOpened", "FeeInvoiced"} <= types
    summary = db.execute("SELECT * FROM analytics.case_summary WHERE case_id = %s", (later,)).fetchone()
    assert summary is not None and summary["opened_at"] is not None
    # Each event is one timeline row and one count, before the switch and after it.
    totals = db.execute("SELECT (SELECT sum(events) FROM analytics.event_counts) AS counted, "
                        "(SELECT count(*) FROM analytics.case_timeline) AS rows").fetchone()
    assert totals is not None and totals["counted"] == totals["rows"] > len(before["case_timeline"])

    again = run_rebuild(stack, env, "--check")
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_tampered_live_table_fails_the_check_naming_it(api: Api, db: Db, stack: Stack, env: dict[str, str]):
    (case_id,) = opened_and_settled(api, db, n=1)
    victim = db.execute("DELETE FROM analytics.case_timeline WHERE event_id = (SELECT event_id FROM "
                        "analytics.case_timeline WHERE case_id = %s LIMIT 1) RETURNING *", (case_id,)).fetchone()
    assert victim is not None
    oid = timeline_oid(db)
    try:
        # Retrying cannot mend a tampered table; one attempt is enough to see it fail.
        result = run_rebuild(stack, env, "--check", ANALYTICS_REBUILD_ATTEMPTS="1")
        assert result.returncode == 1, result.stdout + result.stderr
        assert "analytics.case_timeline DIFFERS" in result.stderr
        table = reported(result.stdout)
        assert table["case_timeline"][-1] == "DIFFERS"
        assert int(table["case_timeline"][1]) == int(table["case_timeline"][3]) - 1
        assert table["event_counts"][-1] == "identical"
        assert timeline_oid(db) == oid  # a check switches nothing
    finally:
        db.execute("INSERT INTO analytics.case_timeline (case_id, event_id, event_type, producer, stream_version, "
                   "occurred_at, recorded_at) VALUES (%(case_id)s, %(event_id)s, %(event_type)s, %(producer)s, "
                   "%(stream_version)s, %(occurred_at)s, %(recorded_at)s)", victim)
        db.execute("DROP SCHEMA IF EXISTS analytics_rebuild CASCADE")  # the failed rebuild, left for inspection


def test_a_projector_that_is_behind_makes_the_rebuild_retry_and_switch_nothing(
        api: Api, db: Db, stack: Stack, env: dict[str, str]):
    opened_and_settled(api, db, n=1)
    oid = timeline_oid(db)
    worker = stack.pid_of("analytics-worker")
    assert worker
    os.kill(worker, signal.SIGSTOP)
    try:
        open_case(api)  # in intake's store at once; the paused projector cannot apply it
        result = run_rebuild(stack, env, ANALYTICS_REBUILD_ATTEMPTS="2", ANALYTICS_REBUILD_RETRY_DELAY_S="0.5")
    finally:
        os.kill(worker, signal.SIGCONT)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.count("attempt ") == 2
    assert "analytics.case_timeline DIFFERS" in result.stderr and "behind" in result.stderr
    assert timeline_oid(db) == oid
    db.execute("DROP SCHEMA IF EXISTS analytics_rebuild CASCADE")
    wait_until_projected(db, timeout=90)
