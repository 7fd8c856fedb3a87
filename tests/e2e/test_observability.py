"""Observability of the real server (uvicorn, embedded model): Prometheus `/metrics` after chat requests, request
ids, and the rate limit refusing a burst and letting the caller back in once its bucket refills.

    MOE_TEST_MODEL_CACHE=/tmp/rh .venv/bin/python -m pytest -q tests/e2e/test_observability.py
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from moe_system.config import Settings

pytestmark = pytest.mark.integration

KEY = "observability-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
RATE, BURST = 120, 8  # two requests a second once a burst of eight is spent


@pytest.fixture(scope="module")
def server(server_home: Path, serve: Any) -> Iterator[str]:
    settings = Settings(home=server_home, server={"api_keys": [f"{KEY}:admin"], "rate_limit_per_minute": RATE,
                                                  "rate_limit_burst": BURST})
    with serve(settings) as url:
        yield url


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_metrics_count_answers_by_expert(server: str) -> None:
    body = {"model": "base", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 4}
    for stream in (False, False, True):
        response = httpx.post(f"{server}/v1/chat/completions", json={**body, "stream": stream}, headers=AUTH,
                              timeout=120)
        assert response.status_code == 200, response.text
    assert httpx.get(f"{server}/metrics").status_code == 401
    scraped = httpx.get(f"{server}/metrics", headers={**AUTH, "X-Request-ID": "scrape-1"})
    assert scraped.status_code == 200 and scraped.headers["x-request-id"] == "scrape-1"
    assert scraped.headers["content-type"].startswith("text/plain")
    values = samples(scraped.text)
    base = (("expert", "base"),)
    assert values[("moe_requests_total", base)] == 3
    assert values[("moe_ttft_seconds_count", base)] == 3 and values[("moe_ttft_seconds_sum", base)] > 0
    assert values[("moe_request_latency_seconds_count", base)] == 3
    assert values[("moe_tokens_total", (("expert", "base"), ("kind", "completion")))] >= 3
    assert values[("moe_routing_decisions_total", (("expert", "base"), ("strategy", "explicit")))] == 3
    assert values[("moe_queue_depth", ())] == 0 and values[("moe_batch_active", ())] == 0
    assert ("moe_adapter_loads_total", ()) in values and ("moe_adapter_cache_hits_total", ()) in values
    http = ("moe_http_requests_total", (("method", "POST"), ("route", "/v1/chat/completions"), ("status", "200")))
    assert values[http] == 3


def test_a_burst_over_the_rate_limit_is_refused_then_let_back_in(server: str) -> None:
    statuses = []
    with httpx.Client(base_url=server, headers=AUTH) as client:
        for _ in range(BURST + 4):
            response = client.get("/v1/models")
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
        assert statuses[-1] == 429 and set(statuses[:-1]) == {200}, statuses
        error = response.json()["error"]
        assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
        assert client.get("/healthz").status_code == 200  # never limited
        retry = int(response.headers["retry-after"])
        assert retry == 1  # the next token is at most half a second away, rounded up
        time.sleep(retry)
        assert client.get("/v1/models").status_code == 200
