"""Native routes: `/generate` (one prompt, one answer), `/status` (model, experts, batch) and `/healthz`."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from moe_system.client import MoEClient
from moe_system.server.auth import CurrentUser

router = APIRouter(tags=["native"])


class GenerateRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=200_000)
    expert: str | None = Field("auto", max_length=200)
    max_tokens: int | None = Field(None, ge=1, le=8192)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    best_of: int | None = Field(None, ge=1, le=16, description="verified best-of-N (1 = greedy only)")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness; open even when keys are set."""
    return {"status": "ok"}


@router.get("/status")
def status(request: Request, _: CurrentUser) -> dict[str, Any]:
    client: MoEClient = request.app.state.client
    runtime = client.runtime
    scheduler = runtime.scheduler(runtime.engine)
    return {"model": runtime.model_name, "backend": runtime.backend_name, "context_length": runtime.context_length,
            "experts": client.registry.names(), "uptime_s": round(time.time() - request.app.state.started, 1),
            "batch": {"active": scheduler.active, "queued": scheduler.queued, "max_batch": scheduler.max_batch}}


@router.post("/generate")
async def generate(body: GenerateRequest, request: Request, _: CurrentUser) -> dict[str, Any]:
    client: MoEClient = request.app.state.client
    response = await run_in_threadpool(partial(client.generate, body.prompt, body.expert, body.max_tokens,
                                               body.temperature, body.seed, best_of=body.best_of))
    request.app.state.metrics.record(response)
    return response.to_dict()
