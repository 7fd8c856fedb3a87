"""The HTTP server end to end: uvicorn on a free port with the embedded model, driven by the official `openai`
client (chat and streaming) and by plain HTTP (keys, errors)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from moe_system.config import Settings

pytestmark = pytest.mark.integration

KEY, USER_KEY = "test-key-123", "user-key-456"


@pytest.fixture(scope="module")
def server(server_home: Path, serve: Any) -> Iterator[str]:
    """A server with an admin's key and a user's (unsigned uploads off, as by default)."""
    with serve(Settings(home=server_home, server={"api_keys": [f"{KEY}:admin", USER_KEY]})) as url:
        yield url


def test_openai_client_chats_and_streams(server: str) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{server}/v1", api_key=KEY)
    assert {"auto", "base"} <= {model.id for model in client.models.list().data}
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    reply = client.chat.completions.create(model="base", messages=messages, max_tokens=24, temperature=0)
    text = reply.choices[0].message.content
    assert "Paris" in text and reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 10 and reply.usage.completion_tokens > 0
    chunks = list(client.chat.completions.create(model="base", messages=messages, max_tokens=24, temperature=0,
                                                 stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == reply.usage.completion_tokens
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="no-such-expert", messages=messages, max_tokens=4)


def test_langchain_chat_openai_works_against_it(server: str) -> None:
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=f"{server}/v1", api_key=KEY, model="base", max_tokens=24, temperature=0)
    messages = [SystemMessage("You are a helpful assistant."), HumanMessage("What is the capital of France?")]
    reply = llm.invoke(messages)
    assert "Paris" in reply.content and reply.usage_metadata["output_tokens"] > 0
    streamed = "".join(chunk.content for chunk in llm.stream(messages))
    assert streamed == reply.content


def test_concurrent_streams_all_complete(server: str) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{server}/v1", api_key=KEY)
    texts: dict[int, str] = {}

    def ask(index: int) -> None:
        stream = client.chat.completions.create(
            model="base", messages=[{"role": "user", "content": f"Count to {index + 3}."}], max_tokens=16,
            temperature=0, stream=True)
        texts[index] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(texts) == 6 and all(texts.values())


def test_keys_are_required_except_for_healthz(server: str) -> None:
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        response = httpx.get(f"{server}/v1/models", headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    status = httpx.get(f"{server}/status", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert status["batch"]["max_batch"] >= 1 and status["context_length"] > 0


def test_bad_requests_get_clear_errors(server: str) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    bad = [{"model": "base", "messages": []}, {"model": "base", "messages": [{"role": "user", "content": "x"}],
                                                "max_tokens": 0},
           {"model": "base", "messages": [{"role": "robot", "content": "x"}]}]
    for body in bad:
        assert httpx.post(f"{server}/v1/chat/completions", json=body, headers=auth).status_code == 422
    last_assistant = {"model": "base", "messages": [{"role": "assistant", "content": "hi"}]}
    response = httpx.post(f"{server}/v1/chat/completions", json=last_assistant, headers=auth)
    assert response.status_code == 400 and "last message" in response.json()["error"]["message"]
    generated = httpx.post(f"{server}/generate", json={"prompt": "Say hi.", "expert": None, "max_tokens": 8},
                           headers=auth, timeout=60).json()
    assert generated["text"] and generated["usage"]["completion_tokens"] > 0


def test_a_client_that_goes_away_frees_its_batch_row(server: str) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    body = {"model": "base", "messages": [{"role": "user", "content": "Tell me a very long story."}],
            "max_tokens": 2000, "stream": True}
    with httpx.stream("POST", f"{server}/v1/chat/completions", json=body, headers=auth, timeout=60) as response:
        lines = response.iter_lines()
        for _ in range(6):
            next(lines)
        assert httpx.get(f"{server}/status", headers=auth).json()["batch"]["active"] == 1
    deadline = time.monotonic() + 10
    while httpx.get(f"{server}/status", headers=auth).json()["batch"]["active"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(f"{server}/status", headers=auth).json()["batch"]["active"] == 0


def test_a_users_key_cannot_administer_and_unsigned_uploads_are_off(server: str) -> None:
    user, admin = {"Authorization": f"Bearer {USER_KEY}"}, {"Authorization": f"Bearer {KEY}"}
    package = {"file": ("pkg.expert", b"not a package")}
    for method, path, kwargs in (("POST", "/experts", {"files": package}), ("DELETE", "/experts/sql", {}),
                                 ("GET", "/metrics", {})):
        refused = httpx.request(method, f"{server}{path}", headers=user, **kwargs)
        assert refused.status_code == 403, (path, refused.text)
        assert "needs an admin key; this key's role is 'user'" in refused.json()["error"]["message"]
    assert httpx.get(f"{server}/experts", headers=user).status_code == 200  # reading is every user's
    assert httpx.get(f"{server}/metrics", headers=admin).status_code == 200
    unsigned = httpx.post(f"{server}/experts", headers=admin, files=package, data={"allow_unsigned": "true"})
    assert unsigned.status_code == 403 and unsigned.json()["error"]["code"] == "unsigned_upload_refused"
    assert "experts.allow_unsigned_uploads" in unsigned.json()["error"]["message"]
    refused = httpx.post(f"{server}/experts", headers=admin, files=package)  # checked as a package: not one
    assert refused.status_code == 400 and "not a valid .expert archive" in refused.json()["error"]["message"]
