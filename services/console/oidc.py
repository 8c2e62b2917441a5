"""Signing people in: the authorization-code flow with PKCE (S256) against the stack's provider.

authlib builds the authorization URL and redeems the code (client_secret_basic: the console is a
confidential client). The access and refresh tokens never leave the server: they go into the
session row (services/console/sessions.py), and the browser gets only the session cookie. The ID
token is checked here (signature from the provider's keys, issuer, audience, nonce) before the
session is made; the access token is the APIs' to check, and they do, on every call.

What the console shows a person (their role, their centre) it reads from the access token's
groups, which it received from the provider's token endpoint itself; it decides nothing on them
that an API does not decide again.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc6749.errors import OAuth2Error

from services.console.settings import ConsoleSettings

SCOPE = "openid groups"
ROLES = ("coordinator", "billing", "analyst", "admin", "portal")
# Renew an access token this long before it expires: a page may call several APIs after the check.
RENEW_MARGIN_S = 15


class SignInFailed(Exception):
    """The provider refused or could not be reached; the person is told and may try again."""


def unverified_claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    found: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return found


def role_of(claims: dict[str, Any]) -> str | None:
    """The one capacity the groups give (as services/common/auth.py reads them), or None."""
    groups = [g for g in claims.get("groups") or [] if isinstance(g, str)]
    found = [g.removeprefix("role:") for g in groups if g.startswith("role:") and g[5:] in ROLES]
    found += [g for g in groups if g.startswith("centre:")]
    return found[0] if len(found) == 1 else None


@dataclass(frozen=True)
class Pending:
    """A sign-in under way: kept in the (not yet signed-in) session until the provider sends the person back."""

    state: str
    verifier: str
    nonce: str
    next: str


class Provider:
    def __init__(self, settings: ConsoleSettings, http: httpx.AsyncClient) -> None:
        self.settings, self.http = settings, http
        self.redirect_uri = f"{settings.public_url.rstrip('/')}/auth/callback"
        self._meta: dict[str, Any] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}

    async def meta(self) -> dict[str, Any]:
        if self._meta is None:
            try:
                r = await self.http.get(f"{self.settings.oidc_issuer}/.well-known/openid-configuration")
                r.raise_for_status()
            except httpx.HTTPError as exc:
                raise SignInFailed(f"the identity provider is unreachable ({exc.__class__.__name__})") from exc
            self._meta = r.json()
        return self._meta

    def _client(self, **kw: Any) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(self.settings.client_id, self.settings.client_secret.get_secret_value(),
                                 scope=SCOPE, redirect_uri=self.redirect_uri, code_challenge_method="S256",
                                 timeout=self.settings.api_timeout_s, **kw)

    async def start(self, next_path: str) -> tuple[str, Pending]:
        meta = await self.meta()
        pending = Pending(generate_token(24), generate_token(64), generate_token(24), next_path)
        async with self._client() as client:
            url, _ = client.create_authorization_url(meta["authorization_endpoint"], state=pending.state,
                                                     code_verifier=pending.verifier, nonce=pending.nonce)
        return url, pending

    async def finish(self, pending: Pending, code: str) -> dict[str, Any]:
        """The tokens for the code, with the ID token checked: what the session keeps."""
        meta = await self.meta()
        try:
            async with self._client() as client:
                token = await client.fetch_token(meta["token_endpoint"], code=code, code_verifier=pending.verifier,
                                                 redirect_uri=self.redirect_uri)
        except (OAuth2Error, httpx.HTTPError) as exc:
            raise SignInFailed(f"the identity provider would not complete the sign-in ({exc})") from exc
        await self._check_id_token(str(token.get("id_token") or ""), pending.nonce)
        return self._kept(dict(token))

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        meta = await self.meta()
        try:
            async with self._client() as client:
                token = await client.refresh_token(meta["token_endpoint"], refresh_token=refresh_token)
        except (OAuth2Error, httpx.HTTPError) as exc:
            raise SignInFailed(f"the identity provider would not renew the session ({exc})") from exc
        return self._kept(dict(token))

    def _kept(self, token: dict[str, Any]) -> dict[str, Any]:
        access = str(token["access_token"])
        claims = unverified_claims(access)
        return {"access_token": access, "refresh_token": token.get("refresh_token"),
                "id_token": token.get("id_token"),
                "expires_at": time.time() + float(token.get("expires_in") or 60),
                "subject": claims.get("sub"), "role": role_of(claims)}

    async def _check_id_token(self, id_token: str, nonce: str) -> None:
        if not id_token:
            raise SignInFailed("the identity provider sent no ID token")
        try:
            header = jwt.get_unverified_header(id_token)
            key = await self._key(str(header.get("kid") or ""))
            # The audience is checked below: Canaille names the APIs the client serves in `aud`
            # (the client's audience) and the client itself in `azp`.
            claims = jwt.decode(id_token, key.key, algorithms=["RS256"], issuer=self.settings.oidc_issuer, leeway=30,
                                options={"verify_aud": False, "require": ["exp", "iat", "iss", "sub"]})
        except jwt.PyJWTError as exc:
            raise SignInFailed(f"the ID token does not verify: {exc}") from exc
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self.settings.client_id not in audiences and claims.get("azp") != self.settings.client_id:
            raise SignInFailed(f"the ID token was issued to another client ({claims.get('azp') or aud})")
        if claims.get("nonce") != nonce:
            raise SignInFailed("the ID token answers another sign-in (nonce)")

    async def _key(self, kid: str) -> jwt.PyJWK:
        if kid not in self._keys:
            meta = await self.meta()
            r = await self.http.get(meta["jwks_uri"])
            r.raise_for_status()
            self._keys = {k["kid"]: jwt.PyJWK(k) for k in r.json()["keys"] if k.get("kid")}
        if kid not in self._keys:
            raise jwt.InvalidKeyError("the ID token names a key the provider does not publish")
        return self._keys[kid]

    async def logout_url(self, id_token: str | None) -> str:
        """The provider's end-session page (it signs the person out there too), or the console's front page."""
        home = f"{self.settings.public_url.rstrip('/')}/"
        try:
            end = (await self.meta()).get("end_session_endpoint")
        except SignInFailed:
            end = None
        if not end or not id_token:
            return home
        return f"{end}?{urlencode({'id_token_hint': id_token, 'post_logout_redirect_uri': home})}"
