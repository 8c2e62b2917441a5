"""The pipeline's throughput with two members in billing's and the analytics projector's groups.

The same measure as the `pipeline` phase (bench/pipeline.py: cases opened straight in intake's
store, every event counted until projected), with the stack's second members of those two groups
started (programs billing-worker-2 and analytics-worker-2, consumers only) and stopped again
after. The members share the topic's partitions only when it has more than one: `make bench`
makes its topic with 6 (bench/run.py; CASE_LEDGER_TOPIC_PARTITIONS overrides it), so both
pipeline figures are on 6, and the summary records the count (`pipeline_two_members_partitions`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench import BenchFailed, Figures
from bench.pipeline import throughput
from bench.storage import Requests
from infra.stack import Stack

MEMBERS = {"billing": 2, "analytics": 2}
# After the second members start, their groups rebalance (~18 s each on Tansu with dynamic
# membership, docs/operators.md): the count starts once that is over.
JOINED_S = 30.0


def run(stack: Stack, database_url: str, summary: dict[str, Any],
        storage: Callable[[], Requests | None] = lambda: None) -> Figures:
    both = stack.resized(members=MEMBERS)
    try:
        missing = [p for p in ("billing-worker-2", "analytics-worker-2") if not both.pid_of(p)]
        if missing:
            raise BenchFailed(f"the second members did not start: {missing}")
        time.sleep(JOINED_S)
        figures = throughput(database_url, summary, storage, key="pipeline_events_per_s_two_members")
    finally:
        stack.resized(members={})
    partitions = stack.topic_partitions()
    summary["pipeline_two_members_partitions"] = partitions
    return [("topic partitions", partitions, ""), ("members of billing's and analytics' groups", 2, ""), *figures]
