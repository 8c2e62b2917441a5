"""Revocation, the provider away, a cold API, a key rotation: against the real provider and services."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import jwt
import pytest

from infra.readiness import discovery_ready
from infra.signin import SignInError, Tokens, claims, refresh, sign_in
from infra.stack import SERVICES, Stack
from tests.integration.conftest import wait_for
from tests.integration.test_auth import PROBES, probe

# conftest gives the test stack 60 s tokens and 5 s of skew, so an expiry is seen in a test.
LEEWAY = int(os.environ.get("CASE_LEDGER_OIDC_LEEWAY", "30"))


def _ready(stack: Stack, service: str) -> bool:
    try:
        return httpx.get(stack.url(service) + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def token_lifetime(stack: Stack, seconds: int) -> Iterator[None]:
    """The provider restarted to issue tokens of `seconds` until the block ends, then with the suite's
    lifetime again (the shared tokens are renewed a third of their life before they expire)."""
    suite = os.environ.get("CASE_LEDGER_TOKEN_LIFETIME")

    def restart(lifetime: str | None) -> None:
        if lifetime is None:
            os.environ.pop("CASE_LEDGER_TOKEN_LIFETIME", None)
        else:
            os.environ["CASE_LEDGER_TOKEN_LIFETIME"] = lifetime
        stack.provider.write_config()
        stack.stop("identity")
        stack.start("identity")
        wait_for(lambda: discovery_ready(stack.provider.issuer), 60, "the provider to start again")

    restart(str(seconds))
    try:
        yield
    finally:
        restart(suite)


# How long the disabled reviewer's last token lives: long enough to try a sign-in, a refresh and
# a request with it after locking them (two provider CLI calls), short enough not to wait a minute.
SHORT_LIFETIME = 20


def test_a_disabled_reviewer_gets_no_new_token_and_their_last_one_stops_when_it_expires(stack: Stack):
    provider, name = stack.provider, "reviewer2-cams"
    password = provider.passwords()[name]
    with token_lifetime(stack, SHORT_LIFETIME):
        last = sign_in(provider.issuer, name, password)
        assert last.refresh_token
        assert claims(last.access_token)["exp"] - claims(last.access_token)["iat"] == SHORT_LIFETIME
        headers = {"Authorization": f"Bearer {last.access_token}"}
        assert httpx.get(stack.url("review") + "/cases", headers=headers).status_code == 200
        provider.disable(name)
        try:
            with pytest.raises(SignInError, match=f"refused the sign-in of {name}"):
                sign_in(provider.issuer, name, password)
            with pytest.raises(SignInError):
                refresh(provider.issuer, last.refresh_token)
            # Until it expires the last token still works: the APIs check it themselves, offline.
            assert httpx.get(stack.url("review") + "/cases", headers=headers).status_code == 200
            expires = claims(last.access_token)["exp"]

            def refused() -> float | None:
                r = httpx.get(stack.url("review") + "/cases", headers=headers)
                return time.time() if r.status_code == 401 else None

            refused_at = wait_for(refused, timeout=max(0.0, expires - time.time()) + LEEWAY + 10, what="the expiry")
            assert expires <= refused_at <= expires + LEEWAY + 3
        finally:
            provider.enable(name)
    assert sign_in(provider.issuer, name, password).access_token


def test_with_the_provider_down_valid_tokens_still_work_sign_in_fails_clearly_and_a_cold_api_answers_503(
        stack: Stack, tokens: Tokens):
    live = {s: tokens[PROBES[s][1]] for s in SERVICES}
    for s in SERVICES:  # every API has the keys cached
        assert probe(stack, s, live[s]).status_code == PROBES[s][2]
    stack.stop("identity")
    try:
        for s in SERVICES:
            assert probe(stack, s, live[s]).status_code == PROBES[s][2], s
        with pytest.raises(SignInError, match="unreachable"):
            sign_in(stack.provider.issuer, "coordinator", stack.provider.passwords()["coordinator"])
        # A cold API (just restarted, no key cached) cannot check a token: 503, never 500 nor 401.
        old = stack.kill("routing-api")
        stack.wait_restarted("routing-api", old)
        wait_for(lambda: _ready(stack, "routing"), 60, "routing to be ready again")
        r = probe(stack, "routing", live["routing"])
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] and r.headers["content-type"] == "application/problem+json"
        # What needs no key is still judged: garbage is 401.
        assert probe(stack, "routing", "garbage").status_code == 401
    finally:
        stack.start("identity")
        wait_for(lambda: discovery_ready(stack.provider.issuer), 60, "the provider back")
    # Sign-in recovers with no hand, and the cold API fetches the keys as soon as it may.
    fresh = tokens["COORDINATOR_TOKEN"]
    wait_for(lambda: probe(stack, "routing", fresh).status_code == 404, 15, "routing to check tokens again")


def test_a_rotated_key_is_fetched_by_every_api_when_a_token_names_it(stack: Stack, tokens: Tokens):
    before = {s: tokens[PROBES[s][1]] for s in SERVICES}
    new_kid = stack.provider.rotate_key()
    stack.stop("identity")
    stack.start("identity")
    wait_for(lambda: discovery_ready(stack.provider.issuer), 60, "the provider with its new key")
    passwords = stack.provider.passwords()
    for s in SERVICES:
        user = tokens.user(PROBES[s][1])
        token = sign_in(stack.provider.issuer, user, passwords[user]).access_token
        assert jwt.get_unverified_header(token)["kid"] == new_kid != jwt.get_unverified_header(before[s])["kid"]
        # The APIs never saw this key id: they fetch the key set again and accept it (at once,
        # unless one fetched less than CASE_LEDGER_OIDC_JWKS_MIN_REFRESH, 1 s, ago).
        def accepted(service: str = s, fresh: str = token) -> bool:
            return probe(stack, service, fresh).status_code == PROBES[service][2]

        wait_for(accepted, 5, f"{s} to take the new key")
        # Tokens signed with the retired key stay valid until they expire.
        assert probe(stack, s, before[s]).status_code == PROBES[s][2], s
    for name in {PROBES[s][1] for s in SERVICES}:
        tokens.forget(name)  # the suite's next tokens come from the new key
