"""A real Prometheus scrapes the test stack; every PromQL expression our Grafana panels and alert rules
use returns data.

A dashboard query returns data when its result is non-empty. An alert that is not firing returns
nothing by design, so for each rule we evaluate what it measures: the left-hand side of each of its
comparisons (infra.tools.alert_probes, e.g. `case_ledger_consumer_lag` for `... > 500`). If that is
empty the alert can never fire: a misspelt metric, a label that no service sets, a metric that no
process exports yet. The whole rule expression is evaluated too, to prove it runs without error.

Prometheus comes from infra/install-prometheus.sh (make test runs it); without it the test fails.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psutil
import pytest

from infra.stack import LIVE, ROOT, SERVICES, Stack
from infra.tools import (
    PrometheusServer,
    alert_probes,
    dashboard_exprs,
    free_port,
    run_prometheus,
    write_prometheus_config,
)
from tests.integration.conftest import DELIVERY, Api, make_ready, open_case, uploaded_report, wait_for

pytestmark = pytest.mark.integration

DATA_TIMEOUT = 30.0  # after the traffic, how long every expression may take to return data


@pytest.fixture(scope="module")
def prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    if not shutil.which("prometheus"):
        pytest.fail("the prometheus server is not installed: run `bash infra/install-prometheus.sh` (make test does)")
    home: Path = tmp_path_factory.mktemp("prometheus")
    # Every service's API, and the live app (the dashboards' live flow row and its alerts).
    targets = {s: f"127.0.0.1:{stack.port(s)}" for s in (*SERVICES, LIVE)}
    config = write_prometheus_config(home / "prometheus.yml", targets, scrape_interval="1s",
                                     evaluation_interval="1s")
    with run_prometheus(config, home / "data") as server:
        yield server
    assert server.process.poll() is not None, "prometheus was not stopped"


def walk_a_case(api: Api) -> tuple[UUID, list[str]]:
    """Opens a case and takes it through acceptance, delivery and a treatment booking (the walking
    skeleton's path); returns what went wrong.

    Only opening and readiness are asserted: the rest feeds metrics, and a step that fails is
    reported next to the expressions it left without data rather than hiding them.
    """
    case_id = open_case(api, tumour_site="lung", preferred_centre="wch")
    make_ready(api, case_id)
    problems: list[str] = []
    reviewer = "CENTRE_WCH_TOKEN"

    def step(what: str, fn: Callable[[], None]) -> bool:
        try:
            fn()
            return True
        except AssertionError as exc:
            problems.append(f"{what}: {exc}")
            return False

    def accept() -> None:
        wait_for(lambda: api.call("review", "GET", f"/cases/{case_id}", token=reviewer).status_code == 200,
                 20, "the assignment at review")
        r = api.call("review", "POST", f"/cases/{case_id}/acceptance", token=reviewer, json={})
        assert r.status_code in (200, 201), r.text

    def deliver() -> None:
        body = {**DELIVERY, "recommended_pathway": "proton_therapy", "treatment_change": "major_change",
                "report_ref": uploaded_report(api, case_id, reviewer, pages=7)}
        r = api.call("review", "POST", f"/cases/{case_id}/delivery", token=reviewer, json=body)
        assert r.status_code in (200, 201), r.text

    def book() -> None:
        booking = {"centre_id": "wch", "treatment_type": "proton_therapy", "travel_reason": "high_cost_therapy",
                   "estimated_cost_cents": 4_500_000}
        # The booking waits for intake's worker to have seen ReviewDelivered.
        wait_for(lambda: api.call("intake", "POST", f"/cases/{case_id}/treatment-booking",
                                  json=booking).status_code == 201, 20, "the treatment booking")

    if step("acceptance", accept) and step("delivery", deliver):
        step("booking", book)
    return case_id, problems


def alerting_rules(prometheus: PrometheusServer) -> list[dict[str, Any]]:
    groups = prometheus.api("rules", type="alert")["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_dashboard_query_and_alert_measurement_returns_data(api: Api, prometheus: PrometheusServer):
    started = time.monotonic()
    wait_for(lambda: (t := prometheus.targets_up()) and len(t) == len(SERVICES) + 1 and set(t.values()) == {"up"},
             20, f"Prometheus to scrape all {len(SERVICES)} services and the live app")

    case_id, problems = walk_a_case(api)

    # The rules Prometheus loaded from infra/prometheus/rules.yml, each evaluated at least once.
    def evaluated() -> list[dict[str, Any]] | None:
        rs = alerting_rules(prometheus)
        return rs if rs and all(r["health"] != "unknown" for r in rs) else None

    rules = wait_for(evaluated, 20, "the alert rules to be evaluated")
    broken = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
    assert not broken, f"alert rules failing to evaluate: {broken}"

    checks: dict[str, str] = {}
    for file, title, expr in dashboard_exprs():
        checks[f"panel {file} / {title}: {expr}"] = expr
    for rule in rules:
        prometheus.query(rule["query"])  # the whole rule runs (an error raises PromQLError)
        for probe in alert_probes(rule["query"]):
            checks[f"alert {rule['name']}: {probe}"] = probe
    assert len(rules) >= 10 and len(checks) >= 40

    deadline = time.monotonic() + DATA_TIMEOUT
    while True:
        # Let a few scrapes and rule evaluations (1 s each) land before judging.
        time.sleep(3)
        missing = {label: expr for label, expr in checks.items() if not prometheus.query(expr)}
        if not missing or time.monotonic() > deadline:
            break

    elapsed = time.monotonic() - started
    assert not missing, (
        f"{len(missing)} of {len(checks)} expressions returned no data after {elapsed:.0f}s "
        f"(case {case_id}; traffic problems: {problems or 'none'}):\n  " + "\n  ".join(sorted(missing)))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_the_prometheus_helper_stops_its_server_when_it_is_told_to_stop(tmp_path: Path, sig: signal.Signals):
    if not shutil.which("prometheus"):
        pytest.fail("the prometheus server is not installed: run `bash infra/install-prometheus.sh` (make test does)")
    helper = subprocess.Popen([sys.executable, "-m", "infra.tools", "prometheus", "--port", str(free_port()),
                               "--port-base", "1", "--home", str(tmp_path)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert helper.stdout is not None
        assert "Prometheus on" in helper.stdout.readline()
        [server] = [p for p in psutil.Process(helper.pid).children() if p.name() == "prometheus"]
        helper.send_signal(sig)
        assert helper.wait(30) is not None
        assert not server.is_running() or server.status() == psutil.STATUS_ZOMBIE
    finally:
        if helper.poll() is None:
            helper.kill()
