"""Every API checks the provider's tokens itself: each hostile token refused, at every API, by its own test.

The tokens come from the stack's real provider (Canaille at port base + 20) or are forged with its
real key (tests/integration/forge.py), so each fails on the one rule it breaks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest

from infra import identity
from infra.signin import SignInError, Tokens, claims, sign_in
from infra.stack import Stack
from tests.integration.conftest import wait_for
from tests.integration.forge import Forger, stranger_key, tampered

NOBODY = "00000000-0000-4000-8000-000000000000"
# Per API: an endpoint every request here asks for, the user allowed on it, and its answer to them.
PROBES = {
    "intake": ("/cases", "COORDINATOR_TOKEN", 200),
    "routing": (f"/cases/{NOBODY}/routing", "COORDINATOR_TOKEN", 404),
    "review": ("/cases", "CENTRE_FUSCC_TOKEN", 200),
    "billing": ("/price-book", "BILLING_TOKEN", 200),
    "analytics": (f"/cases/{NOBODY}/timeline", "ANALYST_TOKEN", 404),
}


def probe(stack: Stack, service: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(stack.url(service) + PROBES[service][0], headers=headers, timeout=30)


def refused(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"'), r.headers
    assert r.headers["content-type"] == "application/problem+json"


@pytest.fixture(scope="module")
def forger(stack: Stack) -> Forger:
    return Forger(stack.provider)


@pytest.fixture(scope="module")
def genuine(tokens: Tokens) -> Callable[[str], tuple[str, dict[str, Any]]]:
    def get(service: str) -> tuple[str, dict[str, Any]]:
        token = tokens[PROBES[service][1]]
        return token, claims(token)

    return get


@pytest.mark.parametrize("service", PROBES)
def test_one_real_token_is_accepted_by_every_api_and_a_forged_twin_too(stack, genuine, forger, service):
    token, real = genuine(service)
    assert set(real["aud"]) == set(PROBES) and real["iss"] == stack.provider.issuer
    assert probe(stack, service, token).status_code == PROBES[service][2]
    # The forger's own valid token passes: what it breaks below is all that makes the others fail.
    twin = forger.signed(forger.claims(real["sub"], real["groups"]))
    assert probe(stack, service, twin).status_code == PROBES[service][2]


@pytest.mark.parametrize("service", PROBES)
def test_no_token_is_refused(stack, service):
    refused(probe(stack, service, None))


@pytest.mark.parametrize("service", PROBES)
def test_garbage_is_refused(stack, service):
    refused(probe(stack, service, "not-a-token"))
    refused(probe(stack, service, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"))


@pytest.mark.parametrize("service", PROBES)
def test_an_expired_token_is_refused(stack, genuine, forger, service):
    _, real = genuine(service)
    now = int(time.time())
    # Past the 30 s of skew any API may allow.
    refused(probe(stack, service, forger.signed(forger.claims(real["sub"], real["groups"], iat=now - 700,
                                                               exp=now - 60))))


@pytest.mark.parametrize("service", PROBES)
def test_a_token_for_another_audience_is_refused(stack, genuine, forger, service):
    _, real = genuine(service)
    others = [s for s in PROBES if s != service]
    refused(probe(stack, service, forger.signed(forger.claims(real["sub"], real["groups"], aud=others))))


@pytest.mark.parametrize("service", PROBES)
def test_a_token_from_another_issuer_is_refused(stack, genuine, forger, service):
    _, real = genuine(service)
    refused(probe(stack, service, forger.signed(forger.claims(real["sub"], real["groups"],
                                                               iss="http://127.0.0.1:1/realms/elsewhere"))))


@pytest.mark.parametrize("service", PROBES)
def test_alg_none_is_refused(stack, genuine, forger, service):
    _, real = genuine(service)
    refused(probe(stack, service, forger.unsigned(forger.claims(real["sub"], real["groups"]))))


@pytest.mark.parametrize("service", PROBES)
def test_hs256_signed_with_the_providers_public_key_is_refused(stack, genuine, forger, service):
    _, real = genuine(service)
    refused(probe(stack, service, forger.hs256_with_public_key(forger.claims(real["sub"], real["groups"]),
                                                                forger.public_pem())))


@pytest.mark.parametrize("service", PROBES)
def test_a_token_signed_with_an_unknown_key_is_refused(stack, genuine, forger, service):
    _, real = genuine(service)
    token = forger.signed(forger.claims(real["sub"], real["groups"]), kid=f"not-ours-{uuid4()}", key=stranger_key())
    refused(probe(stack, service, token))
    # Our kid, a stranger's key: the signature is what fails.
    refused(probe(stack, service, forger.signed(forger.claims(real["sub"], real["groups"]), key=stranger_key())))


@pytest.mark.parametrize("service", PROBES)
def test_a_tampered_claim_is_refused(stack, genuine, service):
    token, real = genuine(service)
    refused(probe(stack, service, tampered(token, groups=["role:admin"])))
    refused(probe(stack, service, tampered(token, exp=real["exp"] + 3600)))


@pytest.fixture(scope="module")
def other_provider(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second, genuine Canaille: its own keys, schema and port, the same users and clients."""
    run_dir = tmp_path_factory.mktemp("other-provider")
    other = identity.Provider(run_dir, stack.port_base + 400, stack.database_url(), schema="identity_other")
    other.install()
    other.seed()
    log = (run_dir / "canaille.log").open("wb")
    process = subprocess.Popen(other.argv(), env={**os.environ, **other.env()}, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        from infra.readiness import discovery_ready

        wait_for(lambda: discovery_ready(other.issuer), 60, "the other provider")
        yield sign_in(other.issuer, "coordinator", other.passwords()["coordinator"]).access_token
    finally:
        process.terminate()
        process.wait(20)
        log.close()


@pytest.mark.parametrize("service", PROBES)
def test_a_token_from_another_provider_instance_is_refused(stack, other_provider, service):
    meta = httpx.get(f"{claims(other_provider)['iss']}/.well-known/openid-configuration").json()
    keys = jwt.PyJWKClient(meta["jwks_uri"])
    # Genuine where it comes from: its own provider's key verifies it.
    jwt.decode(other_provider, keys.get_signing_key_from_jwt(other_provider).key, algorithms=["RS256"],
               audience=service)
    refused(probe(stack, service, other_provider))


# ---------------------------------------------------------------------------------- 403
@pytest.fixture(scope="module")
def strays(stack: Stack) -> dict[str, str]:
    """Users the directory does not know: one in no group, one of a centre not in the registry."""
    provider = stack.provider
    made = {}
    for name, group in ((f"nogroup-{uuid4().hex[:8]}", None), (f"atlantis-{uuid4().hex[:8]}", "centre:atlantis")):
        password = f"pw-{uuid4().hex}"
        user = provider.cli("create", "user", "--user-name", name, "--password", password)
        if group:
            provider.cli("create", "group", "--display-name", f"{group}-{uuid4().hex[:6]}", "--members",
                         json.loads(user)["id"])
        made[name] = sign_in(provider.issuer, name, password).access_token
    return made


@pytest.mark.parametrize("service", PROBES)
def test_a_user_in_no_group_or_of_an_unknown_centre_is_forbidden_everywhere(stack, strays, service):
    for token in strays.values():
        r = probe(stack, service, token)
        assert r.status_code == 403, r.text


@pytest.mark.parametrize("service", PROBES)
def test_a_forged_unknown_centre_or_two_roles_are_forbidden(stack, genuine, forger, service):
    _, real = genuine(service)
    for groups in (["centre:atlantis"], ["role:coordinator", "centre:fuscc"], ["role:emperor"], []):
        assert probe(stack, service, forger.signed(forger.claims(real["sub"], groups))).status_code == 403


def test_a_script_gets_its_token_from_the_command_line(stack: Stack):
    done = subprocess.run([sys.executable, "-m", "infra.tools", "token", "--user", "reviewer2-wch", "--run-dir",
                           str(stack.run_dir), "--port-base", str(stack.port_base)],
                          capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n" and done.stderr == ""
    assert claims(token)["groups"] == ["centre:wch"]
    r = httpx.get(stack.url("review") + "/cases", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    wrong = subprocess.run([sys.executable, "-m", "infra.tools", "token", "--user", "nobody-at-all", "--run-dir",
                            str(stack.run_dir), "--port-base", str(stack.port_base)],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 1 and wrong.stdout == "" and "nobody-at-all" in wrong.stderr


def test_a_wrong_password_is_a_clear_sign_in_error(stack: Stack):
    with pytest.raises(SignInError, match="refused the sign-in of coordinator"):
        sign_in(stack.provider.issuer, "coordinator", "not-the-password")
