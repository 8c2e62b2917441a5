"""Our own rules for the Kubernetes manifests (deploy/k8s), over what kustomize renders.

The Kubernetes schemas say whether a manifest is well formed (kubernetes-validate); these say
whether it is ours to ship: every workload probed, bounded and locked down, images pinned, no
consumer group with more members than the topic has partitions, every secret read from a Secret.
Each rule returns the problems it found, one sentence each; none is a pass. tests/unit/test_k8s.py
renders both overlays and runs every rule on them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Doc = dict[str, Any]
PART_OF = "app.kubernetes.io/part-of"
GROUP_LABEL = "case-ledger/consumer-group"
WORKLOADS = ("Deployment", "StatefulSet", "Job")
# A variable whose name says it holds a credential, or a DSN that carries one.
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|MASTER_KEY|ACCESS_KEY|PRIVATE_KEY|^DATABASE_URL$)")
# The Secrets an operator creates (docs/operators.md says what each holds); no manifest holds one.
SECRETS = ("case-ledger-secrets", "case-ledger-deps-secrets", "keycloak-users")


def render(overlay: Path) -> str:
    """The overlay as kustomize builds it: kubectl's built-in kustomize, or a kustomize binary."""
    if kubectl := shutil.which("kubectl"):
        argv = [kubectl, "kustomize", str(overlay)]
    elif kustomize := shutil.which("kustomize"):
        argv = [kustomize, "build", str(overlay)]
    else:
        raise RuntimeError("rendering deploy/k8s needs kubectl (its built-in kustomize) or kustomize on PATH; "
                           "on Debian: apt-get install kubectl")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


def ours(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if d.get("metadata", {}).get("labels", {}).get(PART_OF) == "case-ledger"]


def pod_spec(doc: Doc) -> Doc:
    return dict(doc["spec"]["template"]["spec"])


def containers(doc: Doc) -> Iterator[Doc]:
    spec = pod_spec(doc)
    yield from spec.get("initContainers", [])
    yield from spec.get("containers", [])


def name(doc: Doc) -> str:
    return f"{doc['kind']} {doc['metadata']['name']}"


def unpinned_images(docs: list[Doc]) -> list[str]:
    """Every image names a tag other than latest, or a digest."""
    problems = []
    for doc in (d for d in docs if d["kind"] in WORKLOADS):
        for c in containers(doc):
            image = c.get("image", "")
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if "@sha256:" not in image and tag in ("", "latest"):
                problems.append(f"{name(doc)}: image {image!r} is not pinned by tag or digest")
    return problems


def unprobed(docs: list[Doc]) -> list[str]:
    """Each long-running container of ours has a readiness and a liveness probe."""
    return [f"{name(doc)}: container {c['name']} has no {probe}"
            for doc in ours(docs) if doc["kind"] == "Deployment"
            for c in pod_spec(doc)["containers"] for probe in ("readinessProbe", "livenessProbe") if probe not in c]


def unbounded(docs: list[Doc]) -> list[str]:
    """Each container of ours asks for CPU and memory and is limited in both."""
    return [f"{name(doc)}: container {c['name']} has no {kind}.{resource}"
            for doc in ours(docs) if doc["kind"] in WORKLOADS for c in containers(doc)
            for kind in ("requests", "limits") for resource in ("cpu", "memory")
            if resource not in c.get("resources", {}).get(kind, {})]


def not_locked_down(docs: list[Doc]) -> list[str]:
    """Non-root, a read-only root filesystem, no privilege escalation, no capabilities."""
    problems = []
    for doc in (d for d in ours(docs) if d["kind"] in WORKLOADS):
        if not pod_spec(doc).get("securityContext", {}).get("runAsNonRoot"):
            problems.append(f"{name(doc)}: the pod may run as root")
        for c in containers(doc):
            ctx = c.get("securityContext", {})
            if not ctx.get("readOnlyRootFilesystem"):
                problems.append(f"{name(doc)}: container {c['name']} can write its root filesystem")
            if ctx.get("allowPrivilegeEscalation", True):
                problems.append(f"{name(doc)}: container {c['name']} may escalate privileges")
            if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
                problems.append(f"{name(doc)}: container {c['name']} keeps its capabilities")
    return problems


def undisrupted(docs: list[Doc]) -> list[str]:
    """Every Deployment of ours has a PodDisruptionBudget that selects its pods."""
    budgets = [d["spec"]["selector"]["matchLabels"] for d in docs if d["kind"] == "PodDisruptionBudget"]
    problems = []
    for doc in (d for d in ours(docs) if d["kind"] == "Deployment"):
        labels = doc["spec"]["template"]["metadata"]["labels"]
        if not any(all(labels.get(k) == v for k, v in sel.items()) for sel in budgets):
            problems.append(f"{name(doc)}: no PodDisruptionBudget selects its pods")
    return problems


def environment(doc: Doc, c: Doc, docs: list[Doc]) -> dict[str, str]:
    """A container's literal environment: its ConfigMaps in envFrom order, then its own env."""
    maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        if "configMapRef" in source:
            env.update(maps.get(source["configMapRef"]["name"], {}))
    env.update({e["name"]: e["value"] for e in c.get("env", []) if "value" in e})
    return env


def too_many_members(docs: list[Doc]) -> list[str]:
    """A consumer group's replicas never exceed the partitions of the topic it reads."""
    problems = []
    for doc in (d for d in ours(docs) if d["kind"] == "Deployment" and GROUP_LABEL in d["metadata"]["labels"]):
        app = pod_spec(doc)["containers"][0]
        partitions = int(environment(doc, app, docs).get("CASE_LEDGER_TOPIC_PARTITIONS", "6"))
        if doc["spec"].get("replicas", 1) > partitions:
            problems.append(f"{name(doc)}: {doc['spec']['replicas']} members for {partitions} partitions")
    return problems


def secrets_in_the_open(docs: list[Doc]) -> list[str]:
    """A credential is read from a Secret: never a literal in a manifest, never in a ConfigMap."""
    problems = [f"ConfigMap {d['metadata']['name']}: holds {key}, a secret"
                for d in docs if d["kind"] == "ConfigMap" for key in d.get("data", {}) if SECRET_NAME.search(key)]
    for doc in (d for d in docs if d["kind"] in WORKLOADS):
        for c in containers(doc):
            for e in c.get("env", []):
                if SECRET_NAME.search(e["name"]) and "secretKeyRef" not in e.get("valueFrom", {}):
                    problems.append(f"{name(doc)}: {e['name']} is not read from a Secret")
            refs = [e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e]
            refs += [e["valueFrom"]["secretKeyRef"]["name"] for e in c.get("env", [])
                     if "secretKeyRef" in e.get("valueFrom", {})]
            problems += [f"{name(doc)}: reads Secret {ref}, which docs/operators.md does not describe"
                         for ref in refs if ref not in SECRETS]
    return problems


def not_after_migration(docs: list[Doc]) -> list[str]:
    """A migration Job exists, and every pod of ours with a database waits for its migrations first."""
    problems = []
    if not any(d["kind"] == "Job" and "services.migrate" in pod_spec(d)["containers"][0]["command"]
               for d in ours(docs)):
        problems.append("no Job runs python -m services.migrate")
    for doc in (d for d in ours(docs) if d["kind"] == "Deployment"):
        uses_db = any("secretRef" in e for c in pod_spec(doc)["containers"] for e in c.get("envFrom", []))
        waits = any("--wait" in c.get("command", []) for c in pod_spec(doc).get("initContainers", []))
        if uses_db and not waits:
            problems.append(f"{name(doc)}: starts without waiting for the migrations")
    return problems


RULES = (unpinned_images, unprobed, unbounded, not_locked_down, undisrupted, too_many_members,
         secrets_in_the_open, not_after_migration)


def problems(docs: list[Doc]) -> list[str]:
    return [p for rule in RULES for p in rule(docs)]
