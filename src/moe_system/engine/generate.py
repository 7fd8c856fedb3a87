"""The decode loop: several requests prefilled together, decoded one token per step in one batch.

Each row keeps its own sampling parameters, seeded generator, stop conditions and clock; a row that
finishes leaves the batch (its cache rows are dropped) so the others go on without it, and requests that
arrive meanwhile join it (`DecodeBatch.admit`: continuous batching). `run` yields events as tokens arrive
(the streaming path); `generate` collects them.

    engine = Engine(backend, decode=tokenizer.decode, stop_token_ids=(2,))
    [completion] = engine.generate([prompt_ids], SamplingParams(max_new_tokens=32))
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from moe_system.engine.backends.base import Backend
from moe_system.engine.lora import RowAdapters
from moe_system.engine.params import SamplingParams
from moe_system.engine.sampling import choose_token
from moe_system.engine.text import Decode, IncrementalDetokenizer, StopStringMatcher
from moe_system.errors import ContextLengthError, InvalidRequestError

FinishReason = Literal["stop", "length", "time", "cancelled"]


@dataclass
class Completion:
    """The result of one request. `token_ids` excludes the stop token; `text` needs a decoder."""

    token_ids: list[int]
    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    ttft_s: float
    total_s: float

    @property
    def completion_tokens(self) -> int:
        return len(self.token_ids)


@dataclass
class Event:
    """One step of one row: the new token, the text it completed (maybe ""), and the completion
    when the row has just finished."""

    row: int
    token_id: int | None
    delta: str
    completion: Completion | None = None


@dataclass
class _Row:
    index: int
    prompt: list[int]
    params: SamplingParams
    max_new: int
    generator: torch.Generator | None
    detok: IncrementalDetokenizer | None
    stops: StopStringMatcher
    seen: torch.Tensor  # [n] ids the repetition penalty applies to
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    ttft_s: float = 0.0
    started: float = field(default_factory=time.perf_counter)  # when the row was admitted


def _identity(adapters: RowAdapters) -> tuple[tuple[int, float], ...]:
    """A row's experts as a hashable key: the same loaded adapters with the same weights."""
    return tuple((id(adapter), weight) for adapter, weight in adapters)


class DecodeBatch:
    """Requests decoding together, one token per row per `step`. Requests `admit`ted while others decode are
    prefilled on their own and join the batch (continuous batching); a row leaves it when it finishes or is
    `cancel`led (its client went away), and the others go on."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.rows: list[_Row] = []  # the active rows, in the order of the backend state's rows
        self._logits: torch.Tensor | None = None  # [len(rows), V]: each row's next-token logits
        self._state: Any = None
        self._next_index = 0
        self._cancelled: set[int] = set()

    def admit(
        self,
        prompts: Sequence[Sequence[int]],
        params: SamplingParams | Sequence[SamplingParams],
        adapters: Sequence[RowAdapters] | None = None,
        arrived: Sequence[float] | None = None,
    ) -> list[int]:
        """Prefill `prompts` (one `SamplingParams` for all, or one each; `adapters[i]` = row i's experts) and add
        them to the batch; returns their row indices (the `Event.row` of their events), numbered from 0 in the
        order of admission. `arrived[i]` (a `time.perf_counter()` value, default now): when request i arrived;
        its time to first token, total time and time budget count from then, so time spent waiting counts."""
        per_row = [params] * len(prompts) if isinstance(params, SamplingParams) else list(params)
        if len(per_row) != len(prompts):
            raise InvalidRequestError("give one SamplingParams, or one per prompt")
        if adapters is not None and len(adapters) != len(prompts):
            raise InvalidRequestError("give one adapter set per prompt")
        rows = [self.engine._new_row(self._next_index + i, list(p), sp)
                for i, (p, sp) in enumerate(zip(prompts, per_row, strict=True))]
        if not rows:
            return []
        for row, when in zip(rows, arrived or [], strict=False):
            row.started = when
        backend = self.engine.backend
        # Rows with the same prompt and experts (best-of-N samples of one request) share one prefill: it is run
        # once and its KV cache and logits are repeated, instead of prefilling N copies of the prompt.
        shared: dict[tuple[tuple[int, ...], tuple[tuple[int, float], ...]], int] = {}
        order = [shared.setdefault((tuple(row.prompt), _identity(adapters[i] if adapters else ())), i)
                 for i, row in enumerate(rows)]
        firsts = sorted(set(order))
        position = {first: place for place, first in enumerate(firsts)}
        logits, state = backend.prefill([rows[i].prompt for i in firsts],
                                        [adapters[i] for i in firsts] if adapters is not None else None)
        if len(firsts) < len(rows):
            index = torch.tensor([position[i] for i in order], dtype=torch.long)
            logits, state = logits.index_select(0, index.to(logits.device)), backend.select(state, index)
        if self._state is None:
            self._logits, self._state = logits, state
        else:
            self._logits = torch.cat([self._logits, logits])  # type: ignore[list-item]
            self._state = backend.join(self._state, state)
        self.rows += rows
        self._next_index += len(rows)
        return [row.index for row in rows]

    def cancel(self, index: int) -> None:
        """Drop row `index` at the next step (it then ends with finish_reason "cancelled")."""
        self._cancelled.add(index)

    def __iter__(self) -> Iterator[Event]:
        """Step until every row has finished (rows may be `cancel`led meanwhile)."""
        while self.rows:
            yield from self.step()

    def step(self) -> list[Event]:
        """One token for every active row: its event, and a final one for each row that finished."""
        if not self.rows or self._logits is None:
            return []
        events: list[Event] = []
        keep: list[int] = []
        next_tokens: list[int] = []
        for position, row in enumerate(self.rows):
            now = time.perf_counter()
            reason: FinishReason | None = "cancelled" if row.index in self._cancelled else None
            if reason is None:
                token = choose_token(self._logits[position], row.seen, row.params, row.generator)
                if not row.tokens:
                    row.ttft_s = now - row.started
                reason, delta = self.engine._advance(row, token)
                events.append(Event(row.index, token, delta))
                if reason is None and row.params.time_budget_s is not None:
                    reason = "time" if now - row.started >= row.params.time_budget_s else None
                if reason is None:
                    keep.append(position)
                    next_tokens.append(token)
                    continue
            self._cancelled.discard(row.index)
            tail = self.engine._finish_text(row) if reason != "cancelled" else ""
            events.append(Event(row.index, None, tail, Completion(
                token_ids=row.tokens, text=row.text, finish_reason=reason, prompt_tokens=len(row.prompt),
                ttft_s=row.ttft_s, total_s=time.perf_counter() - row.started,
            )))
        if not keep:
            self.rows, self._logits, self._state = [], None, None
            return events
        backend = self.engine.backend
        if len(keep) < len(self.rows):
            self._state = backend.select(self._state, torch.tensor(keep, dtype=torch.long))
            self.rows = [self.rows[p] for p in keep]
        self._logits = backend.decode(self._state, torch.tensor(next_tokens, dtype=torch.long))
        return events


class Engine:
    """Generation on token ids over a `Backend`."""

    def __init__(
        self, backend: Backend, decode: Decode | None = None, stop_token_ids: Sequence[int] = ()
    ) -> None:
        self.backend = backend
        self.decode = decode
        self.stop_token_ids = tuple(stop_token_ids)

    @property
    def context_length(self) -> int:
        return self.backend.context_length

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        params: SamplingParams | Sequence[SamplingParams],
        adapters: Sequence[RowAdapters] | None = None,
    ) -> list[Completion]:
        """Decode all prompts together; return completions in prompt order."""
        results: list[Completion | None] = [None] * len(prompts)
        for event in self.run(prompts, params, adapters):
            if event.completion is not None:
                results[event.row] = event.completion
        return [r for r in results if r is not None]

    def stream(
        self, prompt: Sequence[int], params: SamplingParams, adapters: RowAdapters = ()
    ) -> Iterator[Event]:
        """Events of a single request, as they are produced."""
        return self.run([prompt], params, [adapters])

    def run(
        self,
        prompts: Sequence[Sequence[int]],
        params: SamplingParams | Sequence[SamplingParams],
        adapters: Sequence[RowAdapters] | None = None,
    ) -> Iterator[Event]:
        """The decode loop. Yields an `Event` per generated token and one per finished row.

        `adapters[i]` are the experts of row i with their weights (`()` = the plain base); rows with
        different experts decode together in one batch."""
        if not prompts:
            return
        batch = DecodeBatch(self)
        batch.admit(prompts, params, adapters)
        yield from batch

    # ---- helpers

    def _new_row(self, index: int, prompt: list[int], params: SamplingParams) -> _Row:
        if not prompt:
            raise InvalidRequestError("the prompt is empty")
        if len(prompt) >= self.context_length:
            raise ContextLengthError(
                f"the prompt has {len(prompt)} tokens but the model's context holds {self.context_length} "
                "(prompt plus at least one new token)"
            )
        if params.stop_strings and self.decode is None:
            raise InvalidRequestError("stop strings need an engine built with a decode function")
        generator = None
        if not params.greedy:
            generator = torch.Generator()
            if params.seed is None:
                generator.seed()  # fresh entropy for this row only; the global RNG is left alone
            else:
                generator.manual_seed(params.seed)
        return _Row(
            index=index, prompt=prompt, params=params,
            max_new=min(params.max_new_tokens, self.context_length - len(prompt)),
            generator=generator,
            detok=IncrementalDetokenizer(self.decode) if self.decode else None,
            stops=StopStringMatcher(params.stop_strings),
            seen=torch.tensor(prompt, dtype=torch.long),
        )

    def _advance(self, row: _Row, token: int) -> tuple[FinishReason | None, str]:
        """Record a token; return why the row stops now (or None) and the newly visible text."""
        if token in self.stop_token_ids or token in row.params.stop_token_ids:
            return "stop", ""
        row.tokens.append(token)
        if row.params.repetition_penalty != 1.0:
            row.seen = torch.cat([row.seen, torch.tensor([token])])
        delta = row.stops.feed(row.detok.push(token)) if row.detok else ""
        row.text += delta
        if row.stops.matched:
            return "stop", delta
        if len(row.tokens) >= row.max_new:
            return "length", delta
        return None, delta

    @staticmethod
    def _finish_text(row: _Row) -> str:
        """Release text held back for an incomplete character or a possible stop string."""
        if row.detok is None or row.stops.matched:
            return ""
        tail = row.stops.feed(row.detok.flush())
        tail = tail if row.stops.matched else tail + row.stops.flush()
        row.text += tail
        return tail
