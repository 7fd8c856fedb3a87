"""A synthetic long English/Russian chat with facts about the user planted in it: the benchmark for long-conversation
memory.

A memory system that serves a chat of hundreds of thousands of tokens has to put the few facts that matter into a
small context. This module writes such a chat, up to 750,000 tokens: everyday assistant conversation (travel,
cooking, programming, books, sport, weather, work, history, science, health, home, money, music and film) in runs
of English and Russian turns, with first-person statements about the user spread over it ("We named our cat
Pixel.", "Мой номер телефона: +7 913 555-21-08."). Some of the facts are later updated: the user states a new
value for the same thing, usually in a different phrasing ("I live in Bergen" ... "we moved to Trondheim last
month"). At the end the benchmark asks each fact's question (and its paraphrases, where the template set has them),
and the memory system has to bring the newest value. The statements and questions come from a template set: the
tuning set the memory was developed on, or the held-out set that measures it (see `conversation_templates.py`).

The filler is built from templates and word lists, so messages practically never repeat verbatim (a memory
system de-duplicates near-identical text, so repetitive filler would be unrealistically easy), and it is full of
numbers, names, places, dates and codes, including distractors: the same kinds of facts about other people ("my
neighbour's dog is called Bruno", "у коллеги машина — Skoda Octavia"). No filler or assistant message ever
contains a planted value, current or stale (compared case-insensitively; a message that would is drawn again), and
no value of one fact is part of another's, so "is the answer in the context" is a sound check.

    conversation = synthetic_conversation(750_000, lambda text: len(tokenizer.encode(text)), seed=0)
    for fact in conversation.facts:
        print(fact.question, "->", fact.answer, "stale:", fact.stale)

The result is deterministic for (total_tokens, seed, facts, updated, templates, recent_tokens) and the token
counter; `count_tokens` is called once per message. The templates and word lists are data files
(`data/memory_bench/`, read by `conversation_templates.py`).
"""

from __future__ import annotations

import random
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

from moe_system.data.conversation_templates import Kind, Slot, Topic, Vocab, chats, draw, fill, kinds


@dataclass(frozen=True)
class PlantedFact:
    """One fact about the user, stated in the conversation once and possibly updated later."""

    key: str  # a stable id of the subject, e.g. "dog_name"
    language: str  # "en" or "ru": the language of the statements and the question
    question: str  # asked at the end, e.g. "What is my dog's name?"
    answer: str  # the newest value, verbatim in the newest statement
    stale: tuple[str, ...]  # older values, oldest first (empty when never updated), each verbatim in its statement
    positions: tuple[int, ...]  # indices into `messages` of the statements, oldest first (the last states `answer`)
    paraphrases: tuple[str, ...] = ()  # the same question in other words (none in the tuning set)


@dataclass(frozen=True)
class SyntheticConversation:
    """The chat, the facts planted in it and its size in the caller's tokens."""

    messages: list[tuple[str, str]]  # (role, text): "user" and "assistant" alternating, starting with "user"
    facts: list[PlantedFact]
    tokens: int  # sum of count_tokens(text) over messages


# ------------------------------------------------------------------------------------------------------ generation

_FIRST_MAX = 0.65  # the first statement of a fact lies in the first 65% of the conversation
_LATE = (0.82, 0.97)  # where the late updates lie
_RECENT_FACTS = 12  # one fact in this many has its last update in the final `recent_tokens` of the chat
_RETRIES = 200


@dataclass
class _Plan:
    kind: Kind
    language: str
    values: list[str]  # oldest first
    at: list[float]  # where each statement lies, as a share of the conversation
    templates: list[str]


def _compatible(value: str, taken: list[str]) -> bool:
    """Whether `value` and every value already drawn are distinct and none is part of another."""
    lowered = value.lower()
    return all(lowered not in other and other not in lowered for other in taken)


def _draw_value(rng: random.Random, pool: Slot, taken: list[str]) -> str:
    for _ in range(_RETRIES):
        value = draw(pool, rng)
        if _compatible(value, taken):
            return value
    raise RuntimeError("could not draw a planted value distinct from the others")


def _plan(rng: random.Random, pool: tuple[Kind, ...], facts: int, updated: int, recent: float) -> list[_Plan]:
    """Which subjects, in which language, with which values and phrasings, and where each statement goes (as a
    share of the conversation; `recent`: the share of its final stretch that holds the recent updates)."""
    kinds = rng.sample(pool, facts)
    # subjects whose value naturally changes get the updates first; corrections only when there are not enough
    updated_ids = sorted(range(facts), key=lambda i: not kinds[i].changes)[:updated]
    recent_count = -(-facts // _RECENT_FACTS)  # rounded up
    late = rng.sample(updated_ids, min(updated, (updated + 2) // 3 + recent_count))
    recent_ids = set(late[:recent_count])
    late_ids = set(late) - recent_ids
    languages = ["en"] * (facts // 2) + ["ru"] * (facts // 2) + [rng.choice(("en", "ru"))] * (facts % 2)
    rng.shuffle(languages)
    taken: list[str] = []
    plans = []
    for i, (kind, language) in enumerate(zip(kinds, languages, strict=True)):
        side = kind.en if language == "en" else kind.ru
        changes = (1 if rng.random() < 0.65 else 2) if i in updated_ids else 0
        values = []
        for _ in range(changes + 1):
            values.append(_draw_value(rng, side.values, taken))
            taken.append(values[-1].lower())
        if changes == 0:
            at = [rng.uniform(0.01, _FIRST_MAX)]
        elif changes == 1:
            first = rng.uniform(0.01, 0.45)
            at = [first, rng.uniform(first + 0.15, _LATE[1])]
        else:
            first = rng.uniform(0.01, 0.35)
            middle = rng.uniform(first + 0.1, 0.65)
            at = [first, middle, rng.uniform(middle + 0.1, _LATE[1])]
        if i in late_ids:
            at[-1] = rng.uniform(*_LATE)
        elif i in recent_ids:
            at[-1] = rng.uniform(1 - recent, 1)
        templates = [rng.choice(side.says)]
        for _ in range(changes):
            phrasings = side.updates if rng.random() < 0.8 else side.says
            templates.append(rng.choice([t for t in phrasings if t != templates[-1]]
                                        or [t for t in (*side.updates, *side.says) if t != templates[-1]]))
        plans.append(_Plan(kind, language, values, at, templates))
    return plans


class _Writer:
    """Writes messages: filler pairs and statement pairs, each message drawn again while it contains a planted
    value it must not, and counted once with the caller's `count_tokens`."""

    def __init__(self, rng: random.Random, count_tokens: Callable[[str], int], values: list[str]) -> None:
        self.rng = rng
        self.count_tokens = count_tokens
        self.values = [value.lower() for value in values]
        self.chars = {"en": 0, "ru": 0}
        self.tokens = {"en": 0, "ru": 0}

    def count(self, text: str, language: str) -> int:
        tokens = self.count_tokens(text)
        if tokens < 1:
            raise ValueError(f"count_tokens must return a positive count for a non-empty message, got {tokens}")
        self.chars[language] += len(text)
        self.tokens[language] += tokens
        return tokens

    def target(self, language: str, tokens: int) -> int:
        """`tokens` of the caller's tokenizer in characters, as measured on the messages so far."""
        ratio = self.chars[language] / self.tokens[language] if self.tokens[language] else 6.0
        return int(tokens * ratio)

    def fill(self, template: str, language: str, vocab: Vocab) -> str:
        return fill(template, vocab, self.rng, chats()[language].vocab)

    def clean(self, text: str, allowed: str = "") -> bool:
        lowered = text.lower()
        return not any(value in lowered and value != allowed for value in self.values)

    def user(self, language: str, topic: Topic, size: int) -> tuple[list[str], str, list[str]]:
        """Chatter before the question, the question, details after it: about `size` characters in all."""
        rng, chat = self.rng, chats()[language]
        ask = self.fill(rng.choice(topic.asks), language, topic.vocab)
        notes = rng.sample(topic.notes, 3)
        asides = rng.sample(chat.distractors, rng.choice((0, 1, 1, 2))) + rng.sample(chat.context, rng.randint(1, 2))
        rng.shuffle(asides)
        before: list[str] = []
        after: list[str] = []
        length = len(ask)
        while length < size and (notes or asides):
            from_notes = bool(notes) and (rng.random() < 0.5 or not asides)
            sentence = self.fill((notes if from_notes else asides).pop(), language, topic.vocab)
            (after if from_notes else before).append(sentence)
            length += len(sentence) + 1
        return before, ask, after

    def user_filler(self, language: str, topic: Topic, size: int) -> str:
        rng, chat = self.rng, chats()[language]
        before, ask, after = self.user(language, topic, size)
        parts = [rng.choice(chat.openers)] if rng.random() < 0.4 else []
        parts += [*before, ask, *after]
        if rng.random() < 0.35:
            parts.append(rng.choice(chat.closers))
        return " ".join(parts)

    def sentence(self, template: str, language: str, vocab: Vocab) -> str:
        """An assistant sentence, sometimes after a lead-in ("Generally, ...") or with a tail before its full stop
        (", at least in my experience.")."""
        rng, chat = self.rng, chats()[language]
        if (rng.random() < 0.15 and template[0] != "{" and template[1].islower()
                and not template.startswith(("I ", "I'm", "I'd", "Я "))):
            template = rng.choice(chat.leads) + template[0].lower() + template[1:]
        if rng.random() < 0.3 and template.endswith(".") and not template.endswith("..."):
            template = template[:-1] + rng.choice(chat.tails) + "."
        return self.fill(template, language, vocab)

    def assistant(self, language: str, topic: Topic, size: int, ack: str = "") -> str:
        rng, chat = self.rng, chats()[language]
        says = rng.sample(topic.says, len(topic.says))
        advice = rng.sample(chat.advice, len(chat.advice))
        body: list[str] = []
        length = len(ack)
        while length < size and (says or advice):
            template = says.pop() if says and (rng.random() < 0.85 or not advice) else advice.pop()
            body.append(self.sentence(template, language, topic.vocab))
            length += len(body[-1]) + 1
        parts = [ack] if ack else []
        if rng.random() < 0.5:
            parts.append(rng.choice(chat.intros))
        if len(body) >= 3 and rng.random() < 0.25:
            numbered = "\n".join(f"{i}. {line}" for i, line in enumerate(body, 1))
            text = " ".join([*parts, rng.choice(chat.list_heads)]) + "\n" + numbered
        else:
            split = rng.randint(1, len(body))
            text = " ".join([*parts, *body[:split]])
            if body[split:]:
                text += "\n\n" + " ".join(body[split:])
        if rng.random() < 0.5:
            text += "\n\n" + rng.choice(chat.outros)
        return text

    def user_size(self, language: str) -> int:
        return self.target(language, 40 + int(110 * self.rng.random() ** 1.6))

    def assistant_size(self, language: str) -> int:
        return self.target(language, 60 + int(190 * self.rng.random()))

    def filler_pair(self, language: str) -> tuple[str, str, int]:
        """A question and its answer with no planted value in either, and their tokens."""
        for _ in range(_RETRIES):
            topic = self.rng.choice(chats()[language].topics)
            user = self.user_filler(language, topic, self.user_size(language))
            reply = self.assistant(language, topic, self.assistant_size(language))
            if self.clean(user) and self.clean(reply):
                return user, reply, self.count(user, language) + self.count(reply, language)
        raise RuntimeError("could not write filler free of planted values")

    def statement_pair(self, language: str, statement: str, value: str) -> tuple[str, str, int]:
        """A user message that states a fact (alone, or amid chatter and a question) and the assistant's reply,
        which acknowledges it without repeating the value."""
        rng, chat = self.rng, chats()[language]
        for _ in range(_RETRIES):
            ack = rng.choice(chat.acks)
            if rng.random() < 0.2:
                user = statement if rng.random() < 0.5 else f"{rng.choice(chat.openers)} {statement}"
                reply = f"{ack} {rng.choice(chat.offers)}" if rng.random() < 0.6 else ack
            else:
                topic = rng.choice(chats()[language].topics)
                before, ask, after = self.user(language, topic, self.user_size(language) - len(statement))
                if rng.random() < 0.5:
                    parts = [*before, statement, rng.choice(chat.returns), ask, *after]
                else:
                    parts = [*before, ask, *after, rng.choice(chat.segues), statement]
                user = " ".join(parts)
                reply = self.assistant(language, topic, self.assistant_size(language), ack)
            if self.clean(user, value.lower()) and self.clean(reply):
                return user, reply, self.count(user, language) + self.count(reply, language)
        raise RuntimeError("could not write a statement free of other planted values")


def synthetic_conversation(total_tokens: int, count_tokens: Callable[[str], int], facts: int = 36,
                           updated: int = 12, seed: int = 0, templates: str = "tuning",
                           recent_tokens: int = 3000) -> SyntheticConversation:
    """A chat of about `total_tokens` tokens (as `count_tokens` counts them; the result is within one message of
    it) with `facts` facts about the user planted in it, `updated` of which are later updated once or twice. The
    statements and questions come from the template set `templates` ("tuning", "heldout" or a file; see
    `conversation_templates.kinds`).

    Half the facts are English and half Russian. The first statement of each fact lies in the first 65% of the
    conversation and updates come later: one fact in twelve (of the updated ones, rounded up) gets its last update
    within the final `recent_tokens` of filler, about a third of the other updated facts in 82-97% of the chat, the
    rest before 97%. The filler is drawn from its own random stream, so two template sets with the same seed get
    the same filler up to the first message drawn again because it held a planted value. Raises ValueError when the
    request is impossible, including a `total_tokens` too small to hold the statements with at least as much filler
    around them.
    """
    pool = kinds(templates)
    if facts < 1 or facts > len(pool):
        raise ValueError(f"facts must be between 1 and {len(pool)} (one per subject), got {facts}")
    if updated < 0 or updated > facts:
        raise ValueError(f"updated must be between 0 and facts ({facts}), got {updated}")
    if total_tokens < 1:
        raise ValueError(f"total_tokens must be positive, got {total_tokens}")
    rng = random.Random(seed)
    plans = _plan(rng, pool, facts, updated, min(0.5, recent_tokens / total_tokens))
    values = [value for plan in plans for value in plan.values]
    writer = _Writer(rng, count_tokens, values)
    filler = _Writer(random.Random(f"{seed}/filler"), count_tokens, values)

    statements: list[tuple[float, int, str, str]] = []  # (share of the conversation, fact index, user, assistant)
    statement_tokens = 0
    for i, plan in enumerate(plans):
        for at, template, value in zip(plan.at, plan.templates, plan.values, strict=True):
            user, reply, tokens = writer.statement_pair(plan.language, template.replace("{v}", value), value)
            statements.append((at, i, user, reply))
            statement_tokens += tokens
    if total_tokens < 2 * statement_tokens:
        raise ValueError(f"total_tokens={total_tokens} is too small for {facts} facts with {updated} updated: their "
                         f"{len(statements)} statements alone take {statement_tokens} tokens, so ask for at least "
                         f"{2 * statement_tokens}")

    budget = total_tokens - statement_tokens
    pairs: list[tuple[str, str]] = []
    ends = [0]  # ends[k]: the tokens of the first k filler pairs
    language, run = filler.rng.choice(("en", "ru")), filler.rng.randint(2, 12)
    while ends[-1] < budget:
        if run == 0:
            language, run = ("ru" if language == "en" else "en"), filler.rng.randint(2, 12)
        run -= 1
        user, reply, tokens = filler.filler_pair(language)
        pairs.append((user, reply))
        ends.append(ends[-1] + tokens)
    if ends[-1] - budget > budget - ends[-2]:  # stopping one pair short is closer to the budget
        pairs.pop()
        ends.pop()

    slots: list[list[tuple[float, int, str, str]]] = [[] for _ in range(len(pairs) + 1)]
    for statement in statements:
        slots[bisect_left(ends, statement[0] * ends[-1])].append(statement)
    messages: list[tuple[str, str]] = []
    positions: list[list[int]] = [[] for _ in plans]
    for k, slot in enumerate(slots):
        for _, i, user, reply in sorted(slot):
            positions[i].append(len(messages))
            messages += [("user", user), ("assistant", reply)]
        if k < len(pairs):
            messages += [("user", pairs[k][0]), ("assistant", pairs[k][1])]

    planted = []
    for plan, where in zip(plans, positions, strict=True):
        questions = (plan.kind.en if plan.language == "en" else plan.kind.ru).questions
        planted.append(PlantedFact(key=plan.kind.key, language=plan.language, question=questions[0],
                                   answer=plan.values[-1], stale=tuple(plan.values[:-1]), positions=tuple(where),
                                   paraphrases=questions[1:]))
    return SyntheticConversation(messages=messages, facts=planted, tokens=ends[-1] + statement_tokens)
