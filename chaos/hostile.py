"""The guard a fault run keeps beside its load: hostile tokens sent to every API, none may be accepted.

Each round sends, to each API, a token that must be refused whatever the fault: garbage, `alg: none`,
a genuine token with a claim changed (its signature kept), one signed by a stranger's key, and one
signed by that key under our provider's key id. "Accepted" is any answer but 401 (or 503: an API
that cannot check a token right now refuses it too); an API that is down accepts nothing.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Mapping

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.signin import claims
from infra.stack import SERVICES, Stack

REFUSED = (401, 503)
NOBODY = "00000000-0000-4000-8000-000000000000"
# A route of each API behind its token check (a path no route has would be 404 before any check).
PATHS = {"intake": "/cases", "routing": f"/cases/{NOBODY}/routing", "review": "/cases",
         "billing": "/price-book", "analytics": f"/cases/{NOBODY}/timeline"}


def _segment(obj: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def hostile_tokens(genuine: str) -> dict[str, str]:
    head, _, sig = genuine.split(".")
    real = claims(genuine)
    kid = jwt.get_unverified_header(genuine)["kid"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "garbage": "not-a-token",
        "alg none": f"{_segment({'alg': 'none', 'kid': kid})}.{_segment(real)}.",
        "tampered": f"{head}.{_segment({**real, 'groups': ['role:admin'], 'exp': real['exp'] + 3600})}.{sig}",
        "unknown kid": jwt.encode(real, stranger, algorithm="RS256", headers={"kid": "stranger"}),
        "our kid, a stranger's key": jwt.encode(real, stranger, algorithm="RS256", headers={"kid": kid}),
    }


class Guard:
    """Sends the hostile tokens to every API until stopped; counts the answers that let one in."""

    def __init__(self, stack: Stack, tokens: Mapping[str, str], pause_s: float = 0.25) -> None:
        self.urls = {s: stack.url(s) + PATHS[s] for s in SERVICES}
        self.tokens = hostile_tokens(tokens["ADMIN_TOKEN"])
        self.pause_s = pause_s
        self.sent = 0
        self.accepted: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hostile-guard", daemon=True)

    def __enter__(self) -> Guard:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                for service, url in self.urls.items():
                    for name, token in self.tokens.items():
                        try:
                            r = client.get(url, headers={"Authorization": f"Bearer {token}"})
                        except httpx.HTTPError:
                            continue  # the API is away: it let nobody in
                        self.sent += 1
                        if r.status_code not in REFUSED:
                            self.accepted.append(f"{service}: {name} -> {r.status_code}")
                time.sleep(self.pause_s)
