"""Soak: many concurrent streaming clients that hang up at random points, for minutes, against a real `moe serve`.

    moe bench soak --minutes 10 --json      # `make test` runs a 1-minute version (tests/e2e/test_soak.py)

The server runs as its own process (`bench.serve.running_server`: the configured `MOE_HOME`, one key, no rate limit),
or is the one at `url`. `streams` clients take turns between the OpenAI API (`POST /v1/chat/completions`,
`stream: true`) and the remembered chat (`POST /chat`, `stream: true`, a new conversation each time), and between
the models `base`, `auto` and every installed expert (so the batch mixes experts), each sending its next request as
soon as the last one ended. A client reads a request to its end one time in four; otherwise it
hangs up after a random number of streamed events, or after a random delay (which may fall before the answer's
first byte, while the request is queued or prefilled).

Measured:
- `server_errors`: answers with a 5xx status, error events of type `server_error`, and streams that broke before the
  client hung up (a transport error, or an end without `[DONE]` / a `done` event); `rejected`: 429 answers;
  `client_errors`: other 4xx answers (the soak's own mistake, a wrong `key` say).
- `requests`, `completed` (read to the end), `cancelled` (the client hung up), and `tokens_per_s`: the completion
  tokens the clients received (the usage of finished answers, one per streamed delta of the others) per second.
- `rss_mb`: the server's resident memory, its child processes included (the memory worker), sampled every second.
  Growth is the median of the last 10% of the run against the median of the 10% after the warm-up (the first 20%:
  the model's caches, the allocator's arenas and the memory index cache fill there), so single samples of a
  request's transient buffers do not decide it.
- `batch_after`: `GET /status`'s batch once the clients have stopped (polled for up to 30 s): `active` and `queued`
  must both come back to 0, i.e. every cancelled row was freed.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext, suppress
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

from moe_system.bench.common import PROMPTS, cpu_model
from moe_system.bench.serve import KEY, running_server, served_models
from moe_system.config import Settings

WARMUP = 0.2  # the share of the run before memory is compared
WINDOW = 0.1  # the share of the run each compared RSS median covers
READ_TO_END = 0.25  # the share of requests read to the end


def run(settings: Settings, minutes: float = 10.0, streams: int = 32, max_tokens: int = 64, url: str | None = None,
        key: str | None = None, seed: int = 0, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Start a server on `settings.home` (or use the one at `url`, with `key`), run `streams` hanging-up clients for
    `minutes`, then check that the batch drained; stop the server."""
    started: AbstractContextManager[tuple[str, Any]] = (
        running_server(settings) if url is None else nullcontext((url.rstrip("/"), None)))
    with started as (base, process):
        token = KEY if url is None else key
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        pid = process.pid if process is not None else _listening_pid(base)
        sampler = _RssSampler(pid)
        models = served_models(base, headers)
        progress(f"{streams} streams for {minutes:g} min")
        sampler.start()
        try:
            load = asyncio.run(_load(base, headers, streams, minutes * 60, max_tokens, models, seed))
        finally:
            sampler.stop()
        progress("waiting for the batch to drain")
        batch, freed_after = _drained(base, headers)
        status = httpx.get(f"{base}/status", headers=headers, timeout=30).json()
    return {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "model": status["model"], "backend": status["backend"],
            "models": models, "streams": streams, "minutes": minutes, "max_tokens": max_tokens, **load,
            "rss_mb": sampler.summary(load["duration_s"]), "batch_after": batch,
            "rows_freed": batch["active"] == 0 and batch["queued"] == 0, "freed_after_s": freed_after}


# ---- the clients

async def _load(url: str, headers: dict[str, str], streams: int, duration_s: float, max_tokens: int,
                models: list[str], seed: int) -> dict[str, Any]:
    counts = dict.fromkeys(("requests", "completed", "cancelled", "rejected", "client_errors", "server_errors",
                            "tokens"), 0)
    errors: list[str] = []
    limits = httpx.Limits(max_connections=streams + 4, max_keepalive_connections=streams + 4)
    started = time.perf_counter()
    end = started + duration_s
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=600) as http:

        async def client(index: int) -> None:
            rng = random.Random(seed * 100_003 + index)
            turn = 0
            while time.perf_counter() < end:
                n = index + streams * turn
                outcome, tokens, error = await _one(http, rng, n, max_tokens, models[n // 2 % len(models)])
                counts["requests"] += 1
                counts[outcome] += 1
                counts["tokens"] += tokens
                if error is not None:
                    errors.append(error)
                turn += 1

        await asyncio.gather(*(client(i) for i in range(streams)))
    elapsed = time.perf_counter() - started
    return {**counts, "duration_s": round(elapsed, 1), "tokens_per_s": round(counts["tokens"] / elapsed, 2),
            "error_examples": sorted(set(errors))[:5]}


async def _one(http: httpx.AsyncClient, rng: random.Random, n: int, max_tokens: int,
               model: str) -> tuple[str, int, str | None]:
    """One streamed request for `model` that hangs up at a random point: (outcome, completion tokens received,
    error)."""
    openai = n % 2 == 0
    prompt = PROMPTS[n % len(PROMPTS)]
    if openai:
        path = "/v1/chat/completions"
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}],
                                "stream_options": {"include_usage": True}}
    else:
        path, body = "/chat", {"model": model, "message": prompt}
    body |= {"max_tokens": max_tokens, "temperature": 0.7, "seed": n, "stream": True}
    roll = rng.random()
    after_events = rng.randrange(max_tokens // 2 + 1) if READ_TO_END <= roll < 0.75 else None
    after_s = rng.uniform(0.0, 2.0) if roll >= 0.75 else None
    seen = {"events": 0, "tokens": 0, "done": False}

    async def read() -> str | None:
        async with http.stream("POST", path, json=body) as response:
            if response.status_code == 429:
                return "rejected"
            if response.status_code != 200:
                return f"HTTP {response.status_code}"
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    seen["done"] = True
                    return None
                event = json.loads(line[6:])
                if event.get("type") == "error":
                    return f"error event: {event['error']['message']}"
                seen["events"] += 1
                if openai:
                    seen["tokens"] += 1 if any(c["delta"].get("content") for c in event["choices"]) else 0
                    if event.get("usage"):
                        seen["tokens"] = event["usage"]["completion_tokens"]
                elif event["type"] == "delta":
                    seen["tokens"] += 1
                elif event["type"] == "done":
                    seen["tokens"], seen["done"] = event["usage"]["completion_tokens"], True
                    return None
                if after_events is not None and seen["events"] > after_events:
                    return "hung up"  # leaving the `async with` closes the connection mid-stream
            return "stream ended without its last event"

    try:
        result = await (read() if after_s is None else asyncio.wait_for(read(), after_s))
    except TimeoutError:
        result = "hung up"
    except (httpx.HTTPError, json.JSONDecodeError, KeyError) as error:
        result = type(error).__name__
    if result is None:
        return "completed", int(seen["tokens"]), None
    if result in ("rejected", "hung up"):
        return "rejected" if result == "rejected" else "cancelled", int(seen["tokens"]), None
    if result.startswith("HTTP 4"):  # a refused request (a wrong key, say): the soak's mistake, not the server's
        return "client_errors", 0, f"{path}: {result}"
    return "server_errors", int(seen["tokens"]), f"{path}: {result}"


# ---- the server's side

def _drained(url: str, headers: dict[str, str], timeout_s: float = 30.0) -> tuple[dict[str, int], float]:
    """Poll `/status` until no row is active or queued (or `timeout_s` passed): (its batch, seconds it took)."""
    started = time.monotonic()
    while True:
        batch = httpx.get(f"{url}/status", headers=headers, timeout=30).json()["batch"]
        waited = time.monotonic() - started
        if (batch["active"] == 0 and batch["queued"] == 0) or waited > timeout_s:
            return batch, round(waited, 1)
        time.sleep(0.5)


def _listening_pid(url: str) -> int | None:
    """The process listening on `url`'s port on this machine, when it is ours to see (else None: no RSS)."""
    port = urlsplit(url).port
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return conn.pid
    except psutil.Error:
        pass
    return None


class _RssSampler:
    """The resident memory of a process and its children, sampled every `every_s` seconds in a thread."""

    def __init__(self, pid: int | None, every_s: float = 1.0) -> None:
        self.pid, self.every_s = pid, every_s
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> None:
        if self.pid is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _sample(self) -> None:
        assert self.pid is not None
        root = psutil.Process(self.pid)
        started = time.perf_counter()
        while not self._stop.is_set():
            total = 0
            for proc in (root, *root.children(recursive=True)):
                with suppress(psutil.Error):  # a child that just ended
                    total += proc.memory_info().rss
            self.samples.append((time.perf_counter() - started, total / 2**20))
            self._stop.wait(self.every_s)

    def summary(self, duration_s: float) -> dict[str, Any]:
        """Start, post-warm-up and end medians, the peak, and the growth between the last two (percent)."""
        if not self.samples:
            return {"samples": 0, "growth_pct": None}

        def median_of(low: float, high: float) -> float:
            window = [mb for t, mb in self.samples if low * duration_s <= t <= high * duration_s]
            return statistics.median(window or [mb for _, mb in self.samples])

        after_warmup, end = median_of(WARMUP, WARMUP + WINDOW), median_of(1 - WINDOW, 1.0)
        return {"samples": len(self.samples), "start": round(self.samples[0][1], 1),
                "after_warmup": round(after_warmup, 1), "end": round(end, 1),
                "max": round(max(mb for _, mb in self.samples), 1),
                "growth_pct": round((end - after_warmup) / after_warmup * 100, 2)}
