"""The integration suite runs against a real embedded stack of its own (ports 180xx, broker 19292)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import boto3
import httpx
import psycopg
import pydicom.examples
import pytest
from psycopg.rows import dict_row

from demo.documents import report_pdf
from infra.signin import Tokens, stack_tokens
from infra.stack import ROOT, SERVICES, Stack

T = TypeVar("T")
RUN_DIR = ROOT / ".run" / "test"
# Each log's size once the fresh stack was up: tests/integration/test_clean_logs.py reads what it
# wrote while starting (empty when the stack's run directory was not made anew).
LOGS_AT_START: dict[str, int] = {}


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    s = Stack(RUN_DIR, port_base=int(os.environ.get("TEST_PORT_BASE", 18000)),
              broker_port=int(os.environ.get("TEST_BROKER_PORT", 19292)),
              # A run killed where it cannot clean up (SIGKILL, a CI timeout) takes its stack with it.
              owner=os.getpid())
    s.down()
    # Short enough that pausing the broker makes the relay fail a batch and retry it.
    os.environ.setdefault("CASE_LEDGER_RELAY_ACK_TIMEOUT", "4")
    # Tests play simulated dates and drive the timers through POST /admin/timers; the live
    # sweeps, on the wall clock, would fire SLA events for those dates at random moments.
    os.environ.setdefault("CASE_LEDGER_SIMULATED_TIME", "true")
    os.environ.setdefault("INTAKE_TIMER_PERIOD", "0")
    os.environ.setdefault("REVIEW_SLA_TIMER_PERIOD", "0")
    os.environ.setdefault("ROUTING_TIMER_PERIOD", "0")
    # The live app commits every 5 s instead of every second: a SIGKILL then lands between two
    # commits, so tests/integration/test_live.py exercises the replay of applied messages.
    os.environ.setdefault("LIVE_COMMIT_INTERVAL_S", "5")
    # A worker the tests stop or kill holds its consumer groups' partitions until the broker expires
    # it (its members never leave, events/kafka.py): after 5 s instead of 10. Measured on this
    # stack: a routing worker started 2.4 s after its stop served again 3.6 s after its start with
    # 5 s, 19 s with 10 s (its new member joined before the old one expired, and waited a rebalance).
    os.environ.setdefault("CASE_LEDGER_CONSUMER_SESSION_TIMEOUT_MS", "5000")
    # Small enough that a test can post a record over the limit.
    os.environ.setdefault("INTAKE_MAX_RECORD_BYTES", str(2**20))
    # Short enough that tests/integration/test_auth.py sees a disabled user's last token expire
    # (the shared tokens are refreshed before they do), with a skew allowance to match.
    os.environ.setdefault("CASE_LEDGER_TOKEN_LIFETIME", "60")
    os.environ.setdefault("CASE_LEDGER_OIDC_LEEWAY", "5")
    if not os.environ.get("DATABASE_URL"):
        shutil.rmtree(RUN_DIR, ignore_errors=True)
    s.up()
    if not os.environ.get("DATABASE_URL"):
        LOGS_AT_START.update({p.name: p.stat().st_size for p in (RUN_DIR / "logs").glob("*.log")})
    try:
        yield s
    finally:
        s.down()


@pytest.fixture(scope="session")
def env(stack: Stack) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (RUN_DIR / "stack.env").read_text().splitlines() if line)


@pytest.fixture(scope="session")
def tokens(stack: Stack) -> Tokens:
    """Real access tokens of the stack's dev users, by name or by the old role names (signin.ALIASES)."""
    return stack_tokens(stack.run_dir, stack.port_base)


class Api:
    def __init__(self, stack: Stack, tokens: Mapping[str, str]) -> None:
        self.stack = stack
        self.tokens = tokens
        self._clients = {s: httpx.Client(base_url=stack.url(s), timeout=30) for s in SERVICES}

    def call(self, service: str, method: str, path: str, token: str | None = "COORDINATOR_TOKEN",
             **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {self.tokens[token]}"
        return self._clients[service].request(method, path, headers=headers, **kw)

    def close(self) -> None:
        for c in self._clients.values():
            c.close()


@pytest.fixture(scope="session")
def api(stack: Stack, tokens: Tokens) -> Iterator[Api]:
    client = Api(stack, tokens)
    yield client
    client.close()


@pytest.fixture(scope="session")
def db_url(env: dict[str, str]) -> str:
    return env["DATABASE_URL"]


@pytest.fixture()
def db(db_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


def wait_for(probe: Callable[[], T | None], timeout: float = 30.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


# After a worker restarts, its consumers rejoin their groups on the broker before they apply anything;
# on Tansu that can take a while when the same group's member left moments before.
AFTER_RESTART = 180.0


@contextmanager
def worker_stopped(stack: Stack, db_url: str, service: str) -> Iterator[None]:
    """The service's worker stopped (its relay too: its events wait in its store, and its consumers
    hear of nothing) until the block ends; then started again and its outbox drained."""
    stack.stop(f"{service}-worker")
    try:
        yield
    finally:
        stack.start(f"{service}-worker")
    with psycopg.connect(db_url, autocommit=True) as conn:
        wait_for(lambda: conn.execute(f"SELECT count(*) FROM {service}.outbox WHERE published_at IS NULL")
                 .fetchone() == (0,), AFTER_RESTART, f"{service}'s outbox to drain after its restart")


# Every identity and question the suite sends: the privacy test searches the topic for each.
SENSITIVE_NAMES = ("Amelia Testpatient-Hargreaves", "Kwame Sensitive-Mensah", "Lucia Privata-Ferreira")
SENSITIVE_QUESTION = "Is concurrent chemo-radiation or sequential the right path for my mother, Q-7731?"
PATIENT = {"name": SENSITIVE_NAMES[0], "date_of_birth": "1961-04-17", "email": "amelia@example.org",
           "passport_number": "P1234567"}
NEW_CASE = {"tumour_site": "breast", "stage_group": "II", "referral_reasons": ["stage_borderline"],
            "patient_country": "GB", "language": "en", "patient": PATIENT, "question": SENSITIVE_QUESTION}
FULL_SET = ["pathology_report", "pathology_slides", "imaging", "treatment_history",
            "oncologist_letter", "oncologist_letter"]
DELIVERY = {"pathology": {"verdict": "agree"}, "imaging": {"verdict": "stage_confirmed"},
            "recommended_pathway": "surgery", "rationale_codes": ["guideline_concordant"],
            "trial_options": [{"trial_id": "NCT01234567", "phase": "II", "china_only": False}],
            "question_answer": "answered", "diagnosis_change": "concordant", "treatment_change": "refined"}
ALL_CENTRES = ["sysucc", "cams", "fuscc", "pkuch", "wch"]
CT_DICOM = Path(pydicom.examples.get_path("ct")).read_bytes()


def open_case(api: Api, **overrides: Any) -> UUID:
    r = api.call("intake", "POST", "/cases", json={**NEW_CASE, **overrides})
    assert r.status_code == 201, r.text
    return UUID(r.json()["case_id"])


def upload(api: Api, case_id: UUID, kind: str, content: bytes | None = None, occurred_at: str | None = None,
           **kw: Any) -> httpx.Response:
    if content is None:
        content = CT_DICOM if kind == "imaging" else f"%PDF-1.4 {kind} {uuid4()}".encode()
    return api.call("intake", "POST", f"/cases/{case_id}/records", data=dated({"kind": kind}, occurred_at),
                    files={"file": (f"{kind}.bin", content, "application/octet-stream")}, **kw)


def dated(body: dict[str, Any], occurred_at: str | None) -> dict[str, Any]:
    """`body` with its event time, or without one (the server's clock)."""
    return {**body, "occurred_at": occurred_at} if occurred_at else body


def day_before(when: str) -> str:
    """A simulated history runs forward: a case opened and routed the day before its first dated answer
    (a centre cannot accept a case before it was routed to it, docs/design.md "Facts in order")."""
    return (datetime.fromisoformat(when) - timedelta(days=1)).isoformat()


def consent(api: Api, case_id: UUID, centres: list[str] | None = None, occurred_at: str | None = None) -> None:
    for body in ({"consent": "health_data_processing", "text_version": "v2026_1"},
                 {"consent": "transfer_abroad", "text_version": "v2026_1", "centre_ids": centres or ALL_CENTRES}):
        r = api.call("intake", "POST", f"/cases/{case_id}/consents", json=dated(body, occurred_at))
        assert r.status_code == 200, r.text


def make_ready(api: Api, case_id: UUID, centres: list[str] | None = None,
               occurred_at: str | None = None) -> dict[str, Any]:
    """Uploads the required records and gives both consents: the case becomes routable (at
    `occurred_at`, or on the server's clock)."""
    consent(api, case_id, centres, occurred_at)
    for kind in FULL_SET:
        r = upload(api, case_id, kind, occurred_at=occurred_at)
        assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    assert body["checklist"]["complete"] is True, body
    return body


def records_bucket(stack: Stack) -> tuple[Any, str]:
    """A client of the object store the stack keeps record files in, and the bucket's name."""
    s3 = stack.s3_env()
    client = boto3.client("s3", endpoint_url=s3["S3_ENDPOINT"], aws_access_key_id=s3["S3_ACCESS_KEY_ID"],
                          aws_secret_access_key=s3["S3_SECRET_ACCESS_KEY"], region_name=s3["S3_REGION"])
    return client, s3["S3_RECORDS_BUCKET"]


def stored_keys(stack: Stack) -> set[str]:
    client, bucket = records_bucket(stack)
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys |= {o["Key"] for o in page.get("Contents", [])}
    return keys


def stored_object(stack: Stack, key: str) -> bytes:
    client, bucket = records_bucket(stack)
    return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())


def store_event_counts(conn: psycopg.Connection[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Events per (producer, type) across every service's event store: the durable truth."""
    counts: dict[tuple[str, str], int] = {}
    for schema in ("intake", "routing", "review", "billing"):
        for row in conn.execute(f"SELECT event_type, count(*) AS n FROM {schema}.events GROUP BY event_type"):
            counts[(schema, row["event_type"])] = row["n"]
    return counts


def projected_counts(conn: psycopg.Connection[dict[str, Any]]) -> dict[tuple[str, str], int]:
    rows = conn.execute("SELECT producer, event_type, sum(events)::int AS n FROM analytics.event_counts "
                        "WHERE producer <> 'test' GROUP BY producer, event_type").fetchall()
    return {(r["producer"], r["event_type"]): r["n"] for r in rows}


def wait_until_projected(conn: psycopg.Connection[dict[str, Any]], timeout: float = 60.0) -> None:
    """Waits until the analytics projection has counted exactly what the stores hold."""
    last: dict[str, Any] = {}

    def settled() -> bool:
        last["stores"], last["projected"] = store_event_counts(conn), projected_counts(conn)
        return last["stores"] == last["projected"]

    try:
        wait_for(settled, timeout, "the projection to match the event stores")
    except AssertionError:
        raise AssertionError(f"stores {last['stores']} != projected {last['projected']}") from None



def forget_synthetic_events(conn: psycopg.Connection[dict[str, Any]]) -> None:
    """Tests that publish synthetic events (producer "test") straight to the topic call this after.

    The live projector applied them, but they are in no event store, so no rebuild could
    reproduce them; leaving them would make every later rebuild check fail.
    """
    conn.execute("DELETE FROM analytics.cases WHERE case_id IN (SELECT case_id FROM analytics.case_timeline "
                 "GROUP BY case_id HAVING bool_and(producer = 'test'))")
    conn.execute("DELETE FROM analytics.case_timeline WHERE producer = 'test'")
    conn.execute("DELETE FROM analytics.event_counts WHERE producer = 'test'")


BOOKING = {"centre_id": "fuscc", "treatment_type": "surgery", "travel_reason": "one_programme",
           "estimated_cost_cents": 2_000_000}


def uploaded_report(api: Api, case_id: UUID, token: str, pages: int = 6, reason: str | None = None,
                    occurred_at: str | None = None) -> str:
    """The centre uploads a real PDF of `pages` pages as the case's report; its document id."""
    data = {"page_count_reason": reason} if reason else {}
    r = api.call("review", "POST", f"/cases/{case_id}/report", token=token,
                 data={**data, "occurred_at": occurred_at} if occurred_at else data,
                 files={"file": ("report.pdf", report_pdf(pages), "application/pdf")})
    assert r.status_code == 201, r.text
    assert r.json()["page_count"] == pages
    return str(r.json()["document_id"])


def delivered_case(api: Api) -> UUID:
    """A case through routing, acceptance and delivery at FUSCC, and intake knows it."""
    case_id = open_case(api)
    make_ready(api, case_id, ["fuscc"])
    token = "CENTRE_FUSCC_TOKEN"
    wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}", token=token).status_code == 200,
             what="the assignment")
    api.call("review", "POST", f"/cases/{case_id}/acceptance", token=token, json={})
    r = api.call("review", "POST", f"/cases/{case_id}/delivery", token=token,
                 json={**DELIVERY, "report_ref": uploaded_report(api, case_id, token)})
    assert r.status_code == 200, r.text
    wait_for(lambda: api.call("intake", "GET", f"/cases/{case_id}").json()["review_delivered"],
             what="intake to learn of the delivery")
    return case_id
