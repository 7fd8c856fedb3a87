"""Request limits, as one pure ASGI middleware for HTTP and WebSocket scopes: a per-key rate limit and a body size
limit, both answered in OpenAI's error shape (`{"error": {"message", "type", "code"}}`).

- Rate: a token bucket per caller, `server.rate_limit_burst` requests at once, refilled at
  `server.rate_limit_per_minute` (0 turns it off). A caller is its API key (a hash of it, never the key) when the
  request carries one of the server's keys (`Authorization: Bearer` or, on WebSockets, `?token=`), else its client
  address: a made-up token gets the address's bucket, so inventing tokens does not buy more requests. `/healthz`
  is exempt. Over the limit: 429 with `Retry-After` (a WebSocket handshake is denied the same way).
- Size: `server.max_body_bytes` for every body but the expert upload (`POST /experts`, `server.max_upload_bytes`).
  A `Content-Length` over the limit is refused before the app runs; a chunked body is counted as it streams in, and
  once over the limit the app gets a disconnect while the client gets 413. WebSocket messages over
  `max_body_bytes` close the socket with 1009 (message too big).

Pure ASGI rather than `BaseHTTPMiddleware`, which would buffer streamed answers and hide client disconnects.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moe_system.server.auth import ApiKeys, token_of
from moe_system.server.errors import error_json

RATE_EXEMPT = frozenset({"/healthz"})
UPLOAD_ROUTES = frozenset({("POST", "/experts")})
MAX_CALLERS = 10_000  # buckets kept; the least recently seen caller's is dropped first (it comes back full)


# ---- errors


def error_body(message: str, kind: str, code: str) -> bytes:
    return json.dumps(error_json(message, kind, code)).encode()


async def refuse(scope: Scope, send: Send, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
    """Answer `status` with a JSON `body` before the app runs: an HTTP response, or, for a WebSocket handshake, an
    HTTP denial response where the server supports one (uvicorn does) and a policy close otherwise."""
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items())]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})
    elif "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status, "headers": raw})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1013 if status == 429 else 1008})  # try again later


# ---- the rate limit


class TokenBuckets:
    """One token bucket per caller: `burst` tokens, refilled at `per_minute / 60` a second; a request takes one.

    Only the event loop calls `take` (it never awaits), so no lock is needed. At most `max_callers` buckets are
    kept, least recently used dropped first."""

    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_callers: int = MAX_CALLERS) -> None:
        self.rate = per_minute / 60
        self.burst = float(burst)
        self.clock = clock
        self.max_callers = max_callers
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # caller -> (tokens, when)

    def take(self, caller: str) -> float:
        """Take a token for `caller`: 0.0 when the request may go, else the seconds until a token is there."""
        now = self.clock()
        tokens, when = self._buckets.pop(caller, (self.burst, now))
        tokens = min(self.burst, tokens + (now - when) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[caller] = (tokens - 1 if not wait else tokens, now)
        while len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)
        return wait


# ---- the middleware


class LimitsMiddleware:
    """Rate and size limits in front of the app (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, rate_per_minute: int, burst: int, max_body_bytes: int,
                 max_upload_bytes: int, keys: ApiKeys, clock: Callable[[], float] = time.monotonic,
                 exempt: Collection[str] = RATE_EXEMPT) -> None:
        """`exempt`: paths never rate-limited (read on every request: the app's extensions add theirs, such as the
        bot's webhook, which Telegram paces itself)."""
        self.app = app
        self.exempt = exempt
        self.buckets = TokenBuckets(rate_per_minute, burst, clock) if rate_per_minute > 0 else None
        self.rate_per_minute = rate_per_minute
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self.buckets is not None and scope["path"] not in self.exempt:
            wait = self.buckets.take(self._caller(scope))
            if wait:
                await refuse(scope, send, 429, error_body(self._over_rate(wait), "rate_limit_error",
                                                          "rate_limit_exceeded"),
                             {"Retry-After": str(max(1, math.ceil(wait)))})
                return
        if scope["type"] == "websocket":
            await self.app(scope, self._websocket_receive(scope, receive, send), send)
            return
        limit = self.max_upload_bytes if (scope["method"], scope["path"].rstrip("/")) in UPLOAD_ROUTES \
            else self.max_body_bytes
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await refuse(scope, send, 413, _too_large(limit))
            return
        await _BodyCounter(self.app, limit)(scope, receive, send)

    def _caller(self, scope: Scope) -> str:
        user = self.keys.user(token_of(scope))
        if user is not None:
            return "user:" + user
        client = scope.get("client")
        return "address:" + (client[0] if client else "unknown")

    def _websocket_receive(self, scope: Scope, receive: Receive, send: Send) -> Receive:
        """The socket's `receive`, limited: a message over `max_body_bytes` closes it (1009); a message over the
        caller's rate (each one is a request, as the handshake was) is answered with an error event and dropped,
        and the socket stays open."""
        caller = self._caller(scope)

        async def limited() -> Message:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return message
                size = len(message.get("bytes") or b"") + len((message.get("text") or "").encode())
                if size > self.max_body_bytes:
                    await send({"type": "websocket.close", "code": 1009,
                                "reason": f"message over {self.max_body_bytes} bytes"})
                    return {"type": "websocket.disconnect", "code": 1009}
                wait = self.buckets.take(caller) if self.buckets is not None else 0.0
                if not wait:
                    return message
                error = {"message": self._over_rate(wait), "type": "rate_limit_error", "code": "rate_limit_exceeded"}
                await send({"type": "websocket.send", "text": json.dumps({"type": "error", "error": error})})

        return limited

    def _over_rate(self, wait: float) -> str:
        assert self.buckets is not None
        return (f"rate limit reached: {self.rate_per_minute} requests a minute (bursts of {int(self.buckets.burst)}) "
                f"per key; retry in {max(1, math.ceil(wait))} s")


def _too_large(limit: int) -> bytes:
    return error_body(f"the request body is over the limit of {limit} bytes", "invalid_request_error",
                      "request_too_large")


class _BodyCounter:
    """One HTTP request whose body is counted as the app reads it: past `limit` the client gets 413 (when no
    answer has started) and the app a disconnect; whatever the app sends after that is dropped."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.received = 0
        self.started = False
        self.refused = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted_receive() -> Message:
            if self.received > self.limit:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.limit:
                    if not self.started:
                        await refuse(scope, send, 413, _too_large(self.limit))
                        self.refused = True
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            if self.refused:
                return
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except ClientDisconnect:  # the disconnect this class handed the app, once the 413 went out
            if not self.refused:
                raise
