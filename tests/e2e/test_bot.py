"""`moe bot` as a subprocess against the stand-in Bot API server (`bot/standin.py`), through the real aiogram
client: a private chat, commands, a group that routes to an expert only when it addresses the bot, and clear
errors for a bad token or an unreachable server. One bot process (one model load) serves the module."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from moe_system.bot.standin import Json, ThreadedStandIn

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
MOE = [sys.executable, "-m", "moe_system.cli"]
TOKEN = "123456:ABCdefGhIJKlmNoPQRsTUVwxyz0123456789"
ADMIN = 900
METRICS_PORT = 18931
T = TypeVar("T")


class StandIn(ThreadedStandIn):
    """The stand-in server on a thread of its own, and a wait for the bot's replies to settle."""

    def __init__(self) -> None:
        super().__init__(TOKEN)

    def replies(self, chat_id: int, count: int, timeout: float = 180) -> list[Json]:
        """The bot's first `count` messages in the chat, once the last one has stopped changing (a streamed reply
        is edited until it is complete)."""
        self.call(self.server.wait_for_message(chat_id, count, timeout), timeout + 5)
        previous: list[str] = []
        while True:
            texts = [message["text"] for message in self.server.sent(chat_id)]
            if texts == previous:
                return self.server.sent(chat_id)
            previous = texts
            self.call(asyncio.sleep(2.5))


def _env(home: Path, model_home: Path, **extra: str) -> dict[str, str]:
    from moe_system.base import base_model_dir
    from moe_system.config import Settings

    return {key: value for key, value in os.environ.items() if not key.startswith("MOE_")} | {
        "MOE_HOME": str(home), "MOE_BASE__NAME": str(base_model_dir(Settings(home=model_home))), **extra}


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.close()


def _start_bot(standin: StandIn, home: Path, model_home: Path, **extra: str) -> subprocess.Popen[str]:
    """`moe bot` polling `standin`, its stdout and stderr in `home/bot.log` (a pipe nobody reads could fill up and
    stop the bot: it logs a line per update)."""
    env = _env(home, model_home, MOE_BOT__TOKEN=TOKEN, MOE_BOT__API_BASE=standin.base, **extra)
    home.mkdir(parents=True, exist_ok=True)
    with (home / "bot.log").open("a", encoding="utf-8") as log:
        return subprocess.Popen([*MOE, "bot"], env=env, stdout=log, stderr=subprocess.STDOUT, text=True)


def _stop_bot(process: subprocess.Popen[str], home: Path) -> str:
    """SIGTERM, which ends the bot cleanly: exit code 0, no traceback; returns what it logged."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    output = (home / "bot.log").read_text(encoding="utf-8")
    assert process.returncode == 0, output[-2000:]
    assert "Traceback" not in output, output[-3000:]
    return output


@pytest.fixture(scope="module")
def bot_process(standin: StandIn, tmp_path_factory: pytest.TempPathFactory, model_home: Path
                ) -> Iterator[subprocess.Popen[str]]:
    """`moe bot` in a home with the starter sql expert installed, polling the stand-in."""
    home = tmp_path_factory.mktemp("bot_home")
    publisher = (REPO / "experts" / "publisher.pub").read_text().strip()
    env = _env(home, model_home, MOE_EXPERTS__TRUSTED_PUBLISHERS=json.dumps([publisher]))
    installed = subprocess.run([*MOE, "experts", "install", str(REPO / "experts" / "sql-2.0.0.expert")], env=env,
                               capture_output=True, text=True, timeout=300, check=False)
    assert installed.returncode == 0, installed.stderr
    process = _start_bot(standin, home, model_home, MOE_BOT__ADMIN_IDS=f"[{ADMIN}]",
                         MOE_BOT__RATE_LIMIT_PER_MINUTE="6", MOE_BOT__METRICS_PORT=str(METRICS_PORT))
    yield process
    updates = [json.loads(line) for line in _stop_bot(process, home).splitlines()
               if line.startswith("{") and '"event": "update"' in line]
    assert updates and all(line["outcome"] in ("handled", "ignored") for line in updates)  # a JSON line per update


def test_a_private_chat_gets_a_streamed_answer(standin: StandIn, bot_process: subprocess.Popen[str]) -> None:
    standin.say(101, "What is the capital of France?")
    [reply] = standin.replies(101, 1)
    assert "Paris" in reply["text"]
    assert "typing" in standin.server.chats[101].actions
    assert [c["command"] for c in standin.server.commands] == ["start", "help", "style", "expert", "persona", "docs",
                                                               "forget_doc", "forget", "quiz", "score", "reminders",
                                                               "cancel"]


def test_help_answers_in_english_and_russian(standin: StandIn, bot_process: subprocess.Popen[str]) -> None:
    standin.say(102, "/help")
    [reply] = standin.replies(102, 1)
    assert "/help" in reply["text"] and "эксперт" in reply["text"] and "Plugin reminders" in reply["text"] \
        and "Plugin quiz" in reply["text"]


def test_metrics_count_updates_and_replies(standin: StandIn, bot_process: subprocess.Popen[str]) -> None:
    standin.say(110, "/help")
    standin.replies(110, 1)
    with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=10) as response:
        text = response.read().decode()
    handled = re.search(r'moe_bot_updates_total\{kind="message",outcome="handled"\} (\d+)', text)
    assert handled is not None and int(handled.group(1)) >= 1, text[:2000]
    assert 'moe_bot_handler_seconds_count{kind="message"}' in text


def test_a_group_gets_answers_only_when_it_addresses_the_bot(standin: StandIn,
                                                            bot_process: subprocess.Popen[str]) -> None:
    """Talk not meant for the bot gets no reply; naming the bot gets one, replying to that message, from the
    expert the request routes to."""
    standin.say(-1001, "I think we should count the users first", user_id=7, chat_type="supergroup",
                first_name="Ann")
    asked = standin.say(-1001, "Moe, write a SQL query that counts the rows of table users", user_id=8,
                        chat_type="supergroup", first_name="Bob")
    [reply] = standin.replies(-1001, 1)
    assert reply["reply_to_message"]["message_id"] == asked["message"]["message_id"]
    assert "select" in reply["text"].lower() and "users" in reply["text"].lower()


def test_preferences_steer_replies_and_forget_deletes_what_the_bot_holds(
        standin: StandIn, bot_process: subprocess.Popen[str]) -> None:
    standin.say(103, "/expert nosuch")
    standin.say(103, "/expert none")
    standin.say(103, "/style short")
    standin.say(103, "My name is Olga. What is the capital of Italy?")
    replies = [message["text"] for message in standin.replies(103, 4)]
    assert "No expert 'nosuch'" in replies[0] and "sql" in replies[0]
    assert replies[1:3] == ["Expert: none (the base model).", "Style: short."]
    assert replies[3].strip()
    standin.say(103, "/forget")
    forgotten = standin.replies(103, 5)[-1]["text"]
    assert forgotten.startswith("Forgotten: ")
    assert "1 profile, 1 chat relationships, 0 reminders, 0 quiz scores" in forgotten
    assert int(forgotten.split()[1]) >= 2  # the question and the answer, at least, were in the memory


MANUAL = """PX-200 pump manual

The PX-200 pump moves up to 40 litres of water a minute. Its motor draws 350 watts.

Maintenance: clean the intake filter every three months and replace the rubber seal once a year.

Warranty: the warranty covers the motor for seven years and every other part for two years."""


def test_a_document_is_read_and_answers_name_it_until_it_is_deleted(standin: StandIn,
                                                                     bot_process: subprocess.Popen[str]) -> None:
    """A .txt is read into passages; a question about it is answered with its passage in the prompt and the reply
    names it; /docs lists it, /forget_doc deletes it, and then the same question names nothing; a photo is
    refused with a clear reply."""
    standin.say(108, None, document=("pump-manual.txt", MANUAL.encode()))
    assert standin.replies(108, 1)[0]["text"].startswith("Read pump-manual.txt: ")
    question = "How many years does the warranty cover the motor of the PX-200 pump?"
    standin.say(108, question)
    answer = standin.replies(108, 2)[1]["text"]
    assert answer.endswith("📄 pump-manual.txt"), answer
    assert "seven" in answer.lower() or "7" in answer, answer  # the passage reached the model
    standin.say(108, "/docs")
    assert "pump-manual.txt" in standin.replies(108, 3)[2]["text"]
    standin.say(108, "/forget_doc pump-manual.txt")
    assert standin.replies(108, 4)[3]["text"].startswith("Deleted pump-manual.txt and its ")
    standin.say(108, question)
    assert "📄" not in standin.replies(108, 5)[4]["text"]
    standin.say(108, None, document=("holiday.jpg", b"\xff\xd8\xff"))
    assert "is not one of them" in standin.replies(108, 6)[5]["text"]


def test_an_english_voice_note_is_transcribed_and_answered_and_others_refused(
        standin: StandIn, bot_process: subprocess.Popen[str], spoken: Callable[[str, str], bytes]) -> None:
    """A voice note made with espeak-ng, as Telegram sends one (OGG/Opus): the bot shows what it heard and answers
    it; a Russian note gets the English-only reply."""
    standin.say(111, None, voice=(spoken("What is the capital of France?", "en-us"), 2))
    heard, reply = (message["text"] for message in standin.replies(111, 2))
    assert heard.startswith("🎤 ") and "capital" in heard.lower() and "france" in heard.lower()
    assert "Paris" in reply
    standin.say(111, None, voice=(spoken("Какая сегодня погода в Москве? Расскажи подробно.", "ru"), 3))
    assert "English voice messages only" in standin.replies(111, 3)[2]["text"]


def test_admin_commands_refuse_other_users_and_ban_unban_reload(standin: StandIn,
                                                                bot_process: subprocess.Popen[str]) -> None:
    """Other users get a refusal; an admin's /ban silences a user until /unban; /reload lists the experts;
    /broadcast reaches the private chats and reports."""
    standin.say(104, "/stats")
    standin.say(104, "/ban 109")
    assert all("admins" in message["text"] for message in standin.replies(104, 2))
    standin.say(ADMIN, "/stats")
    assert standin.replies(ADMIN, 1)[0]["text"].startswith("Users: ")
    standin.say(ADMIN, "/ban 109 spam")
    assert standin.replies(ADMIN, 2)[1]["text"] == "Banned 109: spam."
    standin.say(109, "/help")
    standin.call(asyncio.sleep(3))
    assert standin.server.sent(109) == []
    standin.say(ADMIN, "/unban 109")
    assert standin.replies(ADMIN, 3)[2]["text"] == "Unbanned 109."
    standin.say(109, "What is the capital of Spain?")
    assert standin.replies(109, 1)[0]["text"].strip()
    standin.say(ADMIN, "/reload")
    assert standin.replies(ADMIN, 4)[3]["text"].startswith("Experts reloaded: sql 2.0.0.")
    standin.say(ADMIN, "/broadcast Maintenance at 22:00")
    queued, done = (message["text"] for message in standin.replies(ADMIN, 6)[4:6])
    assert queued.startswith("Broadcast ") and " queued for " in queued
    assert done.startswith("Broadcast ") and " done: sent to " in done
    assert standin.server.sent(109)[-1]["text"] == "Maintenance at 22:00"


def test_a_flood_gets_one_notice_then_silence(standin: StandIn, bot_process: subprocess.Popen[str]) -> None:
    for _ in range(9):  # the bot allows 6 a minute here
        standin.say(105, "/help")
    standin.replies(105, 7)
    standin.call(asyncio.sleep(3))
    texts = [message["text"] for message in standin.server.sent(105)]
    assert len(texts) == 7 and sum("faster than I can answer" in text for text in texts) == 1


def test_reminders_are_set_listed_cancelled_and_delivered(standin: StandIn,
                                                          bot_process: subprocess.Popen[str]) -> None:
    standin.say(106, "remind me in 3 seconds to stretch")
    standin.say(106, "напомни через 2 часа позвонить маме")
    standin.say(106, "/reminders")
    set_first, set_second, listed = (m["text"] for m in standin.replies(106, 3))
    assert set_first.startswith("Reminder ") and set_first.endswith("set for 3 s: stretch")
    assert set_second.endswith("set for 2 h: позвонить маме")
    assert "stretch" in listed and "позвонить маме" in listed
    second = set_second.split()[1]
    standin.say(106, f"/cancel {second}")
    assert [m["text"] for m in standin.replies(106, 5)][3:] == [f"Reminder {second} cancelled.", "⏰ stretch"]


def test_a_reminder_due_while_the_bot_was_down_is_delivered_when_it_starts(tmp_path: Path, model_home: Path) -> None:
    standin = StandIn()  # a server and a home of its own: the module's bot polls the other one
    try:
        home = tmp_path / "home"
        first = _start_bot(standin, home, model_home)
        standin.say(107, "remind me in 5 seconds to water the plants")
        assert "water the plants" in standin.replies(107, 1)[0]["text"]
        _stop_bot(first, home)
        standin.call(asyncio.sleep(6))  # due now, and no bot running
        second = _start_bot(standin, home, model_home)
        try:
            assert standin.replies(107, 2)[1]["text"] == "⏰ water the plants"
        finally:
            _stop_bot(second, home)
    finally:
        standin.close()


def test_a_quiz_question_is_asked_checked_and_scored(standin: StandIn, bot_process: subprocess.Popen[str]) -> None:
    standin.say(-1002, "/quiz math", user_id=11, chat_type="supergroup", first_name="Ann")
    [question] = standin.replies(-1002, 1)
    assert question["text"].startswith("Quiz (math): ") and question["text"].endswith("Answer with a number.")
    standin.say(-1002, "-123456.5", user_id=11, chat_type="supergroup", first_name="Ann")
    verdict = standin.replies(-1002, 2)[1]["text"]
    assert verdict.startswith("Not quite. The answer: ") and verdict.endswith("Ann: 0 of 1.")
    standin.say(-1002, "/score", user_id=12, chat_type="supergroup", first_name="Bob")
    assert standin.replies(-1002, 3)[2]["text"] == "Ann: 0 of 1"


def _bot_run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MOE, "bot"], env=env, capture_output=True, text=True, timeout=300, check=False)


def test_a_bad_token_or_server_is_one_clear_line(standin: StandIn, tmp_path: Path, model_home: Path) -> None:
    env = _env(tmp_path / "home", model_home)
    for extra, expected in (({}, "bot.token is not set"), ({"MOE_BOT__TOKEN": "12345"}, "bot.token is malformed"),
                            ({"MOE_BOT__TOKEN": "654321:ABCdefGhIJKlmNoPQRsTUVwxyz01234567",
                              "MOE_BOT__API_BASE": standin.base}, "refused the token")):
        result = _bot_run(env | extra)
        assert result.returncode == 2 and expected in result.stderr, result.stderr[-2000:]
        assert "Traceback" not in result.stderr


def test_webhook_mode_serves_the_bot_from_moe_serve(tmp_path: Path, model_home: Path) -> None:
    """`moe serve` with bot.webhook_url registers the webhook with the secret; Telegram's POSTs are answered on the
    server's model; a wrong secret is refused, and an update delivered twice is handled once."""
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    standin = StandIn()
    url = f"http://127.0.0.1:{port}"
    env = _env(tmp_path / "home", model_home, MOE_BOT__TOKEN=TOKEN, MOE_BOT__API_BASE=standin.base,
               MOE_BOT__WEBHOOK_URL=f"{url}/telegram/hook", MOE_BOT__WEBHOOK_SECRET="s3cret-Token_1")
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen([*MOE, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  text=True)
    try:
        for _ in range(600):
            if standin.server.webhook is not None or server.poll() is not None:
                break
            standin.call(asyncio.sleep(0.5))
        assert standin.server.webhook == (f"{url}/telegram/hook", "s3cret-Token_1"), \
            (tmp_path / "serve.log").read_text()[-3000:]
        update = standin.say(121, "What is the capital of France?")
        [reply] = standin.replies(121, 1)
        assert "Paris" in reply["text"]
        hook = f"{url}/telegram/hook"
        assert httpx.post(hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}).status_code == 403
        again = httpx.post(hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"},
                           timeout=60)
        assert again.status_code == 200
        standin.call(asyncio.sleep(2))
        assert len(standin.server.sent(121)) == 1  # the repeat was not answered again
        assert (update["update_id"], 200) in standin.server.deliveries
    finally:
        server.terminate()
        server.wait(60)
        standin.close()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
