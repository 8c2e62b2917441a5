"""A worker's own probes and metrics (services/common/worker_health.py), the parts a worker process
runs (CASE_LEDGER_WORKER_ONLY), and what the migration step waits for (services/migrate.py)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from events.migrations import EVENT_STORE_MIGRATIONS
from services import migrate
from services.common.runtime import worker_parts
from services.common.settings import ServiceSettings
from services.common.worker_health import WorkerHealth


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_the_worker_answers_alive_ready_and_metrics_until_it_stops():
    database = {"ok": True}
    health = WorkerHealth(0, {"database": lambda: database["ok"], "broker": lambda: True}, bind="127.0.0.1")
    stop = threading.Event()
    thread = threading.Thread(target=health.serve, args=(stop,))
    thread.start()
    try:
        for _ in range(100):  # serve() sets its stop event as it starts
            if get(health.port, "/healthz")[0] == 200:
                break
        assert json.loads(get(health.port, "/healthz")[1]) == {"status": "alive"}
        assert get(health.port, "/readyz") == (200, b'{"ready": true, "checks": {"database": true, "broker": true}}')
        database["ok"] = False
        status, body = get(health.port, "/readyz")
        assert status == 503 and json.loads(body)["checks"] == {"database": False, "broker": True}
        status, body = get(health.port, "/metrics")
        assert status == 200 and b"# TYPE" in body
        assert get(health.port, "/nowhere")[0] == 404
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


def _part(_stop: threading.Event) -> None:
    pass


def test_a_worker_runs_only_the_parts_it_is_given():
    targets = {"relay": _part, "consumer-billing": _part, "timers": _part}
    assert worker_parts(targets, []) == targets
    assert list(worker_parts(targets, ["consumer-billing"])) == ["consumer-billing"]
    assert list(worker_parts(targets, ["-relay", "-timers"])) == ["consumer-billing"]
    assert list(worker_parts({"consumer-timeline": _part}, ["-relay", "-timers"])) == ["consumer-timeline"]
    with pytest.raises(SystemExit, match="consumer-bling"):
        worker_parts(targets, ["consumer-bling"])


def test_the_parts_are_read_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://x@localhost/x")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
    monkeypatch.setenv("CASE_LEDGER_OIDC_ISSUER", "http://localhost:8020")
    monkeypatch.setenv("CASE_LEDGER_WORKER_ONLY", "consumer-router, relay")
    monkeypatch.setenv("CASE_LEDGER_WORKER_HEALTH_PORT", "9100")
    settings = ServiceSettings()
    assert settings.worker_only == ["consumer-router", "relay"] and settings.worker_health_port == 9100


def test_the_migration_wait_expects_every_file_of_every_schema():
    wanted = migrate.expected()
    assert set(wanted) == {"intake", "routing", "review", "billing", "analytics_state"}
    store = {f"events/{p.name}" for p in EVENT_STORE_MIGRATIONS.glob("*.sql")}
    assert store and all(store <= names for names in wanted.values())
    # A service's own files under the name events.migrations records them by.
    assert any(n.startswith("migrations/") for n in wanted["billing"])
    assert any(n.startswith("views.sql@") for n in wanted["analytics_state"])
