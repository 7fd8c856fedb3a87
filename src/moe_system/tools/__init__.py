"""Tools that finish or check an expert's answers, used by inference (the SDK) and training (evaluation, data).

An expert's manifest lists the tools its answers pass through (`"tools": ["calculator"]`, names from `TOOLS`):
`calculator` runs a math answer's program (`calculator.py`, its `solve()` layer `symbolic.py`) and shows it with the
values it computed (`math_answer.py`), `sql_check` (`sql_check.py`, `sql_schema.py`) keeps a query that checks
against the schema and runs, `python_check` (`python_check.py`, `python_examples.py`, `python_harness.py`) runs
code in the sandbox on the examples the request states. Each can also judge candidate answers (`verdict.py`) for
verified best-of-N (`vote.py`): `verifier`. `code.py` reads code out of an answer; `sandbox.py` runs untrusted
Python.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from moe_system.tools.verdict import Verdict

VerifyMany = Callable[[Sequence[str], str], list[Verdict]]

# tool name -> (module, function, whether it judges all candidates in one call: python_check runs them in one
# sandbox process); imported on first use, so that `import moe_system.tools` does not pull the sandbox in
_VERIFIERS = {"calculator": ("moe_system.tools.math_answer", "math_verdict", False),
              "sql_check": ("moe_system.tools.sql_check", "sql_verdict", False),
              "python_check": ("moe_system.tools.python_check", "python_check_many", True)}
TOOLS = tuple(_VERIFIERS)  # the tool names a manifest may list in `tools` (`experts.manifest.ToolName`)


def verifier(names: Sequence[str]) -> VerifyMany | None:
    """How the first tool of `names` that can judge answers judges several candidates of one request
    (`(answers, request) -> [Verdict, ...]`), or None when none of them can."""
    for name in names:
        if name in _VERIFIERS:
            module, function, many = _VERIFIERS[name]
            judge = getattr(importlib.import_module(module), function)
            if many:
                return judge
            return lambda answers, request: [judge(answer, request) for answer in answers]
    return None
