"""Typed configuration of a training run, kept apart from how the trained expert is used afterwards.

`TrainConfig` is everything that shapes the weights (data, method, optimisation, evaluation, checkpoints);
`InferConfig` is how the expert answers once installed (system prompt, template, tools, decoding); `Recipe`
joins them with what goes into the package manifest. A recipe YAML file is just these saved arguments:

    moe train --recipe recipes/sql.yaml          # see recipes/ for the starter experts
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from moe_system.errors import ConfigError, one_line
from moe_system.experts.manifest import ExpertName, SemVer, ToolName

Method = Literal["lora", "dora", "ia3", "model"]
Task = Literal["sql", "python", "math"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GeneratorSpec(_Strict):
    """Data made on the fly by a bundled generator (`moe_system.data`)."""

    task: Task
    n: int = Field(2000, ge=1, le=1_000_000)
    seed: int = Field(0, ge=0)
    lang: Literal["en", "ru", "mix"] = "mix"


class DataConfig(_Strict):
    """Training data (a file/folder or a generator) and the evaluation items the run reports on."""

    train: Path | None = Field(None, description="a .jsonl/.txt file or a folder of them")
    generator: GeneratorSpec | None = None
    val_fraction: float = Field(0.05, ge=0.0, lt=0.5)
    test_fraction: float = Field(0.0, ge=0.0, lt=0.5)
    split_seed: int = 0
    eval_file: Path | None = Field(None, description="task evaluation items (JSONL); checked for contamination")
    eval_generator: GeneratorSpec | None = Field(None, description="held-out items from another seed")
    eval_items: int = Field(20, ge=0, description="task items scored at each evaluation (0 = loss only)")
    dev_items: int = Field(0, ge=0, description="items of the task's hand-written dev set (data/dev/) scored at each "
                           "evaluation instead, to pick the best checkpoint on requests not drawn from the generator")
    dedup: bool = True
    near_duplicate_threshold: float = Field(0.9, gt=0.0, le=1.0)
    force_contaminated: bool = Field(False, description="warn instead of refusing when eval items leak into training")

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.train is None) == (self.generator is None):
            raise ValueError("give exactly one of data.train (a file) or data.generator")
        return self


class AdapterConfig(_Strict):
    r: int = Field(16, ge=1, le=1024)
    alpha: float = Field(32.0, gt=0)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class ExpertModelConfig(_Strict):
    """A small transformer trained from scratch (`method: model`); its vocabulary is the base tokenizer's."""

    d_model: int = Field(256, ge=16)
    n_layers: int = Field(4, ge=1)
    n_heads: int = Field(4, ge=1)
    d_ff: int = Field(1024, ge=16)
    max_positions: int = Field(1024, ge=16)

    @model_validator(mode="after")
    def _heads_divide(self) -> ExpertModelConfig:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        return self


class OptimConfig(_Strict):
    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="optimizer steps; overrides epochs")
    batch_size: int = Field(8, ge=1, description="examples per micro-batch")
    grad_accum: int = Field(1, ge=1, description="micro-batches per optimizer step")
    lr: float = Field(2e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_ratio: float = Field(0.05, ge=0.0, lt=1.0)
    min_lr_ratio: float = Field(0.1, ge=0.0, le=1.0, description="cosine decays to lr * this")
    max_grad_norm: float | None = Field(1.0, gt=0)
    max_len: int = Field(512, ge=8, description="tokens per example (longer ones are truncated)")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="bf16 = autocast matmuls to bfloat16 (weights and optimizer stay fp32); ~2x on AVX512-BF16"
    )


class RunConfig(_Strict):
    eval_every: int = Field(50, ge=1, description="optimizer steps between evaluations")
    save_every: int = Field(50, ge=1, description="optimizer steps between checkpoints")
    keep_checkpoints: int = Field(2, ge=1)
    best_metric: Literal["val_loss", "task_accuracy"] = "val_loss"
    early_stopping_patience: int | None = Field(None, ge=1, description="evaluations without improvement")
    snapshot_samples: int = Field(3, ge=0, description="answers generated and saved at each evaluation")
    seed: int = 0
    deterministic: bool = False
    threads: int | None = Field(None, ge=1)
    curriculum: bool = Field(False, description="first epoch from easy to hard (meta.difficulty or length)")
    memory_limit_mb: int | None = Field(None, ge=64, description="resource monitor: shrink micro-batches above 90%")
    entropy_floor: float | None = Field(None, gt=0, description="stop when token entropy stays below this")
    log_every: int = Field(5, ge=1)


class TrainConfig(_Strict):
    """Everything that shapes the trained weights."""

    method: Method = "lora"
    data: DataConfig
    adapter: AdapterConfig = Field(default_factory=AdapterConfig)
    model: ExpertModelConfig = Field(default_factory=ExpertModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    run: RunConfig = Field(default_factory=RunConfig)


class InferConfig(_Strict):
    """How the installed expert answers: written into its manifest, never used by training."""

    system_prompt: str | None = None
    template: str | None = Field(None, description="user message template with {prompt}")
    tools: list[ToolName] = Field(default_factory=list)
    max_tokens: int = Field(256, ge=1)
    best_of: int = Field(1, ge=1, le=16, description="verified best-of-N the manifest asks for (1 = greedy)")
    repetition_penalty: float = Field(1.0, gt=0.0, le=10.0, description="1.0 = off (numbers and code repeat)")


class PackageInfo(_Strict):
    """What the manifest says about the expert beyond training: identity and routing hints."""

    name: ExpertName  # names the run folder (MOE_HOME/runs/<name>-<version>): no path may hide in it
    version: SemVer = "0.1.0"
    description: str = ""
    license: str = "Apache-2.0"
    author: str = "moe_system"
    keywords: list[str] = Field(default_factory=list)
    exclude_keywords: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    category: str | None = None
    priority: float = Field(0.5, ge=0.0, le=1.0)


class Recipe(_Strict):
    """A recipe file: the expert to build, how to train it, how it answers."""

    expert: PackageInfo
    task: Task | None = None
    train: TrainConfig
    infer: InferConfig = Field(default_factory=InferConfig)

    @classmethod
    def load(cls, path: Path) -> Recipe:
        """Read a YAML recipe; relative data paths resolve against the recipe's folder."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"cannot read recipe {path}: {err.strerror}") from err
        return cls.parse(text, f"recipe {path}", path.parent)

    @classmethod
    def parse(cls, text: str, source: str, folder: Path) -> Recipe:
        """A recipe from YAML text (`source` names it in errors); relative data paths resolve against `folder`."""
        try:
            data = yaml.safe_load(text)
        # PyYAML raises ValueError for an impossible date, RecursionError for deep nesting: bad input too
        except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as err:
            raise ConfigError(f"{source} is not valid YAML: {one_line(err)[:300]}") from err
        if not isinstance(data, dict):
            raise ConfigError(f"{source} must be a YAML mapping: a whole recipe, as in recipes/*.yaml")
        try:
            recipe = cls.model_validate(data)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "recipe"
            raise ConfigError(f"{source}: field '{where}': {first['msg']}") from err
        return recipe.resolved(folder)

    def resolved(self, folder: Path) -> Recipe:
        data = self.train.data
        updates = {
            key: (folder / value) if value is not None and not value.is_absolute() else value
            for key, value in (("train", data.train), ("eval_file", data.eval_file))
        }
        return self.with_data(**updates)

    def with_data(self, **updates: Any) -> Recipe:
        """This recipe with these `train.data` fields replaced."""
        train = self.train.model_copy(update={"data": self.train.data.model_copy(update=updates)})
        return self.model_copy(update={"train": train})
