"""A Kafka client whose brokers are all gone is made again when another broker of the list answers.

kafka-python learns the cluster from its first metadata answer and from then on talks only to the
brokers it named; it goes back to the bootstrap list only when the metadata names none. Tansu's
brokers each answer "node 111, at my own address", so a client of the broker that died knows no
other, and retries the dead address until the broker comes back (measured: a consumer of two
brokers over one log stood still for the whole of a 20 s outage). A new client bootstraps from the
list, skips the address that refuses, and reaches a live broker: the consumers' watchdog calls
`check` every few seconds and makes a new client when it raises. On Apache Kafka, whose metadata
names every broker of the cluster, a live one is always among them and this never fires.
"""

from __future__ import annotations

import socket
from typing import Any

from kafka.errors import KafkaConnectionError


class BrokersGone(KafkaConnectionError):
    """Every broker the client knows refuses connections while one of its bootstrap list answers."""


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def bootstrap_addresses(servers: str | list[str]) -> list[tuple[str, int]]:
    items = servers.split(",") if isinstance(servers, str) else servers
    found = []
    for item in (i.strip() for i in items if i.strip()):
        host, _, port = item.rpartition(":")
        found.append((host or "localhost", int(port)))
    return found


def check(client: Any) -> None:
    """Raises BrokersGone when none of the client's known brokers answers and a listed one does."""
    cluster = getattr(getattr(client, "_client", None), "cluster", None)
    if cluster is None:
        return  # not a kafka-python client (the watchdog's unit tests hand in a stand-in)
    known = [(b.host, b.port) for b in cluster.brokers()]
    if not known or any(answers(host, port) for host, port in known):
        return
    others = [a for a in bootstrap_addresses(client.config["bootstrap_servers"]) if a not in known]
    if any(answers(host, port) for host, port in others):
        raise BrokersGone(f"brokers {known} refuse connections; another of the list answers")
