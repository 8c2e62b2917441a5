"""Signing in as a browser would: the authorization-code flow with PKCE, against the stack's provider.

`sign_in` asks the provider's authorization endpoint for a code (PKCE S256, a state), follows
its redirects to the sign-in pages and posts their forms as a browser does (the login name, then
the password on Canaille; both on one page on Keycloak), takes the code from the redirect to the
client's redirect URI and redeems it with the verifier at the token endpoint. No password grant,
no back door: what a script gets is what a person gets in a browser.

`Tokens` keeps one token per dev user for a process (the tests, the demo, the bench, chaos):
signed in once, refreshed with the refresh token shortly before it expires, signed in again if
that fails. It is a read-only mapping, so a client indexing it per request always sends a live
token. `python -m infra.tools token --user NAME` prints one (infra/tools.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.parameters import parse_authorization_code_response, prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from infra import directory, identity

_LOGIN_FIELDS = ("login", "username")
_MAX_STEPS = 12


class SignInError(Exception):
    """The sign-in failed: the provider is unreachable, refused the user, or answered unexpectedly."""


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_at: float
    lifetime_s: float
    refresh_token: str | None

    def due(self, margin_s: float) -> bool:
        """Whether to renew it now: within margin_s (at most a third of its life) of expiring."""
        return self.expires_at - time.time() <= min(margin_s, self.lifetime_s / 3)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.messages: list[str] = []
        self._in_message = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms and a.get("name") and a.get("type") not in ("checkbox", "submit"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        # Canaille's flash messages and Keycloak's alerts say why a sign-in was refused.
        self._in_message = any(w in a.get("class", "") for w in ("error", "negative", "alert", "warning"))

    def handle_data(self, data: str) -> None:
        if self._in_message and data.strip():
            self.messages.append(data.strip())


def discover(issuer: str, client: httpx.Client) -> dict[str, Any]:
    r = client.get(f"{issuer}/.well-known/openid-configuration")
    r.raise_for_status()
    found: dict[str, Any] = r.json()
    return found


class _Collided(Exception):
    """The provider failed on its side (5xx): worth another try a second later."""


def _again(attempt: Callable[[], Token], attempts: int = 3) -> Token:
    # Canaille's access tokens carry no jti: two issued to one user by one client within the same
    # second are the same string, and the second fails its unique key (a 500); a second later
    # the token differs. Its first requests after its database restarted fail too.
    for n in range(attempts):
        try:
            return attempt()
        except _Collided as exc:
            if n == attempts - 1:
                raise SignInError(str(exc)) from None
            time.sleep(1.1)
    raise AssertionError("unreachable")


def sign_in(issuer: str, user: str, password: str, *, client_id: str = directory.CLI_CLIENT,
            redirect_uri: str = directory.CLI_REDIRECT, timeout: float = 15.0) -> Token:
    """One sign-in through the browser flow; SignInError says why it failed."""
    return _again(lambda: _sign_in(issuer, user, password, client_id, redirect_uri, timeout))


def _sign_in(issuer: str, user: str, password: str, client_id: str, redirect_uri: str, timeout: float) -> Token:
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as browser:
            meta = discover(issuer, browser)
            verifier, state = generate_token(64), generate_token(24)
            url = prepare_grant_uri(meta["authorization_endpoint"], client_id, "code", redirect_uri,
                                    " ".join(directory.SCOPES), state, code_challenge_method="S256",
                                    code_challenge=create_s256_code_challenge(verifier), nonce=generate_token(16))
            callback = _walk(browser, browser.get(url), user, password, redirect_uri)
            code = parse_authorization_code_response(callback, state)["code"]
            r = browser.post(meta["token_endpoint"], data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": client_id, "code_verifier": verifier})
            return _token(r, f"the code of {user}")
    except httpx.TransportError as exc:
        raise SignInError(f"the identity provider at {issuer} is unreachable ({exc.__class__.__name__}): "
                          "is the stack up (make up / make status)?") from exc
    except httpx.HTTPStatusError as exc:
        why = f"the identity provider at {issuer} answered {exc.response.status_code} to {exc.request.url.path}"
        if exc.response.status_code >= 500:
            raise _Collided(why) from exc  # e.g. its database just restarted: worth another try
        raise SignInError(why) from exc
    except OAuth2Error as exc:
        raise SignInError(f"the identity provider refused to authorise {user}: {exc.error}") from exc


def _walk(browser: httpx.Client, r: httpx.Response, user: str, password: str, redirect_uri: str) -> str:
    """Follows redirects and fills the sign-in forms until the provider redirects to the client."""
    posted_password = False
    for _ in range(_MAX_STEPS):
        if r.is_redirect:
            target = urljoin(str(r.url), r.headers["location"])
            if target.startswith(redirect_uri):
                return target
            r = browser.get(target)
            continue
        r.raise_for_status()
        page = _Forms()
        page.feed(r.text)
        form = next((f for f in page.forms if set(f["fields"]) & {*_LOGIN_FIELDS, "password"}), None)
        if form is None or (posted_password and "password" in form["fields"]):
            why = "; ".join(page.messages) or "wrong password, or the account is disabled"
            raise SignInError(f"the identity provider refused the sign-in of {user}: {why}")
        fields = dict(form["fields"])
        for name in _LOGIN_FIELDS:
            if name in fields:
                fields[name] = user
        if "password" in fields:
            fields["password"], posted_password = password, True
        r = browser.post(urljoin(str(r.url), form["action"]), data=fields)
    raise SignInError(f"the sign-in of {user} did not end after {_MAX_STEPS} pages")


def refresh(issuer: str, refresh_token: str, client_id: str = directory.CLI_CLIENT, timeout: float = 15.0) -> Token:
    return _again(lambda: _refresh(issuer, refresh_token, client_id, timeout), attempts=2)


def _refresh(issuer: str, refresh_token: str, client_id: str, timeout: float) -> Token:
    try:
        with httpx.Client(timeout=timeout) as client:
            meta = discover(issuer, client)
            r = client.post(meta["token_endpoint"], data={"grant_type": "refresh_token", "client_id": client_id,
                                                          "refresh_token": refresh_token})
            return _token(r, "the refresh token")
    except httpx.HTTPError as exc:
        raise SignInError(f"the identity provider at {issuer} did not refresh the token: {exc}") from exc


def _token(r: httpx.Response, what: str) -> Token:
    if r.status_code >= 500:
        raise _Collided(f"the identity provider failed ({r.status_code}) to exchange {what} for a token")
    if r.status_code != 200:
        try:
            error = r.json().get("error_description") or r.json().get("error")
        except ValueError:
            error = r.text[:200]
        raise SignInError(f"the identity provider would not exchange {what} for a token: {error}")
    body = r.json()
    lifetime = float(body.get("expires_in", 0))
    return Token(body["access_token"], time.time() + lifetime, lifetime, body.get("refresh_token"))


# The names the tests and tools have always used for each role's token, and whose token each is.
ALIASES = {"COORDINATOR_TOKEN": "coordinator", "BILLING_TOKEN": "billing", "ANALYST_TOKEN": "analyst",
           "ADMIN_TOKEN": "admin", **{f"CENTRE_{c.upper()}_TOKEN": f"reviewer-{c}" for c in directory.CENTRES}}


class Tokens(Mapping[str, str]):
    """A live access token per dev user (by name, or by one of ALIASES); safe to share between threads."""

    def __init__(self, issuer: str, passwords: Mapping[str, str], margin_s: float = 60.0) -> None:
        self.issuer, self.passwords, self.margin_s = issuer, passwords, margin_s
        self._cache: dict[str, Token] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def user(self, key: str) -> str:
        return ALIASES.get(key, key)

    def __getitem__(self, key: str) -> str:
        user = self.user(key)
        if user not in self.passwords:
            raise KeyError(key)
        with self._guard:
            lock = self._locks.setdefault(user, threading.Lock())
        with lock:
            cached = self._cache.get(user)
            # Renewed well before it expires: a request sent now may be checked a little later.
            if cached is None or cached.due(self.margin_s):
                self._cache[user] = self._renew(user, cached)
            return self._cache[user].access_token

    def _renew(self, user: str, cached: Token | None) -> Token:
        if cached is not None and cached.refresh_token:
            try:
                return refresh(self.issuer, cached.refresh_token)
            except SignInError:
                pass  # a refresh token the provider no longer honours: sign in again
        try:
            return sign_in(self.issuer, user, self.passwords[user])
        except SignInError:
            # The provider away for a moment: the token in hand still works until it expires.
            if cached is not None and cached.expires_at - time.time() > 5:
                return cached
            raise

    def forget(self, key: str) -> None:
        self._cache.pop(self.user(key), None)

    def __iter__(self) -> Iterator[str]:
        return iter(self.passwords)

    def __len__(self) -> int:
        return len(self.passwords)


def issuer_of(run_dir: Path, port_base: int) -> str:
    """The issuer a stack's services trust: what its stack.env says, else the embedded one's address."""
    env = run_dir / "stack.env"
    if env.exists():
        for line in env.read_text().splitlines():
            if line.startswith("CASE_LEDGER_OIDC_ISSUER="):
                return line.split("=", 1)[1]
    return f"http://127.0.0.1:{port_base + identity.PORT_OFFSET}"


def stack_tokens(run_dir: Path, port_base: int) -> Tokens:
    """The dev users' tokens on the stack of this run directory (its users.env holds their passwords)."""
    users = run_dir / "users.env"
    if not users.exists():
        raise SignInError(f"{users} does not exist: start the stack first (make up)")
    passwords = identity.Provider(run_dir, port_base, "").passwords()
    return Tokens(issuer_of(run_dir, port_base), passwords)


def claims(token: str) -> dict[str, Any]:
    """A token's claims, unverified: for tests and tools that look at what they were given."""
    import base64

    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded



def console_session(console: str, user: str, password: str, timeout: float = 30.0) -> httpx.Client:
    """A client signed in at the web console (its session cookie), through the provider's pages as above."""
    browser = httpx.Client(timeout=timeout, follow_redirects=False)
    try:
        callback = _walk(browser, browser.get(f"{console}/auth/login?next=/"), user, password,
                         f"{console}/auth/callback")
        r = browser.get(callback)
    except httpx.HTTPError as exc:
        browser.close()
        raise SignInError(f"the console at {console} did not sign {user} in: {exc}") from exc
    if r.status_code != 303:
        browser.close()
        raise SignInError(f"the console at {console} refused the sign-in of {user} ({r.status_code})")
    return browser
