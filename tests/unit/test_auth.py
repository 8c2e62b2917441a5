"""A token's claims to a principal, and what is refused before any key is looked at."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest
from fastapi import HTTPException

from services.common.auth import InvalidToken, KeySet, TokenVerifier, principal_of

SUB = "3f2b8c1e-7d4a-4e5b-9c6d-1a2b3c4d5e6f"


@pytest.mark.parametrize(("groups", "role"), [
    (["role:coordinator"], "coordinator"), (["role:admin"], "admin"), (["centre:fuscc"], "centre:fuscc"),
    # Groups of other applications are ignored.
    (["role:billing", "staff", "vpn-users"], "billing"),
])
def test_one_known_group_gives_the_role(groups: list[str], role: str):
    principal = principal_of({"sub": SUB, "groups": groups})
    assert (principal.subject, principal.role) == (SUB, role)
    assert principal.centre_id == (role.removeprefix("centre:") if role.startswith("centre:") else None)


@pytest.mark.parametrize("groups", [[], None, ["role:emperor"], ["centre:atlantis"],
                                    ["role:coordinator", "role:admin"], ["role:coordinator", "centre:fuscc"],
                                    ["centre:fuscc", "centre:wch"]])
def test_no_role_several_roles_or_an_unknown_centre_is_forbidden(groups: list[str] | None):
    with pytest.raises(HTTPException) as refused:
        principal_of({"sub": SUB, "groups": groups})
    assert refused.value.status_code == 403


@pytest.mark.parametrize("subject", ["coordinator@case-ledger.test", "Dev Coordinator", "", None, "x" * 65])
def test_a_subject_that_is_not_an_opaque_id_is_refused(subject: object):
    with pytest.raises(InvalidToken):
        principal_of({"sub": subject, "groups": ["role:coordinator"]})


def _b64(obj: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["none", "HS256", "HS512", "RS1"])
def test_algorithms_we_do_not_accept_are_refused_before_any_key_is_fetched(alg: str):
    # A key set whose provider does not exist: reaching for a key would fail differently.
    keys = KeySet("http://127.0.0.1:9", None, min_refresh_s=1, max_age_s=300)
    verifier = TokenVerifier(issuer="http://127.0.0.1:9", audience="intake", keys=keys, algorithms=["RS256"],
                             leeway_s=30)
    token = f"{_b64({'alg': alg, 'kid': 'k'})}.{_b64({'sub': SUB, 'exp': time.time() + 60})}.c2ln"
    with pytest.raises(InvalidToken, match="not accepted"):
        asyncio.run(verifier.claims(token))
    asyncio.run(keys.close())
