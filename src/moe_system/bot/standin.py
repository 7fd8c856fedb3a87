"""A local stand-in for Telegram's Bot API server: the methods the bot calls, with Telegram's semantics (long-polled
`getUpdates` whose `offset` confirms what came before, message ids per chat, "message is not modified", the
4,096-character limit, 401 for a wrong token), plus a control API through which tests and `moe bench bot` play the
users. The real aiogram client talks to it through `bot.api_base`, so everything above HTTP is the real thing.

    server = StandInBotAPI(token)
    base = await server.start()                       # "http://127.0.0.1:PORT"
    await server.say(chat_id=1, user_id=1, text="hi") # a user writes: an update for getUpdates
    reply = await server.wait_for_message(chat_id=1)  # what the bot sent

With a webhook set (`setWebhook`, as `moe serve` does in webhook mode) each update is POSTed to it with the secret
token header, retried until it answers 200, and getUpdates answers 409 Conflict, as Telegram does.

Control routes (JSON): `POST /control/say` {chat_id, user_id, text, chat_type?, first_name?, reply_to?,
document?: {name, content_base64}, voice?: {content_base64, duration}} -> the update;
`GET /control/messages?chat_id=` -> what the bot sent there, with edits applied; `GET /control/actions?chat_id=` ->
chat actions sent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

MAX_TEXT = 4096  # Telegram's limit on a message's text
Json = dict[str, Any]
T = TypeVar("T")


class BotAPIError(Exception):
    """A method call that Telegram would refuse: (status, description)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


@dataclass
class _Chat:
    chat: Json  # Telegram's Chat object
    next_message_id: int = 1
    messages: dict[int, Json] = field(default_factory=dict)  # every message of the chat, by id
    sent: list[int] = field(default_factory=list)  # ids of the bot's messages, in order
    actions: list[str] = field(default_factory=list)


class StandInBotAPI:
    """The stand-in server for one bot `token`; `bot_name` is its username."""

    def __init__(self, token: str, bot_name: str = "moe_test_bot") -> None:
        self.token = token
        self.me: Json = {"id": int(token.split(":", 1)[0]), "is_bot": True, "first_name": "MoE",
                         "username": bot_name, "can_join_groups": True, "can_read_all_group_messages": True,
                         "supports_inline_queries": False}
        self.chats: dict[int, _Chat] = {}
        self.updates: list[Json] = []  # not yet confirmed by an offset
        self.commands: list[Json] = []
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self.polls = 0  # getUpdates calls answered
        self.webhook: tuple[str, str] | None = None  # (url, secret token): updates are POSTed there, not polled
        self.deliveries: list[tuple[int, int]] = []  # (update_id, the webhook's HTTP status) of each POST
        self._delivering: set[asyncio.Task[None]] = set()
        self._next_update = itertools.count(1)
        self._next_file = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.methods: dict[str, Callable[[Json], Awaitable[Any]]] = {
            "getMe": self._get_me, "getUpdates": self._get_updates, "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text, "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands, "getFile": self._get_file, "close": self._true,
            "logOut": self._true, "setWebhook": self._set_webhook, "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }

    # ---- serving

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        app.router.add_post("/control/say", self._control_say)
        app.router.add_get("/control/messages", self._control_messages)
        app.router.add_get("/control/actions", self._control_actions)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `host:port` (0: any free port); returns the base URL to give the bot as `bot.api_base`."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        return f"http://{host}:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        handler = self.methods.get(request.match_info["method"])
        if handler is None:
            return _error(404, "Not Found")
        params: Json = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            params.update({key: value for key, value in (await request.post()).items() if isinstance(value, str)})
        try:
            result = await handler(params)
        except BotAPIError as error:
            return _error(error.status, error.description)
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        found = next((content for path, content in self.files.values() if path == request.match_info["path"]), None)
        return _error(404, "Not Found") if found is None else web.Response(body=found)

    # ---- methods

    async def _true(self, params: Json) -> bool:
        return True

    async def _get_me(self, params: Json) -> Json:
        return self.me

    async def _set_webhook(self, params: Json) -> bool:
        url, secret = str(params.get("url", "")), str(params.get("secret_token", ""))
        if not url:
            self.webhook = None
        elif not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise BotAPIError(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        else:
            self.webhook = (url, secret)
        return True

    async def _delete_webhook(self, params: Json) -> bool:
        self.webhook = None
        return True

    async def _get_webhook_info(self, params: Json) -> Json:
        pending = len(self.updates)
        return {"url": self.webhook[0] if self.webhook else "", "has_custom_certificate": False,
                "pending_update_count": pending}

    async def _deliver(self, update: Json) -> None:
        """POST `update` to the webhook as Telegram does (the secret token in a header), retrying a failed delivery
        a few times; the update stays pending until the webhook answers 200."""
        import aiohttp

        assert self.webhook is not None
        url, secret = self.webhook
        async with aiohttp.ClientSession() as session:
            for attempt in range(5):
                try:
                    async with session.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret},
                                            timeout=aiohttp.ClientTimeout(total=120)) as response:
                        self.deliveries.append((update["update_id"], response.status))
                        if response.status == 200:
                            self.updates.remove(update)
                            return
                except aiohttp.ClientError:
                    self.deliveries.append((update["update_id"], 0))
                await asyncio.sleep(0.5 * (attempt + 1))

    async def _get_updates(self, params: Json) -> list[Json]:
        if self.webhook is not None:
            raise BotAPIError(409, "Conflict: can't use getUpdates method while webhook is active; use "
                                   "deleteWebhook to delete the webhook first")
        offset = _int(params, "offset", 0)
        limit = min(max(_int(params, "limit", 100), 1), 100)
        timeout = min(max(_int(params, "timeout", 0), 0), 50)
        async with self._changed:
            if offset:
                self.updates = [update for update in self.updates if update["update_id"] >= offset]
            if not self.updates and timeout:
                with contextlib.suppress(TimeoutError):  # a long poll that ends empty
                    await asyncio.wait_for(self._changed.wait_for(lambda: bool(self.updates)), timeout)
            self.polls += 1
            return self.updates[:limit]

    def _chat(self, params: Json) -> _Chat:
        chat_id = _int(params, "chat_id")
        if chat_id not in self.chats:
            raise BotAPIError(400, "Bad Request: chat not found")
        return self.chats[chat_id]

    async def _send_message(self, params: Json) -> Json:
        chat, text = self._chat(params), _text(params)
        message = self._new_message(chat, self.me, text)
        reply_to = _reply_parameters(params)
        if reply_to is not None and reply_to in chat.messages:
            message["reply_to_message"] = chat.messages[reply_to]
        chat.sent.append(message["message_id"])
        await self._notify()
        return message

    async def _edit_message_text(self, params: Json) -> Json:
        chat, text = self._chat(params), _text(params)
        message = chat.messages.get(_int(params, "message_id"))
        if message is None:
            raise BotAPIError(400, "Bad Request: message to edit not found")
        if message["from"]["id"] != self.me["id"]:
            raise BotAPIError(400, "Bad Request: message can't be edited")
        if message.get("text") == text:
            raise BotAPIError(400, "Bad Request: message is not modified: specified new message content and reply "
                                   "markup are exactly the same as a current content and reply markup of the message")
        message.update(text=text, edit_date=int(time.time()))
        await self._notify()
        return message

    async def _send_chat_action(self, params: Json) -> bool:
        chat = self._chat(params)
        action = str(params.get("action", ""))
        if action not in {"typing", "upload_document", "record_voice", "upload_photo", "find_location"}:
            raise BotAPIError(400, "Bad Request: wrong parameter action in request")
        chat.actions.append(action)
        return True

    async def _set_my_commands(self, params: Json) -> bool:
        commands = json.loads(params.get("commands", "[]"))
        if not isinstance(commands, list) or not all(
                isinstance(c, dict) and {"command", "description"} <= set(c) for c in commands):
            raise BotAPIError(400, "Bad Request: can't parse commands JSON object")
        self.commands = commands
        return True

    async def _get_file(self, params: Json) -> Json:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            raise BotAPIError(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(content), "file_path": path}

    # ---- playing the users

    async def say(self, chat_id: int, user_id: int, text: str | None = None, chat_type: str = "private",
                  first_name: str = "User", reply_to: int | None = None,
                  document: tuple[str, bytes] | None = None, voice: tuple[bytes, int] | None = None) -> Json:
        """User `user_id` writes `text` (or sends `document` (name, content) with `text` as its caption, or a
        `voice` note (OGG/Opus content, seconds)) in chat `chat_id`: the update getUpdates will hand out."""
        chat = self.chats.get(chat_id)
        if chat is None:
            about: Json = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                about["first_name"] = first_name
            else:
                about["title"] = f"Group {chat_id}"
            chat = self.chats[chat_id] = _Chat(about)
        sender = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        message = self._new_message(chat, sender, text)
        if document is not None:
            name, content = document
            file_id = f"f{next(self._next_file)}"
            self.files[file_id] = (f"documents/{file_id}_{name}", content)
            message["document"] = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": name,
                                   "file_size": len(content)}
            if text is not None:
                message["caption"] = message.pop("text")
        if voice is not None:
            content, seconds = voice
            file_id = f"f{next(self._next_file)}"
            self.files[file_id] = (f"voice/{file_id}.oga", content)
            message["voice"] = {"file_id": file_id, "file_unique_id": f"u{file_id}", "duration": seconds,
                                "mime_type": "audio/ogg", "file_size": len(content)}
        if reply_to is not None and reply_to in chat.messages:
            message["reply_to_message"] = chat.messages[reply_to]
        update = {"update_id": next(self._next_update), "message": message}
        async with self._changed:
            self.updates.append(update)
            self._changed.notify_all()
        if self.webhook is not None:
            task = asyncio.create_task(self._deliver(update))
            self._delivering.add(task)
            task.add_done_callback(self._delivering.discard)
        return update

    def sent(self, chat_id: int) -> list[Json]:
        """The bot's messages in a chat, in order, as edited so far."""
        chat = self.chats.get(chat_id)
        return [] if chat is None else [chat.messages[i] for i in chat.sent]

    async def wait_for_message(self, chat_id: int, count: int = 1, timeout: float = 60.0,
                               settled: Callable[[list[Json]], bool] | None = None) -> list[Json]:
        """Wait until the bot has sent `count` messages to the chat (and `settled` holds for them), then return
        them all."""
        def ready() -> bool:
            messages = self.sent(chat_id)
            return len(messages) >= count and (settled is None or settled(messages))

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(ready), timeout)
        return self.sent(chat_id)

    def _new_message(self, chat: _Chat, sender: Json, text: str | None) -> Json:
        message: Json = {"message_id": chat.next_message_id, "date": int(time.time()), "chat": chat.chat,
                         "from": sender}
        if text is not None:
            message["text"] = text
        chat.messages[chat.next_message_id] = message
        chat.next_message_id += 1
        return message

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ---- control routes

    async def _control_say(self, request: web.Request) -> web.Response:
        body = await request.json()
        document, voice = body.get("document"), body.get("voice")
        update = await self.say(
            int(body["chat_id"]), int(body["user_id"]), body.get("text"), body.get("chat_type", "private"),
            body.get("first_name", "User"), body.get("reply_to"),
            None if document is None else (document["name"], base64.b64decode(document["content_base64"])),
            None if voice is None else (base64.b64decode(voice["content_base64"]), int(voice["duration"])))
        return web.json_response(update)

    async def _control_messages(self, request: web.Request) -> web.Response:
        return web.json_response(self.sent(int(request.query["chat_id"])))

    async def _control_actions(self, request: web.Request) -> web.Response:
        chat = self.chats.get(int(request.query["chat_id"]))
        return web.json_response([] if chat is None else chat.actions)


class ThreadedStandIn:
    """A `StandInBotAPI` on an event loop of its own thread, driven from synchronous code (tests, benchmarks)."""

    def __init__(self, token: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="standin")
        self.thread.start()
        self.server = StandInBotAPI(token)
        self.base = self.call(self.server.start())

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 300) -> T:
        """Run `coroutine` on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def say(self, chat_id: int, text: str | None, **options: Any) -> Json:
        """`StandInBotAPI.say` from this thread; `user_id` defaults to the chat's id (a private chat)."""
        return self.call(self.server.say(chat_id=chat_id, user_id=options.pop("user_id", chat_id), text=text,
                                         **options))

    def close(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _error(status: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": status, "description": description}, status=status)


def _int(params: Json, name: str, default: int | None = None) -> int:
    value = params.get(name, default)
    if value is None:
        raise BotAPIError(400, f"Bad Request: {name} is empty")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BotAPIError(400, f"Bad Request: wrong {name}") from None


def _text(params: Json) -> str:
    text = str(params.get("text", ""))
    if not text.strip():
        raise BotAPIError(400, "Bad Request: message text is empty")
    if len(text) > MAX_TEXT:
        raise BotAPIError(400, "Bad Request: message is too long")
    return text


def _reply_parameters(params: Json) -> int | None:
    if "reply_parameters" in params:
        return int(json.loads(params["reply_parameters"]).get("message_id", 0)) or None
    return _int(params, "reply_to_message_id", 0) or None


def main() -> None:
    """`python -m moe_system.bot.standin TOKEN [PORT]`: serve until interrupted (for trying the bot by hand)."""
    import sys

    async def serve() -> None:
        server = StandInBotAPI(sys.argv[1])
        base = await server.start(port=int(sys.argv[2]) if len(sys.argv) > 2 else 0)
        print(f"stand-in Bot API at {base}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
