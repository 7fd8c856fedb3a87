"""The bot served by `moe serve` (webhook mode, `bot.webhook_url` set) instead of its own `moe bot` process: one
model and one memory for the API, the web UI and the bot.

At start (once the server's model is loaded) the bot is built over the server's `MoEClient` (`app.build`, the same
handlers and middlewares as in polling mode), its background work starts, and the webhook is registered with the Bot
API (`setWebhook` with the secret token and the update types the handlers use). Telegram then POSTs each update to
the URL's path; the route checks `X-Telegram-Bot-Api-Secret-Token` (403 otherwise), handles the update and only then
answers 200, so an update the server did not finish (a crash, a restart) is delivered again. Telegram may deliver
one twice (a timeout, then a retry): handled updates are recorded (`bot_handled_updates`) and a repeat is answered
200 without handling it again. At shutdown the background work stops; the webhook stays registered, so Telegram keeps
the updates that arrive meanwhile for the next start.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import structlog
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from moe_system.bot.app import bot_database, build, checked_token
from moe_system.bot.core.polling import handle_once
from moe_system.bot.core.store import BotStore
from moe_system.config import Settings

log = structlog.get_logger("moe_system.bot.webhook")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
KEEP_HANDLED = 100_000  # update ids kept in bot_handled_updates below the newest (Telegram retries for a day)


class Webhook:
    """An `AppExtension` of the server (see `server.app.create_app`)."""

    def __init__(self, settings: Settings) -> None:
        checked_token(settings.bot)
        assert settings.bot.webhook_url is not None and settings.bot.webhook_secret is not None  # the config says so
        self.settings = settings
        self.url, self.secret = settings.bot.webhook_url, settings.bot.webhook_secret.get_secret_value()
        self.path = urlsplit(self.url).path or "/"
        self.bot: Bot | None = None
        self.dispatcher: Dispatcher | None = None
        self.store: BotStore | None = None
        self.handled: set[int] = set()

    def install(self, app: FastAPI) -> None:
        """The webhook's route, outside the server's rate limit (Telegram paces itself; the bot's flood control
        limits each user)."""
        app.add_api_route(self.path, self.receive, methods=["POST"], include_in_schema=False)
        app.state.rate_exempt.add(self.path)

    @asynccontextmanager
    async def running(self, app: FastAPI) -> AsyncIterator[None]:
        store = BotStore(bot_database(self.settings))
        bot, dispatcher = build(self.settings, app.state.client, store)
        self.handled = await asyncio.to_thread(store.handled_updates)
        await dispatcher.emit_startup(bot=bot, **dispatcher.workflow_data)
        try:
            await bot.set_webhook(self.url, secret_token=self.secret,
                                  allowed_updates=dispatcher.resolve_used_update_types(), drop_pending_updates=False)
            self.bot, self.dispatcher, self.store = bot, dispatcher, store
            log.info("webhook set", path=self.path)
            yield
        finally:
            self.bot = self.dispatcher = None
            try:
                await dispatcher.emit_shutdown(bot=bot, **dispatcher.workflow_data)
            finally:
                await bot.session.close()
                store.close()

    async def receive(self, request: Request) -> JSONResponse:
        """One update from Telegram: handled, then answered 200 (see the module docstring)."""
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), self.secret.encode()):
            return JSONResponse({"ok": False, "description": "wrong secret token"}, status_code=403)
        bot, dispatcher, store = self.bot, self.dispatcher, self.store
        if bot is None or dispatcher is None or store is None:
            return JSONResponse({"ok": False, "description": "the bot is starting"}, status_code=503)
        try:
            update = Update.model_validate(await request.json(), context={"bot": bot})
        except (ValueError, ValidationError):
            return JSONResponse({"ok": False, "description": "not a Telegram update"}, status_code=400)
        if update.update_id not in self.handled:
            await handle_once(bot, dispatcher, store, update)
            self.handled.add(update.update_id)
            if len(self.handled) > 2 * KEEP_HANDLED:
                oldest = max(self.handled) - KEEP_HANDLED
                await asyncio.to_thread(store.confirmed, oldest)
                self.handled = {number for number in self.handled if number >= oldest}
        return JSONResponse({"ok": True})
