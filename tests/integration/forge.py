"""Hostile tokens for the auth tests: each breaks exactly one rule an API must check.

A forger here holds the provider's real private key (read from the stack's run directory), so a
token it signs fails only on the claim it changed: an expired token with a valid signature must be
refused for its `exp`, not for its signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.directory import APIS
from infra.identity import Provider


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(obj: dict[str, Any]) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


class Forger:
    def __init__(self, provider: Provider) -> None:
        keys = json.loads((provider.home / "keys.json").read_text())
        self.jwk = keys["jwk"]
        self.kid = self.jwk["kid"]
        self.private_key = jwt.PyJWK(self.jwk, algorithm="RS256").key
        self.issuer = provider.issuer

    def claims(self, subject: str, groups: list[str], **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": self.issuer, "aud": list(APIS), "iat": now, "exp": now + 300, "sub": subject,
                "groups": groups, **overrides}

    def signed(self, claims: dict[str, Any], *, kid: str | None = None, key: Any = None) -> str:
        return jwt.encode(claims, key or self.private_key, algorithm="RS256", headers={"kid": kid or self.kid})

    def unsigned(self, claims: dict[str, Any]) -> str:
        """alg none: a header, the claims, and an empty signature."""
        return f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': self.kid})}.{_segment(claims)}."

    def hs256_with_public_key(self, claims: dict[str, Any], public_pem: bytes) -> str:
        """The classic confusion: HMAC "signed" with the provider's public key as the secret."""
        head = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': self.kid})}.{_segment(claims)}"
        mac = hmac.new(public_pem, head.encode(), hashlib.sha256).digest()
        return f"{head}.{_b64(mac)}"

    def public_pem(self) -> bytes:
        return bytes(self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def tampered(token: str, **changes: Any) -> str:
    """A genuine token with a claim changed and its signature kept."""
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return f"{head}.{_segment({**claims, **changes})}.{sig}"


def stranger_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)

