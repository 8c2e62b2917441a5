"""The broker's storage work, from the object store's own request counters (SeaweedFS `-metricsPort`).

Tansu keeps its log in the S3 store: each produce writes objects, each fetch that finds data lists
the partition's objects and reads them. Counted per event carried, these requests say what the
broker's log costs, whatever else shares the cores; absent (a store of your own), the figures are
left out, never invented.
"""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass

from bench import Figures

_SAMPLE = re.compile(r'^SeaweedFS_s3_request_seconds_(count|sum)\{bucket="([^"]*)",type="([A-Z]+)"\} (\S+)$')


@dataclass(frozen=True)
class Requests:
    """Requests and their service time (s) on the broker's bucket, by S3 operation."""

    count: dict[str, float]
    seconds: dict[str, float]


def read(metrics_url: str | None, bucket: str) -> Requests | None:
    if metrics_url is None:
        return None
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    count: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and m.group(2) == bucket:
            target = count if m.group(1) == "count" else seconds
            target[m.group(3)] = target.get(m.group(3), 0.0) + float(m.group(4))
    return Requests(count, seconds)


def per_event(before: Requests | None, after: Requests | None, events: int) -> Figures:
    """Each operation's requests per event, and the store's milliseconds of service per event."""
    if before is None or after is None or events <= 0:
        return []
    figures: Figures = []
    for op in sorted(after.count):
        n = after.count[op] - before.count.get(op, 0.0)
        figures.append((f"broker's S3 {op} requests per event", n / events, "x"))
    for op in sorted(after.seconds):
        busy = after.seconds[op] - before.seconds.get(op, 0.0)
        figures.append((f"broker's S3 {op} service time per event", 1000 * busy / events, "ms"))
    return figures
