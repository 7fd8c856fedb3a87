"""Request ids, one structured log line per request, limits, CORS and Prometheus metrics: `install(app, settings)`
sets all of it up (`create_app` calls it before the routers are included).

Every request gets an id: the caller's `X-Request-ID` when it is short and plain (letters, digits, `._:-`, at most
64), else a new one. The id comes back in the `X-Request-ID` response header (also on errors the middleware
answers itself), is bound in structlog's context variables while the request runs (so any structlog line logged
meanwhile carries it), and heads the request's log line:

    {"event": "request", "request_id": "...", "method": "POST", "path": "/v1/chat/completions",
     "route": "/v1/chat/completions", "status": 200, "duration_ms": 812.4, "user": "key-3f2a...", "client":
     "127.0.0.1", "level": "info", "timestamp": "..."}

`user` is the key's user id (a hash), never the key; the query string (which may hold `?token=`) is never logged.
`server.log_json: false` renders the same fields as a readable console line. The log is written to stderr by a
logger of the app's own (`structlog.wrap_logger`), so structlog's and `logging`'s global configuration are left as
they are.

The middlewares are pure ASGI (`BaseHTTPMiddleware` would buffer streamed answers and hide client disconnects).
From the outside in: request context (id, log line, HTTP metrics), CORS (only when `server.cors_origins` is set,
so that refusals below still carry CORS headers), limits (`limits.py`).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any, TextIO

import structlog
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moe_system.config import Settings
from moe_system.server import metrics as metrics_routes
from moe_system.server.auth import ApiKeys, api_keys, token_of
from moe_system.server.errors import unexpected
from moe_system.server.limits import RATE_EXEMPT, LimitsMiddleware
from moe_system.server.metrics import Metrics
from moe_system.telemetry import structured_logger

REQUEST_ID_HEADER = "x-request-id"
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
UNMATCHED = "unmatched"  # the route label of a path no route serves
CLIENT_GONE = 499  # nginx's status for "client closed the request", logged when no answer was sent


def install(app: FastAPI, settings: Settings, log_stream: TextIO | None = None) -> None:
    """Add `/metrics`, set `app.state.metrics` and wrap the app in the middlewares (see the module docstring);
    log lines go to `log_stream` (default stderr)."""
    server = settings.server
    app.state.metrics = Metrics(lambda: _loaded_runtime(app))
    app.include_router(metrics_routes.router)
    keys = app.state.api_keys if hasattr(app.state, "api_keys") else api_keys(settings)
    app.state.rate_exempt = set(RATE_EXEMPT)  # paths the app's extensions add stay unlimited too
    app.add_middleware(LimitsMiddleware, rate_per_minute=server.rate_limit_per_minute, burst=server.rate_limit_burst,
                       max_body_bytes=server.max_body_bytes, max_upload_bytes=server.max_upload_bytes, keys=keys,
                       exempt=app.state.rate_exempt)
    if server.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=server.cors_origins, allow_methods=["*"],
                           allow_headers=["*"], expose_headers=["X-Request-ID", "Retry-After"], max_age=600)
    app.add_middleware(RequestContextMiddleware, logger=structured_logger(server.log_json, log_stream),
                       metrics=app.state.metrics, keys=keys)


def _loaded_runtime(app: FastAPI) -> Any:
    """The app's loaded runtime, or None: a scrape must never load the model (the lifespan loads it before the
    first request, so a served scrape finds it)."""
    client = getattr(app.state, "client", None)
    return client.loaded_runtime if client is not None else None


def request_id_of(scope: Scope) -> str:
    """The caller's `X-Request-ID` when it is safe to log and echo, else a new id."""
    given = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
    return given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def route_of(scope: Scope, arrived: Scope | None = None) -> str:
    """The template of the route that served (or would serve) the request, e.g. `/conversations/{conversation_id}`;
    a mount is its prefix plus `/{path}`. `arrived`: the scope as it arrived, before routing rewrote its paths (a
    mount moves its prefix into `root_path`)."""
    route = scope.get("route")
    if route is None:  # refused before routing (429, 413), or served by a mount: find the route it was meant for
        arrived = arrived or scope
        app = arrived.get("app") or scope.get("app")
        route = next((r for r in getattr(app, "routes", ()) if r.matches(arrived)[0] == Match.FULL), None)
    if route is None:
        return UNMATCHED
    if isinstance(route, Mount):
        return route.path + "/{path}"
    return str(getattr(route, "path", UNMATCHED))


class RequestContextMiddleware:
    """Request id, the request's log line and its HTTP metrics (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, logger: Any, metrics: Metrics, keys: ApiKeys) -> None:
        self.app = app
        self.logger = logger
        self.metrics = metrics
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        arrived = dict(scope)  # routing rewrites the scope's paths in place; the route label is found from this
        scope.setdefault("state", {})["request_id"] = request_id  # routes read it as `request.state.request_id`
        header = (REQUEST_ID_HEADER.encode(), request_id.encode())
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if kind in ("http.response.start", "websocket.http.response.start", "websocket.accept"):
                status = message.get("status", 101)
                message = {**message, "headers": [*message.get("headers", ()), header]}
            elif kind == "websocket.close" and status is None:
                status = 403  # closed during the handshake: the client sees a 403
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except ClientDisconnect:  # the client went away while the app read its body: nobody to answer
                status = status or CLIENT_GONE
            except Exception as err:
                answer, error = unexpected(err)  # 500, or 507 for a full disk
                if status is None and scope["type"] == "http":  # answer in the usual shape, with the id
                    body = json.dumps(error).encode()
                    await send_with_id({"type": "http.response.start", "status": answer, "headers": [
                        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
                    await send_with_id({"type": "http.response.body", "body": body})
                status = answer
                if answer != 507:
                    raise
                # a full disk is answered and logged, not raised: uvicorn would close the connection
                self.logger.error("the disk is full", error=f"{type(err).__name__}: {err}")
            finally:
                self._finish(scope, arrived, status, time.perf_counter() - started)

    def _finish(self, scope: Scope, arrived: Scope, status: int | None, seconds: float) -> None:
        method = scope.get("method", "WS")
        route = route_of(scope, arrived)
        status = status or 500  # the app ended without answering: uvicorn answers 500
        self.metrics.observe_http(method, route, status, seconds)
        client = scope.get("client")
        log = self.logger.error if status >= 500 else self.logger.info
        # the path as sent (still percent-encoded: no control characters to forge a console line with)
        path = scope["raw_path"].decode("latin-1") if scope.get("raw_path") else scope["path"]
        log("request", method=method, path=path[:300], route=route, status=status,
            duration_ms=round(seconds * 1000, 1), user=self.keys.user(token_of(scope)),
            client=client[0] if client else None)
