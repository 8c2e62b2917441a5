"""Who may sign in to a dev or test stack: the users, their groups and the OAuth clients.

One definition for both providers: the embedded Canaille (infra/identity.py seeds it) and the
compose file's Keycloak, whose realm (infra/keycloak/case-ledger-realm.json) is rendered from
here by `python -m infra.directory` and held to it by a test.

Groups carry what a person may do: `role:<role>`, or `centre:<id>` for a centre's reviewer. The
access token lists them in `groups`; services/common/auth.py makes them a principal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from events.codes import CentreId

# `portal` is no person: the console's machine identity for the public quote wizard (docs/console.md).
ROLES = ("coordinator", "billing", "analyst", "admin", "portal")
CENTRES = tuple(c.value for c in CentreId)
# The APIs a person's token is for: its `aud` lists each, and each API accepts only tokens naming it.
# The live views (services/live) have no API to protect.
APIS = ("intake", "routing", "review", "billing", "analytics")
# What a client may ask for: the OpenID scope and the groups; never profile or email, so the
# access token carries nothing personal beyond the groups.
SCOPES = ("openid", "groups")
# The command line's client (infra.signin): public, PKCE, its redirect never followed (the
# tool reads the code from the provider's redirect, as a browser would hand it over).
CLI_CLIENT = "cli"
CLI_REDIRECT = "http://127.0.0.1/callback"
# The web console (port base + 7): confidential, signs people in with the same flow.
CONSOLE_CLIENT = "console"
CONSOLE_PORT_OFFSET = 7
# The console's machine identity for the public quote wizard: the user of group role:portal.
PORTAL_USER = "portal"
REALM_FILE = Path(__file__).resolve().parent / "keycloak" / "case-ledger-realm.json"


def users() -> dict[str, tuple[str, ...]]:
    """Every dev user and their groups: one or two people per role and per centre."""
    found: dict[str, tuple[str, ...]] = {}
    for role in ROLES:
        found[role] = (f"role:{role}",)
    found["coordinator2"] = ("role:coordinator",)
    for centre in CENTRES:
        found[f"reviewer-{centre}"] = (f"centre:{centre}",)
        found[f"reviewer2-{centre}"] = (f"centre:{centre}",)
    return found


def groups() -> list[str]:
    return [*(f"role:{r}" for r in ROLES), *(f"centre:{c}" for c in CENTRES)]


def person(name: str) -> dict[str, str]:
    """A dev user's personal data: made up, but present, so the privacy test can hunt for it."""
    family = name.title().replace("-", "").replace("2", "Two")
    return {"given_name": "Dev", "family_name": f"{family}-Testperson",
            "email": f"{name}@case-ledger.test"}


def console_base(port_base: int) -> str:
    return f"http://127.0.0.1:{port_base + CONSOLE_PORT_OFFSET}"


def console_redirect(port_base: int) -> str:
    return f"{console_base(port_base)}/auth/callback"


# ---------------------------------------------------------------------------------- Keycloak
def _client(client_id: str, *, public: bool, redirects: list[str], base: str | None = None) -> dict[str, Any]:
    return {
        "clientId": client_id, "enabled": True, "protocol": "openid-connect", "publicClient": public,
        **({} if public else {"secret": "${CONSOLE_CLIENT_SECRET}", "clientAuthenticatorType": "client-secret"}),
        "standardFlowEnabled": True, "directAccessGrantsEnabled": False, "implicitFlowEnabled": False,
        "serviceAccountsEnabled": False, "redirectUris": redirects, **({"baseUrl": base} if base else {}),
        "attributes": {"pkce.code.challenge.method": "S256", "post.logout.redirect.uris": base or "+",
                       "access.token.signed.response.alg": "RS256"},
        "fullScopeAllowed": False, "defaultClientScopes": ["basic", "case-ledger"], "optionalClientScopes": [],
    }


def keycloak_realm(port_base: int = 8000) -> dict[str, Any]:
    """The realm the compose file's Keycloak imports: these users, groups and clients.

    Passwords and the console's secret are placeholders Keycloak resolves from its environment
    at import (infra/.env), never values in this file. The `case-ledger` scope puts the groups
    (by name, no path) and every API's audience in the access token; `basic` gives `sub` (the
    user's id, opaque) and nothing else: no profile, no email.
    """
    audiences = [{"name": f"audience {api}", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
                  "config": {"included.custom.audience": api, "access.token.claim": "true",
                             "id.token.claim": "false"}} for api in APIS]
    scope = {"name": "case-ledger", "protocol": "openid-connect",
             "attributes": {"include.in.token.scope": "true", "display.on.consent.screen": "false"},
             "protocolMappers": [{"name": "groups", "protocol": "openid-connect",
                                  "protocolMapper": "oidc-group-membership-mapper",
                                  "config": {"claim.name": "groups", "full.path": "false", "access.token.claim": "true",
                                             "id.token.claim": "false", "userinfo.token.claim": "true"}},
                                 *audiences]}
    return {
        "realm": "case-ledger", "enabled": True, "sslRequired": "external",
        # Access tokens live 10 minutes (at most 15: RFC 9068's short lifetimes).
        "accessTokenLifespan": 600, "ssoSessionIdleTimeout": 1800, "registrationAllowed": False,
        "bruteForceProtected": True, "defaultSignatureAlgorithm": "RS256",
        "groups": [{"name": g} for g in groups()],
        "clientScopes": [scope],
        "clients": [*({"clientId": api, "enabled": True, "bearerOnly": True, "protocol": "openid-connect"}
                      for api in APIS),
                    _client(CLI_CLIENT, public=True, redirects=[CLI_REDIRECT]),
                    _client(CONSOLE_CLIENT, public=False, redirects=[console_redirect(port_base)],
                            base=console_base(port_base))],
        "users": [{"username": name, "enabled": True, "firstName": person(name)["given_name"],
                   "lastName": person(name)["family_name"], "email": person(name)["email"], "emailVerified": True,
                   "groups": [f"/{g}" for g in user_groups],
                   "credentials": [{"type": "password", "temporary": False,
                                    "value": "${KC_PASSWORD_" + name.upper().replace("-", "_") + "}"}]}
                  for name, user_groups in users().items()],
    }


def render_realm() -> str:
    return json.dumps(keycloak_realm(), indent=2) + "\n"


if __name__ == "__main__":
    # `python -m infra.directory` rewrites the Keycloak realm file; a test fails when it is stale.
    REALM_FILE.parent.mkdir(exist_ok=True)
    REALM_FILE.write_text(render_realm())
    print(f"wrote {REALM_FILE}", file=sys.stderr)
