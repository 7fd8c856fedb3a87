"""The OpenAI-compatible API: `GET /v1/models` and `POST /v1/chat/completions` (JSON or SSE stream).

`model` is `auto` (the router decides), `base` (no expert) or an installed expert's name, as vLLM and LoRAX expose
adapters. Requests decode through the SDK in batching mode, so concurrent ones share decode steps; a stream whose
client goes away is cancelled and frees its row. Errors have OpenAI's shape: `{"error": {"message", "type",
"code"}}`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from moe_system.client import MoEClient, Response
from moe_system.server.auth import CurrentUser
from moe_system.server.errors import error_json

router = APIRouter(prefix="/v1", tags=["openai"])

FINISH = {"stop": "stop", "length": "length", "time": "length", "cancelled": "stop"}


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=200_000)


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The fields of OpenAI's request that mean something here; others that clients send (`n`, `user`, ...) are
    accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field("auto", min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(None, ge=1, le=8192)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    stop: str | list[str] | None = None
    best_of: int | None = Field(None, ge=1, le=16, description="verified best-of-N (an extension; 1 = greedy only)")


def expert_of(client: MoEClient, model: str) -> str | None:
    """`model` as the SDK's `expert`: "auto", None (base) or an installed name (else a 404)."""
    if model in ("auto", "base"):
        return None if model == "base" else "auto"
    if model.partition("@")[0] not in client.registry.names():
        raise ModelNotFound(model)
    return model


class ModelNotFound(Exception):
    def __init__(self, model: str) -> None:
        super().__init__(f"the model {model!r} does not exist: use auto, base or an installed expert (GET /v1/models)")


def model_not_found(_: Request, err: Exception) -> JSONResponse:
    return JSONResponse(error_json(str(err), "invalid_request_error", "model_not_found"), status_code=404)


@router.get("/models")
def list_models(request: Request, _: CurrentUser) -> dict[str, Any]:
    client: MoEClient = request.app.state.client
    created = int(request.app.state.started)
    models = [{"id": name, "object": "model", "created": created, "owned_by": "moe_system"}
              for name in ("auto", "base", *client.registry.names())]
    return {"object": "list", "data": models}


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, request: Request,
                           _: CurrentUser) -> dict[str, Any] | StreamingResponse:
    client: MoEClient = request.app.state.client
    expert = expert_of(client, body.model)
    messages = [message.model_dump() for message in body.messages]
    options: dict[str, Any] = {"max_tokens": body.max_completion_tokens or body.max_tokens,
                               "temperature": body.temperature, "seed": body.seed}
    if body.top_p is not None:
        options["top_p"] = body.top_p
    if body.stop:
        options["stop"] = body.stop
    if body.best_of is not None:
        options["best_of"] = body.best_of
    stream = await run_in_threadpool(client.stream_chat, messages, expert, **options)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if not body.stream:
        response: Response = await run_in_threadpool(stream.finish)
        request.app.state.metrics.record(response)
        return {
            "id": completion_id, "object": "chat.completion", "created": created, "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": response.text},
                         "finish_reason": FINISH[response.finish_reason]}],
            "usage": _usage(response),
            "moe": {"expert": response.expert, "routing": response.routing, "verification": response.verification},
        }

    def chunk(delta: dict[str, str], finish: str | None = None, usage: dict[str, int] | None = None) -> str:
        data: dict[str, Any] = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                                "model": body.model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if usage is not None:
            data["usage"] = usage
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    async def events() -> AsyncIterator[str]:
        try:
            yield chunk({"role": "assistant", "content": ""})
            async for delta in iterate_in_threadpool(iter(stream)):
                yield chunk({"content": delta})
            done = stream.response
            assert done is not None
            request.app.state.metrics.record(done)
            include_usage = body.stream_options is not None and body.stream_options.include_usage
            yield chunk({}, FINISH[done.finish_reason], _usage(done) if include_usage else None)
            yield "data: [DONE]\n\n"
        finally:  # also when the client disconnected: its batch row is freed
            stream.close()

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _usage(response: Response) -> dict[str, int]:
    prompt, completion = response.usage["prompt_tokens"], response.usage["completion_tokens"]
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
