"""Tools that finish or check an expert's answers, used by inference (the SDK) and training (evaluation, data).

An expert's manifest lists the tools its answers pass through (`"tools": ["calculator"]`, names from `TOOLS`):
`calculator` (`calculator.py`) runs a math answer's program, `sql_check` (`sql_check.py`) keeps a query that
runs on the schema. `code.py` reads code out of an answer; `sandbox.py` runs untrusted Python.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moe_system.tools.calculator import math_tool
from moe_system.tools.sql_check import sql_tool

# Tool names a manifest may list in `tools` (see `moe_system.experts.manifest.ToolName`).
TOOLS: dict[str, Callable[..., Any]] = {"calculator": math_tool, "sql_check": sql_tool}
