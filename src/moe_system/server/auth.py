"""Bearer API keys. Each key is a user (named by a hash of the key, so logs and memory never hold a key).

Keys come from `MOE_API_KEYS` (comma-separated) and `server.api_keys`. With none set the server is open (meant
for localhost); with any set, every route but `/healthz` answers 401 without a valid `Authorization: Bearer` key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from moe_system.config import Settings


def api_keys(settings: Settings) -> dict[str, str]:
    """The accepted keys, each with the user id it stands for."""
    keys = [key.strip() for key in os.environ.get("MOE_API_KEYS", "").split(",") if key.strip()]
    keys += settings.server.api_keys
    return {key: "key-" + hashlib.sha256(key.encode()).hexdigest()[:16] for key in keys}


def current_user(request: Request) -> str | None:
    """The user of the request's key (a FastAPI dependency); None when the server has no keys."""
    keys: dict[str, str] = request.app.state.api_keys
    if not keys:
        return None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        for key, user in keys.items():  # compare_digest with every key: the time does not tell which was close
            if hmac.compare_digest(token.strip().encode(), key.encode()):
                return user
    raise HTTPException(401, "a valid API key is required: Authorization: Bearer <key>",
                        headers={"WWW-Authenticate": "Bearer"})


CurrentUser = Annotated[str | None, Depends(current_user)]
