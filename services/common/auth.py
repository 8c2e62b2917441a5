"""Bearer tokens mapped to roles. Missing or unknown token: 401; known token, wrong role: 403."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Principal:
    role: str

    @property
    def centre_id(self) -> str | None:
        return self.role.split(":", 1)[1] if self.role.startswith("centre:") else None


async def authenticate(request: Request,
                 creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    tokens: dict[str, str] = request.app.state.settings.tokens
    for token, role in tokens.items():
        if hmac.compare_digest(token.encode(), creds.credentials.encode()):
            return Principal(role)
    raise HTTPException(401, "unknown bearer token", headers={"WWW-Authenticate": "Bearer"})


def require(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """Allow the named roles; "centre" allows every centre:<id> role. Admin is always allowed."""

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        role = principal.role
        if role == "admin" or role in roles or ("centre" in roles and principal.centre_id):
            return principal
        raise HTTPException(403, f"role {role} may not do this")

    return check
