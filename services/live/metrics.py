"""Every metric of the live app, in one place, on the app's own registry.

Labels are low-cardinality by construction: `centre` (the five centres, or "unknown"), `kind` /
`state` (the fixed lists in services/live/fold.py), `party`, `reason`, `outcome`. Never a case id.

The windowed figures are read from the table at scrape time (LiveCollector), on the event loop
that also applies the batches, so a scrape never sees half a batch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from services.live import fold, tables

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES = Counter(
    "case_ledger_live_messages_total", "Messages the live app took from case-ledger, by outcome "
    "(applied; duplicate: redelivered after a restart and skipped; bad: undecodable, skipped)",
    ["outcome"], registry=REGISTRY,
)
BAD_MESSAGES = Counter(
    "case_ledger_live_bad_messages_total", "Messages the live app could not decode and skipped, by reason",
    ["reason"], registry=REGISTRY,
)
CHANGELOG_WRITES = Counter(
    "case_ledger_live_changelog_writes_total", "Table values written (one changelog message each)",
    registry=REGISTRY,
)
BATCHES = Counter("case_ledger_live_batches_total", "Batches of messages applied", registry=REGISTRY)
TOPIC_CHANGES = Counter(
    "case_ledger_live_topic_changes_total", "Times the source topic was found recreated (a new id): the "
    "offsets read before no longer guard what is read from it", registry=REGISTRY,
)
REPLAYS = Counter(
    "case_ledger_live_replays_total", "Times the table forgot what it held from another topic and folded "
    "the source topic again from its start", registry=REGISTRY,
)
# Every label value exported from the start, at 0: a dashboard or alert on them has data before the
# first bad message, and a misspelt reason shows as a missing series.
# The registry's DecodeError reasons, and a valid event the fold failed on.
DECODE_REASONS = ("invalid_envelope", "unknown_event_type", "unknown_schema_version", "no_upcaster",
                  "invalid_payload", "unfoldable")
for _reason in DECODE_REASONS:
    BAD_MESSAGES.labels(_reason)
for _outcome in ("applied", "duplicate", "bad"):
    MESSAGES.labels(_outcome)


@dataclass(frozen=True)
class Snapshot:
    views: tables.Views
    now: float            # the clock the ages and the current window are measured on
    lag: int | None       # messages behind the source partitions' high-water marks


class LiveCollector(Collector):
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        s = self._snapshot()
        yield from _totals(s.views)
        yield from _hours(s.views, s.now)
        yield from _travel(s.views, s.now)
        yield from _waiting(s.views, s.now)
        yield from _acceptance(s.views, s.now)
        yield from _progress(s.views, s.lag)


def _totals(v: tables.Views) -> Iterator[CounterMetricFamily]:
    flow = CounterMetricFamily("case_ledger_live_flow_events", "Cases routed, accepted, declined and "
                               "delivered, per centre: every event-time window summed", labels=["centre", "kind"])
    sla = CounterMetricFamily("case_ledger_live_sla_events", "SLA clocks started, at risk and breached, per "
                              "centre: every event-time window summed", labels=["centre", "state"])
    for centre in fold.CENTRES:
        for kind in fold.FLOW_KINDS:
            flow.add_metric([centre, kind], v.flow_totals.get((centre, kind), 0))
        for state in fold.SLA_STATES:
            sla.add_metric([centre, state], v.sla_totals.get((centre, state), 0))
    for (centre, state), n in v.sla_totals.items():
        if centre not in fold.CENTRES:
            sla.add_metric([centre, state], n)
    yield flow
    yield sla


def _hours(v: tables.Views, now: float) -> Iterator[GaugeMetricFamily]:
    # The tumbling hour that holds "now", and the one before it (complete).
    hour = fold.hour_start(now)
    for name, start, help_text in (
        ("case_ledger_live_flow_current_hour", hour, "this event-time hour"),
        ("case_ledger_live_flow_previous_hour", hour - fold.HOUR, "the previous event-time hour"),
    ):
        g = GaugeMetricFamily(name, f"Flow and SLA events per centre in {help_text} (tumbling, UTC)",
                              labels=["centre", "kind"])
        for centre in fold.CENTRES:
            for family, kinds in (("flow", fold.FLOW_KINDS), ("sla", fold.SLA_STATES)):
                for kind in kinds:
                    g.add_metric([centre, kind if family == "flow" else f"sla_{kind}"],
                                 v.hours.get((centre, f"{family}.{kind}", start), 0))
        yield g


def _travel(v: tables.Views, now: float) -> Iterator[GaugeMetricFamily]:
    decided = GaugeMetricFamily("case_ledger_live_decided_cases_30d", "Delivered cases decided in the "
                                "last 30 event-time days (hopping window, one-day hop)", labels=["centre"])
    travelled = GaugeMetricFamily("case_ledger_live_travelled_cases_30d", "Of those, cases that booked "
                                  "treatment", labels=["centre"])
    share = GaugeMetricFamily("case_ledger_live_travel_share_30d", "Share of the last 30 days' decided "
                              "cases that travelled (absent while none decided)", labels=["centre"])
    for centre in fold.CENTRES:
        d, t = tables.travel_share(v.days, centre, now)
        decided.add_metric([centre], d)
        travelled.add_metric([centre], t)
        if d:
            share.add_metric([centre], t / d)
    yield decided
    yield travelled
    yield share


def _waiting(v: tables.Views, now: float) -> Iterator[GaugeMetricFamily]:
    waiting = GaugeMetricFamily("case_ledger_live_waiting_cases", "Open cases by whose move it is",
                                labels=["party"])
    oldest = GaugeMetricFamily("case_ledger_live_waiting_oldest_age_seconds", "Age of the oldest case "
                               "waiting on each party (0 when none waits)", labels=["party"])
    for party, (n, since) in v.waiting.items():
        waiting.add_metric([party], n)
        oldest.add_metric([party], max(0.0, now - since) if since is not None else 0.0)
    yield waiting
    yield oldest


def _acceptance(v: tables.Views, now: float) -> Iterator[GaugeMetricFamily]:
    awaiting = GaugeMetricFamily("case_ledger_live_awaiting_acceptance_cases", "Cases routed to a centre "
                                 "that it has neither accepted nor declined", labels=["centre"])
    idle = GaugeMetricFamily("case_ledger_live_centre_idle_business_hours", "Business hours (09-18 "
                             "Asia/Shanghai, mainland working days) since the centre last accepted a case "
                             "or, if later, since its oldest case awaiting acceptance was routed; 0 when "
                             "none awaits; absent when the calendar does not know a year in between",
                             labels=["centre"])
    for centre in fold.CENTRES:
        n, routed = v.awaiting_acceptance.get(centre, (0, None))
        awaiting.add_metric([centre], n)
        if not n or routed is None:
            idle.add_metric([centre], 0.0)
            continue
        since = max(routed, v.last_acceptance.get(centre, -math.inf))
        try:
            idle.add_metric([centre], tables.business_hours(since, now))
        except tables.CalendarUnknown as exc:
            log.warning("centre %s: the calendar does not know %s; its idle hours are not reported", centre, exc)
    yield awaiting
    yield idle


def _progress(v: tables.Views, lag_messages: int | None) -> Iterator[GaugeMetricFamily]:
    watermark = GaugeMetricFamily("case_ledger_live_event_time_seconds", "The newest event time the live "
                                  "tables hold")
    if v.watermark is not None:
        watermark.add_metric([], v.watermark)
    yield watermark
    lag = GaugeMetricFamily("case_ledger_live_lag_messages", "Messages on case-ledger the live app has not "
                            "applied yet (all partitions)")
    if lag_messages is not None:
        lag.add_metric([], lag_messages)
    yield lag
