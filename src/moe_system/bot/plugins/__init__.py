"""Bot plugins, found through the entry points of group `moe_system.bot_plugins` (this package's own `reminders`,
and any installed package's): each entry point names a factory `(PluginContext) -> Plugin`. A plugin has a name, a
description and commands (listed by /help and registered with Telegram), a router with its command handlers and
message hook (tried before the model answers), and optionally background work that runs while the bot does.

    [project.entry-points."moe_system.bot_plugins"]
    weather = "my_package.weather:plugin"
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol

import structlog
from aiogram import Bot, Router
from aiogram.types import BotCommand

from moe_system.bot.core.store import BotStore
from moe_system.client import MoEClient
from moe_system.config import BotSettings

GROUP = "moe_system.bot_plugins"
log = structlog.get_logger("moe_system.bot")


@dataclass(frozen=True)
class PluginContext:
    """What a plugin may use: the bot's settings, its tables and the SDK client."""

    settings: BotSettings
    store: BotStore
    client: MoEClient


class Plugin(Protocol):
    name: str
    description: str
    commands: Sequence[BotCommand]
    router: Router

    async def run(self, bot: Bot) -> None:
        """Background work until cancelled (return at once when there is none)."""


def load_plugins(context: PluginContext,
                 found: Callable[[], Sequence[object]] = lambda: list(entry_points(group=GROUP))) -> list[Plugin]:
    """Every plugin the installed packages declare, by name; one that fails to load is left out with a log line
    (a broken third-party plugin must not stop the bot)."""
    plugins: dict[str, Plugin] = {}
    for point in found():
        name = getattr(point, "name", "?")
        try:
            plugin = point.load()(context)  # type: ignore[attr-defined]
        except Exception as error:  # any failure of foreign code: reported, skipped
            log.error("plugin not loaded", plugin=name, error=f"{type(error).__name__}: {error}")
            continue
        plugins[plugin.name] = plugin
    return [plugins[name] for name in sorted(plugins)]
