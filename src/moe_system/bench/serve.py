"""Serving under load: many concurrent streaming clients against a real `moe serve`, against one stream alone.

    moe bench serve --json            # or: python benchmarks/serve.py --json

The server runs as its own process (`moe serve` on a free port, the configured `MOE_HOME`, one API key, no rate
limit), so the load generator does not share its interpreter. The clients speak the OpenAI streaming API
(`POST /v1/chat/completions`, `stream: true`, `include_usage`) from one asyncio loop; the models they ask for take
turns between `base`, `auto` and every installed expert, so the batch mixes experts.

Measured:
- `single`: one client alone, one request after another for `single_s` seconds: completion tokens / wall time
  (`tokens_per_s`), and TTFT.
- `load`: `clients` clients, each sending its next request as soon as the last one ended, for `duration_s`
  seconds: requests, errors (a status other than 200, a broken stream, a stream without `[DONE]`), TTFT p50/p95/p99
  (request sent to first text), latency, and the aggregate completion tokens / duration.
- `engine_ttft_mean_ms`: the server's own mean TTFT over the load (`moe_ttft_seconds` of `/metrics`: arrival at
  the engine's scheduler to the first token); the rest of the client's TTFT is HTTP, routing and prompt building.
- `speedup` = aggregate ÷ single tokens/s: what continuous batching buys (the peer is the same server serving one
  stream).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from moe_system.bench.common import PROMPTS, cpu_model, free_port, percentile, stop_process
from moe_system.config import Settings
from moe_system.errors import MoEError

KEY = "bench-serve-key"


def run(settings: Settings, clients: int = 32, duration_s: float = 120.0, single_s: float = 30.0,
        max_tokens: int = 64, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Start a server on `settings.home`, measure one stream, then `clients` streams; stop the server."""
    with running_server(settings) as (url, _):
        models = served_models(url, _auth())
        progress(f"one stream for {single_s:.0f} s")
        single = asyncio.run(_load(url, 1, single_s, max_tokens, ["base"]))
        progress(f"{clients} streams for {duration_s:.0f} s")
        before = _engine_ttft(url)
        load = asyncio.run(_load(url, clients, duration_s, max_tokens, models))
        after = _engine_ttft(url)
        count = after[1] - before[1]
        load["engine_ttft_mean_ms"] = round((after[0] - before[0]) / count * 1000, 1) if count else None
        status = httpx.get(f"{url}/status", headers=_auth(), timeout=30).json()
    speedup = load["tokens_per_s"] / single["tokens_per_s"] if single["tokens_per_s"] else None
    return {"cpu": cpu_model(), "model": status["model"], "backend": status["backend"],
            "max_batch": status["batch"]["max_batch"],
            "max_tokens": max_tokens, "models": models, "single": single, "load": load,
            "speedup": round(speedup, 2) if speedup else None, "cpu_count": os.cpu_count()}


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}"}


@contextmanager
def running_server(settings: Settings) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`moe serve` in a child process on a free port, one key (`KEY`), no rate limit: yields (its URL, the process)
    once it answers; its log goes to a temporary file (shown if it fails)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOE_") or k == "MOE_CONFIG"} | {
        "MOE_HOME": str(settings.home), "MOE_API_KEYS": KEY, "MOE_SERVER__RATE_LIMIT_PER_MINUTE": "0"}
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen([sys.executable, "-m", "moe_system.cli", "serve", "--port", str(port)],
                                   env=env, stdout=log, stderr=log, text=True)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 300
            while not _healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise MoEError(f"the server did not start; its log:\n{log.read()[-3000:]}")
                time.sleep(0.5)
            yield url, process
        finally:
            stop_process(process)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _engine_ttft(url: str) -> tuple[float, float]:
    """(sum of seconds, count) of the server's `moe_ttft_seconds` over every expert: the engine's own time to
    first token (arrival at the scheduler to the first token), without HTTP."""
    text = httpx.get(f"{url}/metrics", headers=_auth(), timeout=30).text
    total = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("moe_ttft_seconds_sum"))
    count = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line.startswith("moe_ttft_seconds_count"))
    return total, count


def served_models(url: str, headers: dict[str, str]) -> list[str]:
    """`base`, `auto` and the installed experts: the models the clients take turns asking for."""
    listed = httpx.get(f"{url}/v1/models", headers=headers, timeout=30).json()["data"]
    return ["base", "auto", *sorted(m["id"] for m in listed if m["id"] not in ("auto", "base"))]


async def _load(url: str, clients: int, duration_s: float, max_tokens: int, models: list[str]) -> dict[str, Any]:
    """`clients` concurrent clients, each streaming one request after another until `duration_s` has passed."""
    results: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    started = time.perf_counter()
    end = started + duration_s
    async with httpx.AsyncClient(base_url=url, headers=_auth(), limits=limits, timeout=600) as http:

        async def client(index: int) -> None:
            turn = 0
            while time.perf_counter() < end:
                n = index + clients * turn
                body = {"model": models[n % len(models)], "max_tokens": max_tokens, "temperature": 0.7, "seed": n,
                        "messages": [{"role": "user", "content": PROMPTS[n % len(PROMPTS)]}], "stream": True,
                        "stream_options": {"include_usage": True}}
                results.append(await _one(http, body))
                turn += 1

        await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    ok = [r for r in results if r["error"] is None]
    tokens = sum(r["tokens"] for r in ok)
    errors = [r["error"] for r in results if r["error"] is not None]
    return {"clients": clients, "duration_s": round(elapsed, 1), "requests": len(results), "errors": len(errors),
            "error_examples": sorted(set(errors))[:5], "completion_tokens": tokens,
            "tokens_per_s": round(tokens / elapsed, 2),
            "ttft_ms": _percentiles([r["ttft_s"] * 1000 for r in ok if r["ttft_s"] is not None]),
            "latency_ms": _percentiles([r["total_s"] * 1000 for r in ok])}


async def _one(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """One streamed request: TTFT (to the first text), total time, completion tokens, or the error."""
    sent = time.perf_counter()
    ttft: float | None = None
    tokens, done = 0, False
    try:
        async with http.stream("POST", "/v1/chat/completions", json=body) as response:
            if response.status_code != 200:
                return {"error": f"HTTP {response.status_code}", "ttft_s": None, "total_s": 0.0, "tokens": 0}
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    done = True
                    break
                chunk = json.loads(line[6:])
                if ttft is None and any(c["delta"].get("content") for c in chunk["choices"]):
                    ttft = time.perf_counter() - sent
                if chunk.get("usage"):
                    tokens = chunk["usage"]["completion_tokens"]
    except (httpx.HTTPError, json.JSONDecodeError, KeyError) as error:
        return {"error": type(error).__name__, "ttft_s": None, "total_s": 0.0, "tokens": 0}
    if not done:
        return {"error": "stream ended without [DONE]", "ttft_s": None, "total_s": 0.0, "tokens": 0}
    return {"error": None, "ttft_s": ttft, "total_s": time.perf_counter() - sent, "tokens": tokens}


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    return {"p50": round(percentile(values, 0.5), 1), "p95": round(percentile(values, 0.95), 1),
            "p99": round(percentile(values, 0.99), 1), "max": round(max(values), 1)}
