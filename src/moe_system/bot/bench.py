"""The bot under load, against the tests' stand-in Bot API server (`standin.py`): `moe bench bot --json`.

The bot runs as its own process (`moe bot`, a fresh `MOE_HOME` for its memory and tables, the configured base model,
no experts installed, flood control off, `bot.max_tokens` as given), polling a stand-in served from this process;
its Prometheus metrics (`bot.metrics_port`) say when a reply is complete. Measured:

- `latency`: after one warm-up question (the first reply also loads the memory's embedder), `questions` short
  questions from one private chat, one after another: the time from the update's arrival at the stand-in to the
  reply's first message there (p50 / p95 / max), and the replies a second.
- `chats`: `chats` private chats each asking one question at once: replies a second until every one is complete,
  errors (updates whose handler failed, from the metrics), and the ratio to the lone chat's replies a second.
- `recall`: one private chat told `facts` facts about the user among `messages` messages (the held-out templates of
  `data/conversation.py`, written apart from the memory's patterns; every message answered by the bot), then asked
  each fact's question: the share of answers that contain the fact's value, and how many messages back each fact
  was told.
- `style`: a second bot at the default `bot.max_tokens`; the same short informal Russian messages
  (`data/bot_bench/style.yaml`) from a chat whose replies adapt to how it writes and from one that chose
  `/style normal`: the replies' mean length in characters and their share in Russian.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from moe_system.bench.common import PROMPTS, cpu_model, free_port, percentile, stop_process
from moe_system.bot.standin import ThreadedStandIn
from moe_system.config import Settings
from moe_system.errors import MoEError

TOKEN = "424242:BenchBotTokenABCDEFGHIJKLMNOPQRSTUVWXY"
QUESTIONS = ["What is the capital of France?", "Name a fruit that is yellow.", "How many days are in a week?",
             "Сколько будет два плюс два?", "What colour is the sky on a clear day?"]


def run(settings: Settings, questions: int = 20, chats: int = 50, messages: int = 500, facts: int = 10,
        max_tokens: int = 32, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Start a stand-in and a bot, measure (see the module docstring), stop both."""
    standin = ThreadedStandIn(TOKEN)
    try:
        with _bot(standin, settings, max_tokens) as metrics:
            progress(f"{questions} questions from one chat")
            latency = _latency(standin, metrics, questions)
            progress(f"{chats} chats at once")
            crowd = _crowd(standin, metrics, chats, latency["replies_per_s"])
            progress(f"{facts} facts among {messages} messages")
            recall = _recall(standin, metrics, messages, facts, settings)
        progress("replies to short informal Russian, adapting and not")
        with _bot(standin, settings, None) as metrics:
            style = _style(standin, metrics)
    finally:
        standin.close()
    return {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "max_tokens": max_tokens, "latency": latency,
            "chats": crowd, "recall": recall, "style": style}


@contextmanager
def _bot(standin: ThreadedStandIn, settings: Settings, max_tokens: int | None) -> Iterator[_Metrics]:
    """`moe bot` polling `standin` from a fresh home (`bot.max_tokens` = `max_tokens`, None: the default), until
    the block ends; yields its metrics once it serves."""
    from moe_system.base import base_model_dir

    with tempfile.TemporaryDirectory(prefix="moe-bench-bot-") as home:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOE_") or k == "MOE_CONFIG"} | {
            "MOE_HOME": home, "MOE_BASE__NAME": str(base_model_dir(settings)), "MOE_BOT__TOKEN": TOKEN,
            "MOE_BOT__API_BASE": standin.base, "MOE_BOT__METRICS_PORT": str(port),
            "MOE_BOT__RATE_LIMIT_PER_MINUTE": "100000",
            **({} if max_tokens is None else {"MOE_BOT__MAX_TOKENS": str(max_tokens)})}
        with open(Path(home) / "bot.log", "w", encoding="utf-8") as log:
            bot = subprocess.Popen([sys.executable, "-m", "moe_system.cli", "bot"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, text=True)
            try:
                metrics = _Metrics(f"http://127.0.0.1:{port}/metrics", bot, Path(home) / "bot.log")
                metrics.wait_up()
                yield metrics
            finally:
                stop_process(bot, 60)


class _Metrics:
    """The bot's /metrics: replies finished and failed updates so far."""

    def __init__(self, url: str, process: subprocess.Popen[str], log: Path) -> None:
        self.url, self.process, self.log = url, process, log

    def _text(self) -> str:
        return httpx.get(self.url, timeout=10).text

    def wait_up(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._text()
                return
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise MoEError(f"the bot did not start; its log:\n{self.log.read_text()[-3000:]}") from None
                time.sleep(0.5)

    def count(self, name: str, labels: str = "") -> float:
        pattern = re.compile(rf"^{name}\{{[^}}]*{labels}[^}}]*\}} (\S+)$|^{name} (\S+)$", re.MULTILINE)
        return sum(float(a or b) for a, b in pattern.findall(self._text()))

    def replies(self) -> float:
        return self.count("moe_bot_replies_total")

    def errors(self) -> float:
        return self.count("moe_bot_updates_total", 'outcome="error"')

    def wait_replies(self, target: float, timeout: float = 1800) -> None:
        deadline = time.monotonic() + timeout
        while self.replies() < target:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise MoEError(f"the bot stopped answering; its log:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.05)


def _latency(standin: ThreadedStandIn, metrics: _Metrics, questions: int) -> dict[str, Any]:
    chat, firsts = 1000, []
    done = metrics.replies()
    standin.say(999, QUESTIONS[0])  # a warm-up: the first reply also loads the memory's embedder and tokenizer
    metrics.wait_replies(done + 1)
    started = time.perf_counter()
    for number in range(questions):
        done = metrics.replies()
        before = len(standin.server.sent(chat))
        sent = time.perf_counter()
        standin.say(chat, QUESTIONS[number % len(QUESTIONS)])
        standin.call(standin.server.wait_for_message(chat, before + 1, 600), 605)
        firsts.append(time.perf_counter() - sent)
        metrics.wait_replies(done + 1)
    elapsed = time.perf_counter() - started
    return {"questions": questions, "first_message_ms": {q: round(percentile(firsts, v) * 1000, 1) for q, v in
                                                          (("p50", 0.5), ("p95", 0.95), ("max", 1.0))},
            "replies_per_s": round(questions / elapsed, 3)}


def _crowd(standin: ThreadedStandIn, metrics: _Metrics, chats: int, alone_per_s: float) -> dict[str, Any]:
    done, errors = metrics.replies(), metrics.errors()
    started = time.perf_counter()
    for number in range(chats):
        standin.say(2000 + number, PROMPTS[number % len(PROMPTS)])
    metrics.wait_replies(done + chats)
    elapsed = time.perf_counter() - started
    answered = sum(1 for number in range(chats) if standin.server.sent(2000 + number))
    per_s = chats / elapsed
    return {"chats": chats, "answered": answered, "errors": int(metrics.errors() - errors),
            "seconds": round(elapsed, 1), "replies_per_s": round(per_s, 3),
            "vs_one_chat": round(per_s / alone_per_s, 2) if alone_per_s else None}


def _recall(standin: ThreadedStandIn, metrics: _Metrics, messages: int, facts: int,
            settings: Settings) -> dict[str, Any]:
    from moe_system.data.conversation import synthetic_conversation
    from moe_system.memory.tokens import base_tokenizer_dir, token_counter

    count = token_counter(base_tokenizer_dir(settings))
    # the held-out chat's messages average ~140 tokens, user and assistant taking turns (120 asked for 34 user
    # messages at 80 tokens a message)
    conversation = synthetic_conversation(max(messages * 2 * 150, facts * 1200), count, facts=facts, updated=0,
                                          seed=7, templates="heldout")
    said = [text for role, text in conversation.messages if role == "user"][:messages]
    index = {position: number for number, position in enumerate(
        position for position, (role, _) in enumerate(conversation.messages) if role == "user")}
    chat = 3000
    for text in said:
        done = metrics.replies()
        standin.say(chat, text)
        metrics.wait_replies(done + 1)
    asked = [fact for fact in conversation.facts if index.get(fact.positions[0], messages) < len(said)]
    found, back = 0, []
    for fact in asked:
        done, before = metrics.replies(), len(standin.server.sent(chat))
        standin.say(chat, fact.question)
        metrics.wait_replies(done + 1)
        reply = " ".join(message["text"] for message in standin.server.sent(chat)[before:])
        found += fact.answer.lower() in reply.lower()
        back.append(len(said) - index[fact.positions[0]])
    return {"messages": len(said), "facts": len(asked), "recalled": found,
            "recall": round(found / len(asked), 3) if asked else None,
            "told_messages_back": {"min": min(back, default=0), "max": max(back, default=0)}}


def _style(standin: ThreadedStandIn, metrics: _Metrics) -> dict[str, Any]:
    """The same short informal Russian messages (`data/bot_bench/style.yaml`) from a chat whose replies adapt to how
    it writes and from one that chose `/style normal`: the replies' mean length and their share in Russian."""
    from moe_system.data.common import read_yaml
    from moe_system.text.words import is_russian

    said = [str(text) for text in read_yaml("moe_system.data", "bot_bench/style.yaml")["messages"]]
    replies: dict[str, list[str]] = {}
    for name, chat, first in (("adapted", 4000, None), ("normal", 4001, "/style normal")):
        if first is not None:
            standin.say(chat, first)
            standin.call(standin.server.wait_for_message(chat, 1, 60), 65)
        for text in said:
            done, before = metrics.replies(), len(standin.server.sent(chat))
            standin.say(chat, text)
            metrics.wait_replies(done + 1)
            replies[name] = [*replies.get(name, []),
                             " ".join(message["text"] for message in standin.server.sent(chat)[before:])]

    def summary(texts: list[str]) -> dict[str, float]:
        return {"mean_chars": round(sum(map(len, texts)) / len(texts), 1),
                "russian_share": round(sum(map(is_russian, texts)) / len(texts), 2)}

    adapted, normal = summary(replies["adapted"]), summary(replies["normal"])
    return {"messages": len(said), "adapted": adapted, "normal": normal,
            "length_ratio": round(adapted["mean_chars"] / normal["mean_chars"], 2) if normal["mean_chars"] else None}
