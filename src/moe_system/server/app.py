"""The FastAPI app: `create_app()` builds it, `moe serve` runs it with uvicorn.

The model loads in the app's lifespan (before the first request is accepted), through one `MoEClient` in batching
mode, so concurrent requests share decode steps. SDK errors become JSON errors with a fitting status: a bad
request 400, a full queue 429, a missing model 503.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
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
from moe_system.server import openai_api
from moe_system.server.auth import api_keys, current_user

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
        try:
            yield
        finally:
            if owned:
                app.state.client.close()

    app = FastAPI(title="moe_system", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.api_keys = api_keys(settings)
    app.state.started = time.time()
    app.include_router(openai_api.router)
    app.add_exception_handler(openai_api.ModelNotFound, openai_api.model_not_found)
    app.add_exception_handler(MoEError, _moe_error)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness; open even when keys are set."""
        return {"status": "ok"}

    @app.get("/status")
    def status(request: Request, _: str | None = Depends(current_user)) -> dict[str, Any]:
        client: MoEClient = request.app.state.client
        runtime = client.runtime
        scheduler = runtime.scheduler(runtime.engine)
        return {"model": runtime.model_name, "backend": runtime.backend_name, "context_length": runtime.context_length,
                "experts": client.registry.names(), "uptime_s": round(time.time() - request.app.state.started, 1),
                "batch": {"active": scheduler.active, "queued": scheduler.queued, "max_batch": scheduler.max_batch}}

    @app.get("/experts")
    def experts(request: Request, _: str | None = Depends(current_user)) -> list[dict[str, Any]]:
        return [expert.to_dict() for expert in request.app.state.client.registry.list()]

    @app.post("/generate")
    async def generate(body: GenerateRequest, request: Request,
                       _: str | None = Depends(current_user)) -> dict[str, Any]:
        client: MoEClient = request.app.state.client
        response = await run_in_threadpool(client.generate, body.prompt, body.expert, body.max_tokens,
                                           body.temperature, body.seed)
        return response.to_dict()

    return app


class GenerateRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=200_000)
    expert: str | None = Field("auto", max_length=200)
    max_tokens: int | None = Field(None, ge=1, le=8192)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)


def _moe_error(_: Request, err: Exception) -> JSONResponse:
    status, kind = next((status, kind) for cls, status, kind in _STATUS if isinstance(err, cls))
    return JSONResponse({"error": {"message": str(err), "type": kind, "code": None}}, status_code=status,
                        headers={"Retry-After": "1"} if status == 429 else None)
