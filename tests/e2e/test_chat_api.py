"""Memory-backed chat over HTTP and WebSocket, end to end on the embedded model, with two keys (two users): what
one user tells the server is never readable by the other, whatever ids they send."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from moe_system.config import Settings

pytestmark = pytest.mark.integration

ALICE, BOB = "alice-key-1", "bob-key-2"


@pytest.fixture(scope="module")
def server(server_home: Path, serve: Any) -> Iterator[str]:
    with serve(Settings(home=server_home, server={"api_keys": [ALICE, BOB]})) as url:
        yield url


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _chat(server: str, key: str, message: str, conversation_id: str | None = None) -> dict[str, Any]:
    body = {"message": message, "conversation_id": conversation_id, "model": "base", "max_tokens": 12,
            "temperature": 0}
    response = httpx.post(f"{server}/chat", json=body, headers=_as(key), timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def test_user_b_cannot_read_user_a_memory(server: str) -> None:
    secret = "My name is Alice and I live in Lisbon, on Rua Augusta 17."
    first = _chat(server, ALICE, secret, "trip")
    assert first["conversation_id"] == "trip" and first["text"]
    _chat(server, ALICE, "I also keep bees.", "trip")

    # Bob uses the very same conversation id: he gets a conversation of his own, empty of Alice's turns
    _chat(server, BOB, "Where do I live?", "trip")
    bob_view = httpx.get(f"{server}/conversations/trip", headers=_as(BOB)).json()
    assert [m["content"] for m in bob_view["messages"] if m["role"] == "user"] == ["Where do I live?"]
    alice_view = httpx.get(f"{server}/conversations/trip", headers=_as(ALICE)).json()
    assert [m["content"] for m in alice_view["messages"] if m["role"] == "user"] == [secret, "I also keep bees."]

    for conversation_id in ("trip", "new-one"):  # the memory search, in Bob's copy of the id and a fresh one
        if conversation_id == "new-one":
            _chat(server, BOB, "Hello!", conversation_id)
        found = httpx.get(f"{server}/memory/search", headers=_as(BOB),
                          params={"q": "Where does Alice live? Lisbon Rua Augusta", "conversation_id": conversation_id})
        assert found.status_code == 200 and "Lisbon" not in found.text and "Augusta" not in found.text
    alice_found = httpx.get(f"{server}/memory/search", headers=_as(ALICE),
                            params={"q": "Where do I live?", "conversation_id": "trip"}).json()
    assert "Lisbon" in alice_found["text"]

    listed = {row["conversation_id"]: row for row in httpx.get(f"{server}/conversations", headers=_as(BOB)).json()}
    assert set(listed) == {"trip", "new-one"} and listed["trip"]["title"] == "Where do I live?"
    assert "Lisbon" not in httpx.get(f"{server}/conversations", headers=_as(BOB)).text

    # Bob deleting "trip" deletes his own; Alice's is untouched, and a conversation he never had is a 404
    assert httpx.delete(f"{server}/conversations/trip", headers=_as(BOB)).json()["deleted"] > 0
    assert httpx.get(f"{server}/conversations/trip", headers=_as(BOB)).status_code == 404
    assert len(httpx.get(f"{server}/conversations/trip", headers=_as(ALICE)).json()["messages"]) == 4
    missing = httpx.get(f"{server}/memory/search", headers=_as(BOB), params={"q": "x", "conversation_id": "nope"})
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"


def test_chat_routes_need_a_key(server: str) -> None:
    for method, path in (("POST", "/chat"), ("GET", "/conversations"), ("GET", "/conversations/trip"),
                         ("GET", "/memory/search?q=x&conversation_id=trip")):
        response = httpx.request(method, f"{server}{path}", json={"message": "hi"} if method == "POST" else None)
        assert response.status_code == 401, path
        assert response.json()["error"]["type"] == "authentication_error"


def test_chat_streams_events_and_remembers_the_conversation(server: str) -> None:
    body = {"message": "Remember this number: 4711.", "model": "auto", "max_tokens": 16, "temperature": 0,
            "stream": True}
    with httpx.stream("POST", f"{server}/chat", json=body, headers=_as(ALICE), timeout=120) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    start, *deltas, done = events
    assert start["type"] == "start" and 0.0 <= start["routing"]["confidence"] <= 1.0
    assert start["routing"]["strategy"] and "expert" in start["routing"]
    assert {d["type"] for d in deltas} == {"delta"} and done["type"] == "done"
    assert "".join(d["text"] for d in deltas) and done["usage"]["completion_tokens"] > 0
    assert done["conversation_id"] == start["conversation_id"]
    history = httpx.get(f"{server}/conversations/{done['conversation_id']}", headers=_as(ALICE)).json()
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"]
    assert history["messages"][1]["content"] == done["text"]


def test_websocket_carries_many_turns_and_reports_bad_ones(server: str) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    ws_url = server.replace("http://", "ws://") + "/ws/chat"
    with connect(f"{ws_url}?token={ALICE}", open_timeout=30) as socket:
        socket.send("not json")
        assert json.loads(socket.recv(timeout=30))["type"] == "error"
        socket.send(json.dumps({"message": "hi", "model": "no-such-expert"}))
        error = json.loads(socket.recv(timeout=30))
        assert error["type"] == "error" and "does not exist" in error["error"]["message"]
        conversation_id = None
        for message in ("My favourite colour is teal.", "What is my favourite colour?"):
            socket.send(json.dumps({"message": message, "conversation_id": conversation_id, "model": "base",
                                    "max_tokens": 12, "temperature": 0}))
            events = []
            while not events or events[-1]["type"] not in ("done", "error"):
                events.append(json.loads(socket.recv(timeout=120)))
            assert events[0]["type"] == "start" and events[-1]["type"] == "done", events
            assert "".join(e["text"] for e in events if e["type"] == "delta") == events[-1]["text"]
            conversation_id = events[-1]["conversation_id"]
    history = httpx.get(f"{server}/conversations/{conversation_id}", headers=_as(ALICE)).json()
    assert [m["content"] for m in history["messages"] if m["role"] == "user"] == [
        "My favourite colour is teal.", "What is my favourite colour?"]

    for url in (ws_url, f"{ws_url}?token=wrong"):  # the handshake is refused with an HTTP 401
        with pytest.raises(InvalidStatus) as refused, connect(url, open_timeout=30):
            pass
        assert refused.value.response.status_code == 401


def test_conversation_reads_come_in_pages(server: str) -> None:
    for text in ("one", "two", "three"):
        _chat(server, ALICE, text, "paged")
    whole = httpx.get(f"{server}/conversations/paged", headers=_as(ALICE)).json()
    assert len(whole["messages"]) == 6 and whole["next_before"] is None
    seqs = [m["seq"] for m in whole["messages"]]
    newest = httpx.get(f"{server}/conversations/paged", headers=_as(ALICE), params={"limit": 4}).json()
    assert [m["seq"] for m in newest["messages"]] == seqs[2:] and newest["next_before"] == seqs[2]
    older = httpx.get(f"{server}/conversations/paged", headers=_as(ALICE),
                      params={"limit": 4, "before": newest["next_before"]}).json()
    assert [m["seq"] for m in older["messages"]] == seqs[:2] and older["next_before"] is None
    assert older["messages"][0] == {"seq": seqs[0], "role": "user", "content": "one"}
    for params in ({"limit": 0}, {"limit": 1001}, {"before": 0}):
        assert httpx.get(f"{server}/conversations/paged", headers=_as(ALICE), params=params).status_code == 422
