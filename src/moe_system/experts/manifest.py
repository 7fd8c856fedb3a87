"""The expert manifest: what an `.expert` package holds, which base model it fits and how the router finds it.

`manifest.json` sits at the top of every package. It is validated strictly (unknown keys are errors, names are
folder-safe, versions are semver) so that a typo never installs silently; every failure becomes a one-line
`ManifestError` naming the source and the field path. The integrity section lists the sha256 of every payload
file, and `package.py` signs the manifest together with them.

This module needs only pydantic (no torch, no cryptography), so the registry and the router can read manifests
cheaply. The JSON Schema in `docs/expert-manifest.schema.json` is generated from these models:

    python -m moe_system.experts.manifest docs/expert-manifest.schema.json
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from moe_system.config import NAME_PATTERN
from moe_system.errors import ManifestError, one_line

MANIFEST_FILE = "manifest.json"

SEMVER_PATTERN = (
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
SHA256_PATTERN = r"^[0-9a-f]{64}$"

ToolName = Literal["calculator", "sql_check", "python_check"]  # the names of `moe_system.tools.TOOLS`

_NAME_RE = re.compile(NAME_PATTERN)
_SEMVER_RE = re.compile(SEMVER_PATTERN)
_SHA256_RE = re.compile(SHA256_PATTERN)


def _check_name(value: str) -> str:
    if not _NAME_RE.fullmatch(value):
        raise PydanticCustomError(
            "expert_name",
            "'{value}' is not a valid expert name: use 1-64 of a-z, 0-9, '_', '-', starting with a letter or digit",
            {"value": value},
        )
    return value


def _check_semver(value: str) -> str:
    if not _SEMVER_RE.fullmatch(value):
        raise PydanticCustomError(
            "semver",
            "'{value}' is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.0.0 or 1.1.0-rc.1)",
            {"value": value},
        )
    return value


def _check_sha256(value: str) -> str:
    if not _SHA256_RE.fullmatch(value):
        raise PydanticCustomError("sha256", "expected 64 lowercase hex characters (a sha256 digest)")
    return value


def _check_public_key(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        raise PydanticCustomError("public_key", "expected the base64 of a raw 32-byte Ed25519 public key")
    return value


def _check_relative_path(value: str) -> str:
    parts = value.split("/")
    if (
        not value
        or value.startswith("/")
        or "\\" in value
        or any(part in {"", ".", ".."} for part in parts)
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in value)
    ):
        raise PydanticCustomError("relative_path", "'{value}' is not a plain relative posix path", {"value": value})
    return value


ExpertName = Annotated[str, AfterValidator(_check_name), Field(json_schema_extra={"pattern": NAME_PATTERN})]
SemVer = Annotated[str, AfterValidator(_check_semver), Field(json_schema_extra={"pattern": SEMVER_PATTERN})]
Sha256 = Annotated[str, AfterValidator(_check_sha256), Field(json_schema_extra={"pattern": SHA256_PATTERN})]
RelativePath = Annotated[str, AfterValidator(_check_relative_path)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BaseModelRef(_Strict):
    """The base model the expert was trained on; the sha256 is the base model's fingerprint."""

    name: str = Field(min_length=1, description="base model name, e.g. smollm2-135m-instruct")
    sha256: Sha256 = Field(description="fingerprint of the base model weights")


class AdapterInfo(_Strict):
    """Adapter hyper-parameters (from PEFT's adapter_config.json); empty for kinds model/solver."""

    r: int | None = Field(None, ge=1, description="LoRA rank")
    alpha: float | None = Field(None, description="LoRA alpha (scale = alpha / r)")
    target_modules: list[str] = Field(default_factory=list, description="module names the adapter wraps")
    dropout: float = Field(0.0, ge=0.0, le=1.0)


class RoutingInfo(_Strict):
    """Hints for the router: when to pick this expert and when not to."""

    keywords: list[str] = Field(default_factory=list, description="words that point to this expert")
    exclude_keywords: list[str] = Field(default_factory=list, description="words that rule this expert out")
    examples: list[str] = Field(default_factory=list, description="example queries this expert should answer")
    category: str | None = Field(None, description="domain, e.g. sql, python, math")
    priority: float = Field(0.5, ge=0.0, le=1.0, description="tie-breaker between experts, 0..1")


class PromptInfo(_Strict):
    """How a request is framed for this expert."""

    system: str | None = Field(None, description="system prompt used with this expert")
    template: str | None = Field(None, description="user-message template; must contain {prompt}")

    @field_validator("template")
    @classmethod
    def _has_placeholder(cls, value: str | None) -> str | None:
        if value is not None and "{prompt}" not in value:
            raise PydanticCustomError("template", "the template must contain {prompt}")
        return value


class GenerationInfo(_Strict):
    """Decoding settings the expert was validated with; they replace the configured defaults for requests it
    answers, unless the request sets them itself (e.g. a repetition penalty hurts arithmetic and code)."""

    max_tokens: int | None = Field(None, ge=1)
    repetition_penalty: float | None = Field(None, gt=0.0, le=10.0)
    best_of: int | None = Field(None, ge=1, le=16, description="verified best-of-N: answers sampled per request, "
                                "checked by the expert's tools and voted by result (1 = greedy only)")


class TrainingInfo(_Strict):
    """Provenance: how the expert was trained."""

    recipe: str | None = None
    dataset_fingerprint: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)

    @field_validator("metrics")
    @classmethod
    def _sorted(cls, value: dict[str, float]) -> dict[str, float]:
        return dict(sorted(value.items()))


class EvaluationInfo(_Strict):
    """The expert's score on its task next to the base model's."""

    task: str | None = None
    score: float | None = None
    base_score: float | None = None


class Integrity(_Strict):
    """Hashes of the payload files and the publisher's key; see docs/experts.md for what is signed."""

    algorithm: Literal["ed25519"] = "ed25519"
    public_key: str | None = Field(None, description="base64 of the raw 32-byte Ed25519 public key of the signer")
    files: dict[RelativePath, Sha256] = Field(
        default_factory=dict,
        description="relative posix path -> sha256 of every file except manifest.json and signature.sig",
    )

    @field_validator("public_key")
    @classmethod
    def _valid_key(cls, value: str | None) -> str | None:
        return None if value is None else _check_public_key(value)

    @field_validator("files")
    @classmethod
    def _sorted(cls, value: dict[str, str]) -> dict[str, str]:
        return dict(sorted(value.items()))


class Manifest(_Strict):
    """The contents of `manifest.json`."""

    schema_version: Literal[1] = 1
    name: ExpertName = Field(description="folder-safe name; also the model name in the CLI and the API")
    version: SemVer = Field(description="semantic version 2.0.0")
    description: str = ""
    kind: Literal["lora", "dora", "ia3", "model", "solver"]
    base_model: BaseModelRef
    adapter: AdapterInfo = Field(default_factory=AdapterInfo)
    routing: RoutingInfo = Field(default_factory=RoutingInfo)
    prompt: PromptInfo = Field(default_factory=PromptInfo)
    generation: GenerationInfo = Field(default_factory=GenerationInfo)
    tools: list[ToolName] = Field(
        default_factory=list,
        description="tools the expert's answers are post-processed with: calculator (runs the python block of a math "
        "answer and rewrites its Answer: line), sql_check (checks a query against the schema and re-samples one that "
        "does not run), python_check (runs the code on the examples the request states)",
    )
    training: TrainingInfo = Field(default_factory=TrainingInfo)
    evaluation: EvaluationInfo = Field(default_factory=EvaluationInfo)
    license: str = "unknown"
    author: str = ""
    integrity: Integrity = Field(default_factory=Integrity)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "manifest") -> Manifest:
        """Validate parsed data; any failure is a `ManifestError` naming `source` and the field path."""
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            field = f"field '{where}': " if where else ""
            more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
            raise ManifestError(f"{source}: {field}{one_line(first['msg'])}{more}") from err

    @classmethod
    def from_json(cls, text: str, source: str = MANIFEST_FILE) -> Manifest:
        """Parse and validate manifest JSON text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ManifestError(f"{source}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}") from err
        if not isinstance(data, dict):
            raise ManifestError(f"{source}: must hold a JSON object, not {type(data).__name__}")
        return cls.from_dict(data, source)

    @classmethod
    def from_file(cls, path: Path) -> Manifest:
        """Read and validate a manifest file."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ManifestError(f"cannot read manifest {path}: {one_line(err)}") from err
        return cls.from_json(text, source=str(path))

    def to_json(self) -> str:
        """Canonical text: indent 2, UTF-8 characters kept, fields in declaration order, trailing newline."""
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def semver_key(version: str) -> tuple[Any, ...]:
    """A sort key with semver 2.0.0 precedence: build metadata ignored, a prerelease sorts before its release,
    numeric identifiers compare as numbers and before alphanumeric ones."""
    match = _SEMVER_RE.fullmatch(version)
    if match is None:
        raise ManifestError(f"'{version}' is not a semantic version (MAJOR.MINOR.PATCH)")
    major, minor, patch, prerelease = (match.group(i) for i in range(1, 5))
    release = (int(major), int(minor), int(patch))
    if prerelease is None:
        return (*release, 1, ())
    identifiers = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in prerelease.split("."))
    return (*release, 0, identifiers)


_PEFT_KINDS = {"LORA": "lora", "IA3": "ia3"}


def manifest_from_adapter_config(
    config: Mapping[str, Any], *, name: str, version: str, base_name: str, base_sha256: str, description: str = ""
) -> Manifest:
    """A manifest for a PEFT adapter, from the contents of its `adapter_config.json`."""
    peft_type = str(config.get("peft_type") or "")
    kind = _PEFT_KINDS.get(peft_type.upper())
    if kind is None:
        shown = peft_type or "missing"
        raise ManifestError(
            f"adapter_config.json: peft_type '{shown}' is not supported (use LORA, with use_dora for DoRA, or IA3)"
        )
    if kind == "lora" and config.get("use_dora"):
        kind = "dora"
    targets = config.get("target_modules") or []
    adapter: dict[str, Any] = {
        "r": config.get("r") if kind != "ia3" else None,
        "alpha": config.get("lora_alpha") if kind != "ia3" else None,
        "target_modules": [targets] if isinstance(targets, str) else sorted(targets),
        "dropout": config.get("lora_dropout") or 0.0,
    }
    data = {
        "name": name,
        "version": version,
        "description": description,
        "kind": kind,
        "base_model": {"name": base_name, "sha256": base_sha256},
        "adapter": adapter,
    }
    return Manifest.from_dict(data, source="manifest")


def export_schema(path: Path) -> None:
    """Write the manifest's JSON Schema (indent 2, trailing newline)."""
    path.write_text(json.dumps(Manifest.model_json_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")



if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m moe_system.experts.manifest OUTPUT.schema.json")
    export_schema(Path(sys.argv[1]))
