"""The console's program (services/console) in the embedded stack: port base + 7, its settings.

Its secrets come from the run directory like the services': the OIDC client secret and the portal
identity's password that infra/identity.py made, and a CSRF/session key of its own (secrets.env).
With a provider of your own (CASE_LEDGER_OIDC_ISSUER), CONSOLE_CLIENT_SECRET and
CONSOLE_PORTAL_PASSWORD come from the environment instead.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from infra import directory

if TYPE_CHECKING:
    from infra.stack import Stack

CONSOLE = "console"
CALLED = ("intake", "routing", "review", "billing", "analytics", "live")


def console_env(stack: Stack) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR",)}
    own = not os.environ.get("CASE_LEDGER_OIDC_ISSUER")
    provider = stack.provider
    env.update({
        "PYTHONPATH": str(stack_root()), "DATABASE_URL": stack.database_url(),
        "CASE_LEDGER_OIDC_ISSUER": stack.issuer(), "CASE_LEDGER_ENV": os.environ.get("CASE_LEDGER_ENV", "dev"),
        "CONSOLE_PUBLIC_URL": directory.console_base(stack.port_base),
        "CONSOLE_SECRET_KEY": stack.secrets()["CONSOLE_SECRET_KEY"],
        **{f"CONSOLE_{s.upper()}_URL": stack.url(s) for s in CALLED},
    })
    if own:
        env["CONSOLE_CLIENT_SECRET"] = provider.console_secret()
        env["CONSOLE_PORTAL_PASSWORD"] = provider.portal_password()
    return env


def console_argv(port: int) -> list[str]:
    from infra.stack import api_argv

    return api_argv("services.console.app:create_app", port)


def stack_root() -> object:
    from infra.stack import ROOT

    return ROOT



