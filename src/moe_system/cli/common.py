"""Helpers shared by CLI commands: consoles, JSON output, client construction, the expert option."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from moe_system.errors import InvalidRequestError

out = Console(soft_wrap=True, highlight=False)  # answers and JSON: stdout
err = Console(stderr=True, highlight=False, soft_wrap=True)  # progress, status, errors: stderr


def print_json(data: Any) -> None:
    """Exactly one JSON document on stdout (no rich markup, no wrapping)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def parse_expert(value: str) -> str | list[str] | dict[str, float] | None:
    """`auto`, `none`, `NAME`, `A,B` or `A=0.7,B=0.3` -> the SDK's `expert=` argument."""
    value = value.strip()
    if value in {"auto", "none", ""}:
        return None if value in {"none", ""} else "auto"
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if all("=" in p for p in parts):
        try:
            return {name.strip(): float(weight) for name, weight in (p.split("=", 1) for p in parts)}
        except ValueError as error:
            raise InvalidRequestError(f"bad expert weight in '{value}': use NAME=0.5") from error
    if any("=" in p for p in parts):
        raise InvalidRequestError(f"mix of weighted and unweighted experts in '{value}'")
    return parts[0] if len(parts) == 1 else parts


def make_client() -> Any:
    from moe_system.client import MoEClient

    return MoEClient(console=err)
