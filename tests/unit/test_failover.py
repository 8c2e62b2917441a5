"""events/failover.py: a client whose known brokers all refuse is made again only when another
broker of its list answers (real sockets on loopback; the client is a stand-in for its metadata)."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from events.failover import BrokersGone, bootstrap_addresses, check


def client(known: list[int], listed: list[int]) -> SimpleNamespace:
    brokers = [SimpleNamespace(host="127.0.0.1", port=p) for p in known]
    cluster = SimpleNamespace(brokers=lambda: brokers)
    return SimpleNamespace(_client=SimpleNamespace(cluster=cluster),
                           config={"bootstrap_servers": ",".join(f"127.0.0.1:{p}" for p in listed)})


@pytest.fixture
def ports():
    """One port that answers and one that refuses (bound, never listening)."""
    up, down = socket.socket(), socket.socket()
    up.bind(("127.0.0.1", 0))
    up.listen()
    down.bind(("127.0.0.1", 0))
    try:
        yield up.getsockname()[1], down.getsockname()[1]
    finally:
        up.close()
        down.close()


def test_a_client_of_a_dead_broker_is_made_again_when_another_answers(ports):
    alive, dead = ports
    with pytest.raises(BrokersGone):
        check(client([dead], [dead, alive]))


def test_nothing_happens_while_a_known_broker_answers_or_no_other_does(ports):
    alive, dead = ports
    check(client([alive], [alive, dead]))
    check(client([dead], [dead]))  # the only broker is down: a new client would find none either
    check(client([], [dead, alive]))  # no metadata yet: the client bootstraps by itself


def test_bootstrap_lists_are_read_like_the_clients_read_them():
    assert bootstrap_addresses("a:1, b:2,") == [("a", 1), ("b", 2)]
    assert bootstrap_addresses([":9092"]) == [("localhost", 9092)]
