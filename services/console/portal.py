"""The public quote wizard's machine identity: a provider user of its own, in group `role:portal`.

The wizard has no signed-in person, but every API wants a token of the provider's. It signs in as
CONSOLE_PORTAL_USER (`portal` on the embedded stack, its password made per run directory in
RUN_DIR/identity/portal-password) through the same authorization-code flow with PKCE a person uses
(infra/signin.py), and keeps that one token, renewed before it expires. The role may ask billing
for a quote and open a patient's own request at intake, and nothing else: every other endpoint
answers it 403, and every case it opens is marked as requested by a patient (its events' actor_role
is `portal`). No static token is shared anywhere.
"""

from __future__ import annotations

import asyncio

from infra import signin
from services.console.backend import ApiError
from services.console.settings import ConsoleSettings


class Portal:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self._token: signin.Token | None = None
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        password = self.settings.portal_password
        if password is None:
            raise ApiError(503, "patients' requests are not configured here (CONSOLE_PORTAL_PASSWORD)")
        async with self._lock:
            if self._token is None or self._token.due(30):
                self._token = await asyncio.to_thread(self._renew, password.get_secret_value())
            return self._token.access_token

    def _renew(self, password: str) -> signin.Token:
        issuer, cached = self.settings.oidc_issuer, self._token
        if cached is not None and cached.refresh_token:
            try:
                return signin.refresh(issuer, cached.refresh_token)
            except signin.SignInError:
                pass
        try:
            return signin.sign_in(issuer, self.settings.portal_user, password)
        except signin.SignInError as exc:
            raise ApiError(503, f"the console could not sign in its portal identity: {exc}") from exc
