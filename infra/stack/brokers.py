"""Several Tansu brokers over one log (`python -m infra.stack up --brokers N`), and several members
of a service's consumer groups (programs `<service>-worker-2`, ...).

Tansu keeps no state of its own outside the storage engine, so N brokers over the same S3 bucket
serve the same topics and groups; each advertises only itself. Programs `broker`, `broker-2`, ...
listen on the broker port and the ports after it, and every client is given all their addresses:
a client whose broker dies is made again (the relay's producer, a consumer's client after an
error) and bootstraps from one that answers.
"""

from __future__ import annotations

import functools
from pathlib import Path

from infra.readiness import port_open, wait_until
from infra.supervisor import Supervisor

MAX_BROKERS = 9


def names(brokers: int) -> list[str]:
    return ["broker", *(f"broker-{i}" for i in range(2, brokers + 1))]


def ports(first: int, brokers: int) -> list[int]:
    return [first + i for i in range(brokers)]


def bootstrap(first: int, brokers: int) -> str:
    return ",".join(f"127.0.0.1:{port}" for port in ports(first, brokers))


def beyond(brokers: int) -> list[str]:
    """The programs of brokers past the count, which a stack started with more may still run."""
    return [f"broker-{i}" for i in range(brokers + 1, MAX_BROKERS + 1)]


def start(sup: Supervisor, first: int, brokers: int, logs: Path) -> None:
    # Brokers past the count stop: no client is given their address any more.
    sup.stop(*beyond(brokers))
    for name, port in zip(names(brokers), ports(first, brokers), strict=True):
        if not sup.pid(name) and port_open("127.0.0.1", port):
            raise SystemExit(f"port {port} is taken by another program; set --broker-port or KAFKA_BOOTSTRAP_SERVERS")
        sup.start(name, wait=False)
    for name, port in zip(names(brokers), ports(first, brokers), strict=True):
        wait_until(functools.partial(port_open, "127.0.0.1", port), f"the {name}", logs / f"{name}.log",
                   signs=functools.partial(sup.state, name))


MAX_MEMBERS = 6
_SERVICES = ("intake", "routing", "review", "billing", "analytics")


def extra_members(service: str, members: dict[str, int]) -> list[str]:
    """The programs beyond the service's first worker: its consumer groups' further members."""
    return [f"{service}-worker-{i}" for i in range(2, members.get(service, 1) + 1)]


def member_envs(service: str, members: dict[str, int]) -> list[tuple[str, dict[str, str]]]:
    """Each worker program of the service with what its environment adds: its number, its stable
    name in its groups (CASE_LEDGER_CONSUMER_MEMBER, used as static membership's group.instance.id
    when CASE_LEDGER_CONSUMER_STATIC is on), so a member the supervisor starts again rejoins as itself."""
    first = (f"{service}-worker", {"CASE_LEDGER_CONSUMER_MEMBER": "1"})
    # The relay and the timers stay with the first member: the others only consume.
    return [first, *((name, {"CASE_LEDGER_WORKER_ONLY": "-relay,-timers", "CASE_LEDGER_CONSUMER_MEMBER": str(i)})
                     for i, name in enumerate(extra_members(service, members), start=2))]


def members_beyond(members: dict[str, int]) -> list[str]:
    """The further members a stack started with more may still run, past these counts."""
    return [f"{s}-worker-{i}" for s in _SERVICES for i in range(max(2, members.get(s, 1) + 1), MAX_MEMBERS + 1)]
