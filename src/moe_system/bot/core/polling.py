"""Long polling that confirms an update to the Bot API only once it is handled (`Poller`).

Telegram keeps an update until a getUpdates call asks for a later offset. aiogram's own polling asks for the next
offset as soon as it has *received* an update, so one still being handled when the process dies is lost. Here the
offset asked for never passes the oldest update still in hand: after a crash Telegram hands that one, and every
later one, out again. An update handled out of order (another chat's, finished while an older one still runs) is
recorded in the bot's store until confirmed (`bot_handled_updates`), so when it comes again it is skipped, not
handled twice. SIGTERM / SIGINT stop the fetching; the updates in hand get `grace_s` to finish; what is still
running then is cancelled and handed back (never confirmed, it comes again at the next start); the rest is
confirmed before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.types import Update

from moe_system.bot.core.store import BotStore

log = structlog.get_logger("moe_system.bot.polling")
MAX_BACKOFF_S = 30.0


class Poller:
    """Feeds `dispatcher` the updates of `bot`, each in a task of its own (one chat's stay in order through the
    `ChatOrder` middleware); see the module docstring. `idle_s`: how often the Bot API is asked for new updates
    while some are in hand (it answers at once then: the ones in hand are still unconfirmed)."""

    def __init__(self, bot: Bot, dispatcher: Dispatcher, store: BotStore, poll_timeout: int = 10,
                 grace_s: float = 30.0, idle_s: float = 0.2) -> None:
        self.bot, self.dispatcher, self.store = bot, dispatcher, store
        self.poll_timeout, self.grace_s, self.idle_s = poll_timeout, grace_s, idle_s
        self.in_hand: dict[int, asyncio.Task[None]] = {}
        self.handled: set[int] = set()
        self.newest: int | None = None  # the latest update id handed out

    def offset(self) -> int | None:
        """What to confirm: everything before the oldest update in hand, else everything handed out."""
        if self.in_hand:
            return min(self.in_hand)
        return None if self.newest is None else self.newest + 1

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set, then finish (see the module docstring)."""
        self.handled = await asyncio.to_thread(self.store.handled_updates)
        allowed = self.dispatcher.resolve_used_update_types()
        stopping = asyncio.ensure_future(stop.wait())
        backoff = 1.0
        try:
            while not stop.is_set():
                offset = self.offset()
                fetch = asyncio.ensure_future(self.bot.get_updates(
                    offset=offset, timeout=0 if self.in_hand else self.poll_timeout, allowed_updates=allowed))
                await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await fetch
                    break
                try:
                    updates = fetch.result()
                except TelegramRetryAfter as error:
                    await asyncio.wait({stopping}, timeout=error.retry_after)
                    continue
                except (TelegramNetworkError, TelegramServerError) as error:
                    log.warning("getUpdates failed", error=str(error), retry_in_s=backoff)
                    await asyncio.wait({stopping}, timeout=backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    continue
                backoff = 1.0
                if offset is not None:
                    await self._confirmed(offset)
                fresh = self._take(updates)
                if not fresh and self.in_hand:
                    await asyncio.wait({*self.in_hand.values(), stopping}, timeout=self.idle_s,
                                       return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            await self._finish()

    def _take(self, updates: list[Update]) -> list[Update]:
        """Start a task for each update not in hand or handled already; returns those."""
        fresh = []
        for update in updates:
            number = update.update_id
            self.newest = number if self.newest is None else max(self.newest, number)
            if number in self.in_hand or number in self.handled:
                continue
            fresh.append(update)
            self.in_hand[number] = asyncio.create_task(self._handle(update), name=f"update-{number}")
        return fresh

    async def _handle(self, update: Update) -> None:
        await handle_once(self.bot, self.dispatcher, self.store, update)  # cancelled: stays in hand, handed back
        self.handled.add(update.update_id)
        self.in_hand.pop(update.update_id, None)

    async def _confirmed(self, offset: int) -> None:
        await asyncio.to_thread(self.store.confirmed, offset)
        self.handled = {number for number in self.handled if number >= offset}

    async def _finish(self) -> None:
        """Let the updates in hand finish for `grace_s`, hand back the rest, confirm what was handled."""
        if self.in_hand:
            _, running = await asyncio.wait(set(self.in_hand.values()), timeout=self.grace_s)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            if running:
                log.warning("handed back unfinished updates", count=len(running))
        offset = self.offset()
        if offset is not None:
            with contextlib.suppress(TelegramNetworkError, TelegramServerError, TelegramRetryAfter):
                await self.bot.get_updates(offset=offset, timeout=0, limit=1)
                await self._confirmed(offset)


async def handle_once(bot: Bot, dispatcher: Dispatcher, store: BotStore, update: Update) -> None:
    """Feed `update` to `dispatcher`, then record it handled (`bot_handled_updates`) so a repeat is skipped. A
    handler's error is counted and logged by the Observer and logged here: a failed update is not handled again. Both
    polling and the webhook (`bot/webhook.py`) handle updates this way."""
    try:
        await dispatcher.feed_update(bot, update)
    except Exception as error:
        log.warning("update failed", update_id=update.update_id, error=f"{type(error).__name__}: {error}")
    recording = asyncio.ensure_future(asyncio.to_thread(store.mark_handled, update.update_id))
    try:
        await asyncio.shield(recording)
    except asyncio.CancelledError:
        await recording  # handled, so recorded even when shutdown cancels the task now: a repeat is then skipped
        raise


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set `stop` (where the loop supports signal handlers)."""
    import signal

    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(number, stop.set)
