"""The console's settings, from its environment (infra.stack writes them for the embedded stack)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

URL = r"^https?://[^\s/]+(/[^\s]*)?$"


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore", frozen=True)

    environment: Literal["dev", "test", "production"] = Field("dev", validation_alias="CASE_LEDGER_ENV")
    # Where people reach the console: the provider redirects back to <public_url>/auth/callback.
    public_url: str = Field(pattern=URL)
    # The sessions live in the stack's PostgreSQL, schema `console` (no other service's tables).
    database_url: str = Field(validation_alias="DATABASE_URL")
    oidc_issuer: str = Field(pattern=URL, validation_alias="CASE_LEDGER_OIDC_ISSUER")
    client_id: str = "console"
    # The console's OIDC client secret (infra/identity.py makes it; Keycloak: CONSOLE_CLIENT_SECRET).
    client_secret: SecretStr
    # Keys the CSRF tokens: a form's token is an HMAC of the browser's session cookie.
    secret_key: SecretStr = Field(min_length=32)
    # The services' APIs, called with the signed-in person's own token.
    intake_url: str = Field(pattern=URL)
    routing_url: str = Field(pattern=URL)
    review_url: str = Field(pattern=URL)
    billing_url: str = Field(pattern=URL)
    analytics_url: str = Field(pattern=URL)
    live_url: str | None = Field(None, pattern=URL)
    # The public quote wizard's machine identity: a provider user in group role:portal that may
    # quote and open a patient's request, nothing else (docs/console.md). No user, no requests.
    portal_user: str = "portal"
    portal_password: SecretStr | None = None
    # Cookies only over https in production; the embedded stack serves http on loopback.
    cookie_secure: bool = False
    # A session ends after this long without a request, and after session_max_s in any case.
    session_idle_s: int = Field(1800, ge=60, le=86400)
    session_max_s: int = Field(43200, ge=300, le=7 * 86400)
    # The public endpoints, per client address (limits' syntax).
    public_rate: str = "20/minute"
    request_rate: str = "5/hour"
    # The largest form the console reads (uploads have the services' own limits, plus this slack).
    max_form_bytes: int = Field(64 * 1024, ge=1024, le=2**20)
    max_upload_bytes: int = Field(128 * 2**20, ge=2**20, le=2**31)
    api_timeout_s: float = Field(30.0, gt=0, le=300)
    db_pool_size: int = Field(4, ge=1, le=32)

    @model_validator(mode="after")
    def _safe_in_production(self) -> ConsoleSettings:
        if self.environment == "production" and (not self.public_url.startswith("https://") or not self.cookie_secure):
            raise ValueError("in production the console is served over https with CONSOLE_COOKIE_SECURE=true")
        return self

    def api(self, service: str) -> str:
        url: str | None = getattr(self, f"{service}_url")
        if url is None:
            raise KeyError(service)
        return url.rstrip("/")
