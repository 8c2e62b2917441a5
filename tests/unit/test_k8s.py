"""deploy/k8s: both overlays render, validate against the Kubernetes schemas and keep our rules.

Offline: kustomize is kubectl's own (kubectl is on this machine's image; a kustomize binary on
PATH does as well), the schemas are the ones kubernetes-validate bundles.
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from infra import k8s_rules as rules
from infra.stack import SERVICES

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("embedded-deps", "external-deps")
# The cluster version the manifests are written for (kubectl's on this image); the schemas of
# every version kubernetes-validate knows from it on would do as well.
KUBERNETES = "1.32.0"
_rendered: dict[str, list[rules.Doc]] = {}


def rendered(overlay: str) -> list[rules.Doc]:
    if overlay not in _rendered:
        _rendered[overlay] = [d for d in yaml.safe_load_all(rules.render(K8S / "overlays" / overlay)) if d]
    return copy.deepcopy(_rendered[overlay])


def by_name(docs: list[rules.Doc], kind: str, name: str) -> rules.Doc:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlay_is_valid_against_the_kubernetes_schemas(overlay: str):
    docs = rendered(overlay)
    assert len(docs) > 30
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_the_schema_check_catches_a_misspelt_field():
    doc = by_name(rendered("external-deps"), "Deployment", "billing-api")
    doc["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = doc["spec"]["template"]["spec"][
        "containers"][0].pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlay_keeps_our_rules(overlay: str):
    assert rules.problems(rendered(overlay)) == []


def test_every_service_has_an_api_and_every_group_a_deployment_of_its_own():
    docs = rules.ours(rendered("external-deps"))
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
    assert {f"{s}-api" for s in SERVICES} | {"live"} <= names
    parts: dict[str, list[str]] = {}
    for doc in (d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] != "live"
                and d["metadata"]["labels"]["app.kubernetes.io/component"] != "api"):
        service = doc["metadata"]["labels"]["case-ledger/service"]
        app = doc["spec"]["template"]["spec"]["containers"][0]
        assert app["command"] == ["python", "-m", f"services.{service}.worker"]
        only = rules.environment(doc, app, docs)["CASE_LEDGER_WORKER_ONLY"].split(",")
        parts.setdefault(service, []).extend(only)
        consumers = [p.removeprefix("consumer-") for p in only if p.startswith("consumer-")]
        group = doc["metadata"]["labels"].get(rules.GROUP_LABEL)
        # One group per Deployment, labelled with the group id the runner joins (service.consumer).
        assert consumers == ([group.split(".", 1)[1]] if group else []), doc["metadata"]["name"]
    # Each part of a worker runs in exactly one Deployment: one relay per service with an outbox.
    for service, found in parts.items():
        assert len(found) == len(set(found)), (service, found)
    assert {s for s, found in parts.items() if "relay" in found} == set(SERVICES) - {"analytics"}


def test_the_image_is_the_projects_release():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    images = {c["image"] for d in rules.ours(rendered("embedded-deps")) if d["kind"] in rules.WORKLOADS
              for c in rules.containers(d)}
    assert images == {f"case-ledger:{version}"}


def test_the_external_overlay_takes_every_server_from_its_config_map_and_secret():
    docs = rendered("external-deps")
    deps = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("case-ledger-deps"))
    assert {"KAFKA_BOOTSTRAP_SERVERS", "S3_ENDPOINT", "CASE_LEDGER_OIDC_ISSUER"} <= set(deps["data"])
    # No server of its own: only ours, and nothing that holds data.
    assert {d["kind"] for d in docs} == {"Deployment", "Service", "Job", "ConfigMap", "PodDisruptionBudget"}
    app = by_name(docs, "Deployment", "billing-billing")["spec"]["template"]["spec"]["containers"][0]
    assert {"secretRef": {"name": "case-ledger-secrets"}} in app["envFrom"]
    assert "DATABASE_URL" not in rules.environment({}, app, docs)


def test_every_secret_the_manifests_read_is_described_for_the_operator():
    guide = (ROOT / "docs" / "operators.md").read_text()
    for secret in rules.SECRETS:
        assert f"`{secret}`" in guide, secret


def _broken(mutate) -> list[str]:
    docs = rendered("embedded-deps")
    mutate(docs)
    return rules.problems(docs)


def test_the_rules_catch_what_they_are_for():
    def app(docs, name):
        return by_name(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]

    def latest(docs):
        app(docs, "routing-api")["image"] = "case-ledger:latest"

    def no_probe(docs):
        del app(docs, "review-assignments")["livenessProbe"]

    def too_many(docs):
        by_name(docs, "Deployment", "billing-billing")["spec"]["replicas"] = 7

    def password(docs):
        app(docs, "intake-api")["env"] = [{"name": "INTAKE_MASTER_KEY", "value": "c2VjcmV0"}]

    def writable(docs):
        app(docs, "live")["securityContext"]["readOnlyRootFilesystem"] = False

    def no_budget(docs):
        docs.remove(by_name(docs, "PodDisruptionBudget", "analytics-timeline"))

    def no_wait(docs):
        del by_name(docs, "Deployment", "intake-worklist")["spec"]["template"]["spec"]["initContainers"]

    def unlimited(docs):
        del app(docs, "billing-api")["resources"]["limits"]["memory"]

    cases = {latest: "routing-api: image 'case-ledger:latest'",
             no_probe: "review-assignments: container app has no liv",
             too_many: "billing-billing: 7 members for 6 partitions",
             password: "INTAKE_MASTER_KEY is not read from",
             writable: "live: container app can write",
             no_budget: "analytics-timeline: no PodDisruptionBudget",
             no_wait: "intake-worklist: starts without waiting",
             unlimited: "billing-api: container app has no limits.mem"}
    for mutate, expected in cases.items():
        found = _broken(mutate)
        assert any(re.search(re.escape(expected), p) for p in found), (mutate.__name__, found)
