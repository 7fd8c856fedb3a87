"""Helpers shared by CLI commands: consoles, JSON output, client construction."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

out = Console(soft_wrap=True, highlight=False)  # answers and JSON: stdout
err = Console(stderr=True, highlight=False, soft_wrap=True)  # progress, status, errors: stderr


def print_json(data: Any) -> None:
    """Exactly one JSON document on stdout (no rich markup, no wrapping)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def make_client(batching: bool = False) -> Any:
    from moe_system.client import MoEClient

    return MoEClient(console=err, batching=batching)
