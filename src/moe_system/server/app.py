"""The FastAPI app: `create_app()` builds it, `moe serve` runs it with uvicorn.

One module per resource, each an `APIRouter`:
- `openai_api`: `/v1/models`, `/v1/chat/completions` (OpenAI-compatible);
- `native`: `/generate`, `/status`, `/healthz`;
- `chat`: `/chat`, `/ws/chat`, the user's conversations and memory search (scoped by the key's user);
- `experts_api`: `/experts` (list, install an uploaded package, remove);
- `training_jobs`: `/train` (background jobs running issue 3's trainer) and `/train/{job_id}`;
- `observability`: request ids, JSON logs, limits (rate, size, CORS) and Prometheus `/metrics`;
- `web`: the web UI at `/` (static files).

The model loads in the app's lifespan (before the first request is accepted), through one `MoEClient` in batching
mode, so concurrent requests share decode steps. SDK errors become JSON errors in OpenAI's shape with a fitting
status: a bad request 400, a full queue 429, a missing model 503.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from moe_system.client import MoEClient
from moe_system.config import Settings, load_settings
from moe_system.engine.scheduler import QueueFullError
from moe_system.errors import (
    ConfigError,
    ContextLengthError,
    DatasetError,
    ExpertError,
    InvalidRequestError,
    ModelNotFoundError,
    MoEError,
)
from moe_system.server import chat, experts_api, native, observability, openai_api, training_jobs, web
from moe_system.server.auth import api_keys

_STATUS: list[tuple[type[Exception], int, str]] = [  # first match wins
    (QueueFullError, 429, "rate_limit_error"),
    (ContextLengthError, 400, "invalid_request_error"),
    (InvalidRequestError, 400, "invalid_request_error"),
    (ExpertError, 400, "invalid_request_error"),
    (DatasetError, 400, "invalid_request_error"),
    (ModelNotFoundError, 503, "server_error"),
    (ConfigError, 503, "server_error"),
    (MoEError, 500, "server_error"),
]


def create_app(settings: Settings | None = None, client: MoEClient | None = None) -> FastAPI:
    """The app over `client` (default: a batching `MoEClient` of `settings`, closed with the app)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = client is None
        app.state.client = client or MoEClient(settings, batching=True)
        await run_in_threadpool(lambda: app.state.client.runtime)  # load the model before serving
        app.state.jobs = training_jobs.JobManager(settings)
        try:
            yield
        finally:
            app.state.jobs.close()
            if owned:
                app.state.client.close()

    app = FastAPI(title="moe_system", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.api_keys = api_keys(settings)
    app.state.started = time.time()
    observability.install(app, settings)
    for module in (native, openai_api, chat, experts_api, training_jobs):
        app.include_router(module.router)
    app.add_exception_handler(openai_api.ModelNotFound, openai_api.model_not_found)
    app.add_exception_handler(MoEError, moe_error)
    web.mount(app)
    return app


def moe_error(_: Request, err: Exception) -> JSONResponse:
    """An SDK error as OpenAI's error JSON, with the status its class maps to."""
    status, kind = next((status, kind) for cls, status, kind in _STATUS if isinstance(err, cls))
    return JSONResponse({"error": {"message": str(err), "type": kind, "code": None}}, status_code=status,
                        headers={"Retry-After": "1"} if status == 429 else None)
