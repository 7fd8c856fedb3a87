"""aiogram routers, one module per kind of update; `routers()` lists them in the order they are tried."""

from __future__ import annotations

from aiogram import Router

from moe_system.bot.handlers import admin, chat, commands, documents, preferences, voice


def routers(plugins: list[Router]) -> list[Router]:
    """Commands first, so that `/help` is never taken for a question; then the plugins' routers (their commands and
    message hooks); the model answers what is left."""
    return [commands.router, admin.router, preferences.router, documents.router, voice.router, *plugins,
            chat.router]
