"""`/train`: background training jobs (to be completed)."""

from __future__ import annotations

from fastapi import APIRouter

from moe_system.config import Settings

router = APIRouter(tags=["training"])


class JobManager:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def close(self) -> None:
        """Stop watching the jobs."""
