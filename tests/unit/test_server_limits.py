"""The server's middlewares on a tiny FastAPI app (no model): token buckets, 429 and 413 in OpenAI's error shape
(by Content-Length and by a chunked body), CORS off and on, request ids, the JSON log line and the metrics.

    .venv/bin/python -m pytest -q tests/unit/test_server_limits.py
"""

from __future__ import annotations

import asyncio
import errno
import io
import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.types import Message

from moe_system.client import Response
from moe_system.config import Settings
from moe_system.errors import MoEError
from moe_system.server import observability
from moe_system.server.auth import CurrentUser, api_keys
from moe_system.server.errors import moe_error
from moe_system.server.limits import TokenBuckets

KEY, OTHER_KEY = "unit-key-1", "unit-key-2"
AUTH = {"Authorization": f"Bearer {KEY}"}


class App:
    """A tiny app with the server's observability installed, its log captured and its endpoint calls counted."""

    def __init__(self, home: Path, **server: Any) -> None:
        settings = Settings(home=home, server=server)
        self.log = io.StringIO()
        self.calls = 0
        self.app = app = FastAPI()
        app.state.api_keys = api_keys(settings)
        observability.install(app, settings, log_stream=self.log)

        @app.get("/healthz")
        def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/items/{item_id}")
        def item(item_id: int, _: CurrentUser) -> dict[str, int]:
            return {"item_id": item_id}

        @app.post("/echo")
        async def echo(request: Request) -> dict[str, int]:
            self.calls += 1
            return {"bytes": len(await request.body())}

        @app.post("/experts")
        async def upload(request: Request) -> dict[str, int]:
            return {"bytes": len(await request.body())}

        @app.get("/boom")
        def boom() -> None:
            raise RuntimeError("boom")

        @app.websocket("/ws")
        async def ws(websocket: WebSocket) -> None:
            await websocket.accept()
            try:
                while True:
                    await websocket.send_text(await websocket.receive_text())
            except WebSocketDisconnect:
                return

        self.client = TestClient(app, raise_server_exceptions=False)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines()]


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code"}
    return body["error"]


# ---- rate limit


def test_token_bucket_takes_a_burst_then_refills_at_the_rate() -> None:
    now = [100.0]
    buckets = TokenBuckets(per_minute=60, burst=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") == 0.0  # buckets are per caller
    now[0] += 0.5
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    now[0] += 60  # refills up to the burst, not beyond
    assert [buckets.take("a") for _ in range(4)][-1] > 0


def test_token_buckets_keep_at_most_max_callers() -> None:
    buckets = TokenBuckets(per_minute=1, burst=1, clock=lambda: 0.0, max_callers=2)
    for caller in ("a", "b", "c"):
        assert buckets.take(caller) == 0.0
    assert buckets.take("a") == 0.0  # dropped as the least recently seen: it came back full
    assert buckets.take("c") > 0


def test_over_the_rate_limit_is_a_429_in_openai_shape(tmp_path: Path) -> None:
    app = App(tmp_path, api_keys=[KEY, OTHER_KEY], rate_limit_per_minute=60, rate_limit_burst=2)
    assert [app.client.get("/items/1", headers=AUTH).status_code for _ in range(2)] == [200, 200]
    refused = app.client.get("/items/1", headers=AUTH)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    error = error_of(refused)
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
    assert refused.headers["x-request-id"]
    assert app.client.get("/healthz").status_code == 200  # exempt
    assert app.client.get("/items/1", headers={"Authorization": f"Bearer {OTHER_KEY}"}).status_code == 200
    # without a key (or with a made-up one) the caller is its address, with a bucket of its own
    made_up = [app.client.get("/items/1", headers={"Authorization": f"Bearer made-up-{i}"}).status_code
               for i in range(3)]
    assert made_up == [401, 401, 429]
    assert app.lines()[2]["route"] == "/items/{item_id}" and app.lines()[2]["status"] == 429


def test_a_rate_of_zero_turns_the_limit_off(tmp_path: Path) -> None:
    app = App(tmp_path, rate_limit_per_minute=0, rate_limit_burst=1)
    assert {app.client.get("/items/1").status_code for _ in range(20)} == {200}


def test_a_websocket_handshake_over_the_limit_is_denied(tmp_path: Path) -> None:
    app = App(tmp_path, rate_limit_per_minute=60, rate_limit_burst=2)  # the handshake and one message
    with app.client.websocket_connect("/ws") as socket:
        socket.send_text("hi")
        assert socket.receive_text() == "hi"
    with pytest.raises(WebSocketDenialResponse) as denied, app.client.websocket_connect("/ws"):
        pass
    assert denied.value.status_code == 429 and error_of(denied.value)["type"] == "rate_limit_error"


def test_websocket_messages_over_the_limit_get_an_error_event_and_the_socket_stays(tmp_path: Path) -> None:
    app = App(tmp_path, rate_limit_per_minute=60, rate_limit_burst=3)
    with app.client.websocket_connect("/ws") as socket:  # the handshake takes one token, each message one more
        replies = []
        for text in ("a", "b", "c", "d"):
            socket.send_text(text)
            replies.append(socket.receive_text())
        assert replies[:2] == ["a", "b"]
        for reply in replies[2:]:
            event = json.loads(reply)
            assert event["type"] == "error" and event["error"]["type"] == "rate_limit_error"
        time.sleep(1.1)  # 60 a minute: a token a second
        socket.send_text("e")
        assert socket.receive_text() == "e"


# ---- body size


def test_a_content_length_over_the_limit_is_a_413_before_the_app_runs(tmp_path: Path) -> None:
    app = App(tmp_path, max_body_bytes=1024, max_upload_bytes=4096)
    assert app.client.post("/echo", content=b"x" * 1024).json() == {"bytes": 1024}
    refused = app.client.post("/echo", content=b"x" * 1025)
    assert refused.status_code == 413 and error_of(refused)["code"] == "request_too_large"
    assert app.calls == 1
    assert app.client.post("/experts", content=b"x" * 3000).json() == {"bytes": 3000}  # the upload's own limit
    assert app.client.post("/experts", content=b"x" * 4097).status_code == 413


def test_a_chunked_body_is_counted_as_it_arrives(tmp_path: Path) -> None:
    app = App(tmp_path, max_body_bytes=1024)
    chunks = [b"x" * 600] * 3
    read: list[int] = []
    sent: list[Message] = []

    async def receive() -> Message:
        read.append(len(read))
        return {"type": "http.request", "body": chunks[len(read) - 1], "more_body": len(read) < len(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/echo", "raw_path": b"/echo", "root_path": "", "query_string": b"", "client": ("10.0.0.1", 1),
             "server": ("test", 80), "headers": [(b"transfer-encoding", b"chunked")]}
    asyncio.run(app.app(scope, receive, send))
    assert len(read) == 2  # the third chunk was never read
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [413]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert json.loads(body)["error"]["code"] == "request_too_large"
    assert app.calls == 1 and app.lines()[-1]["status"] == 413  # the app got a disconnect; its answer was dropped


def test_a_websocket_message_over_the_limit_closes_the_socket(tmp_path: Path) -> None:
    app = App(tmp_path, max_body_bytes=1024)
    with app.client.websocket_connect("/ws") as socket:
        socket.send_text("x" * 1025)
        assert socket.receive() == {"type": "websocket.close", "code": 1009, "reason": "message over 1024 bytes"}
    assert app.lines()[-1]["method"] == "WS" and app.lines()[-1]["status"] == 101


# ---- CORS


def test_cors_is_off_by_default(tmp_path: Path) -> None:
    app = App(tmp_path)
    response = app.client.get("/healthz", headers={"Origin": "https://example.com"})
    assert not [name for name in response.headers if name.startswith("access-control-")]
    preflight = app.client.options("/echo", headers={"Origin": "https://example.com",
                                                     "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_allows_the_configured_origins(tmp_path: Path) -> None:
    app = App(tmp_path, cors_origins=["https://ui.example"], rate_limit_burst=1)
    preflight = app.client.options("/echo", headers={"Origin": "https://ui.example",
                                                     "Access-Control-Request-Method": "POST",
                                                     "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://ui.example"
    ok = app.client.get("/healthz", headers={"Origin": "https://ui.example"})
    assert ok.headers["access-control-allow-origin"] == "https://ui.example"
    assert "x-request-id" in ok.headers["access-control-expose-headers"].lower()
    other = app.client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    app.client.get("/items/1", headers={"Origin": "https://ui.example"})
    refused = app.client.get("/items/1", headers={"Origin": "https://ui.example"})  # a browser can read the 429
    assert refused.status_code == 429 and refused.headers["access-control-allow-origin"] == "https://ui.example"


# ---- request ids and the log


def test_request_ids_are_echoed_generated_or_replaced(tmp_path: Path) -> None:
    app = App(tmp_path)
    assert app.client.get("/healthz", headers={"X-Request-ID": "abc-123.x:y"}).headers["x-request-id"] == \
        "abc-123.x:y"
    made = app.client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32 and made != app.client.get("/healthz").headers["x-request-id"]
    for bad in ("a" * 65, "has space", "semi;colon", "new\u00e9", ""):
        echoed = app.client.get("/healthz", headers={"X-Request-ID": bad.encode()})
        assert echoed.headers["x-request-id"] != bad and len(echoed.headers["x-request-id"]) == 32


def test_each_request_logs_one_json_line(tmp_path: Path) -> None:
    app = App(tmp_path, api_keys=[KEY])
    app.client.get("/items/7?token=secret-in-query", headers={**AUTH, "X-Request-ID": "req-1"})
    app.client.get("/nowhere")
    line, missing = app.lines()
    assert line["event"] == "request" and line["request_id"] == "req-1" and line["level"] == "info"
    assert (line["method"], line["path"], line["route"], line["status"]) == ("GET", "/items/7", "/items/{item_id}",
                                                                             200)
    assert line["duration_ms"] >= 0 and line["user"] == api_keys(Settings(server={"api_keys": [KEY]})).user(KEY)
    assert KEY not in app.log.getvalue() and "secret-in-query" not in app.log.getvalue()
    assert missing["route"] == "unmatched" and missing["status"] == 404 and missing["user"] is None


def test_an_exception_is_a_500_with_the_request_id(tmp_path: Path) -> None:
    app = App(tmp_path)
    response = app.client.get("/boom", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500 and response.headers["x-request-id"] == "req-500"
    assert error_of(response)["type"] == "server_error"
    assert app.lines()[-1]["status"] == 500 and app.lines()[-1]["level"] == "error"


def test_console_lines_when_json_is_off(tmp_path: Path) -> None:
    app = App(tmp_path, log_json=False)
    app.client.get("/healthz", headers={"X-Request-ID": "req-console"})
    line = app.log.getvalue()
    assert "request" in line and "request_id=req-console" in line and not line.startswith("{")


# ---- metrics


def test_metrics_count_answers_and_http_requests_by_route(tmp_path: Path) -> None:
    app = App(tmp_path, api_keys=[f"{KEY}:admin"])
    metrics = app.app.state.metrics
    metrics.record(Response("hi", None, {"strategy": "explicit"}, {"prompt_tokens": 5, "completion_tokens": 2},
                            {"ttft_ms": 30.0, "total_ms": 90.0}))
    for expert in ("sql,python", "python,math,sql", "sql@1.0.0"):  # compositions share one label; no @version
        metrics.record(Response("ok", expert, {"strategy": "semantic"},
                                {"prompt_tokens": 1, "completion_tokens": 1}, {"ttft_ms": 5.0, "total_ms": 6.0}))
    for item in (1, 2):
        app.client.get(f"/items/{item}", headers=AUTH)
    assert app.client.get("/metrics").status_code == 401
    text = app.client.get("/metrics", headers=AUTH).text
    assert set(re.findall(r'expert="([^"]*)"', text)) == {"base", "composed", "sql"}
    for line in ('moe_requests_total{expert="base"} 1.0', 'moe_requests_total{expert="composed"} 2.0',
                 'moe_requests_total{expert="sql"} 1.0', 'moe_tokens_total{expert="composed",kind="prompt"} 2.0',
                 'moe_tokens_total{expert="base",kind="prompt"} 5.0',
                 'moe_ttft_seconds_count{expert="base"} 1.0', 'moe_ttft_seconds_bucket{expert="base",le="0.05"} 1.0',
                 'moe_request_latency_seconds_count{expert="base"} 1.0',
                 'moe_routing_decisions_total{expert="composed",strategy="semantic"} 2.0',
                 'moe_http_requests_total{method="GET",route="/items/{item_id}",status="200"} 2.0',
                 'moe_http_request_duration_seconds_count{route="/items/{item_id}"} 2.0'):
        assert line in text
    assert "moe_queue_depth" not in text  # no runtime loaded: nothing read, nothing loaded


def test_requests_served_by_a_mount_are_labelled_by_its_prefix(tmp_path: Path) -> None:
    from moe_system.server import web

    app = FastAPI()
    log = io.StringIO()
    observability.install(app, Settings(home=tmp_path), log_stream=log)
    web.mount(app)
    client = TestClient(app)
    assert [client.get(path).status_code for path in ("/static/app.js", "/static/nope.js", "/nothing")] == [
        200, 404, 404]
    routes = [json.loads(line)["route"] for line in log.getvalue().splitlines()]
    assert routes == ["/static/{path}", "/static/{path}", "unmatched"]


def test_a_full_disk_is_a_507_and_any_other_failure_a_bare_500(tmp_path: Path) -> None:
    app = App(tmp_path)
    app.app.add_exception_handler(MoEError, moe_error)

    @app.app.get("/full")
    def full() -> None:
        raise sqlite3.OperationalError("database or disk is full")

    @app.app.get("/wrapped")
    def wrapped() -> None:
        raise MoEError("cannot open the memory database") from OSError(errno.ENOSPC, "No space left on device")

    @app.app.get("/broken")
    def broken() -> None:
        raise RuntimeError("a detail of the server's")

    with TestClient(app.app, raise_server_exceptions=False) as client:
        for path in ("/full", "/wrapped", "/full"):  # the connection stays usable after a 507
            answer = client.get(path)
            assert answer.status_code == 507 and answer.json()["error"]["code"] == "insufficient_storage", path
            assert "disk is full" in answer.json()["error"]["message"]
        failed = client.get("/broken")
        assert failed.status_code == 500 and failed.json()["error"]["code"] == "internal_error"
        assert "detail" not in failed.text
