"""One structured log line and the metrics of every update the bot handles (`Observer`, an outer middleware of the
dispatcher's updates), and of every reply (`BotMetrics.replied`):

    {"event": "update", "update_id": 41, "kind": "message", "chat": 5, "user": 5, "outcome": "handled",
     "duration_ms": 812.4, "level": "info", "timestamp": "2026-12-08T01:30:00.000000Z"}

Metrics (Prometheus; `moe bot` serves them at `http://127.0.0.1:{bot.metrics_port}/metrics` when that is set):
`moe_bot_updates_total{kind,outcome}` (outcome: handled, ignored when no handler took it, error),
`moe_bot_handler_seconds{kind}` (histogram of the whole handling), `moe_bot_replies_total{expert}` and
`moe_bot_first_message_seconds` (histogram: from the update's arrival to the reply's first message in the chat).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import TelegramObject, Update
from prometheus_client import CollectorRegistry, Counter, Histogram

from moe_system.telemetry import expert_label

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class BotMetrics:
    """The bot's Prometheus metrics, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.updates = Counter("moe_bot_updates", "Updates handled", ["kind", "outcome"], registry=self.registry)
        self.handling = Histogram("moe_bot_handler_seconds", "Time to handle an update", ["kind"],
                                  buckets=LATENCY_BUCKETS, registry=self.registry)
        self.replies = Counter("moe_bot_replies", "Replies of the model sent", ["expert"], registry=self.registry)
        self.first_message = Histogram("moe_bot_first_message_seconds", "From an update's arrival to the first "
                                       "message of its reply", buckets=LATENCY_BUCKETS, registry=self.registry)

    def replied(self, expert: str | None, first_message_s: float | None) -> None:
        """Count one finished reply of `expert` (None: the base model) whose first message took `first_message_s`."""
        self.replies.labels(expert_label(expert)).inc()
        if first_message_s is not None:
            self.first_message.observe(first_message_s)


class Observer(BaseMiddleware):
    """Times and counts each update and writes its log line to `logger` (a structlog logger); an error raised by a
    handler is counted and logged, then raised on (aiogram logs it and goes on with the next update). Handlers get
    the update's arrival time as `arrived` (`time.perf_counter()`)."""

    def __init__(self, metrics: BotMetrics, logger: Any) -> None:
        self.metrics, self.logger = metrics, logger

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        started = data["arrived"] = time.perf_counter()
        kind, outcome, error = event.event_type, "handled", None
        try:
            result = await handler(event, data)
            if result is UNHANDLED:
                outcome = "ignored"
            return result
        except Exception as raised:
            outcome, error = "error", f"{type(raised).__name__}: {raised}"
            raise
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.updates.labels(kind, outcome).inc()
            self.metrics.handling.labels(kind).observe(elapsed)
            inner = event.event
            chat, user = getattr(getattr(inner, "chat", None), "id", None), getattr(getattr(inner, "from_user", None),
                                                                                    "id", None)
            fields = {"error": error} if error else {}
            self.logger.info("update", update_id=event.update_id, kind=kind, chat=chat, user=user, outcome=outcome,
                             duration_ms=round(elapsed * 1000, 1), **fields)
