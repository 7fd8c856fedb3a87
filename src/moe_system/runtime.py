"""The loaded system behind every interface: base model + chat tokenizer + engine + loaded-expert cache.

It turns chat messages into prompt ids, request options into validated `SamplingParams` and installed
experts into the per-row adapters the engine applies. The SDK, the CLI and the server share one `Runtime`
per process.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console

from moe_system.base import ChatTokenizer, load_base
from moe_system.base.quantization import linear_calibration
from moe_system.config import GenerationSettings, Settings
from moe_system.engine import Engine, SamplingParams, Scheduler, build_backend
from moe_system.engine.arena import trim_heap
from moe_system.engine.lora import RowAdapters
from moe_system.errors import ExpertError, InvalidRequestError
from moe_system.experts.cache import ExpertCache

if TYPE_CHECKING:
    from moe_system.experts.registry import InstalledExpert

_OPTIONS = {"top_k", "top_p", "repetition_penalty", "stop", "time_budget_s"}


@dataclass
class Runtime:
    engine: Engine
    tokenizer: ChatTokenizer
    model_name: str
    load_s: float
    settings: Settings
    experts: ExpertCache
    _base_sha256: str | None = field(default=None, repr=False)
    _standalone: tuple[tuple[str, str, str], Engine] | None = field(default=None, repr=False)
    _schedulers: dict[int, Scheduler] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, settings: Settings, console: Console | None = None) -> Runtime:
        started = time.perf_counter()
        base = load_base(settings, console)
        shown = console or Console(stderr=True)

        def warn(line: str) -> None:
            shown.print(f"warning: {line}", markup=False)

        backend = build_backend(base.model, settings.base.backend, _context(settings, base.context_length),
                                settings.base.quantization, warn,
                                functools.partial(linear_calibration, base, settings))
        engine = Engine(backend, decode=base.tokenizer.decode, stop_token_ids=base.tokenizer.stop_token_ids)
        cache = ExpertCache(backend.linears, backend.dtype, settings.experts.cache_mb * 2**20)
        tokenizer, name = base.tokenizer, base.name
        del base  # the transformers model: the backend keeps what it runs
        # its float copies made while packing and quantizing leave free pages in glibc's heaps: 566 MB of the
        # 1,413 MB RSS of an int8 runtime with three experts loaded (SmolLM2, 2-core Xeon)
        trim_heap()
        return cls(engine, tokenizer, name, time.perf_counter() - started, settings, cache)

    def scheduler(self, engine: Engine) -> Scheduler:
        """The continuous-batching loop of `engine` (started on first use): concurrent requests share its steps.
        Loops of engines the runtime no longer holds (a standalone expert's, once another replaced it) are stopped
        when idle, which frees that model."""
        with self._lock:
            if id(engine) not in self._schedulers:
                held = {id(engine), id(self.engine), *([id(self._standalone[1])] if self._standalone else [])}
                for key in [key for key, old in self._schedulers.items()
                            if key not in held and old.active == 0 and old.queued == 0]:
                    self._schedulers.pop(key).close()
                server = self.settings.server
                self._schedulers[id(engine)] = Scheduler(engine, server.max_batch, server.max_queue)
            return self._schedulers[id(engine)]

    def close(self) -> None:
        """Stop the schedulers' threads."""
        with self._lock:
            for scheduler in self._schedulers.values():
                scheduler.close()
            self._schedulers.clear()

    @property
    def base_sha256(self) -> str:
        """Identity of the running base weights (hashed once, then cached on disk)."""
        if self._base_sha256 is None:
            from moe_system.base.fingerprint import base_sha256

            self._base_sha256 = base_sha256(self.settings)
        return self._base_sha256

    def engine_for(self, chosen: Sequence[tuple[InstalledExpert, float]]) -> tuple[Engine, RowAdapters]:
        """The engine that answers for `chosen` and the adapters its row applies: the base engine with the
        experts' adapters, or, for one expert of kind `model`, that model's own engine."""
        for expert, _ in chosen:
            self._check_base(expert)
        standalone = [expert for expert, _ in chosen if expert.kind == "model"]
        if not standalone:
            return self.engine, self.adapters(chosen)
        if len(chosen) > 1:
            raise InvalidRequestError(
                f"expert '{standalone[0].name}' is a standalone model (kind model): it answers alone, not composed"
            )
        return self._standalone_engine(standalone[0]), ()

    def adapters(self, chosen: Sequence[tuple[InstalledExpert, float]]) -> RowAdapters:
        """Installed experts with weights -> the loaded adapters one engine row applies."""
        row = []
        for expert, weight in chosen:
            self._check_base(expert)
            adapter = self.experts.get(expert.name, expert.version, expert.kind, expert.path, expert.installed_at)
            row.append((adapter, weight))
        return tuple(row)

    def _check_base(self, expert: InstalledExpert) -> None:
        if expert.base_sha256 != self.base_sha256:
            raise ExpertError(
                f"expert '{expert.name}' {expert.version} was built for base model '{expert.base_model}' "
                f"({expert.base_sha256[:12]}…), but the running base is '{self.model_name}' "
                f"({self.base_sha256[:12]}…)"
            )

    def _standalone_engine(self, expert: InstalledExpert) -> Engine:
        """The engine of a kind-`model` expert; the last one used stays loaded (they are small, and the
        adapter cache's budget is for adapters)."""
        key = (expert.name, expert.version, expert.installed_at)  # a reinstall (retrained) loads anew
        if self._standalone is None or self._standalone[0] != key:
            from moe_system.experts.standalone import load_standalone

            model = load_standalone(expert.path, expert.name, self.engine.backend.dtype)
            context = _context(self.settings, model.config.max_position_embeddings)
            backend = build_backend(model, self.settings.base.backend, context, self.settings.base.quantization)
            engine = Engine(backend, decode=self.tokenizer.decode, stop_token_ids=self.tokenizer.stop_token_ids)
            self._standalone = (key, engine)
        return self._standalone[1]

    @property
    def context_length(self) -> int:
        return self.engine.context_length

    @property
    def backend_name(self) -> str:
        return type(self.engine.backend).__name__

    def prompt_ids(self, messages: Sequence[dict[str, str]], system_prompt: str | None) -> list[int]:
        """Chat-template the messages, adding the system prompt unless the messages carry one."""
        if system_prompt and messages[0]["role"] != "system":
            messages = [{"role": "system", "content": system_prompt}, *messages]
        return self.tokenizer.chat_ids(messages)

    def sampling_params(
        self,
        defaults: GenerationSettings,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        **options: Any,
    ) -> SamplingParams:
        """Request options over configured defaults. Unknown options are an error, not ignored."""
        unknown = set(options) - _OPTIONS
        if unknown:
            raise InvalidRequestError(f"unknown generation option(s): {', '.join(sorted(unknown))}")
        stop = options.get("stop") or ()
        stop = (stop,) if isinstance(stop, str) else tuple(stop)

        def pick(value: Any, default: Any) -> Any:
            return default if value is None else value

        return SamplingParams(
            max_new_tokens=pick(max_tokens, defaults.max_tokens),
            temperature=pick(temperature, defaults.temperature),
            top_k=pick(options.get("top_k"), defaults.top_k),
            top_p=pick(options.get("top_p"), defaults.top_p),
            repetition_penalty=pick(options.get("repetition_penalty"), defaults.repetition_penalty),
            stop_strings=stop,
            time_budget_s=pick(options.get("time_budget_s"), defaults.time_budget_s),
            seed=seed,
        )


def _context(settings: Settings, model_context: int) -> int:
    cap = settings.base.max_context
    return min(cap, model_context) if cap else model_context
