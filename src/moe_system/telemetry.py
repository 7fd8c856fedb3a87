"""What every interface (server, bot) logs and counts the same way: structured log lines of a logger of their own
(`structured_logger`) and the `expert` label of their metrics (`expert_label`)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

import structlog


def log_processors(json_lines: bool, colors: bool = False) -> list[Any]:
    """The processors of a log line: context variables, level, UTC timestamp, then JSON or a console line."""
    renderer: Any = structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer(colors=colors)
    return [structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True), renderer]


def structured_logger(json_lines: bool, stream: TextIO | None = None) -> Any:
    """A structlog logger of its own writing to `stream` (default stderr): JSON lines, or console lines. Its own, so
    structlog's and `logging`'s global configuration are left as they are (an app embedded in another process)."""
    stream = stream or sys.stderr
    return structlog.wrap_logger(structlog.WriteLogger(stream), processors=log_processors(json_lines, stream.isatty()))


def configure_process_logs(json_lines: bool, stream: TextIO | None = None) -> None:
    """Make every structlog logger of this process write `log_processors` lines to `stream` (default stderr): for a
    process that is only this interface (`moe bot`)."""
    stream = stream or sys.stderr
    structlog.configure(processors=log_processors(json_lines, stream.isatty()),
                        logger_factory=structlog.WriteLoggerFactory(stream), cache_logger_on_first_use=False)


def expert_label(expert: str | None) -> str:
    """The `expert` label of an answer by `expert` (`Response.expert`). An answer names only experts the registry
    found (an unknown name fails the request first), so a request cannot add label values beyond the installed
    names, "base" and "composed"."""
    if not expert:
        return "base"
    return "composed" if "," in expert else expert.partition("@")[0]
