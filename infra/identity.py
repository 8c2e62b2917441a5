"""The embedded stack's OpenID Connect provider: Canaille, run and seeded through its own CLI.

Canaille (an OpenID Connect provider on authlib) keeps its users, groups, clients and tokens in
the stack's PostgreSQL, schema `identity`, through its SQL backend. infra.stack runs it as the
supervised program `identity` at port base + 20 (`canaille run`, hypercorn); this module writes
its configuration, applies its migrations and seeds the dev users of infra/directory.py, with
random passwords written to RUN_DIR/users.env (mode 0600, one NAME=PASSWORD line each).

What we configure, and why:
- `sub` is the user's id (a random UUID we give it), never the login name: it becomes the
  events' `actor`. Every other claim mapping is empty and the clients may ask only for the
  scopes `openid groups`, so the access token carries the groups and nothing personal.
- Access tokens live CASE_LEDGER_TOKEN_LIFETIME seconds (600 by default, at most 900) and name
  every API in `aud` (the clients' audience). They are RS256 JWTs (the clients ask for RS256),
  signed with one RSA key generated per run directory, kept in RUN_DIR/identity (mode 0600).
- No self-registration, no password recovery mail, no profile editing, no Canaille admin UI:
  the dev directory is this file's, and an operator changes it with `canaille` (docs/auth.md).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import tomlkit
from psycopg import sql

from infra import directory
from infra.readiness import cpu_signs, discovery_ready, port_open, wait_until
from infra.supervisor import Supervisor

PORT_OFFSET = 20
# Canaille's console script is not run by path: an installer that reuses a venv's files elsewhere
# leaves its shebang naming the first venv's interpreter; this one is the stack's own.
CANAILLE = (sys.executable, "-c", "import sys; from canaille.commands import cli; sys.argv[0] = 'canaille'; cli()")
SCHEMA = "identity"
MAX_LIFETIME_S = 900
# Every grant Canaille could issue an access token for gets the same lifetime.
_GRANTS = ("authorization_code", "refresh_token", "client_credentials", "password", "implicit",
           "urn:ietf:params:oauth:grant-type:jwt-bearer")
# Canaille's claim mappings we empty (UPDATED_AT cannot be: Canaille then fails on the missing key;
# it is only ever in the `profile` scope, which no client may ask for).
_EMPTIED_CLAIMS = ("NAME", "PHONE_NUMBER", "EMAIL", "GIVEN_NAME", "FAMILY_NAME", "PREFERRED_USERNAME", "LOCALE",
                   "ADDRESS", "PICTURE", "WEBSITE")


def token_lifetime() -> int:
    lifetime = int(os.environ.get("CASE_LEDGER_TOKEN_LIFETIME", "600"))
    if not 10 <= lifetime <= MAX_LIFETIME_S:
        raise SystemExit(f"CASE_LEDGER_TOKEN_LIFETIME must be 10..{MAX_LIFETIME_S} seconds")
    return lifetime


def sqlalchemy_url(database_url: str, schema: str = SCHEMA) -> str:
    """The stack's libpq URL as SQLAlchemy's psycopg 3 URL, confined to one schema."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or not scheme.startswith("postgres"):
        raise SystemExit(f"DATABASE_URL must be a postgresql:// URL, got {scheme!r}")
    options = quote(f"-csearch_path={schema}", safe="")
    return f"postgresql+psycopg://{rest}{'&' if '?' in rest else '?'}options={options}"


@dataclass(frozen=True)
class Provider:
    run_dir: Path
    port_base: int
    database_url: str
    # Its tables' schema in the stack's database (a test runs a second provider beside it).
    schema: str = SCHEMA

    @property
    def port(self) -> int:
        return self.port_base + PORT_OFFSET

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def home(self) -> Path:
        return self.run_dir / "identity"

    @property
    def config_path(self) -> Path:
        return self.home / "canaille.toml"

    @property
    def users_file(self) -> Path:
        return self.run_dir / "users.env"

    def argv(self) -> list[str]:
        return [*CANAILLE, "run", "--bind", f"127.0.0.1:{self.port}"]

    def env(self) -> dict[str, str]:
        return {"CANAILLE_CONFIG": str(self.config_path)}

    def start(self, sup: Supervisor, fresh: bool, log: Path) -> None:
        """Migrates and seeds the store through the CLI, then starts the program; `wait` waits for it."""
        before = self.config_path.read_text() if self.config_path.exists() else None
        self.install()
        self.seed()
        if not fresh and before is not None and before != self.config_path.read_text():
            sup.stop("identity")  # its configuration changed (a token lifetime, a port): start it anew
        if not sup.pid("identity") and port_open("127.0.0.1", self.port):
            raise SystemExit(f"port {self.port} is taken by another program; set --port-base")
        sup.start("identity", wait=False)

    def wait(self, sup: Supervisor, log: Path) -> None:
        wait_until(lambda: discovery_ready(self.issuer), f"the identity provider at {self.issuer}", log,
                   signs=lambda: (sup.state("identity"), cpu_signs([sup.pid("identity")])))

    # ------------------------------------------------------------------ configuration
    def _keys(self) -> dict[str, Any]:
        """The Flask secret and the RSA signing key: made once per run directory, kept across restarts."""
        path = self.home / "keys.json"
        if not path.exists():
            from joserfc.jwk import RSAKey

            key = RSAKey.generate_key(2048, auto_kid=True)
            self.home.mkdir(parents=True, exist_ok=True)
            self.home.chmod(0o700)
            path.write_text(json.dumps({"secret": secrets.token_urlsafe(32), "jwk": key.as_dict(private=True)}))
            path.chmod(0o600)
        keys: dict[str, Any] = json.loads(path.read_text())
        return keys

    def rotate_key(self) -> str:
        """A new signing key; the old one is kept for verifying (JWKS) until its tokens have expired.

        Takes effect when the provider restarts; the APIs fetch the new key when a token names it.
        Returns the new key id."""
        from joserfc.jwk import RSAKey

        keys = self._keys()
        new = RSAKey.generate_key(2048, auto_kid=True).as_dict(private=True)
        keys["retired"] = [keys["jwk"], *keys.get("retired", [])][:2]
        keys["jwk"] = new
        path = self.home / "keys.json"
        path.write_text(json.dumps(keys))
        path.chmod(0o600)
        self.write_config()
        return str(new["kid"])

    def write_config(self) -> Path:
        keys = self._keys()
        lifetime = token_lifetime()
        config = {
            "SECRET_KEY": keys["secret"],
            # The issuer is this URL whatever Host a request names.
            "SERVER_NAME": f"127.0.0.1:{self.port}", "PREFERRED_URL_SCHEME": "http",
            "OAUTH2_TOKEN_EXPIRES_IN": dict.fromkeys(_GRANTS, lifetime),
            "CANAILLE": {
                "NAME": "Case Ledger", "DATABASE": "sql", "ENABLE_REGISTRATION": False,
                "ENABLE_PASSWORD_RECOVERY": False, "ENABLE_INTRUDER_LOCKOUT": True,
                # The captcha needs an extra we do not install; the lockout above slows guessing.
                "CAPTCHA_ENABLED": False, "ENABLE_PASSWORD_COMPROMISSION_CHECK": False,
                # Everyone may sign in through OpenID Connect and read their own groups; nobody
                # edits a profile, a group or another user in the web UI (no ADMIN entry).
                "ACL": {"DEFAULT": {"PERMISSIONS": ["use_oidc"], "READ": ["user_name", "groups"], "WRITE": []}},
            },
            # A PostgreSQL restart leaves pooled connections dead: test each before use, or the
            # next sign-in is a 500.
            "CANAILLE_SQL": {"DATABASE_URI": sqlalchemy_url(self.database_url, self.schema), "AUTO_MIGRATE": True,
                             "POOL_PRE_PING": True},
            "CANAILLE_OIDC": {
                "ACTIVE_JWKS": [keys["jwk"]], "DYNAMIC_CLIENT_REGISTRATION_OPEN": False,
                **({"INACTIVE_JWKS": keys["retired"]} if keys.get("retired") else {}),
                # Trusted (no consent page) only for clients on loopback: ours.
                "TRUSTED_DOMAINS": ["127.0.0.1"],
                "USERINFO_MAPPING": {"SUB": "{{ user.id }}", **dict.fromkeys(_EMPTIED_CLAIMS, "")},
            },
            "CANAILLE_SCIM": {"ENABLE_SERVER": False, "ENABLE_CLIENT": False},
            # Served by the supervised process itself: with hypercorn's worker processes a kill -9
            # of the program left its worker orphaned, still holding the port.
            "CANAILLE_HYPERCORN": {"WORKERS": 0},
        }
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(tomlkit.dumps(config))
        self.config_path.chmod(0o600)
        return self.config_path

    # ------------------------------------------------------------------ the CLI
    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Runs `canaille ARGS` on this provider's configuration; its standard output."""
        result = subprocess.run([*CANAILLE, *args], input=stdin,
                                capture_output=True, text=True, env={**os.environ, **self.env()}, check=False)
        if result.returncode != 0:
            raise SystemExit(f"canaille {args[0]} failed: {result.stderr.strip()[-2000:]}")
        return result.stdout

    def install(self) -> None:
        """Creates its schema and applies Canaille's migrations (idempotent)."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
        self.write_config()
        self.cli("install")

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = json.loads(self.cli("dump", "user", "group", "client"))
        return found

    def seed(self) -> dict[str, str]:
        """Makes the directory's users, groups and clients exist; returns every user's password."""
        passwords = self.passwords()
        have = self.dump()
        users = {u["user_name"]: u for u in have.get("user", [])}
        group_ids = {g["display_name"]: g["id"] for g in have.get("group", [])}
        wanted = directory.users()
        new_users = [name for name in wanted if name not in users]
        user_ids = {name: u["id"] for name, u in users.items()}
        user_ids.update({name: str(uuid.uuid4()) for name in new_users})
        for name in wanted:
            passwords.setdefault(name, secrets.token_urlsafe(18))
        # The console's machine identity keeps its password in a file of its own, which the console
        # is given (infra/stack/console.py); the run directory's users.env lists it as well.
        passwords[directory.PORTAL_USER] = self.portal_password()
        payload: dict[str, list[dict[str, Any]]] = {
            "user": [{"id": user_ids[n], "user_name": n, "password": passwords[n], **_profile(n)} for n in new_users],
            "group": [{"id": str(uuid.uuid4()), "display_name": g,
                       "members": [user_ids[n] for n, gs in wanted.items() if g in gs]}
                      for g in directory.groups() if g not in group_ids],
        }
        clients = {c["client_id"]: c for c in have.get("client", [])}
        payload["client"] = [c for c in self._clients(clients) if c["client_id"] not in clients]
        if any(payload.values()):
            self.cli("restore", stdin=json.dumps(payload))
        # Users made earlier whose password this run directory lost get a new one.
        for name in wanted:
            if name in users and name not in self.passwords():
                self.cli("set", "user", user_ids[name], "--quiet", "--password", passwords[name])
        self._update_clients(clients)
        self._write_passwords(passwords)
        return passwords

    def _clients(self, existing: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        ids = {api: existing.get(api, {}).get("id") or str(uuid.uuid4()) for api in directory.APIS}
        apis = [{"id": ids[api], "client_id": api, "client_name": f"Case Ledger {api} API", "audience": [ids[api]],
                 "grant_types": [], "response_types": [], "redirect_uris": []} for api in directory.APIS]
        common = {"grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                  "scope": list(directory.SCOPES), "audience": list(ids.values()),
                  "id_token_signed_response_alg": "RS256"}
        console = directory.console_base(self.port_base)
        console_id = existing.get(directory.CONSOLE_CLIENT, {}).get("id") or str(uuid.uuid4())
        return [*apis,
                {"id": existing.get(directory.CLI_CLIENT, {}).get("id") or str(uuid.uuid4()),
                 "client_id": directory.CLI_CLIENT, "client_name": "Case Ledger command line",
                 "client_uri": self.issuer, "redirect_uris": [directory.CLI_REDIRECT],
                 "token_endpoint_auth_method": "none", **common},
                {"id": console_id, "client_id": directory.CONSOLE_CLIENT, "client_name": "Case Ledger console",
                 "client_secret": self.console_secret(), "client_uri": console,
                 "redirect_uris": [directory.console_redirect(self.port_base)],
                 "post_logout_redirect_uris": [f"{console}/"],
                 "token_endpoint_auth_method": "client_secret_basic",
                 # Canaille's ID token names the client's audience only: the console checks that its
                 # own id is there (OpenID Connect Core 3.1.3.7), so it is its own audience too.
                 **common, "audience": [*ids.values(), console_id]}]

    def _update_clients(self, existing: dict[str, dict[str, Any]]) -> None:
        """A stack started again on another port base moves its clients' addresses with it."""
        for client in self._clients(existing):
            have = existing.get(client["client_id"])
            if have is None:
                continue
            for field in ("redirect_uris", "client_uri", "post_logout_redirect_uris", "audience"):
                want, had = client.get(field), have.get(field)
                if want and (sorted(want) != sorted(had or []) if isinstance(want, list) else had != want):
                    values = client[field] if isinstance(client[field], list) else [client[field]]
                    flag = "--" + field.replace("_", "-")
                    self.cli("set", "client", have["id"], "--quiet", *(a for v in values for a in (flag, v)))

    def console_secret(self) -> str:
        """The console's client secret, one of the run directory's secrets."""
        path = self.home / "console-client-secret"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def portal_password(self) -> str:
        """The password of the console's portal identity (docs/console.md), one of the run directory's secrets."""
        path = self.home / "portal-password"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(24))
            path.chmod(0o600)
        return path.read_text().strip()

    # ------------------------------------------------------------------ users.env
    def passwords(self) -> dict[str, str]:
        if not self.users_file.exists():
            return {}
        lines = self.users_file.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))

    def _write_passwords(self, passwords: dict[str, str]) -> None:
        text = "# Dev users of this stack and their passwords (make up made them; docs/auth.md)\n"
        text += "".join(f"{name}={passwords[name]}\n" for name in directory.users())
        self.users_file.parent.mkdir(parents=True, exist_ok=True)
        self.users_file.touch(mode=0o600)
        self.users_file.chmod(0o600)
        self.users_file.write_text(text)

    # ------------------------------------------------------------------ operators' acts
    def user_id(self, name: str) -> str:
        found = json.loads(self.cli("get", "user", "--user-name", name))
        if not found:
            raise KeyError(name)
        return str(found[0]["id"])

    def disable(self, name: str) -> None:
        """Locks a user at the provider: no sign-in, no new token, no refresh from now on."""
        from datetime import UTC, datetime, timedelta

        when = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        self.cli("set", "user", self.user_id(name), "--quiet", "--lock-date", when)

    def enable(self, name: str) -> None:
        # Canaille's CLI cannot clear a date; a lock dated in the far future is no lock (`locked`
        # compares the date with now).
        self.cli("set", "user", self.user_id(name), "--quiet", "--lock-date", "9999-12-31T00:00:00+00:00")


def _profile(name: str) -> dict[str, Any]:
    p = directory.person(name)
    return {"given_name": p["given_name"], "family_name": p["family_name"], "emails": [p["email"]],
            "formatted_name": f"{p['given_name']} {p['family_name']}"}
