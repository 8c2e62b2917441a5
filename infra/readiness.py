"""Waiting for the embedded stack's servers: each check is cheap and safe to repeat."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path

from events.kafka import ensure_topics
from infra import objectstore


def buckets_ready(s3: dict[str, str]) -> bool:
    try:
        objectstore.ensure_buckets(s3["S3_ENDPOINT"], s3["S3_ACCESS_KEY_ID"], s3["S3_SECRET_ACCESS_KEY"],
                                   s3["S3_REGION"], [s3["S3_BROKER_BUCKET"], s3["S3_RECORDS_BUCKET"]])
        return True
    except Exception:  # the server is still starting: boto3 raises several unrelated kinds
        return False


def patience() -> float:
    """How long a start waits while nothing moves (CASE_LEDGER_READY_TIMEOUT_S, 90 s by default)."""
    return float(os.environ.get("CASE_LEDGER_READY_TIMEOUT_S", "90"))


class Waiting:
    """A wait that gives up only when nothing has moved for `patience` seconds, and says what it waits for.

    A fixed limit failed every entry point on a loaded machine (load average 15-20 on two cores):
    fifteen Python processes importing at once took longer than 90 s to answer, while each one was
    making progress all along. `signs()` is any value that changes while the awaited thing gets
    closer (a program's state, its CPU time while it starts, a port that answers, the checks its
    /readyz reports); each change starts the clock again. Every `every` seconds, and when the signs
    change, it prints what it is still waiting for.
    """

    def __init__(self, what: str, log: Path | str, signs: Callable[[], Hashable] = lambda: None,
                 idle_s: float | None = None, every: float = 15.0, say: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self.log, self.signs, self.every, self.clock = what, log, signs, every, clock
        self.idle_s = patience() if idle_s is None else idle_s
        self.say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        self.started = self.moved_at = self.said_at = clock()
        self._last: Hashable = signs()

    def still(self, detail: str = "") -> None:
        """One look: raises SystemExit when nothing moved for too long, else notes any movement."""
        now = self.clock()
        sign = self.signs()
        if sign != self._last:
            self._last, self.moved_at = sign, now
        if now - self.moved_at > self.idle_s:
            raise SystemExit(f"{self.what} is not ready: nothing moved for {self.idle_s:.0f}s "
                             f"({now - self.started:.0f}s in all){': ' + detail if detail else ''}; see {self.log}")
        if now - self.said_at >= self.every:
            self.said_at = now
            self.say(f"  waiting for {self.what} ({now - self.started:.0f}s){': ' + detail if detail else ''}")


def wait_until(ready: Callable[[], object], what: str, log: Path | str,
               signs: Callable[[], Hashable] = lambda: None, idle_s: float | None = None) -> None:
    waiting = Waiting(what, log, signs, idle_s)
    while not ready():
        waiting.still()
        time.sleep(0.2)


def cpu_signs(pids: Iterable[int | None]) -> tuple[tuple[int, int], ...]:
    """Each live process's CPU time in tenths of a second: it moves while a program imports and starts."""
    import psutil

    found = []
    for pid in pids:
        if not pid:
            continue
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        found.append((pid, int((times.user + times.system + times.children_user + times.children_system) * 10)))
    return tuple(found)


def ensure_topics_soon(bootstrap: str, partitions: int) -> None:
    waiting = Waiting(f"the topics on the broker at {bootstrap}", "the broker's log")
    while True:
        try:
            ensure_topics(bootstrap, partitions)
            return
        except Exception as exc:
            waiting.still(f"{type(exc).__name__}: {exc}")
            time.sleep(0.5)


def discovery_ready(issuer: str) -> bool:
    """Whether an OpenID Connect provider serves its discovery document, naming itself the issuer."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=2) as r:
            return bool(r.status == 200 and json.load(r).get("issuer") == issuer)
    except (OSError, ValueError):
        return False


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0
