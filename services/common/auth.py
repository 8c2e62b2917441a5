"""Where a bearer token becomes a principal: the provider's JWT access tokens, checked by every API.

A token is accepted when it is a JWT signed with one of the provider's keys (its JWKS, fetched
from the issuer's discovery document) by an asymmetric algorithm we accept, issued by our issuer
for this API (`aud`), not expired and already valid (`exp`, `nbf`, `iat`; at most 30 s of skew).
Anything else is 401 with `WWW-Authenticate: Bearer error="invalid_token"`. A valid token whose
groups give no single known role (none, several, or a centre not in the registry) is 403; the
right person at the wrong endpoint is 403 (or 404 where a centre must not learn a case exists).

The keys are cached: fetched on first need, again when a token names a key id we do not have
(a rotation; at most once per CASE_LEDGER_OIDC_JWKS_MIN_REFRESH seconds, 1 by default, so
made-up key ids cannot make us hammer the provider) and when older than CASE_LEDGER_OIDC_JWKS_MAX_AGE. While the
provider is away the cached keys keep serving; with none cached the answer is 503, never 500.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from events.codes import CentreId
from services.common import actor
from services.common.settings import ServiceSettings

_bearer = HTTPBearer(auto_error=False)
# `portal`: the console's machine identity for the public quote wizard (docs/console.md): it may
# quote and open a patient's own request, nothing else.
ROLES = ("coordinator", "billing", "analyst", "admin", "portal")
CENTRES = frozenset(c.value for c in CentreId)
# An opaque id: what the envelope's `actor` may hold. An email or a display name fails it.
SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Principal:
    subject: str
    # coordinator, billing, analyst, admin or centre:<id>
    role: str

    @property
    def centre_id(self) -> str | None:
        return self.role.split(":", 1)[1] if self.role.startswith("centre:") else None


class InvalidToken(Exception):
    """401: the token is not one of our provider's, for this API, now."""


class KeysUnavailable(Exception):
    """503: the provider's keys could not be fetched and none are cached."""


class KeySet:
    """The provider's signing keys by key id, cached; fetched again for an unknown id or when old."""

    def __init__(self, issuer: str, jwks_url: str | None, *, min_refresh_s: float, max_age_s: float,
                 timeout_s: float = 3.0) -> None:
        self.issuer, self.jwks_url = issuer, jwks_url
        self.min_refresh_s, self.max_age_s = min_refresh_s, max_age_s
        self._client = httpx.AsyncClient(timeout=timeout_s)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0  # the last fetch that succeeded
        self._tried_at = -1e9  # the last attempt
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK:
        now = time.monotonic()
        stale = now - self._fetched_at > self.max_age_s
        if kid not in self._keys or stale:
            # Unknown id: maybe a rotation. With keys in hand, refetch at most every min_refresh_s;
            # with none, at most every second (each request would otherwise wait on a dead provider).
            wait = self.min_refresh_s if self._keys else max(self.min_refresh_s, 1.0)
            if now - self._tried_at >= wait:
                async with self._lock:
                    if time.monotonic() - self._tried_at >= wait:
                        await self._fetch()
        found = self._keys.get(kid)
        if found is not None:
            return found
        if not self._keys:
            raise KeysUnavailable("the identity provider's keys cannot be fetched; retry shortly")
        raise InvalidToken("the token is signed with a key our identity provider does not have")

    async def _fetch(self) -> None:
        self._tried_at = time.monotonic()
        try:
            url = self.jwks_url
            if url is None:
                meta = await self._client.get(f"{self.issuer}/.well-known/openid-configuration")
                meta.raise_for_status()
                url = str(meta.json()["jwks_uri"])
            r = await self._client.get(url)
            r.raise_for_status()
            keys = {}
            for raw in r.json()["keys"]:
                if raw.get("use", "sig") == "sig" and raw.get("kid"):
                    try:
                        keys[raw["kid"]] = jwt.PyJWK(raw)
                    except jwt.PyJWTError:
                        continue  # a key type we cannot use (e.g. OKP without its algorithm): not ours to check
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return  # keep what we have: the provider being away must not stop valid tokens
        self._keys, self._fetched_at = keys, time.monotonic()

    async def close(self) -> None:
        await self._client.aclose()


class TokenVerifier:
    def __init__(self, *, issuer: str, audience: str, keys: KeySet, algorithms: list[str], leeway_s: int) -> None:
        self.issuer, self.audience, self.keys = issuer, audience, keys
        self.algorithms, self.leeway_s = algorithms, leeway_s

    @classmethod
    def from_settings(cls, settings: ServiceSettings, service: str) -> TokenVerifier:
        keys = KeySet(settings.oidc_issuer, settings.oidc_jwks_url, min_refresh_s=settings.oidc_jwks_min_refresh_s,
                      max_age_s=settings.oidc_jwks_max_age_s)
        return cls(issuer=settings.oidc_issuer, audience=settings.oidc_audience or service, keys=keys,
                   algorithms=settings.oidc_algorithms, leeway_s=settings.oidc_leeway_s)

    async def claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("the token is not a JWT") from None
        # Checked before any key is looked at: `none`, and HS256 "signed" with our public key, end here.
        if header.get("alg") not in self.algorithms:
            raise InvalidToken(f"tokens signed with {header.get('alg')!r} are not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no signing key")
        key = await self.keys.key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[header["alg"]], audience=self.audience, issuer=self.issuer,
                leeway=self.leeway_s, options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken(f"the token is not for the {self.audience} API") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the token is not from our identity provider") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("the token is not valid yet") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token does not verify: {exc}") from None
        return claims


def principal_of(claims: dict[str, Any]) -> Principal:
    """The one role a token's groups give; 403 when they give none, several, or an unknown centre."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not SUBJECT.match(subject):
        raise InvalidToken("the token's subject is not an opaque id")
    groups = claims.get("groups") or []
    if not isinstance(groups, list):
        raise InvalidToken("the token's groups are not a list")
    named = [g for g in groups if isinstance(g, str)]
    # Groups we do not know (role:emperor, another application's) give nothing.
    capacities = [g.removeprefix("role:") for g in named if g.startswith("role:") and g[5:] in ROLES]
    capacities += [g for g in named if g.startswith("centre:")]
    if not capacities:
        raise HTTPException(403, "your account has no role here: ask an administrator for a group")
    if len(capacities) > 1:
        raise HTTPException(403, f"your account holds several roles ({', '.join(sorted(capacities))}); "
                                 "one account acts in one capacity")
    role = capacities[0]
    if role.startswith("centre:") and role.removeprefix("centre:") not in CENTRES:
        raise HTTPException(403, f"{role} is not a centre of the registry")
    return Principal(subject, role)


def _unauthorized(detail: str) -> HTTPException:
    description = detail.replace('"', "'")
    return HTTPException(401, detail, headers={
        "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'})


async def authenticate(request: Request,
                       creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise _unauthorized("a bearer token is required")
    verifier: TokenVerifier = request.app.state.verifier
    try:
        principal = principal_of(await verifier.claims(creds.credentials))
    except InvalidToken as exc:
        raise _unauthorized(str(exc)) from None
    except KeysUnavailable as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from None
    # Every event this request appends records who acted (services/common/actor.py). The portal is
    # a machine, not a person: its events say so (actor_role `service`, the envelope's word for it),
    # with its own subject as the actor; the case it opens is marked as the patient's request.
    actor.bind(actor.Actor(principal.subject, "service" if principal.role == "portal" else principal.role))
    return principal


def require(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """Allow the named roles; "centre" allows every centre:<id> role. Admin is always allowed."""

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        role = principal.role
        if role == "admin" or role in roles or ("centre" in roles and principal.centre_id):
            return principal
        raise HTTPException(403, f"role {role} may not do this")

    return check
