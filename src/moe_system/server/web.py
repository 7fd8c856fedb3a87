"""The web UI at `/` (to be completed)."""

from __future__ import annotations

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Serve the UI's static files."""
