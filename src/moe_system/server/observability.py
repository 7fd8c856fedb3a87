"""Request ids, JSON logs, limits and Prometheus metrics (to be completed)."""

from __future__ import annotations

from fastapi import FastAPI

from moe_system.client import Response
from moe_system.config import Settings


class Metrics:
    def record(self, response: Response) -> None:
        """Count one finished answer."""


def install(app: FastAPI, settings: Settings) -> None:
    app.state.metrics = Metrics()
