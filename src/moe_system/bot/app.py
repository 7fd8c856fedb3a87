"""The bot process: one `MoEClient` (model loaded once, requests from every chat decoded together), aiogram's Bot on
the configured Bot API server, and the Dispatcher's long polling.

    moe bot                      # MOE_BOT__TOKEN=123:ABC..., optionally MOE_BOT__API_BASE=http://127.0.0.1:8081
"""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError
from aiogram.utils.token import TokenValidationError, validate_token

from moe_system.bot.handlers import routers
from moe_system.bot.handlers.commands import COMMANDS
from moe_system.client import MoEClient
from moe_system.config import BotSettings
from moe_system.errors import ConfigError


def checked_token(settings: BotSettings) -> str:
    """The bot's token, or a `ConfigError` saying what is wrong with it (one line, before anything loads)."""
    if settings.token is None or not settings.token.get_secret_value().strip():
        raise ConfigError("bot.token is not set: create a bot with @BotFather and set MOE_BOT__TOKEN=<its token>")
    token = settings.token.get_secret_value().strip()
    try:
        validate_token(token)
    except TokenValidationError:
        raise ConfigError("bot.token is malformed: a Bot API token looks like 123456789:AAH... (digits, a colon, "
                          "then letters); copy it again from @BotFather") from None
    return token


def build(settings: BotSettings, client: MoEClient) -> tuple[Bot, Dispatcher]:
    """The Bot on `settings.api_base` and a Dispatcher whose handlers get `client` and `bot_settings`."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.api_base))
    bot = Bot(checked_token(settings), session=session)
    dispatcher = Dispatcher(client=client, bot_settings=settings)
    dispatcher.include_routers(*routers())
    return bot, dispatcher


async def run(settings: BotSettings, client: MoEClient) -> None:
    """Serve updates by long polling until interrupted (SIGINT / SIGTERM end it cleanly)."""
    bot, dispatcher = build(settings, client)
    try:
        await bot.delete_webhook(drop_pending_updates=False)  # polling and a webhook exclude each other
        await bot.set_my_commands(COMMANDS)
    except TelegramUnauthorizedError:
        await bot.session.close()
        raise ConfigError(f"the Bot API server at {settings.api_base} refused the token (401 Unauthorized): check "
                          "MOE_BOT__TOKEN") from None
    except TelegramNetworkError as error:
        await bot.session.close()
        raise ConfigError(f"cannot reach the Bot API server at {settings.api_base} ({error.message}): check "
                          "MOE_BOT__API_BASE and the network") from None
    await dispatcher.start_polling(bot, handle_signals=True, close_bot_session=True)
