"""Memory-backed chat: `POST /chat` (JSON or SSE), `WebSocket /ws/chat`, the caller's conversations and a search
of their memory.

Every conversation belongs to the user of the key that made it, and the memory is scoped by that user: the
memory's conversation id is `<user>/<conversation_id>`, so one user's requests can never name, list, read, search
or delete another's conversation, whatever id they send (an id of someone else's is simply a new, empty
conversation of the caller's). Facts are kept per user too (the memory's `user_id`), so they follow a user across
their conversations and never cross to another user. A server without keys has one user, `local`.

Events (SSE `data:` lines and WebSocket messages alike): `{"type": "start", "conversation_id", "routing"}` as soon
as the router decided, `{"type": "delta", "text"}` per piece of text, then `{"type": "done", ...the answer}` or
`{"type": "error", "error": {"message", "type"}}`.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from moe_system.client import MoEClient, Response, Stream
from moe_system.durable import disk_full
from moe_system.errors import MoEError
from moe_system.server.auth import LOCAL_USER, CurrentUser, token_of
from moe_system.server.errors import http_error, unexpected
from moe_system.server.openai_api import ModelNotFound, expert_of

router = APIRouter(tags=["chat"])

ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
PAGE, MAX_PAGE = 200, 1000  # turns a conversation read returns by default, and at most
_LOG = logging.getLogger(__name__)


class ChatRequest(BaseModel):
    """One user turn of a remembered conversation (a new one when `conversation_id` is null)."""

    message: str = Field(min_length=1, max_length=200_000)
    conversation_id: str | None = Field(None, pattern=ID_PATTERN)
    model: str = Field("auto", min_length=1, max_length=200, description="auto | base | an installed expert")
    max_tokens: int | None = Field(None, ge=1, le=8192)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    stream: bool = False


def _scoped(user: str | None, conversation_id: str) -> str:
    """The memory's id of a user's conversation."""
    return f"{user or LOCAL_USER}/{conversation_id}"


def _open(client: MoEClient, user: str | None, body: ChatRequest) -> tuple[str, Stream]:
    """Start answering `body` in its conversation: (the caller's conversation id, the answer's stream)."""
    conversation_id = body.conversation_id or uuid.uuid4().hex
    conversation = client.start_conversation(user or LOCAL_USER, _scoped(user, conversation_id),
                                             expert_of(client, body.model))
    options = {"max_tokens": body.max_tokens, "temperature": body.temperature, "seed": body.seed}
    return conversation_id, conversation.stream(body.message, **options)


def _done(conversation_id: str, response: Response) -> dict[str, Any]:
    return {"type": "done", "conversation_id": conversation_id, **response.to_dict()}


def _error(err: Exception) -> dict[str, Any]:
    """An error event: the message of a user's mistake, or a generic line for anything unexpected."""
    if isinstance(err, ValidationError):
        message = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in err.errors())
        return {"type": "error", "error": {"message": message, "type": "invalid_request_error"}}
    if isinstance(err, ModelNotFound | MoEError) and not disk_full(err):
        return {"type": "error", "error": {"message": str(err), "type": "invalid_request_error"}}
    _, answer = unexpected(err)  # a full disk says so
    return {"type": "error", "error": {"message": answer["error"]["message"], "type": answer["error"]["type"]}}


def _outlived(err: Exception) -> bool:
    """Whether a WebSocket stays open after `err` (answered with an error event): a user's mistake, an SDK error, a
    full disk."""
    return isinstance(err, ValidationError | ModelNotFound | MoEError) or disk_full(err)


def _events(conversation_id: str, stream: Stream, record: Any) -> Iterator[dict[str, Any]]:
    """The events of one answer (runs in a worker thread: the stream decodes there)."""
    yield {"type": "start", "conversation_id": conversation_id, "routing": stream.routing}
    for delta in stream:
        yield {"type": "delta", "text": delta}
    assert stream.response is not None
    record(stream.response)
    yield _done(conversation_id, stream.response)


@router.post("/chat", response_model=None)
async def chat(body: ChatRequest, request: Request, user: CurrentUser) -> dict[str, Any] | StreamingResponse:
    """Answer a message in a remembered conversation; `stream: true` sends events as server-sent events."""
    client: MoEClient = request.app.state.client
    conversation_id, stream = await run_in_threadpool(_open, client, user, body)
    record = request.app.state.metrics.record
    if not body.stream:
        response = await run_in_threadpool(stream.finish)
        record(response)
        return {"conversation_id": conversation_id, **response.to_dict()}

    async def sse() -> AsyncIterator[str]:
        try:
            async for event in iterate_in_threadpool(_events(conversation_id, stream, record)):
                yield f"data: {json.dumps(event, ensure_ascii=False)}\n\n"
        except Exception as err:  # the status line is sent already: the error travels as an event
            yield f"data: {json.dumps(_error(err), ensure_ascii=False)}\n\n"
        finally:  # also when the client went away: its batch row is freed
            stream.close()

    return StreamingResponse(sse(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.websocket("/ws/chat")
async def ws_chat(websocket: WebSocket) -> None:
    """Chat over a WebSocket: each JSON message (the `/chat` body) is answered with events; many turns a socket.
    The key comes as `?token=` (browsers cannot set headers here) or an `Authorization` header; without a valid one
    the handshake is answered 401 (or, where the server cannot send an HTTP answer, closed with 1008)."""
    try:
        user = websocket.app.state.api_keys.require(token_of(websocket.scope)).user
    except HTTPException as err:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):  # uvicorn: a real HTTP 401
            await websocket.send_denial_response(http_error(websocket, err))
        else:
            await websocket.close(code=1008, reason=str(err.detail))
        return
    await websocket.accept()
    client: MoEClient = websocket.app.state.client
    record = websocket.app.state.metrics.record
    try:
        while True:
            try:
                body = ChatRequest.model_validate_json(await websocket.receive_text())
                conversation_id, stream = await run_in_threadpool(_open, client, user, body)
            except Exception as err:  # a bad turn (or a full disk): the socket stays open
                if not _outlived(err):
                    raise
                await websocket.send_json(_error(err))
                continue
            try:
                async for event in iterate_in_threadpool(_events(conversation_id, stream, record)):
                    await websocket.send_json(event)
            except Exception as err:
                if not _outlived(err):
                    raise
                await websocket.send_json(_error(err))
            finally:  # also when the client went away mid-answer: its batch row is freed
                stream.close()
    except WebSocketDisconnect:
        return


def resume_memory(client: MoEClient) -> None:
    """Let the memory's worker finish what a stopped server left undone (compressing, indexing) now, not at the next
    message. Run in a thread at start: a memory that cannot open now fails only the requests that need it."""
    try:
        client.memory.resume()
    except Exception as err:
        _LOG.warning("the memory's unfinished work waits for the next message: %s", err)


# ---- the caller's conversations and memory


def _owned(request: Request, user: str | None, conversation_id: str) -> str:
    """The memory id of the caller's conversation `conversation_id`; 404 when they have none of that id."""
    scoped = _scoped(user, conversation_id)
    if request.app.state.client.memory.store.conversation(scoped) is None:
        raise HTTPException(404, f"you have no conversation {conversation_id!r}")
    return scoped


@router.get("/conversations")
def conversations(request: Request, user: CurrentUser) -> list[dict[str, Any]]:
    """The caller's conversations, newest first, each titled by its earliest message still kept verbatim."""
    memory = request.app.state.client.memory
    prefix = _scoped(user, "")
    rows = []
    for row in memory.conversations(user or LOCAL_USER):
        if not row["conversation_id"].startswith(prefix):
            continue  # made by the SDK or CLI for this user id: not a server conversation
        first = next((m.text for m in memory.store.recent_messages(row["conversation_id"], 200) if m.role == "user"),
                     "")
        rows.append({"conversation_id": row["conversation_id"][len(prefix):], "messages": row["messages"],
                     "created": row["created"], "title": " ".join(first.split())[:80]})
    return sorted(rows, key=lambda row: -row["created"])


@router.get("/conversations/{conversation_id}")
def conversation(conversation_id: str, request: Request, user: CurrentUser,
                 limit: int = Query(PAGE, ge=1, le=MAX_PAGE, description="turns per page"),
                 before: int | None = Query(None, ge=1, description="only turns older than this `seq`")
                 ) -> dict[str, Any]:
    """One page of the turns of one of the caller's conversations that the memory keeps verbatim: the newest
    `limit` (older than `before`), oldest first. `next_before` asks for the page before it (null: none left)."""
    scoped = _owned(request, user, conversation_id)
    rows = request.app.state.client.memory.store.recent_messages(scoped, limit + 1, before)
    older, page = rows[:-limit], rows[-limit:]
    return {"conversation_id": conversation_id,
            "messages": [{"seq": r.seq, "role": r.role, "content": r.text} for r in page],
            "next_before": page[0].seq if older else None}


@router.delete("/conversations/{conversation_id}")
def forget(conversation_id: str, request: Request, user: CurrentUser) -> dict[str, int]:
    """Forget one of the caller's conversations (every tier)."""
    scoped = _owned(request, user, conversation_id)
    return {"deleted": request.app.state.client.memory.forget_conversation(scoped)}


@router.get("/memory/search")
def search(request: Request, user: CurrentUser, q: str = Query(min_length=1, max_length=10_000),
           conversation_id: str = Query(pattern=ID_PATTERN),
           max_tokens: int = Query(1000, ge=16, le=100_000)) -> dict[str, Any]:
    """What the memory would give a request `q` in one of the caller's conversations (facts, older material,
    recent turns), within `max_tokens`."""
    scoped = _owned(request, user, conversation_id)
    return request.app.state.client.memory.build_context(scoped, q, max_tokens).to_dict()
