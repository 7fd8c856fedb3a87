"""Bearer API keys, and the one place a presented key is looked up. Each key is a user (named by a hash of the
key, so logs and memory never hold a key).

Keys come from `MOE_API_KEYS` (comma-separated) and `server.api_keys`. With none set the server is open (meant
for localhost); with any set, every route but `/healthz` answers 401 without a valid `Authorization: Bearer` key.
Browsers cannot set headers on a WebSocket, so `/ws/chat` also takes the key as `?token=`. The keys are held by
their SHA-256 only and a presented token is looked up by its hash, so neither the lookup's time nor a log line
ever depends on a key itself.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import Headers
from starlette.types import Scope

from moe_system.config import Settings

LOCAL_USER = "local"  # the one user of a server without keys


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class ApiKeys:
    """The server's keys: `user(token)` is the user a presented token stands for (None if it is not a key)."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._users = {_sha256(key): "key-" + _sha256(key)[:16] for key in keys}

    def __bool__(self) -> bool:
        return bool(self._users)

    def user(self, token: str | None) -> str | None:
        return self._users.get(_sha256(token.strip())) if token else None

    def require(self, token: str | None) -> str | None:
        """The user `token` stands for; None when the server has no keys; 401 when the token is not a key."""
        if not self:
            return None
        user = self.user(token)
        if user is None:
            raise HTTPException(401, "a valid API key is required: Authorization: Bearer <key>",
                                headers={"WWW-Authenticate": "Bearer"})
        return user


def api_keys(settings: Settings) -> ApiKeys:
    """The accepted keys: `MOE_API_KEYS` and `server.api_keys`."""
    keys = [key.strip() for key in os.environ.get("MOE_API_KEYS", "").split(",") if key.strip()]
    return ApiKeys(keys + [key.strip() for key in settings.server.api_keys])


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (None for another scheme or none)."""
    scheme, _, token = (authorization or "").partition(" ")
    return token if scheme.lower() == "bearer" else None


def token_of(scope: Scope) -> str | None:
    """The key a request presents: a Bearer header, else (WebSockets from browsers) `?token=`."""
    token = bearer(Headers(scope=scope).get("authorization"))
    if token is None:
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        token = values[0] if values else None
    return token.strip() if token else None


def current_user(request: Request) -> str | None:
    """The user of the request's key (a FastAPI dependency); None when the server has no keys."""
    keys: ApiKeys = request.app.state.api_keys
    return keys.require(token_of(request.scope))


CurrentUser = Annotated[str | None, Depends(current_user)]
