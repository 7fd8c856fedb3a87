"""`moe bot`: the Telegram bot, by long polling (settings in the `bot` section; README, "Telegram bot")."""

from __future__ import annotations

import asyncio

from moe_system.cli.common import err
from moe_system.errors import ConfigError


def bot() -> None:
    """Run the Telegram bot: MOE_BOT__TOKEN (from @BotFather), optionally MOE_BOT__API_BASE (a Bot API server)."""
    from moe_system.bot.app import bot_database, checked_token, run
    from moe_system.bot.core.store import BotStore
    from moe_system.client import MoEClient
    from moe_system.config import load_settings

    settings = load_settings()
    checked_token(settings.bot)  # a missing or malformed token is one line, before the model loads
    if settings.bot.webhook_url:
        raise ConfigError(f"bot.webhook_url is set ({settings.bot.webhook_url}): the bot is served by `moe serve` in "
                          "webhook mode; unset it to run `moe bot` by long polling")
    client = MoEClient(settings, console=err, batching=True)
    store = BotStore(bot_database(settings))
    try:
        _ = client.runtime  # load the model before the first update
        err.print(f"moe_system bot: model loaded, polling {settings.bot.api_base}")
        asyncio.run(run(settings, client, store))
    finally:
        store.close()
        client.close()
