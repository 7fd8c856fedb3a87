"""Prometheus metrics of one app, served at `GET /metrics` (text format; needs an admin key when the server has keys).

    curl -H "Authorization: Bearer $KEY" http://127.0.0.1:8000/metrics

Every app has its own `CollectorRegistry` (never the process-global one: tests build many apps in one process).
The `expert` label is the expert that answered (its name, without a pinned `@version`), "base" for the base model,
"composed" for several experts at once (`expert_label`): one value per installed expert, never one per combination.

- Answers (`Metrics.record`, called by every route once an answer finishes): `moe_requests_total{expert}`,
  `moe_tokens_total{expert,kind}` (kind "prompt" | "completion"), `moe_ttft_seconds{expert}` and
  `moe_request_latency_seconds{expert}` (histograms), `moe_routing_decisions_total{expert,strategy}`.
- HTTP (`Metrics.observe_http`, called by the request middleware): `moe_http_requests_total{method,route,status}`
  and `moe_http_request_duration_seconds{route}`, labelled by route template (`/conversations/{conversation_id}`),
  never the raw path, so the number of series stays bounded.
- Read at scrape time from the loaded runtime (absent until the model is loaded; a scrape never loads it):
  `moe_queue_depth` and `moe_batch_active` (the batching scheduler), `moe_adapter_loads_total` (expert cache
  misses) and `moe_adapter_cache_hits_total`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response as HTTPResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from moe_system.client import Response
from moe_system.server.auth import CurrentCaller
from moe_system.telemetry import expert_label

TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

router = APIRouter(tags=["observability"])


class Metrics:
    """The metrics of one app; `runtime` returns the loaded `Runtime`, or None while none is loaded."""

    def __init__(self, runtime: Callable[[], Any] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("moe_requests", "Answers finished", ["expert"], registry=self.registry)
        self.tokens = Counter("moe_tokens", "Tokens of finished answers", ["expert", "kind"], registry=self.registry)
        self.ttft = Histogram("moe_ttft_seconds", "Time to the first token (prefill included)", ["expert"],
                              buckets=TTFT_BUCKETS, registry=self.registry)
        self.latency = Histogram("moe_request_latency_seconds", "Time to the whole answer", ["expert"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.routing = Counter("moe_routing_decisions", "Answers by who answered and how it was chosen",
                               ["expert", "strategy"], registry=self.registry)
        self.http_requests = Counter("moe_http_requests", "HTTP requests and WebSocket sessions",
                                     ["method", "route", "status"], registry=self.registry)
        self.http_duration = Histogram("moe_http_request_duration_seconds", "Time from request to last byte",
                                       ["route"], buckets=HTTP_BUCKETS, registry=self.registry)
        if runtime is not None:
            self.registry.register(RuntimeCollector(runtime))

    def record(self, response: Response) -> None:
        """Count one finished answer."""
        expert = expert_label(response.expert)
        self.requests.labels(expert).inc()
        for kind in ("prompt", "completion"):
            self.tokens.labels(expert, kind).inc(response.usage.get(f"{kind}_tokens", 0))
        self.ttft.labels(expert).observe(response.timings.get("ttft_ms", 0.0) / 1000)
        self.latency.labels(expert).observe(response.timings.get("total_ms", 0.0) / 1000)
        self.routing.labels(expert, str(response.routing.get("strategy") or "none")).inc()

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one HTTP request (or WebSocket session, method "WS") by its route template."""
        self.http_requests.labels(method, route, str(status)).inc()
        if method != "WS":  # a session's length is not a request's latency
            self.http_duration.labels(route).observe(seconds)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


class RuntimeCollector(Collector):
    """Scheduler and expert-cache numbers, read from the runtime when scraped."""

    def __init__(self, runtime: Callable[[], Any]) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        runtime = self.runtime()
        if runtime is None:
            return
        scheduler = runtime.scheduler(runtime.engine)
        yield GaugeMetricFamily("moe_queue_depth", "Requests waiting for a batch row", value=scheduler.queued)
        yield GaugeMetricFamily("moe_batch_active", "Requests decoding now", value=scheduler.active)
        stats = runtime.experts.stats
        yield CounterMetricFamily("moe_adapter_loads", "Expert adapters read from disk (cache misses)",
                                  value=stats.misses)
        yield CounterMetricFamily("moe_adapter_cache_hits", "Expert adapters found loaded", value=stats.hits)


@router.get("/metrics", response_class=HTTPResponse)
def metrics(request: Request, caller: CurrentCaller) -> HTTPResponse:
    """Prometheus metrics (text exposition format); an admin key's (the whole server's traffic)."""
    caller.require_admin("reading the server's metrics")
    return HTTPResponse(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
