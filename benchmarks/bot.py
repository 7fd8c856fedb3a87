"""Bot benchmark: reply latency, 50 chats at once and fact recall against the stand-in Bot API server.

    python benchmarks/bot.py [--json] [--chats 50] [--messages 500]

Same as `moe bench bot`; see `moe_system.bot.bench` for what is measured.
"""

from __future__ import annotations

import sys

from moe_system.cli import app

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "bench", "bot", *sys.argv[1:]]
    app()
