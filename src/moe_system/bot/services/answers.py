"""The model's answer to a chat message, streamed from the SDK (which decodes in its own threads, batched with every
other request) into the bot's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from moe_system.client import Conversation, Response


@dataclass
class Answer:
    """The text so far (`text`), and, once done, the SDK's `response` (its final text may differ from the streamed
    one: an expert's tool can rewrite it)."""

    text: str = ""
    response: Response | None = None


async def stream_answer(conversation: Conversation, text: str, **options: Any) -> AsyncIterator[Answer]:
    """Yields the growing answer to `text` in `conversation` (stored in its memory, as `Conversation.stream`
    does); the last item has `response` set. Errors of the SDK are raised here."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | Response | BaseException] = asyncio.Queue()

    def produce() -> None:
        try:
            stream = conversation.stream(text, **options)
            for delta in stream:
                loop.call_soon_threadsafe(queue.put_nowait, delta)
            loop.call_soon_threadsafe(queue.put_nowait, stream.finish())
        except BaseException as error:  # handed to the event loop, raised there
            loop.call_soon_threadsafe(queue.put_nowait, error)

    worker = loop.run_in_executor(None, produce)
    answer = Answer()
    try:
        while True:
            item = await queue.get()
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, Response):
                answer.response = item
                yield answer
                return
            answer.text += item
            yield answer
    finally:
        await worker
