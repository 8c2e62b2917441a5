"""The observability files, checked offline: Prometheus configs and alert rules with promtool, the
rules' unit tests, the dashboards' PromQL, the Grafana provisioning and the compose stack's structure.

promtool comes from Debian's `prometheus` package; infra/install-prometheus.sh installs it and
`make test` runs that script first. Without promtool these tests fail, they never skip.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from infra.stack import LIVE, PORT_OFFSETS, ROOT, SERVICES
from infra.tools import (
    DASHBOARDS,
    JOB,
    PROMETHEUS_DIR,
    RULES,
    alert_probes,
    dashboard_exprs,
    embedded_targets,
    prometheus_config,
    write_prometheus_config,
)

INFRA = ROOT / "infra"
RULE_TESTS = [PROMETHEUS_DIR / "rules.test.yml", PROMETHEUS_DIR / "rules.calendar.test.yml"]
COMPOSE = INFRA / "docker-compose.yml"
GRAFANA = INFRA / "grafana"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool is not installed: run `bash infra/install-prometheus.sh` (make test does)")
    return found


@pytest.fixture(scope="module")
def yaml() -> ModuleType:
    try:
        import yaml
    except ImportError:
        pytest.fail("PyYAML is not installed: it belongs in pyproject's dev dependencies and requirements.lock")
    return yaml


def run(promtool: str, *args: str | Path, cwd: Path = PROMETHEUS_DIR) -> str:
    proc = subprocess.run([promtool, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"promtool {' '.join(map(str, args))} failed:\n{output}"
    return output


# ---------------------------------------------------------------------------------- promtool
def test_promtool_runs(promtool: str):
    assert "promtool, version" in run(promtool, "--version")


def test_the_compose_prometheus_config_and_its_rules_are_valid(promtool: str):
    out = run(promtool, "check", "config", "prometheus.yml")
    assert "1 rule files found" in out


def test_the_rules_are_valid(promtool: str):
    assert re.search(r"SUCCESS: \d+ rules found", run(promtool, "check", "rules", "rules.yml"))


def test_the_rules_unit_tests_pass(promtool: str):
    out = run(promtool, "test", "rules", *(p.name for p in RULE_TESTS))
    assert out.count("SUCCESS") == len(RULE_TESTS), out


@pytest.mark.parametrize("port_base", [8000, 18000])
def test_a_generated_config_for_the_embedded_stack_is_valid(promtool: str, tmp_path: Path, port_base: int):
    config = write_prometheus_config(tmp_path / "prometheus.yml", embedded_targets(port_base),
                                     scrape_interval="1s")
    run(promtool, "check", "config", config, cwd=tmp_path)
    text = config.read_text()
    for service in (*SERVICES, LIVE):
        assert f'"127.0.0.1:{port_base + PORT_OFFSETS[service]}"' in text
    assert f'job_name: "{JOB}"' in text and str(RULES) in text


def test_a_generated_config_quotes_what_it_is_given():
    text = prometheus_config({"intake": "host:1"}, scrape_interval="2s", rule_files=[])
    assert 'scrape_interval: "2s"' in text and "rule_files: []" in text and '{app: "intake"}' in text


def test_every_dashboard_expression_is_valid_promql(promtool: str, tmp_path: Path):
    # promtool parses recording rules' expressions: one rule per panel query checks them all offline.
    exprs = dashboard_exprs()
    assert len(exprs) >= 30
    rules = ["groups:", "  - name: dashboards", "    rules:"]
    for i, (_, _, expr) in enumerate(exprs):
        rules += [f"      - record: dashboard:expr_{i}", f"        expr: {json.dumps(expr)}"]
    (tmp_path / "dashboards.rules.yml").write_text("\n".join(rules) + "\n")
    out = run(promtool, "check", "rules", "dashboards.rules.yml", cwd=tmp_path)
    assert f"{len(exprs)} rules found" in out


# ---------------------------------------------------------------------------------- rule coverage
def load(yaml: ModuleType, path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alerts(yaml: ModuleType) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in load(yaml, RULES)["groups"] for r in g["rules"] if "alert" in r}


def test_the_alerts_the_operators_asked_for_exist(yaml: ModuleType):
    rules = alerts(yaml)
    wanted = {
        "SlaAtRisk": "case_ledger_sla_at_risk_cases > 0",
        "CentreNotAccepting": "case_ledger_live_centre_idle_business_hours",
        "PatientWaitTooLong": 'case_ledger_live_waiting_oldest_age_seconds{party="patient"}',
        "SlaBreached": "case_ledger_sla_breached_cases > 0",
        "DeadLetterMessages": "increase(case_ledger_dlq_messages_total[",
        "ConsumerLagHigh": "case_ledger_consumer_lag",
        "SlaCalendarYearUnknown": "case_ledger_sla_calendar_unknown_cases > 0",
        "SlaCalendarOutdated": "case_ledger_sla_calendar_last_known_year < scalar(year())",
        "OutboxBacklogGrowing": "case_ledger_outbox_backlog",
        "ProjectionStale": "case_ledger_projection_last_event_timestamp_seconds",
    }
    for name, fragment in wanted.items():
        assert name in rules, name
        assert fragment in rules[name]["expr"], (name, rules[name]["expr"])
    assert rules["ConsumerLagHigh"].get("for"), "lag must stay high for some minutes before alerting"
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"].get("summary") and rule["annotations"].get("description"), name


def test_every_alert_is_tested_firing_and_not_firing(yaml: ModuleType):
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        doc = load(yaml, path)
        assert doc["rule_files"] == ["rules.yml"], path
        for group in doc["tests"]:
            for case in group.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = set(alerts(yaml))
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet"
    assert (firing | quiet) - names == set(), "tests of alerts that do not exist"


def test_every_alert_probe_is_a_measurement(yaml: ModuleType):
    for name, rule in alerts(yaml).items():
        probes = alert_probes(rule["expr"])
        assert probes and all(p and not re.search(r"(^|\s)(>|<|==|!=)\s", p) for p in probes), (name, probes)


@pytest.mark.parametrize(("expr", "probes"), [
    ("case_ledger_sla_at_risk_cases > 0", ["case_ledger_sla_at_risk_cases"]),
    ("x{a=\"b>c\"} >= 2", ["x{a=\"b>c\"}"]),
    ("(time() - last > 900)\nand on() (sum(increase(pub[15m])) > 0)", ["time() - last", "sum(increase(pub[15m]))"]),
    ("y <= scalar(year()) and on() (month() == 12)", ["y", "month()"]),
    ("histogram_quantile(0.95, sum by (le) (rate(h_bucket{route!~\"/a|/b\"}[5m]))) > 1",
     ["histogram_quantile(0.95, sum by (le) (rate(h_bucket{route!~\"/a|/b\"}[5m])))"]),
    ("backlog > 0 and delta(backlog[10m]) > 0", ["backlog", "delta(backlog[10m])"]),
    ("(a) + (b) > bool 3", ["(a) + (b)"]),
    ("up == 0 or absent(up)", ["up", "absent(up)"]),
    ("sum by (vendor, origin) (x) != 1 unless ignoring(origin) y", ["sum by (vendor, origin) (x)", "y"]),
    ("absent(x)", ["absent(x)"]),
])
def test_alert_probes_take_the_left_side_of_each_comparison(expr: str, probes: list[str]):
    assert alert_probes(expr) == probes


# ---------------------------------------------------------------------------------- Grafana
def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in panels:
        out.append(p)
        out += all_panels(p.get("panels", []))
    return out


def test_the_dashboards_cover_operations_business_and_platform():
    boards = dashboards()
    assert set(boards) == {"operations-sla.json", "business.json", "platform.json"}
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    text = {name: json.dumps(b) for name, b in boards.items()}
    must = {
        "operations-sla.json": ["case_ledger_live_flow_current_hour", "case_ledger_live_waiting_oldest_age_seconds",
                                "case_ledger_live_travelled_cases_30d", "case_ledger_live_centre_idle_business_hours",
                                "case_ledger_sla_at_risk_cases", "case_ledger_sla_breached_cases",
                                "case_ledger_sla_calendar_unknown_cases", "case_ledger_sla_events_total"],
        "business.json": ["case_ledger_travel_share", "case_ledger_decided_cases", "case_ledger_cases",
                          "case_ledger_revenue_cents", "case_ledger_refunds_cents",
                          "case_ledger_fee_credits_issued_cents"],
        "platform.json": ["case_ledger_http_request_duration_seconds_bucket", "case_ledger_consumer_lag",
                          "case_ledger_outbox_backlog", "case_ledger_dlq_messages_total",
                          "case_ledger_projection_last_event_timestamp_seconds",
                          "case_ledger_sla_calendar_unknown_cases"],
    }
    for name, metrics in must.items():
        for metric in metrics:
            assert metric in text[name], (name, metric)


def test_every_panel_uses_the_provisioned_datasource_and_no_template_variables(yaml: ModuleType):
    datasource = load(yaml, GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"][0]
    ids = set()
    for name, board in dashboards().items():
        for panel in all_panels(board["panels"]):
            assert panel["id"] not in ids or panel["type"] == "row", (name, panel["title"])
            ids.add(panel["id"])
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == datasource["uid"], (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == datasource["uid"]
                # The observability test evaluates these as they are: no Grafana variables.
                assert "$" not in target["expr"], (name, panel["title"], target["expr"])
        ids.clear()


def test_grafana_provisioning_points_at_the_compose_prometheus_and_dashboards(yaml: ModuleType):
    compose = load(yaml, COMPOSE)
    datasource = load(yaml, GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"][0]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    assert "prometheus" in compose["services"]
    provider = load(yaml, GRAFANA / "provisioning" / "dashboards" / "dashboards.yml")["providers"][0]
    mounts = dict(v.rsplit(":", 2)[:2] if v.endswith(":ro") else v.split(":", 1)
                  for v in compose["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"


# ---------------------------------------------------------------------------------- compose
PORTS = {s: 8000 + PORT_OFFSETS[s] for s in SERVICES}
REQUIRED_ENV = {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "CASE_LEDGER_OIDC_ISSUER", "INTAKE_MASTER_KEY",
                "REVIEW_MASTER_KEY", "CASE_LEDGER_ENV", "PROMETHEUS_MULTIPROC_DIR"}


def volume_map(service: dict[str, Any]) -> dict[str, str]:
    """container path -> source of a service's volumes (short syntax)."""
    out = {}
    for v in service.get("volumes", []):
        source, target = v.split(":")[:2]
        out[target] = source
    return out


def test_compose_runs_kafka_in_kraft_mode_without_topic_auto_creation(yaml: ModuleType):
    services = load(yaml, COMPOSE)["services"]
    assert not any("zookeeper" in name for name in services)
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = {k: str(v) for k, v in kafka["environment"].items()}
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16  # a base64 UUID
    assert "healthcheck" in kafka

    init = services["kafka-init"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    script = " ".join(init["command"])
    for topic in ("case-ledger", "case-ledger.dlq"):
        assert f" {topic} " in f" {script} ".replace(";", " ")
    assert "--if-not-exists" in script and "retention.ms=-1" in script


def test_compose_runs_postgres_prometheus_and_grafana(yaml: ModuleType):
    services = load(yaml, COMPOSE)["services"]
    assert services["postgres"]["image"].startswith("postgres:") and "healthcheck" in services["postgres"]
    prom = volume_map(services["prometheus"])
    assert prom["/etc/prometheus/prometheus.yml"] == "./prometheus/prometheus.yml"
    assert prom["/etc/prometheus/rules.yml"] == "./prometheus/rules.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    for source in (*prom.values(), *volume_map(services["grafana"]).values()):
        if source.startswith("./"):
            assert (INFRA / source).exists(), source


def test_compose_runs_every_service_api_and_worker_from_the_dockerfile(yaml: ModuleType):
    doc = load(yaml, COMPOSE)
    services, volumes = doc["services"], doc["volumes"]
    prom_dirs: dict[str, str] = {}
    for name in SERVICES:
        api, worker = services[f"{name}-api"], services[f"{name}-worker"]
        assert api["command"] == ["python", "-m", "uvicorn", "--factory", f"services.{name}.api:create_app",
                                  "--host", "0.0.0.0", "--port", str(PORTS[name]), "--loop", "uvloop",
                                  "--http", "httptools"]
        assert worker["command"] == ["python", "-m", f"services.{name}.worker"]
        assert any(p.endswith(f":{PORTS[name]}") for p in api["ports"])
        for part in (api, worker):
            assert part["build"] == {"context": "..", "dockerfile": "infra/Dockerfile"}
            env = part["environment"]
            assert set(env) >= REQUIRED_ENV, REQUIRED_ENV - set(env)
            assert env["CASE_LEDGER_ENV"] == "production"
            assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
            assert "@postgres:5432/" in env["DATABASE_URL"]
            assert part["depends_on"]["postgres"]["condition"] == "service_healthy"
            assert part["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
        # API and worker share one multiprocess directory; no other service uses it.
        api_prom = volume_map(api)[env["PROMETHEUS_MULTIPROC_DIR"]]
        assert volume_map(worker)[env["PROMETHEUS_MULTIPROC_DIR"]] == api_prom
        assert api_prom in volumes and api_prom not in prom_dirs.values()
        prom_dirs[name] = api_prom
    assert (ROOT / "infra" / "Dockerfile").exists()


def test_compose_keeps_secrets_out_and_documents_them(yaml: ModuleType):
    text = COMPOSE.read_text()
    services = load(yaml, COMPOSE)["services"]
    env = services["intake-api"]["environment"]
    for key in ("INTAKE_MASTER_KEY", "REVIEW_MASTER_KEY"):
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", env[key]), env[key]
    assert re.search(r":\$\{POSTGRES_PASSWORD:\?[^}]*\}@", env["DATABASE_URL"])
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    referenced = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    example = (INFRA / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", example, re.M))
    assert referenced == documented
    assert all(re.fullmatch(r"[A-Z_]+=", line) for line in example.splitlines() if re.match(r"[A-Z_]+=", line)), \
        "the example must not carry values"
    ignored = subprocess.run(["git", "check-ignore", "-q", "infra/.env"], cwd=ROOT)
    assert ignored.returncode == 0, "infra/.env must be git-ignored"


def test_the_compose_prometheus_scrapes_every_api_by_service_name(yaml: ModuleType):
    config = load(yaml, PROMETHEUS_DIR / "prometheus.yml")
    assert config["rule_files"] == ["rules.yml"]
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == JOB]
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {f"{s}-api:{PORTS[s]}" for s in SERVICES} | {f"{LIVE}:{8000 + PORT_OFFSETS[LIVE]}"}
    services = load(yaml, COMPOSE)["services"]
    assert all(f"{s}-api" in services for s in SERVICES)


def test_compose_runs_the_live_app_on_the_port_prometheus_scrapes(yaml: ModuleType):
    live = load(yaml, COMPOSE)["services"][LIVE]
    port = str(8000 + PORT_OFFSETS[LIVE])
    assert live["command"] == ["python", "-m", "services.live.worker"]
    assert live["environment"]["LIVE_PORT"] == port and live["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert any(p.endswith(f":{port}:{port}") for p in live["ports"])
    assert live["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"


def test_the_dockerfile_builds_the_services_image():
    text = (INFRA / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert "pip install -r requirements.lock" in text
    assert "PYTHONPATH=/app" in text
    assert re.search(r"^USER (?!root)", text, re.M)
    ignore = [line.strip() for line in (INFRA / "Dockerfile.dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*" and set(ignore) >= {"!requirements.lock", "!services", "!events"}


def test_the_prometheus_install_script_is_executable_and_installs_both_binaries():
    script = INFRA / "install-prometheus.sh"
    assert script.stat().st_mode & 0o111
    text = script.read_text()
    assert "apt-get install" in text and "prometheus" in text and "command -v promtool" in text
