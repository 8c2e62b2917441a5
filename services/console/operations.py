"""The state of every consumer group and projection, read from the services' own /metrics and /progress.

Position is what a consumer has handled (its events_consumed_total, every outcome), lag the
messages behind the partitions' high-water marks, dead letters what it sent to case-ledger.dlq,
and its last progress the moment it last handled a message or found none waiting. The live views
say their committed offsets and lag at /progress. Nothing is read from a service's database.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

SERVICES = ("intake", "routing", "review", "billing", "analytics")


@dataclass
class Group:
    service: str
    consumer: str
    position: int = 0
    lag: int | None = None
    dead_letters: int = 0
    last_progress_s: float | None = None

    def idle_for(self, now: float) -> float | None:
        return None if self.last_progress_s is None else max(0.0, now - self.last_progress_s)


def groups_of(service: str, text: str) -> tuple[list[Group], dict[str, float]]:
    """The consumer groups a service's /metrics describes, and its relay's figures (backlog, parked)."""
    found: dict[str, Group] = {}
    relay: dict[str, float] = {}

    def group(labels: dict[str, str]) -> Group:
        name = labels.get("consumer", "?")
        return found.setdefault(name, Group(service, name))

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels, value = sample.labels, sample.value
            if sample.name == "case_ledger_events_consumed_total":
                group(labels).position += int(value)
            elif sample.name == "case_ledger_consumer_lag":
                g = group(labels)
                g.lag = int(value) + (g.lag or 0)
            elif sample.name == "case_ledger_dlq_messages_total":
                group(labels).dead_letters += int(value)
            elif sample.name == "case_ledger_consumer_last_progress_timestamp_seconds":
                g = group(labels)
                g.last_progress_s = max(value, g.last_progress_s or 0.0)
            elif sample.name in ("case_ledger_outbox_backlog", "case_ledger_outbox_parked"):
                relay[sample.name.removeprefix("case_ledger_outbox_")] = value
            elif sample.name == "case_ledger_projection_last_event_timestamp_seconds":
                relay["projection_last_event_s"] = value
    return sorted(found.values(), key=lambda g: g.consumer), relay


async def state(http: httpx.AsyncClient, urls: dict[str, str], live_url: str | None) -> dict[str, Any]:
    async def metrics(service: str) -> tuple[str, str | None]:
        try:
            r = await http.get(f"{urls[service]}/metrics")
            return service, r.text if r.status_code == 200 else None
        except httpx.HTTPError:
            return service, None

    async def progress() -> Any:
        if not live_url:
            return None
        try:
            r = await http.get(f"{live_url}/progress")
            return r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    answers = await asyncio.gather(*(metrics(s) for s in SERVICES), progress())
    groups: list[Group] = []
    relays: dict[str, dict[str, float] | None] = {}
    for service, text in answers[:-1]:
        if text is None:
            relays[service] = None
            continue
        found, relay = groups_of(service, text)
        groups += found
        relays[service] = relay
    return {"groups": groups, "relays": relays, "live": answers[-1], "now": time.time()}
