"""Waiting for the embedded stack's servers: each check is cheap and safe to repeat."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
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


def wait_until(ready: Callable[[], object], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} is not ready after {timeout:.0f}s; see {log}")
        time.sleep(0.2)


def ensure_topics_soon(bootstrap: str, partitions: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            ensure_topics(bootstrap, partitions)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
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
