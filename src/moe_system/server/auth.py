"""Bearer API keys. Each key is a user (named by a hash of the key, so logs and memory never hold a key).

Keys come from `MOE_API_KEYS` (comma-separated) and `server.api_keys`. With none set the server is open (meant
for localhost); with any set, every route but `/healthz` answers 401 without a valid `Authorization: Bearer` key.
Browsers cannot set headers on a WebSocket, so `/ws/chat` also takes the key as `?token=`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from moe_system.config import Settings

LOCAL_USER = "local"  # the one user of a server without keys


def api_keys(settings: Settings) -> dict[str, str]:
    """The accepted keys, each with the user id it stands for."""
    keys = [key.strip() for key in os.environ.get("MOE_API_KEYS", "").split(",") if key.strip()]
    keys += settings.server.api_keys
    return {key: "key-" + hashlib.sha256(key.encode()).hexdigest()[:16] for key in keys}


def user_of(keys: dict[str, str], token: str | None) -> str | None:
    """The user `token` stands for; None when the server has no keys; 401 when the token is not a key."""
    if not keys:
        return None
    for key, user in keys.items():  # compare_digest with every key: the time does not tell which was close
        if token is not None and hmac.compare_digest(token.strip().encode(), key.encode()):
            return user
    raise HTTPException(401, "a valid API key is required: Authorization: Bearer <key>",
                        headers={"WWW-Authenticate": "Bearer"})


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (None for another scheme or none)."""
    scheme, _, token = (authorization or "").partition(" ")
    return token if scheme.lower() == "bearer" else None


def current_user(request: Request) -> str | None:
    """The user of the request's key (a FastAPI dependency); None when the server has no keys."""
    return user_of(request.app.state.api_keys, bearer(request.headers.get("authorization")))


CurrentUser = Annotated[str | None, Depends(current_user)]
