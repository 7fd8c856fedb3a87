"""Bearer API keys and roles, and the one place a presented key is looked up. Each key stands for a user (its
`user`, else a name made from a hash of the key, so logs and memory never hold a key) and a role:

- `user`: generate and chat, their own conversations and memory, their own training jobs, whose packages they
  can download but not install;
- `admin`: also installing and removing experts, training jobs that install or start over (`fresh`), and
  `/metrics`.

Keys come from `MOE_API_KEYS` (comma-separated, `KEY` or `KEY:admin`) and `server.api_keys`. With none set the
server is open and its one user (`local`) is an admin; `moe serve` only allows that on a loopback address. With
keys set, every route but `/healthz` answers 401 without a valid `Authorization: Bearer` key, and 403 with a
one-line reason where the key's role is not enough. Browsers cannot set headers on a WebSocket, so `/ws/chat` also
takes the key as `?token=`. The keys are held by their SHA-256 only and a presented token is looked up by its
hash, so neither the lookup's time nor a log line ever depends on a key itself.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import Headers
from starlette.types import Scope

from moe_system.config import ApiKeySettings, Role, Settings

LOCAL_USER = "local"  # the one user of a server without keys


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who made a request: the key's user (None on a server without keys: its one user, `local`) and role."""

    user: str | None
    role: Role

    def require_admin(self, action: str) -> None:
        """403 unless the caller is an admin; `action` says what was refused ("installing experts")."""
        if self.role != "admin":
            raise HTTPException(403, f"{action} needs an admin key; this key's role is '{self.role}'")


OPEN_SERVER = Caller(None, "admin")  # the one caller of a server without keys (loopback only, see `moe serve`)


class ApiKeys:
    """The server's keys: `caller(token)` is who a presented token stands for (None if it is not a key)."""

    def __init__(self, keys: Iterable[ApiKeySettings]) -> None:
        self._callers = {_sha256(key.key): Caller(key.user or "key-" + _sha256(key.key)[:16], key.role)
                         for key in keys}

    def __bool__(self) -> bool:
        return bool(self._callers)

    def caller(self, token: str | None) -> Caller | None:
        return self._callers.get(_sha256(token.strip())) if token else None

    def user(self, token: str | None) -> str | None:
        """The user a token stands for (None if it is not a key)."""
        caller = self.caller(token)
        return caller.user if caller else None

    def require(self, token: str | None) -> Caller:
        """Who `token` stands for; the open server's caller when there are no keys; 401 when it is not a key."""
        if not self:
            return OPEN_SERVER
        caller = self.caller(token)
        if caller is None:
            raise HTTPException(401, "a valid API key is required: Authorization: Bearer <key>",
                                headers={"WWW-Authenticate": "Bearer"})
        return caller


def api_keys(settings: Settings) -> ApiKeys:
    """The accepted keys: `MOE_API_KEYS` and `server.api_keys`."""
    specs = [ApiKeySettings.parse(spec) for spec in os.environ.get("MOE_API_KEYS", "").split(",") if spec.strip()]
    return ApiKeys(specs + settings.server.api_keys)


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


def current_caller(request: Request) -> Caller:
    """Who made the request (a FastAPI dependency); 401 without a valid key on a server with keys."""
    keys: ApiKeys = request.app.state.api_keys
    return keys.require(token_of(request.scope))


def current_user(request: Request) -> str | None:
    """The user of the request's key (a FastAPI dependency); None when the server has no keys."""
    return current_caller(request).user


CurrentCaller = Annotated[Caller, Depends(current_caller)]
CurrentUser = Annotated[str | None, Depends(current_user)]
