"""What a member cut off from the broker did to its group (chaos/faults.py, Cut): its partitions,
its uncommitted work, and anything half-applied, judged from the broker's group and the stores.

The group's members come from the broker (DescribeGroups: Tansu 0.6.0 names each member
`<client.id>-<uuid>` but leaves its assignment empty, so who owns which partition is worked out
the way the range assignor the members use deals them out, over the members the broker lists).
The offsets come from the broker (the group's commits); what was applied, and where each event
sits on the topic, from the stores (tracking rows, the outbox's partition and offset). Which
process skipped a replay or applied an event comes from its own counters (the service's
multiprocess metric files, one per process).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
from kafka import KafkaAdminClient
from prometheus_client.mmap_dict import MmapedDict
from psycopg.rows import dict_row

from events.contract import TOPIC
from events.db import Queries
from infra.stack import Stack
from services.common.runtime import consumer_client_id

_SQL = Path(__file__).parent / "sql" / "cutoff.sql"
SESSION_TIMEOUT_S = 10.0  # events/kafka.py, consumer_timeouts()


class _Admin(KafkaAdminClient):
    def _process_acl_operations(self, obj: dict[str, Any]) -> dict[str, Any]:
        # Tansu answers every ACL operation code, some unknown to kafka-python, which then fails
        # the whole description: the operations are no concern of ours.
        return obj


def range_owners(members: Iterable[str], partitions: int) -> dict[str, list[int]]:
    """The range assignor's deal (kafka-python's RangePartitionAssignor, one topic): the members
    sorted by id, each given a run of partitions, the first `partitions % n` one more."""
    ordered = sorted(members)
    if not ordered:
        return {}
    each, extra = divmod(partitions, len(ordered))
    owners, start = {}, 0
    for i, member in enumerate(ordered):
        size = each + (1 if i < extra else 0)
        owners[member] = list(range(start, start + size))
        start += size
    return owners


def client_of(member_id: str) -> str:
    """The client.id in a member id as Tansu makes it, `<client.id>-<uuid>`."""
    parts = member_id.split("-")
    return "-".join(parts[:-5]) if len(parts) > 5 else member_id


@dataclass
class Sample:
    at: float  # seconds from the cut
    state: str
    members: tuple[str, ...]  # member ids


@dataclass
class CutWatch:
    service: str = "billing"
    consumer: str = "billing"
    member: str = "2"
    partitions: int = 6
    samples: list[Sample] = field(default_factory=list)
    marks: dict[str, Any] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def group(self) -> str:
        return f"{self.service}.{self.consumer}"

    @property
    def me(self) -> str:
        return consumer_client_id(self.service, self.consumer, self.member)

    @property
    def program(self) -> str:
        return f"{self.service}-worker-{self.member}"

    # ------------------------------------------------------------------ the broker's view
    def _admin(self, stack: Stack) -> _Admin:
        return _Admin(bootstrap_servers=stack.bootstrap_servers(), client_id="chaos-cutoff", request_timeout_ms=5000)

    def describe(self, admin: _Admin) -> tuple[str, tuple[str, ...]]:
        group = admin.describe_groups([self.group])[self.group]
        return group["group_state"], tuple(sorted(m["member_id"] for m in group["members"]))

    def committed(self, admin: _Admin) -> dict[int, int]:
        offsets = admin.list_group_offsets(self.group).get(self.group, {})
        return {tp.partition: om.offset for tp, om in offsets.items() if tp.topic == TOPIC}

    def wait_stable(self, stack: Stack, members: int, timeout: float = 180.0) -> float:
        """Seconds until the group is Stable with `members` members (a join is a rebalance)."""
        started = time.monotonic()
        admin = self._admin(stack)
        try:
            while time.monotonic() - started < timeout:
                state, ids = self.describe(admin)
                if state == "Stable" and len(ids) == members:
                    return time.monotonic() - started
                time.sleep(0.5)
        finally:
            admin.close()
        raise TimeoutError(f"{self.group} not Stable with {members} members within {timeout:.0f} s")

    # ------------------------------------------------------------------ the stack around the row
    def arrange(self, stack: Stack) -> Stack:
        """Two members, the second in a network namespace of its own; back when both have joined."""
        both = dataclasses.replace(stack, members={**stack.members, self.service: 2}, isolated=(self.program,))
        both.up()
        self.marks["joined_s"] = self.wait_stable(both, 2)
        return both

    def restore(self, stack: Stack) -> Stack:
        one = dataclasses.replace(stack, members={k: v for k, v in stack.members.items() if k != self.service},
                                  isolated=())
        one.up()
        return one

    # ------------------------------------------------------------------ around the cut
    def before(self, stack: Stack) -> None:
        self.samples.clear()
        self._stop.clear()
        admin = self._admin(stack)
        try:
            self.marks["state"], self.marks["members"] = self.describe(admin)
            self.marks["committed"] = self.committed(admin)
        finally:
            admin.close()
        self.marks["counters"] = {"cut": self.counters(stack)}
        self.marks["cut_wall"] = datetime.now(UTC)
        self.marks["cut_at"] = time.monotonic()
        self._thread = threading.Thread(target=self._sample, args=(stack,), name="cut-watch", daemon=True)
        self._thread.start()

    def after(self, stack: Stack) -> None:
        self.marks["mended_s"] = time.monotonic() - self.marks["cut_at"]
        self.marks["counters"]["mend"] = self.counters(stack)

    def _sample(self, stack: Stack) -> None:
        admin: _Admin | None = None
        while not self._stop.wait(0.5):
            at = time.monotonic() - self.marks["cut_at"]
            try:
                admin = admin or self._admin(stack)
                state, ids = self.describe(admin)
            except Exception as exc:  # the broker answers again at the next sample, or a new client does
                state, ids = f"unanswered ({type(exc).__name__})", ()
                if admin is not None:
                    admin.close()
                admin = None
            self.samples.append(Sample(at, state, ids))
        if admin is not None:
            admin.close()

    def finish(self, stack: Stack, timeout: float = 120.0) -> None:
        """Stops sampling once the member is back and the group Stable (or after `timeout` from the mend)."""
        deadline = self.marks["cut_at"] + self.marks.get("mended_s", 0.0) + timeout
        while time.monotonic() < deadline and not self._back():
            time.sleep(0.5)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.marks["counters"]["end"] = self.counters(stack)

    def _back(self) -> bool:
        mended = self.marks.get("mended_s", float("inf"))
        return any(s.at > mended and s.state == "Stable" and self.me in map(client_of, s.members)
                   and len(s.members) == 2 for s in self.samples)

    # ------------------------------------------------------------------ each process's counters
    def counters(self, stack: Stack) -> dict[str, dict[str, float]]:
        """events_consumed by outcome, per member (by client name), from each process's metric file."""
        out: dict[str, dict[str, float]] = {}
        for member, pid in self._pids(stack).items():
            path = stack.run_dir / "prom" / self.service / f"counter_{pid}.db"
            values: dict[str, float] = {}
            if path.exists():
                for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
                    if '"case_ledger_events_consumed_total"' in key and f'"consumer": "{self.consumer}"' in key:
                        outcome = key.split('"outcome": "')[1].split('"')[0]
                        values[outcome] = value
            out[member] = values
        return out

    def _pids(self, stack: Stack) -> dict[str, int]:
        """Each member's worker process: the program's own, or under its namespace's forwarders."""
        found = {}
        for number, name in (("1", f"{self.service}-worker"), (self.member, self.program)):
            pid = stack.pid_of(name)
            if not pid:
                continue
            try:
                procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
                worker = [p for p in procs if f"services.{self.service}.worker" in p.cmdline()
                          and "infra.netns" not in p.cmdline()]
            except psutil.Error:
                continue
            if worker:
                found[consumer_client_id(self.service, self.consumer, number)] = worker[-1].pid
        return found

    # ------------------------------------------------------------------ the stores' view
    def stores(self, db_url: str, cases: list[Any]) -> dict[str, Any]:
        queries = Queries(_SQL, self.service)
        mine = range_owners(map(client_of, self.marks["members"]), self.partitions).get(self.me, [])
        with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
            applied = conn.execute(queries["processed_by"], {
                "topic": TOPIC, "consumer": self.consumer, "partitions": mine, "at": self.marks["cut_wall"]}).fetchall()
            untracked = conn.execute(queries["reactions_untracked"], {
                "topic": TOPIC, "consumer": self.consumer, "cases": cases}).fetchall()
            unanswered = conn.execute(queries["tracked_unanswered"], {
                "consumer": self.consumer, "cases": cases}).fetchall()
        committed = self.marks["committed"]
        exposed = [r for r in applied if r["offset"] >= committed.get(r["partition"], 0)]
        last = {p: max((r["offset"] for r in applied if r["partition"] == p), default=None) for p in mine}
        return {"mine": mine, "last_applied": last, "exposed": exposed,
                "untracked": untracked, "unanswered": unanswered}

    # ------------------------------------------------------------------ the lines under the row
    def explain(self, stack: Stack, cases: list[Any]) -> tuple[list[str], bool]:
        """The lines printed under the row, and whether nothing was half-applied and the member came back."""
        self.finish(stack)
        found = self.stores(stack.database_url(), cases)
        lines = [*self._partition_lines(found["mine"]), *self._work_lines(found)]
        half = len(found["untracked"]) + len(found["unanswered"])
        lines.append(f"half-applied: {len(found['untracked'])} reactions appended without their tracking row, "
                     f"{len(found['unanswered'])} tracked openings without the invoice of their transaction"
                     + "".join(f"; {r['event_type']} {r['event_id']}" for r in found["untracked"][:3]))
        back = self._back()
        if not back:
            lines.append(f"FAILED: {self.me} was not back in a Stable group of two within 120 s of the mend")
        return lines, half == 0 and back

    def _first(self, since: float, test: Any) -> float | None:
        return next((s.at for s in self.samples if s.at >= since and test(s)), None)

    def _partition_lines(self, mine: list[int]) -> list[str]:
        me, mended = self.me, self.marks["mended_s"]
        before = range_owners(map(client_of, self.marks["members"]), self.partitions)
        others = sorted(c for c in before if c != me)

        def clients(s: Sample) -> list[str]:
            return sorted(map(client_of, s.members))

        left = self._first(0.0, lambda s: s.members and me not in clients(s))
        alone = self._first(0.0, lambda s: s.state == "Stable" and s.members and clients(s) == others)
        back = self._first(mended, lambda s: me in clients(s))
        both = self._first(mended, lambda s: s.state == "Stable" and len(s.members) == 2 and me in clients(s))

        def at(t: float | None) -> str:
            return "never" if t is None else f"+{t:.1f} s"

        owned_again = min((t for t in (alone, both) if t is not None), default=None)
        when = "" if alone is None else (" (after the mend)" if alone > mended else " (during the cut)")
        return [
            f"before the cut: {self.group} {self.marks['state']}, {self.partitions} partitions; {me} owned "
            f"{mine}, " + ", ".join(f"{c} {before[c]}" for c in others)
            + f" (range over the members; both joined {self.marks.get('joined_s', 0):.0f} s after the start)",
            f"during the cut: {me} dropped from the group {at(left)} (session timeout {SESSION_TIMEOUT_S:.0f} s), "
            f"the group rebalancing from then; {', '.join(others)} alone and Stable, so owning all "
            f"{self.partitions} partitions, {at(alone)}{when}",
            f"after the mend at +{mended:.1f} s: {me} back in the group {at(back)}, Stable with both {at(both)}"
            f"{', owning ' + str(mine) + ' again' if both is not None else ''}; its partitions unread from the "
            f"cut until {at(owned_again)}",
        ]

    def _work_lines(self, found: dict[str, Any]) -> list[str]:
        committed = self.marks["committed"]
        mine, exposed = found["mine"], found["exposed"]
        counters = self.marks["counters"]

        def delta(member: str, outcome: str, start: str, end: str) -> int:
            return int(counters[end].get(member, {}).get(outcome, 0) - counters[start].get(member, {}).get(outcome, 0))

        members = sorted(set(counters["cut"]) | set(counters["end"]))
        return [
            "at the cut, on its partitions: committed (next offset) "
            + ", ".join(f"p{p} {committed.get(p, '-')}" for p in mine) + "; applied up to "
            + ", ".join(f"p{p} {found['last_applied'][p] if found['last_applied'][p] is not None else '-'}"
                        for p in mine)
            + f": {len(exposed)} applied and not committed, to be read again by whoever owns them next",
            "those events: " + (", ".join(f"{r['event_id']} (p{r['partition']}@{r['offset']})" for r in exposed[:4])
                                + (f" and {len(exposed) - 4} more" if len(exposed) > 4 else "") if exposed else "none"),
            "skipped as replays (duplicates) / applied, during the cut; after the mend: " + "; ".join(
                f"{m} {delta(m, 'duplicate', 'cut', 'mend')}/{delta(m, 'applied', 'cut', 'mend')}; "
                f"{delta(m, 'duplicate', 'mend', 'end')}/{delta(m, 'applied', 'mend', 'end')}" for m in members),
        ]
