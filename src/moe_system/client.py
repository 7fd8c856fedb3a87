"""The Python SDK: `MoEClient`, `Conversation`, `Response`.

    from moe_system import MoEClient
    client = MoEClient()
    print(client.generate("What is the capital of France?").text)
    conv = client.start_conversation(user_id="u1")
    conv.send("My name is Ada.");  conv.send("What is my name?")

The base model loads lazily on the first request. Text enters here: prompts become chat-templated
token ids for the engine, and the engine's tokens come back as text with usage and timings.
"""

from __future__ import annotations

import contextlib
import math
import threading
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Console

from moe_system.config import GenerationSettings, Settings, load_settings
from moe_system.errors import ContextLengthError, InvalidRequestError
from moe_system.experts.spec import ExpertChoice, ExpertSpec, parse_expert_spec
from moe_system.routing import RoutingDecision
from moe_system.routing.decision import Candidate

if TYPE_CHECKING:
    from moe_system.engine import Completion, Engine, Event, SamplingParams
    from moe_system.engine.lora import RowAdapters
    from moe_system.experts.registry import InstalledExpert, Registry
    from moe_system.memory import ThreeLevelMemory
    from moe_system.memory.summarizer import Summarize, SummarizerRef
    from moe_system.routing.router import Router
    from moe_system.tools import VerifyMany

Message = dict[str, str]
Chosen = list[tuple["InstalledExpert", float]]


@dataclass
class Response:
    """One answer. `expert` is None when the base model answered.

    timings: `ttft_ms` (request start to first token, prefill included), `total_ms`, and
    `tokens_per_s` = completion tokens / total time.
    """

    text: str
    expert: str | None
    routing: dict[str, Any]
    usage: dict[str, int]
    timings: dict[str, float]
    finish_reason: str = "stop"
    verification: dict[str, Any] | None = None  # verified best-of-N: candidates judged, passed, agreeing, chosen

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Stream:
    """Iterate to get text deltas as they are generated; `.response` is set once it is exhausted."""

    def __init__(self, produce: Callable[[Stream], Generator[str, None, None]],
                 routing: dict[str, Any] | None = None) -> None:
        """`routing`: the routing decision, known before the first token (a UI shows it while the answer streams)."""
        self.response: Response | None = None
        self.routing = routing
        self._cancel: Callable[[], None] | None = None  # set once the request is in a batch
        self._deltas = produce(self)  # the generator fills `self.response` when it ends

    def __iter__(self) -> Iterator[str]:
        return self._deltas

    def close(self) -> None:
        """Stop generating: the rest is not wanted (with `batching`, the request's row leaves the batch). Safe to
        call from another thread than the one iterating (a server whose client went away)."""
        if self._cancel is not None:
            self._cancel()
        with contextlib.suppress(ValueError):  # iterated in another thread: the cancel above ends it next step
            self._deltas.close()

    def finish(self) -> Response:
        """Consume the rest of the stream and return the complete response."""
        for _ in self._deltas:
            pass
        assert self.response is not None
        return self.response


class MoEClient:
    """Entry point of the SDK. Settings come from `MOE_HOME`, the YAML config and `MOE_*` variables."""

    def __init__(
        self, settings: Settings | None = None, console: Console | None = None, batching: bool = False
    ) -> None:
        """`batching=True` decodes concurrent requests (from several threads) together, continuously: a request
        joins the running batch of its engine between two steps (the server's mode). Otherwise each request
        decodes on its own, in the caller's thread."""
        self.settings = settings or load_settings()
        self.batching = batching
        self._console = console or Console(stderr=True)
        self._loading = threading.RLock()  # guards the lazily loaded parts below
        self._runtime: Any = None
        self._registry: Registry | None = None
        self._router: Router | None = None
        self._memory: ThreeLevelMemory | None = None

    # ---- lazily loaded model

    @property
    def runtime(self) -> Any:
        """The loaded base model, tokenizer and engine (loaded on first use)."""
        with self._loading:  # threads of a server may all ask at once: one load
            if self._runtime is None:
                from moe_system.runtime import Runtime

                self._runtime = Runtime.load(self.settings, self._console)
            return self._runtime

    @property
    def loaded_runtime(self) -> Any:
        """The runtime if it is loaded, else None (never loads it: a metrics scrape asks this)."""
        return self._runtime

    @property
    def registry(self) -> Registry:
        """The installed experts (`MOE_HOME/experts`)."""
        with self._loading:
            if self._registry is None:
                from moe_system.experts.registry import Registry

                self._registry = Registry(self.settings)
            return self._registry

    # ---- public API

    def reload_experts(self) -> list[InstalledExpert]:
        """The experts installed now (the registry is re-read on every request anyway), with the loaded adapters
        dropped: the next request of each expert reads it again from its installed folder."""
        if self._runtime is not None:
            self._runtime.experts.clear()
        return self.registry.list()

    @property
    def router(self) -> Router:
        """The router over the installed experts (refits itself when they change)."""
        with self._loading:
            if self._router is None:
                from moe_system.routing.router import Router

                self._router = Router(self.registry, self.settings.routing.strategy)
            return self._router

    def route(self, text: str, strategy: str | None = None) -> RoutingDecision:
        """Which expert would answer `text` (None: the base model), with confidence, candidates and reason.
        `strategy` overrides `routing.strategy` (cascade | rules | learned | semantic | hierarchical)."""
        return self.router.route(text, strategy)

    def generate(
        self,
        prompt: str,
        expert: ExpertSpec = "auto",
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        **options: Any,
    ) -> Response:
        """Answer a single prompt (one user turn, with the configured system prompt)."""
        messages = [{"role": "user", "content": prompt}]
        return self.stream_chat(messages, expert, max_tokens, temperature, seed, **options).finish()

    def chat(self, messages: Sequence[Message], expert: ExpertSpec = "auto", **options: Any) -> Response:
        """Answer the last user turn of `messages` ([{"role", "content"}, ...]); options as `stream_chat`."""
        return self.stream_chat(messages, expert, **options).finish()

    def stream_chat(
        self,
        messages: Sequence[Message],
        expert: ExpertSpec = "auto",
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        tools: bool = True,
        context: str | None = None,
        system_prompt: str | None = None,
        **options: Any,
    ) -> Stream:
        """Like `chat`, but returns a `Stream` of text deltas.

        `expert`: "auto" (the router decides), None / "none" (base model), a name (`name@version` pins a
        version), a list of names, "a=0.7,b=0.3" or a {name: weight} dict (weighted composition).
        `tools=False` leaves the answer as the model wrote it, without the tools the experts' manifests list.
        `context`: text appended to the system prompt (a conversation's memory). `system_prompt`: this request's
        instead of `generation.system_prompt` (an expert whose manifest sets one still uses its own).
        `best_of` (an option; else the expert's manifest, else `generation.best_of`): verified best-of-N — N answers
        decode together (this one plus N-1 sampled), the expert's tool checks each and those that pass vote by
        result (`tools/vote.py`); the text streamed is this request's own answer, `Response.text` the chosen one.
        Without a tool that can check answers, or with `tools=False`, one answer is decoded."""
        _check_messages(messages)
        requested = _best_of_option(options.pop("best_of", None))
        decision, chosen = self._decide(messages[-1]["content"], parse_expert_spec(expert))
        defaults = _expert_defaults(chosen, self.settings.generation)
        params = self.runtime.sampling_params(defaults, max_tokens, temperature, seed, **options)
        engine, adapters = self.runtime.engine_for(chosen)
        system, messages = _expert_prompt(chosen, messages, system_prompt or self.settings.generation.system_prompt)
        if context:
            system = f"{system}\n\n{context}" if system else context
        ids = self.runtime.prompt_ids(messages, system)
        names = sorted({tool for expert, _ in chosen for tool in expert.manifest.tools}) if tools else []
        from moe_system.tools import verifier

        verify = verifier(names)
        best_of = (requested or defaults.best_of) if verify is not None else 1
        finish = _ToolRun(names, messages[-1]["content"],
                          lambda seed: _sample(engine, ids, params, adapters, seed), verify if best_of > 1 else None)
        rows = [params, *(replace(params, temperature=params.temperature or defaults.best_of_temperature,
                                  seed=(params.seed or 0) + index) for index in range(1, best_of))]
        cap = _LengthCap(defaults.best_of_length_ratio)
        return Stream(lambda stream: self._stream(stream, engine, ids, rows, decision, adapters, finish, cap),
                      decision.to_dict())

    @property
    def memory(self) -> ThreeLevelMemory:
        """The three-level conversation memory (`MOE_HOME/memory`, or `memory.database_url`)."""
        with self._loading:
            if self._memory is None:
                from moe_system.base import base_model_dir
                from moe_system.memory import ThreeLevelMemory

                config = self.settings.memory
                self._memory = ThreeLevelMemory(
                    config.database_url or self.settings.home / "memory", config.current_tokens,
                    config.obsolete_tokens, config.longterm_tokens,
                    tokenizer=base_model_dir(self.settings, self._console), settings=self.settings,
                    summarizer=None if config.summarizer is None else summarizer_ref(self.settings, config.summarizer))
            return self._memory

    def start_conversation(
        self, user_id: str | None = None, conversation_id: str | None = None, expert: ExpertSpec = "auto"
    ) -> Conversation:
        """A dialogue kept in the memory: pass the same `conversation_id` later (another process too) to go on
        with it. `user_id` scopes the facts the memory keeps (they follow the user across conversations); an
        existing conversation keeps its own user, and another user's conversation cannot be opened."""
        conversation_id = conversation_id or uuid.uuid4().hex
        row = self.memory.store.conversation(conversation_id)  # one row, not the stats' count of every fact
        known = (row.user_id or None) if row is not None else None  # the store keeps "no user" as ""
        if known is not None and user_id is not None and known != user_id:
            raise InvalidRequestError(f"conversation {conversation_id!r} belongs to another user")
        return Conversation(self, user_id if known is None else known, conversation_id, expert)

    def close(self) -> None:
        """Stop the memory's background worker (its unfinished work stays queued), close the databases and stop
        the batching threads."""
        if self._memory is not None:
            self._memory.close()
            self._memory = None
        if self._runtime is not None:
            self._runtime.close()

    # ---- internals

    def _decide(self, text: str, choice: ExpertChoice) -> tuple[RoutingDecision, Chosen]:
        """The routing decision and the installed experts (with weights) that will answer."""
        if choice == "auto":
            decision = self.route(text)
            picked = decision.top(self.settings.routing.top_k, self.settings.routing.min_score)
            if len(picked) > 1:
                decision = replace(decision, expert=",".join(picked),
                                   reason=f"{decision.reason}; composed {picked}")
            return decision, [(self.registry.get(name), weight) for name, weight in picked.items()]
        if not choice:
            return RoutingDecision(None, 1.0, [], "explicit", "the caller asked for the base model"), []
        chosen = [(self.registry.get(*_name_version(name)), weight) for name, weight in choice.items()]
        label = ",".join(choice)
        return RoutingDecision(
            expert=label, confidence=1.0,
            candidates=[Candidate(name, weight) for name, weight in choice.items()],
            strategy="explicit", reason=f"the caller chose {label}",
        ), chosen

    def _stream(
        self,
        stream: Stream,
        engine: Engine,
        ids: list[int],
        rows: Sequence[SamplingParams],
        decision: RoutingDecision,
        adapters: RowAdapters,
        tools: _ToolRun,
        cap: _LengthCap,
    ) -> Generator[str, None, None]:
        """Stream the deltas of the first row (the request's own answer) while every row decodes in one batch; the
        final `Response.text` is the answer after the experts' tools (the calculator recomputes the `Answer:` line
        from the expert's program; with best-of-N, the chosen candidate among those `cap` lets finish)."""
        tickets = self.runtime.scheduler(engine).submit_rows(ids, rows, adapters) if self.batching else []
        if tickets:
            def cancel() -> None:
                for ticket in tickets:
                    ticket.cancel()

            stream._cancel = cancel
            # a scheduler numbers its rows its own way: each ticket's events get the row of its place here
            events: Iterable[Event] = (replace(event, row=row)
                                       for row, ticket in enumerate(tickets) for event in ticket)

            def stop_row(row: int) -> None:
                tickets[row].cancel()
        else:
            from moe_system.engine import DecodeBatch

            batch = DecodeBatch(engine)
            batch.admit([ids] * len(rows), rows, [adapters] * len(rows))
            events = batch

            def stop_row(row: int) -> None:
                batch.cancel(row)
        try:
            yield from self._deltas(stream, cap.watch(events, stop_row), len(rows), decision, tools, cap)
        finally:  # the caller stopped reading (a client went away): free the batch rows
            for ticket in tickets:
                if ticket.completion is None:
                    ticket.cancel()

    @staticmethod
    def _deltas(stream: Stream, events: Iterable[Event], rows: int, decision: RoutingDecision,
                tools: _ToolRun, cap: _LengthCap) -> Generator[str, None, None]:
        done: dict[int, Completion] = {}
        for event in events:
            if event.row == 0 and event.delta:
                yield event.delta
            if event.completion is not None:
                done[event.row] = event.completion
        answers = [done[row] for row in range(rows)]
        kept = [answers[0].text, *(answer.text for answer in answers[1:] if cap.within(answer))]
        text, verification = tools.finish(kept)
        if verification is not None:
            verification["stopped"] = rows - len(kept)  # extra answers the length cap left out
        first, total_s = answers[0], max(answer.total_s for answer in answers)
        tokens = sum(answer.completion_tokens for answer in answers)  # every candidate's tokens were decoded
        stream.response = Response(
            text=text,
            expert=decision.expert,
            routing=decision.to_dict(),
            usage={"prompt_tokens": first.prompt_tokens, "completion_tokens": tokens},
            timings={
                "ttft_ms": round(first.ttft_s * 1000, 2),
                "total_ms": round(total_s * 1000, 2),
                "tokens_per_s": round(tokens / max(total_s, 1e-9), 2),
            },
            finish_reason=first.finish_reason,
            verification=verification,
        )


@dataclass
class Conversation:
    """A dialogue remembered in the client's three-level memory: every turn is stored there, and every request
    carries a context built from it for the new message (facts about the user, relevant older material, recent
    messages), within `memory.context_tokens` and the room the model's window leaves."""

    client: MoEClient
    user_id: str | None
    conversation_id: str
    expert: ExpertSpec = "auto"

    def send(self, text: str, **options: Any) -> Response:
        """Add a user turn, answer it, remember both."""
        return self.stream(text, **options).finish()

    def stream(self, text: str, **options: Any) -> Stream:
        """Like `send`, but streams the answer. The user's turn is stored at once; the answer once the stream is
        exhausted."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequestError("a message needs non-empty text")
        memory = self.client.memory
        context = memory.build_context(self.conversation_id, text, self._context_budget(text, options))
        memory.add_message(self.conversation_id, "user", text, user_id=self.user_id)
        inner = self.client.stream_chat([{"role": "user", "content": text}], self.expert,
                                        context=context.text or None, **options)

        def deltas(outer: Stream) -> Generator[str, None, None]:
            yield from inner
            outer.response = inner.response
            assert inner.response is not None
            memory.add_message(self.conversation_id, "assistant", inner.response.text or "(no answer)")

        return Stream(deltas, inner.routing)

    @property
    def messages(self) -> list[Message]:
        """The turns still in the memory's current tier (verbatim), oldest first."""
        rows = self.client.memory.store.recent_messages(self.conversation_id, 1_000_000)
        return [{"role": row.role, "content": row.text} for row in rows]

    def reset(self) -> None:
        """Forget this conversation (all tiers)."""
        self.client.memory.forget_conversation(self.conversation_id)

    def _context_budget(self, text: str, options: dict[str, Any]) -> int:
        """Tokens of memory that fit: the configured amount, or what the window leaves beside the system prompt,
        the message and the answer."""
        runtime = self.client.runtime
        answer = min(options.get("max_tokens") or self.client.settings.generation.max_tokens, 1024)
        used = len(runtime.prompt_ids([{"role": "user", "content": text}],
                                      self.client.settings.generation.system_prompt))
        room = runtime.context_length - answer - used - 16
        if room < 64:
            raise ContextLengthError("this message alone does not fit into the model's context")
        return min(self.client.settings.memory.context_tokens, room)


def summarizer_ref(settings: Settings, model: str) -> SummarizerRef:
    """How the memory's worker builds a summarizer that asks `model` ("base" or an installed expert's name)."""
    from moe_system.memory.summarizer import SummarizerRef

    return SummarizerRef(f"{__name__}:model_summarizer", {"settings": settings.model_dump(mode="json"),
                                                          "model": model})


def model_summarizer(settings: dict[str, Any], model: str) -> Summarize:
    """A `Summarize` that asks `model` ("base" or an installed expert's name), greedily, through the SDK: the
    memory's LLM summarizer (`memory/summarizer.py`), built in its worker process from `summarizer_ref`."""
    from moe_system.memory.summarizer import PROMPT, whole_sentences

    client = MoEClient(Settings(**settings))
    expert = None if model == "base" else model

    def summarize(text: str, max_tokens: int) -> str:
        prompt = PROMPT.format(notes=text, words=max(8, max_tokens * 2 // 3))
        return whole_sentences(client.chat([{"role": "user", "content": prompt}], expert, max_tokens=max_tokens,
                                           temperature=0.0, tools=False).text)

    return summarize


def _expert_defaults(chosen: Chosen, defaults: GenerationSettings) -> GenerationSettings:
    """The configured decoding defaults, with those the leading expert was validated with (its manifest's
    `generation`); options given with the request still win over both."""
    if not chosen:
        return defaults
    hints = max(chosen, key=lambda pair: abs(pair[1]))[0].manifest.generation
    update = {k: v for k, v in hints.model_dump().items() if v is not None}
    return defaults.model_copy(update=update) if update else defaults


@dataclass
class _LengthCap:
    """Best-of-N's time bound: once the greedy answer (row 0) has finished with n tokens, an extra answer still
    decoding at `ratio` × n tokens (and at least `MIN_SLACK` more than n) is stopped and left out of the vote, so
    one slow sample cannot make the request wait for max_tokens. Decided on token counts, not on the clock, so the
    same request picks the same answer on a busy machine and on an idle one."""

    ratio: float
    limit: int | None = None

    MIN_SLACK: ClassVar[int] = 4

    def watch(self, events: Iterable[Event], stop_row: Callable[[int], None]) -> Iterator[Event]:
        """`events` as they come, stopping (`stop_row`) each extra row that runs past the limit."""
        tokens: dict[int, int] = {}
        for event in events:
            if event.token_id is not None:
                tokens[event.row] = tokens.get(event.row, 0) + 1
            if event.row == 0 and event.completion is not None:
                n = event.completion.completion_tokens
                self.limit = max(math.ceil(n * self.ratio), n + self.MIN_SLACK)
            if self.limit is not None and event.row and event.completion is None \
                    and tokens.get(event.row, 0) == self.limit:
                stop_row(event.row)
            yield event

    def within(self, answer: Completion) -> bool:
        """Whether an extra answer finished on its own within the limit (a scheduler may run a row a step or two
        past the moment it is told to stop: those count as stopped too)."""
        return answer.finish_reason != "cancelled" and (self.limit is None or answer.completion_tokens <= self.limit)


def _sample(engine: Engine, ids: list[int], params: Any, adapters: RowAdapters, seed: int) -> str:
    """Another answer to the same request, sampled with `seed` (for the tools that retry)."""
    from moe_system.tools.verdict import RETRY_TEMPERATURE

    sampled = replace(params, temperature=RETRY_TEMPERATURE, seed=seed)
    return engine.generate([ids], sampled, [adapters])[0].text


def _best_of_option(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 16:
        raise InvalidRequestError("best_of must be a whole number from 1 to 16")
    return value


@dataclass
class _ToolRun:
    """The experts' tools (manifest `tools`) applied to a finished answer: `calculator` recomputes the
    `Answer:` line from the answer's program; `sql_check` keeps the answer's query if it checks against the schema
    in the request and runs, else the first of up to three answers sampled with `sample(seed)` whose query does;
    `python_check` likewise keeps the answer if its code passes the examples the request states, else the first
    sampled answer that does. With `verify` (best-of-N), `finish` judges every candidate and answers with the one
    the vote picks."""

    names: Sequence[str]
    prompt: str
    sample: Callable[[int], str]
    verify: VerifyMany | None = None

    def finish(self, candidates: Sequence[str]) -> tuple[str, dict[str, Any] | None]:
        """The answer to show, and (best-of-N only) what the vote saw: candidates judged, passed, agreeing,
        and which one was chosen (None: none passed, the first stands as its tool shows it)."""
        if self.verify is None:
            return self(candidates[0]), None
        from moe_system.tools.vote import vote

        verdicts = self.verify(candidates, self.prompt)
        outcome = vote(verdicts)
        return verdicts[0 if outcome.index is None else outcome.index].text, outcome.to_dict()

    def __call__(self, text: str) -> str:
        from moe_system.tools.math_answer import math_tool
        from moe_system.tools.sql_check import sql_check_answer

        if "calculator" in self.names:
            text = math_tool(text)
        if "sql_check" in self.names:
            text = sql_check_answer(text, self.prompt, self.sample)
        if "python_check" in self.names:
            text = self._passing_python(text)
        return text

    def _passing_python(self, text: str) -> str:
        from moe_system.tools.python_check import python_verdict
        from moe_system.tools.verdict import RETRY_SEEDS

        if python_verdict(text, self.prompt).ok:
            return text
        for seed in RETRY_SEEDS:
            candidate = self.sample(seed)
            if python_verdict(candidate, self.prompt).ok:
                return candidate
        return text


def _name_version(name: str) -> tuple[str, str | None]:
    """`sql@1.2.0` pins a version; a bare name means the latest installed."""
    base, _, version = name.partition("@")
    return base, version or None


def _expert_prompt(
    chosen: Chosen, messages: Sequence[Message], default_system: str | None
) -> tuple[str | None, list[Message]]:
    """The system prompt and the (maybe templated) last message the leading expert expects; the leading
    expert is the one with the largest weight. Without experts, or when they set none, the defaults stay."""
    messages = list(messages)
    if not chosen:
        return default_system, messages
    lead = max(chosen, key=lambda pair: abs(pair[1]))[0].manifest.prompt
    if lead.template:
        messages[-1] = {**messages[-1], "content": lead.template.replace("{prompt}", messages[-1]["content"])}
    return lead.system or default_system, messages


def _check_messages(messages: Sequence[Message]) -> None:
    if not messages:
        raise InvalidRequestError("no messages given")
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or {"role", "content"} - set(message):
            raise InvalidRequestError(f"message {index} needs 'role' and 'content'")
        if message["role"] not in {"system", "user", "assistant"}:
            raise InvalidRequestError(f"message {index} has unknown role {message['role']!r}")
    if messages[-1]["role"] != "user":
        raise InvalidRequestError("the last message must come from the user")
