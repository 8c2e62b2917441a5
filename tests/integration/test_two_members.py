"""Two members in billing's and the analytics projector's consumer groups: each member of the
projector in turn is killed with kill -9 mid-load and kept down for 30 s; the other member takes
its partitions and projects a new case while it is down, and every accepted command is accounted
for (nothing lost, nothing applied twice, nothing stuck).

The session's stack gets the second members for this module (programs billing-worker-2 and
analytics-worker-2, consumers only) and loses them at the end. Its topic has the partitions the
stack made it with (1 on a fresh embedded log): a killed member then held either every partition
or none, and killing both in turn makes sure one outage moved them. With
`CASE_LEDGER_TOPIC_PARTITIONS=6` each member holds 3 (2026-12-07: passed, a case projected 1.5 s
and 17.6 s into the two outages; the file took 123 s, the stack's start included).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chaos.faults import Fault, Outage
from chaos.scenario import _probe_projected, run
from demo.api import SERVICES, Api
from infra.signin import stack_tokens
from infra.stack import Stack

# Resizing the session's stack costs minutes and leaves its groups rebalancing: `make test-scale`
# runs these, each file on a stack of its own; `make test` leaves them out.
pytestmark = [pytest.mark.integration, pytest.mark.scale]

CASES = 8
DOWN_S = 30.0
MEMBERS = {"billing": 2, "analytics": 2}


@pytest.fixture(scope="module")
def two_members(stack: Stack) -> Iterator[Stack]:
    both = stack.resized(members=MEMBERS)
    try:
        yield both
    finally:
        stack.resized(members={})


def _a_case_is_projected(stack: Stack) -> float:
    api = Api({s: stack.url(s) for s in SERVICES}, stack_tokens(stack.run_dir, stack.port_base), attempts=25)
    try:
        return _probe_projected(api, stack.database_url(), DOWN_S - 2)
    finally:
        api.close()


class EachMemberDown(Fault):
    """Every member of the projector's group killed in turn, each kept down while a case is probed."""

    def __init__(self) -> None:
        super().__init__("each analytics member kill -9, down 30 s")
        self.outages = [Outage(f"{p} down", p, DOWN_S, during=_a_case_is_projected)
                        for p in ("analytics-worker", "analytics-worker-2")]

    def inject(self, stack: Stack) -> None:
        for outage in self.outages:
            outage.inject(stack)


def test_the_second_members_run_only_consumers(two_members: Stack):
    for program in ("billing-worker-2", "analytics-worker-2"):
        assert two_members.pid_of(program)
        env = (two_members.run_dir / "env" / f"{program}.env").read_text()
        assert "CASE_LEDGER_WORKER_ONLY=-relay,-timers" in env
        # Its stable name in its groups (static membership): the same at every restart.
        assert f"CASE_LEDGER_CONSUMER_MEMBER={program[-1]}" in env.splitlines()


def test_a_killed_member_s_partitions_move_to_the_other_with_nothing_lost(two_members: Stack):
    fault = EachMemberDown()
    result = run(two_members, fault, CASES, threads=3, rebuild_check=False)
    v = result.verdict
    assert v.lost == [] and v.duplicated == [] and v.stuck == [], v
    assert v.unbalanced_cents == 0
    took = [o.seen["during"] for o in fault.outages]
    # While either member was down, the other projected a new case within 30 s of the kill.
    assert all(isinstance(t, float) and t < DOWN_S for t in took), took
    print(f"two members: a case projected {took[0]:.1f} s / {took[1]:.1f} s into each member's outage")
