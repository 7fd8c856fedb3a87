"""The bot process: one `MoEClient` (model loaded once, requests from every chat decoded together), aiogram's Bot on
the configured Bot API server, and long polling that confirms an update once it is handled (`core/polling.py`).

    moe bot                      # MOE_BOT__TOKEN=123:ABC..., optionally MOE_BOT__API_BASE=http://127.0.0.1:8081
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError
from aiogram.utils.token import TokenValidationError, validate_token
from prometheus_client import start_http_server

from moe_system.bot.core.observe import BotMetrics, Observer
from moe_system.bot.core.ordering import ChatOrder
from moe_system.bot.core.polling import Poller, install_stop_signals
from moe_system.bot.core.store import BotStore
from moe_system.bot.core.throttle import Banned, Throttle
from moe_system.bot.handlers import routers
from moe_system.bot.handlers.commands import COMMANDS
from moe_system.bot.plugins import PluginContext, load_plugins
from moe_system.bot.services.broadcast import Broadcaster
from moe_system.bot.services.voice import Transcriber
from moe_system.client import MoEClient
from moe_system.config import BotSettings, Settings
from moe_system.errors import ConfigError
from moe_system.memory.stores import is_postgres, sqlite_path
from moe_system.telemetry import configure_process_logs


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


def bot_database(settings: Settings) -> Path:
    """Where the bot's tables live: the memory's SQLite file; beside it, in `MOE_HOME/memory/bot.db`, when the memory
    is on PostgreSQL (the bot's tables are SQLite only so far)."""
    target = settings.memory.database_url or str(settings.home / "memory")
    return settings.home / "memory" / "bot.db" if is_postgres(target) else sqlite_path(target)


def build(settings: Settings, client: MoEClient, store: BotStore) -> tuple[Bot, Dispatcher]:
    """The Bot on `bot.api_base` and a Dispatcher whose handlers get `client`, `bot_settings`, `store`, `plugins`,
    `metrics`, `transcriber` and `broadcaster`, each update observed, banned users dropped, behind the flood control,
    one chat's messages in order; the plugins' background work and the broadcasts run from start to shutdown."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.bot.api_base))
    bot = Bot(checked_token(settings.bot), session=session)
    plugins = load_plugins(PluginContext(settings.bot, store, client))
    metrics = BotMetrics()
    broadcaster = Broadcaster(store, settings.bot.broadcast_per_second)
    dispatcher = Dispatcher(client=client, bot_settings=settings.bot, store=store, plugins=plugins, metrics=metrics,
                            transcriber=Transcriber(settings.bot.voice_model), broadcaster=broadcaster)
    dispatcher.update.outer_middleware(Observer(metrics, structlog.get_logger("moe_system.bot.updates")))
    dispatcher.message.outer_middleware(Banned(store))
    dispatcher.message.outer_middleware(Throttle(settings.bot.rate_limit_per_minute))
    dispatcher.message.outer_middleware(ChatOrder())
    dispatcher.include_routers(*routers([plugin.router for plugin in plugins]))
    background: list[asyncio.Task[None]] = []

    async def start_background(bot: Bot) -> None:
        background.extend(asyncio.create_task(plugin.run(bot), name=plugin.name) for plugin in plugins)
        background.append(asyncio.create_task(broadcaster.run(bot), name="broadcasts"))

    async def stop_background() -> None:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)

    dispatcher.startup.register(start_background)
    dispatcher.shutdown.register(stop_background)
    return bot, dispatcher


async def run(settings: Settings, client: MoEClient, store: BotStore) -> None:
    """Serve updates by long polling (`core/polling.py`: an update is confirmed once handled) until SIGINT / SIGTERM,
    which end it cleanly, with a log line per update on stderr and, when `bot.metrics_port` is set, the metrics
    served on it."""
    configure_process_logs(settings.bot.log_json)
    bot, dispatcher = build(settings, client, store)
    if settings.bot.metrics_port is not None:
        try:
            start_http_server(settings.bot.metrics_port, addr="127.0.0.1", registry=dispatcher["metrics"].registry)
        except OSError as error:
            await bot.session.close()
            raise ConfigError(f"cannot serve the bot's metrics on port {settings.bot.metrics_port} "
                              f"({error.strerror}): set another bot.metrics_port") from None
    try:
        await bot.delete_webhook(drop_pending_updates=False)  # polling and a webhook exclude each other
        await bot.set_my_commands([*COMMANDS, *(command for plugin in dispatcher["plugins"]
                                                  for command in plugin.commands)])
    except TelegramUnauthorizedError:
        await bot.session.close()
        raise ConfigError(f"the Bot API server at {settings.bot.api_base} refused the token (401 Unauthorized): check "
                          "MOE_BOT__TOKEN") from None
    except TelegramNetworkError as error:
        await bot.session.close()
        raise ConfigError(f"cannot reach the Bot API server at {settings.bot.api_base} ({error.message}): check "
                          "MOE_BOT__API_BASE and the network") from None
    stop = asyncio.Event()
    install_stop_signals(stop)
    await dispatcher.emit_startup(bot=bot, **dispatcher.workflow_data)
    try:
        await Poller(bot, dispatcher, store).run(stop)
    finally:
        try:
            await dispatcher.emit_shutdown(bot=bot, **dispatcher.workflow_data)
        finally:
            await bot.session.close()
