"""A recipe, end to end: data -> checks -> training -> evaluation -> signed package -> installed expert.

    moe train --recipe recipes/sql.yaml

1. Data from the recipe's file or generator; validation, exact and near-duplicate removal, a deterministic
   train/val/test split whose manifest (sha256 per example and per split) is saved with the run.
2. Held-out task items are checked for contamination against the training split: items from a file must be
   clean (the run refuses, or warns with `force_contaminated`); generated items (another seed) that still
   overlap a training example are replaced by fresh ones. The field test sets (`data/field/`) and the dev sets
   (`data/dev/`) must be in no split at all: the run refuses data that contains one of their items.
3. The trainer (`trainer.py`) runs with the standard callbacks; at each evaluation a few task items are
   answered by the engine with the adapter as it is at that step (batched, greedy) and scored: the dev set's
   (`data.dev_items`, hand-written, so the best checkpoint is the one that does best on requests not drawn from
   the generator), else the held-out items' (`data.eval_items`).
4. The best weights are evaluated on all held-out items, beside the base model on the same items; then the
   expert is packaged (manifest with training and evaluation metadata), signed with the project key
   (`MOE_HOME/keys/project.key`, created on first use) and installed.

Everything lands in `MOE_HOME/runs/<name>-<version>/`: metrics.jsonl, loss.png, snapshots/, checkpoints/,
best/, split_manifest.json, result.json and the package. Running the same recipe again resumes the run.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from safetensors.torch import load_file, save_file

from moe_system.base import load_base
from moe_system.config import Settings
from moe_system.engine import Engine, NativeBackend, SamplingParams
from moe_system.engine.lora import RowAdapters
from moe_system.errors import ConfigError
from moe_system.experts.adapters import from_peft
from moe_system.experts.layout import EXAMPLE_PROMPTS_FILE, SHIPPED_DTYPE
from moe_system.tools.math_answer import math_tool
from moe_system.training.callbacks import default_callbacks
from moe_system.training.config import Recipe
from moe_system.training.data import Example, load_dataset
from moe_system.training.dedup import DedupReport, dedup
from moe_system.training.encode import encode_dataset, pad_token_id
from moe_system.training.evaluation import (
    build_prompt,
    dev_items,
    field_items,
    load_items,
    score_math,
    score_python,
    score_sql,
)
from moe_system.training.models import adapter_model, expert_model
from moe_system.training.splits import Splits, contamination_check, eval_item_text, require_clean, split_dataset
from moe_system.training.trainer import Trainer

PROJECT_KEY = "project.key"
HELD_OUT_FILE = "heldout.jsonl"
ROUTING_PROMPTS = 200

@dataclass
class RunResult:
    """What a finished run reports (also written to `result.json`)."""

    name: str
    version: str
    run_dir: str
    steps: int
    stop_reason: str | None
    best_step: int | None
    train_examples: int
    val_examples: int
    eval_items: int
    eval_items_replaced: int = 0
    expert_accuracy: float | None = None
    base_accuracy: float | None = None
    package: str | None = None
    installed: bool = False
    dedup: dict[str, int] = field(default_factory=dict)


def run_recipe(
    recipe: Recipe, settings: Settings, *, fresh: bool = False, install: bool = True,
    max_steps: int | None = None, console: Console | None = None, run_dir: Path | None = None,
) -> RunResult:
    """Train, evaluate, package and install the expert a recipe describes (see the module doc); `run_dir`
    replaces the run folder `MOE_HOME/runs/<name>-<version>` (the server keeps each user's runs apart)."""
    console = console or Console(stderr=True)
    config = recipe.train
    if max_steps is not None:
        config = config.model_copy(update={"optim": config.optim.model_copy(update={"max_steps": max_steps})})
    run_dir = run_dir or settings.home / "runs" / f"{recipe.expert.name}-{recipe.expert.version}"
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.run.threads:
        torch.set_num_threads(config.run.threads)

    data = prepare_data(recipe, console)
    splits, report, items, dropped = data.splits, data.dedup, data.items, data.items_replaced
    splits.manifest().save(run_dir / "split_manifest.json")
    if items:  # the held-out set as `moe eval --file` reads it, to re-score the installed expert
        (run_dir / HELD_OUT_FILE).write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items),
                                             encoding="utf-8")

    base = load_base(settings, console)
    tokenizer, pad_id = base.tokenizer, pad_token_id(base.tokenizer)
    train_set = encode_dataset(splits.train, tokenizer, config.optim.max_len).examples
    val_set = encode_dataset(splits.val, tokenizer, config.optim.max_len).examples
    torch.manual_seed(config.run.seed)  # the initial adapter (or model) weights are part of the run's identity
    answerer: _AdapterAnswerer | _ModelAnswerer
    model: torch.nn.Module
    if config.method == "model":
        model = expert_model(config.model, tokenizer.vocab_size, pad_id, tokenizer.stop_token_ids[0])
        model.to(base.device)  # type: ignore[arg-type]  # transformers types `to` as a decorator wrapper
        answerer = _ModelAnswerer(model, tokenizer, _AdapterAnswerer(NativeBackend(base.model), tokenizer))
    else:
        answerer = _AdapterAnswerer(NativeBackend(base.model), tokenizer)  # packs the frozen base once
        for param in base.model.parameters():
            param.requires_grad_(False)
        model = adapter_model(base.model, config.method, config.adapter)
        answerer.model = model
    (settings.home / "tmp").mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="eval-", dir=settings.home / "tmp"))
    scorer = _Scorer(recipe, scratch)
    picking = data.dev[: config.data.dev_items] if config.data.dev_items else items[: config.data.eval_items]

    def task_eval(trainer: Trainer) -> tuple[dict[str, float], list[dict[str, Any]]]:
        if not picking or recipe.task is None:
            return {}, []
        answers = answerer.answer([build_prompt(item, recipe.task) for item in picking], recipe)
        correct = [scorer(item, answer) for item, answer in zip(picking, answers, strict=True)]
        shown = list(zip(picking, answers, correct, strict=True))[: config.run.snapshot_samples]
        samples = [{"prompt": build_prompt(item, recipe.task), "answer": answer, "correct": ok}
                   for item, answer, ok in shown]
        return {"task_accuracy": sum(correct) / len(correct)}, samples

    trainer = Trainer(model, train_set, val_set, config, run_dir, pad_id, default_callbacks(config), task_eval,
                      console=console)
    state = trainer.fit()
    result = RunResult(
        name=recipe.expert.name, version=recipe.expert.version, run_dir=str(run_dir), steps=state.step,
        stop_reason=state.stop_reason, best_step=state.best_step, train_examples=len(train_set),
        val_examples=len(val_set), eval_items=len(items), eval_items_replaced=dropped,
        dedup={"removed_exact": report.exact_removed, "removed_near": report.near_removed} if report else {},
    )
    best = run_dir / "best" / "trainable.safetensors"
    weights = load_file(best) if best.is_file() else {}
    with torch.no_grad():
        for name, tensor in trainer.trainable.items():
            # Rounded to bfloat16, the precision the package stores, so the held-out scores are the
            # shipped weights' scores.
            tensor.copy_(weights.get(name, tensor).to(SHIPPED_DTYPE))
    if items and recipe.task is not None:
        result.expert_accuracy = _accuracy(answerer.answer([build_prompt(i, recipe.task) for i in items], recipe),
                                           items, scorer)
        base_answers = answerer.answer_base([build_prompt(i, recipe.task) for i in items], recipe,
                                            settings.generation.system_prompt)
        result.base_accuracy = _accuracy(base_answers, items, scorer)
        console.print(f"held-out {recipe.task}: expert {result.expert_accuracy:.1%} vs base {result.base_accuracy:.1%} "
                      f"on {len(items)} items")
    package = _package(recipe, model, run_dir, settings, result, splits.manifest().sha256["train"],
                       _routing_prompts(splits.train))
    result.package = str(package)
    if install:
        _install(package, settings)
        result.installed = True
    (run_dir / "result.json").write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(scratch, ignore_errors=True)
    return result


# ---- data


@dataclass
class PreparedData:
    """A recipe's data as a run uses it: the split, the dedup report, the clean held-out items and the task's dev
    set (which picks checkpoints when `data.dev_items` asks for it)."""

    splits: Splits
    dedup: DedupReport | None
    items: list[dict[str, Any]]
    items_replaced: int  # generated held-out items that overlapped training and were replaced
    dev: list[dict[str, Any]] = field(default_factory=list)


def prepare_data(recipe: Recipe, console: Console) -> PreparedData:
    """Steps 1 and 2 of a run: the recipe's examples (with its system prompt, deduplicated), the deterministic
    split and the held-out items checked against the training split. A pure function of the recipe, so a finished
    run's held-out set can be rebuilt without its run folder (`moe bench quality`)."""
    data = recipe.train.data
    examples = _with_system_prompt(_training_examples(recipe), recipe.infer.system_prompt)
    report = None
    if data.dedup:
        examples, report = dedup(examples, data.near_duplicate_threshold)
        console.print(f"data: {report.summary()}")
    dev = dev_items(recipe.task) if recipe.task is not None else []
    if data.dev_items and not dev:
        raise ConfigError(f"data.dev_items: task {recipe.task!r} has no dev set (data/dev/)")
    if recipe.task is not None:  # the field set is scored only, the dev set picks checkpoints: in no split, ever
        apart = [eval_item_text(i) for i in (*field_items(recipe.task), *dev)]
        require_clean(contamination_check(examples, apart), force=data.force_contaminated)
    splits = split_dataset(examples, data.val_fraction, data.test_fraction, data.split_seed)
    items, replaced = _clean_eval_items(recipe, splits.train, console)
    return PreparedData(splits, report, items, replaced, dev)


def _training_examples(recipe: Recipe) -> list[Example]:
    data = recipe.train.data
    if data.train is not None:
        return load_dataset(data.train)
    spec = data.generator
    assert spec is not None
    from moe_system.data import GENERATORS

    generator = GENERATORS[spec.task]
    source = f"generator:{spec.task}:seed={spec.seed}"
    chats = [generator.to_chat(item) for item in generator.generate(spec.n, spec.seed, spec.lang)]
    return [
        Example(messages=chat["messages"], meta=chat.get("meta", {}), line=index + 1, source=source)
        for index, chat in enumerate(chats)
    ]


def _with_system_prompt(examples: list[Example], system: str | None) -> list[Example]:
    """Train with the system prompt the installed expert will answer under (its manifest's `prompt.system`)."""
    if not system:
        return examples
    return [
        Example(messages=[{"role": "system", "content": system}, *e.messages], meta=e.meta, line=e.line,
                source=e.source)
        if e.messages is not None and e.messages[0]["role"] != "system" else e
        for e in examples
    ]


def _clean_eval_items(
    recipe: Recipe, train: Sequence[Example], console: Console
) -> tuple[list[dict[str, Any]], int]:
    """Held-out items that do not overlap the training split, and how many were left out.

    Items from a file must be clean: the run refuses (or, with `force_contaminated`, warns). Items from a
    generator are drawn with another seed; the few that still overlap a training example (the same task
    reworded, or in the other language) are replaced by fresh ones, so the held-out set stays `n` items that
    the model never saw."""
    data = recipe.train.data
    if data.eval_file is not None and recipe.task is not None:
        items = load_items(data.eval_file, recipe.task)
        require_clean(contamination_check(train, [eval_item_text(i) for i in items]), force=data.force_contaminated)
        return items, 0
    if data.eval_generator is None:
        return [], 0
    from moe_system.data import GENERATORS

    spec = data.eval_generator
    if data.generator is not None and spec.seed == data.generator.seed:
        raise ConfigError("data.eval_generator must use another seed than data.generator")
    pool = GENERATORS[spec.task].generate(2 * spec.n, spec.seed, spec.lang)
    report = contamination_check(train, [eval_item_text(i) for i in pool])
    leaked = {item.index for item in report.items}
    if leaked:
        console.print(f"held-out set: {len(leaked)} generated items overlap training examples and are replaced")
    return [item for index, item in enumerate(pool) if index not in leaked][: spec.n], len(leaked)


# ---- answering and scoring held-out items


class _Scorer:
    def __init__(self, recipe: Recipe, scratch: Path) -> None:
        self.task, self.tools, self.scratch = recipe.task, set(recipe.infer.tools), scratch

    def __call__(self, item: dict[str, Any], answer: str) -> bool:
        if self.task == "sql":
            return score_sql(item, answer)
        if self.task == "python":
            return score_python(item, answer, scratch=self.scratch)
        return score_math(item, math_tool(answer) if "calculator" in self.tools else answer)


def _accuracy(answers: Sequence[str], items: Sequence[dict[str, Any]], scorer: Callable[..., bool]) -> float:
    return sum(scorer(item, answer) for item, answer in zip(items, answers, strict=True)) / max(len(items), 1)


class _AdapterAnswerer:
    """Answers with the engine over the packed base plus the adapter exactly as it is now (no merge, no copy
    of the base): the trainable PEFT tensors are converted with `experts.adapters.from_peft`."""

    def __init__(self, backend: NativeBackend, tokenizer: Any) -> None:
        self.engine = Engine(backend, decode=tokenizer.decode, stop_token_ids=tokenizer.stop_token_ids)
        self.tokenizer = tokenizer
        self.model: Any = None

    def answer(self, prompts: Sequence[str], recipe: Recipe) -> list[str]:
        from peft import get_peft_model_state_dict

        config = self.model.peft_config["default"].to_dict()
        config["peft_type"] = getattr(config["peft_type"], "value", config["peft_type"])
        tensors = {k: v.detach().clone() for k, v in get_peft_model_state_dict(self.model).items()}
        adapter = from_peft(tensors, config, self.engine.backend.linears, recipe.expert.name,
                            self.engine.backend.dtype)
        infer = recipe.infer
        return self._generate(prompts, ((adapter, 1.0),), infer.system_prompt, infer.max_tokens,
                              infer.repetition_penalty)

    def answer_base(self, prompts: Sequence[str], recipe: Recipe, system: str | None) -> list[str]:
        """The plain base under the configured default system prompt, decoded like the expert."""
        return self._generate(prompts, (), system, recipe.infer.max_tokens, recipe.infer.repetition_penalty)

    def _generate(
        self, prompts: Sequence[str], row: RowAdapters, system: str | None, max_tokens: int, penalty: float
    ) -> list[str]:
        answers: list[str] = []
        for start in range(0, len(prompts), 8):
            chunk = prompts[start: start + 8]
            ids = [self.tokenizer.chat_ids(([{"role": "system", "content": system}] if system else [])
                                           + [{"role": "user", "content": p}]) for p in chunk]
            params = SamplingParams(max_new_tokens=max_tokens, repetition_penalty=penalty)
            answers.extend(c.text for c in self.engine.generate(ids, params, [row] * len(ids)))
        return answers


class _ModelAnswerer:
    """Answers with a from-scratch `ExpertModel` (rebuilt into the native backend at each evaluation); the
    base model's answers, for comparison, come from `base`."""

    def __init__(self, model: Any, tokenizer: Any, base: _AdapterAnswerer) -> None:
        self.model, self.tokenizer, self.base = model, tokenizer, base

    def answer(self, prompts: Sequence[str], recipe: Recipe) -> list[str]:
        engine = Engine(NativeBackend(self.model.eval()), decode=self.tokenizer.decode,
                        stop_token_ids=self.tokenizer.stop_token_ids)
        system = recipe.infer.system_prompt
        ids = [self.tokenizer.chat_ids(([{"role": "system", "content": system}] if system else [])
                                       + [{"role": "user", "content": p}]) for p in prompts]
        self.model.train()
        params = SamplingParams(max_new_tokens=recipe.infer.max_tokens,
                                repetition_penalty=recipe.infer.repetition_penalty)
        return [c.text for c in engine.generate(ids, params)]

    def answer_base(self, prompts: Sequence[str], recipe: Recipe, system: str | None) -> list[str]:
        return self.base.answer_base(prompts, recipe, system)


# ---- package, sign, install


def _routing_prompts(train: Sequence[Example]) -> list[str]:
    """Up to `ROUTING_PROMPTS` user requests from the training split, evenly spread over it: shipped in the
    package (`EXAMPLE_PROMPTS_FILE`) so that routers can learn what this expert is asked."""
    prompts = [next(m["content"] for m in reversed(e.messages) if m["role"] == "user")
               for e in train if e.messages and any(m["role"] == "user" for m in e.messages)]
    step = max(1, len(prompts) // ROUTING_PROMPTS)
    return prompts[::step][:ROUTING_PROMPTS]


def _package(recipe: Recipe, model: Any, run_dir: Path, settings: Settings, result: RunResult,
             dataset_sha256: str, prompts: Sequence[str]) -> Path:
    from moe_system.base.fingerprint import base_sha256
    from moe_system.base.source import resolve_source
    from moe_system.experts.layout import WEIGHTS_FILE
    from moe_system.experts.manifest import Manifest
    from moe_system.experts.package import build_package, sign_package
    from moe_system.experts.standalone import save_standalone

    folder = run_dir / "package"
    shutil.rmtree(folder, ignore_errors=True)
    info = recipe.expert
    kind = recipe.train.method
    if kind == "model":
        save_standalone(model, folder, SHIPPED_DTYPE)
        adapter: dict[str, Any] = {}
    else:
        model.save_pretrained(folder)
        weights_file = folder / WEIGHTS_FILE
        save_file({k: v.to(SHIPPED_DTYPE) for k, v in load_file(weights_file).items()}, weights_file,
                  metadata={"format": "pt"})
        adapter = {"r": recipe.train.adapter.r if kind != "ia3" else None,
                   "alpha": recipe.train.adapter.alpha if kind != "ia3" else None,
                   "target_modules": sorted(model.peft_config["default"].target_modules or []),
                   "dropout": recipe.train.adapter.dropout if kind != "ia3" else 0.0}
    manifest = Manifest.from_dict({
        "name": info.name, "version": info.version, "description": info.description, "kind": kind,
        "base_model": {"name": resolve_source(settings.base).name, "sha256": base_sha256(settings)},
        "adapter": adapter,
        "routing": {"keywords": info.keywords, "exclude_keywords": info.exclude_keywords,
                    "examples": info.examples, "category": info.category, "priority": info.priority},
        "prompt": {"system": recipe.infer.system_prompt, "template": recipe.infer.template},
        "tools": recipe.infer.tools,
        "generation": {"max_tokens": recipe.infer.max_tokens, "repetition_penalty": recipe.infer.repetition_penalty,
                       "best_of": recipe.infer.best_of if recipe.infer.best_of > 1 else None},
        "training": {"recipe": recipe.model_dump_json(), "dataset_fingerprint": dataset_sha256,
                     "metrics": {"steps": float(result.steps), "train_examples": float(result.train_examples)}},
        "evaluation": {"task": recipe.task, "score": result.expert_accuracy, "base_score": result.base_accuracy},
        "license": info.license, "author": info.author,
    })
    (folder / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    if prompts:
        (folder / "examples").mkdir()
        (folder / EXAMPLE_PROMPTS_FILE).write_text(
            "".join(json.dumps({"text": p}, ensure_ascii=False) + "\n" for p in prompts), encoding="utf-8")
    package = run_dir / f"{info.name}-{info.version}.expert"
    build_package(folder, package)
    sign_package(package, project_key(settings), scratch=settings.home / "tmp")
    return package


def project_key(settings: Settings) -> Path:
    """The key this installation signs its own trained experts with (created on first use)."""
    from moe_system.experts.signing import generate_keypair

    key = settings.keys_dir / PROJECT_KEY
    if not key.is_file():
        generate_keypair(key)
    return key


def _install(package: Path, settings: Settings) -> None:
    """Install with the project key trusted for this one install (it signed the package a moment ago)."""
    from moe_system.base.fingerprint import base_sha256
    from moe_system.experts.registry import Registry, trusting

    public = Path(f"{project_key(settings)}.pub").read_text(encoding="utf-8")
    with Registry(trusting(settings, public)) as registry:
        registry.install(package, base_sha256=base_sha256(settings), replace=True)

