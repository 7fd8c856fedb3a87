"""Generated hostile inputs (hypothesis) for every parser that reads a stranger's bytes or text: the package reader
and verifier, recipes (uploaded and from files), settings overrides and the chat template. Each gives its own clean
error (`PackageError` / `ExpertError`, `InvalidRequestError`, `ConfigError`) or a valid result, never another
exception, and the unpacker never writes outside its destination's folder.

    .venv/bin/python -m pytest -q tests/unit/test_hostile_inputs.py

Each property runs 50-100 examples with a fixed seed (`derandomize`), so the file takes seconds and fails the same
way twice. Package corpora built by hand (bombs, links, long names) are in `test_hostile_packages.py`.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import os
import tarfile
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from moe_system.base.tokenizer import ChatTokenizer
from moe_system.config import load_settings
from moe_system.errors import ConfigError, ExpertError, InvalidRequestError
from moe_system.experts.manifest import Manifest
from moe_system.experts.unpack import extract_package
from moe_system.experts.verify import verify_package
from moe_system.server.jobs.recipes import parse_recipe
from moe_system.training.config import Recipe

ROOT = Path(__file__).parents[2]
FAST = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

# text that parsers trip on: path tricks, control characters, lone surrogates, bidi overrides, very long runs
NASTY = st.sampled_from(["..", "/", "\\", ".", "\x00", "\x1b", "\n", "\ud800", "\udfff", "\u202e", "\ufeff", "é",
                         "💥", "a" * 300, "%s", "{{ x }}", "{% for %}", "${HOME}", "~"])
TEXT = st.lists(st.one_of(st.text(st.characters(exclude_categories=()), max_size=8), NASTY), max_size=6).map("".join)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12)


# ---- the package reader and verifier

def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def refused_or_contained(archive: bytes) -> None:
    """Unpack `archive` into a fresh folder: a `PackageError` leaves the folder empty; a success writes only below
    the destination (and the verifier then refuses or accepts it cleanly too)."""
    with tempfile.TemporaryDirectory() as tmp:
        area = Path(tmp) / "area"
        package = Path(tmp) / "input.expert"
        package.write_bytes(archive)
        try:
            dest = extract_package(package, area / "dest", 2**20)
        except ExpertError:
            assert list(area.iterdir()) == []
        else:
            for folder, dirs, files in os.walk(dest):
                for name in dirs + files:
                    path = Path(folder, name)
                    assert not path.is_symlink() and Path(os.path.realpath(path)).is_relative_to(dest)
            assert [p.name for p in area.iterdir()] == ["dest"]
        with suppress(ExpertError):
            verify_package(package, 2**20, scratch=Path(tmp) / "scratch")
        assert {p.name for p in Path(tmp).iterdir()} <= {"area", "input.expert", "scratch"}


@FAST
@given(st.binary(max_size=4096), st.booleans())
def test_random_bytes_are_refused_cleanly(data: bytes, gzip_them: bool) -> None:
    refused_or_contained(gzipped(data) if gzip_them else data)


KINDS = [tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE,
         tarfile.BLKTYPE, tarfile.FIFOTYPE, tarfile.CONTTYPE, tarfile.GNUTYPE_SPARSE, b"Z"]
NAMES = st.one_of(
    st.sampled_from(["manifest.json", "README.md", "adapter_config.json", "adapter_model.safetensors",
                     "signature.sig", "examples/", "tests/a.txt", "./README.md", "examples/../../x"]),
    st.lists(st.one_of(st.sampled_from(["examples", "tests", "..", ".", "", "a", "model.safetensors"]), TEXT),
             min_size=1, max_size=5).map("/".join))
MEMBERS = st.lists(st.tuples(NAMES, st.sampled_from(KINDS), st.binary(max_size=300), NAMES,
                             st.integers(0, 0o7777)), max_size=8)


@FAST
@given(MEMBERS, st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]))
def test_random_tar_structures_are_refused_or_stay_inside(members: list[tuple[str, bytes, bytes, str, int]],
                                                          fmt: int) -> None:
    buffer = io.BytesIO()
    try:
        with tarfile.open(fileobj=buffer, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape") as tar:
            for name, kind, data, linkname, mode in members:
                info = tarfile.TarInfo(name)
                info.type, info.linkname, info.mode = kind, linkname, mode
                info.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE) else 0
                tar.addfile(info, io.BytesIO(data) if info.size else None)
    except (ValueError, UnicodeError):  # a name this tar format cannot write: not an archive anyone could send
        assume(False)
    refused_or_contained(gzipped(buffer.getvalue()))


def valid_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("README.md", b"# ok\n"), ("examples/" + "n" * 150 + ".txt", b"x" * 700)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


VALID_TAR = valid_tar()


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, len(VALID_TAR) - 1), st.integers(0, 255)), min_size=1, max_size=12))
def test_corrupted_tar_headers_are_refused_or_stay_inside(changes: list[tuple[int, int]]) -> None:
    data = bytearray(VALID_TAR)
    for index, value in changes:
        data[index % 3072] = value  # the first blocks: the pax header, the member headers and their numbers
    refused_or_contained(gzipped(bytes(data)))


def with_edits(document: dict[str, Any], edits: list[tuple[list[str], Any]]) -> dict[str, Any]:
    """A copy of `document` with each value set at its key path (mappings made on the way where missing)."""
    data = copy.deepcopy(document)
    for path, value in edits:
        target: Any = data
        for key in path[:-1]:
            target = target.setdefault(key, {}) if isinstance(target, dict) else {}
        if isinstance(target, dict):
            target[path[-1]] = value
    return data


VALID_MANIFEST: dict[str, Any] = {
    "schema_version": 1, "name": "sql", "version": "1.0.0", "kind": "lora", "description": "Writes SQL.",
    "base_model": {"name": "tiny", "sha256": "ab" * 32},
}


@FAST
@given(st.lists(st.tuples(st.lists(TEXT | st.sampled_from(list(VALID_MANIFEST)), min_size=1, max_size=3), JSONISH),
                max_size=4), st.booleans())
def test_manifests_are_valid_or_a_manifest_error(edits: list[tuple[list[str], Any]], as_text: bool) -> None:
    data = with_edits(VALID_MANIFEST, edits)
    with suppress(ExpertError):
        if as_text:
            Manifest.from_json(json.dumps(data))
        else:
            Manifest.from_dict(data)


# ---- recipes

RECIPE = yaml.safe_load((ROOT / "recipes" / "sql.yaml").read_text(encoding="utf-8"))


def recipe_texts() -> st.SearchStrategy[str]:
    """Random YAML text, random YAML documents, and the shipped recipe with random values at random places."""

    def edited(edits: list[tuple[list[str], Any]]) -> str:
        return yaml.safe_dump(with_edits(RECIPE, edits), allow_unicode=True)

    keys = st.sampled_from(["expert", "train", "data", "train", "generator", "name", "version", "method", "optim",
                            "lr", "epochs", "eval_file", "infer", "max_tokens", "task", "adapter", "r"]) | TEXT
    return st.one_of(
        TEXT,
        st.sampled_from(["{", "- a\n- b", "!!python/object:os.system 'ls'", "&a [*a, *a]", "a: &a [*a]",
                         "[" * 400, "2001-02-30", "x: 1e999", "? [a, b]\n: c"]),
        JSONISH.map(lambda value: yaml.safe_dump(value, allow_unicode=True)),
        st.lists(st.tuples(st.lists(keys, min_size=1, max_size=4), JSONISH), min_size=1, max_size=4).map(edited))


@FAST
@given(recipe_texts())
def test_uploaded_recipes_are_valid_or_an_invalid_request(text: str) -> None:
    with tempfile.TemporaryDirectory() as datasets, suppress(InvalidRequestError):
        parse_recipe(text, Path(datasets))


@FAST
@given(recipe_texts())
def test_recipe_files_are_valid_or_a_config_error(text: str) -> None:
    with suppress(ConfigError):
        Recipe.parse(text, "recipe", Path("/nonexistent"))


# ---- settings

SECTIONS = ["base", "generation", "experts", "routing", "memory", "server", "sandbox"]


@FAST
@given(st.dictionaries(st.sampled_from(SECTIONS) | TEXT,
                       JSONISH | st.dictionaries(TEXT | st.sampled_from(
                           ["max_batch", "max_queue", "api_keys", "quantization", "time_budget_s", "mode",
                            "max_package_mb", "rate_limit_per_minute", "current_tokens", "strategy"]), JSONISH,
                           max_size=3), max_size=3))
def test_settings_overrides_are_valid_or_a_config_error(overrides: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as home, suppress(ConfigError):
        load_settings(home=Path(home), **{k: v for k, v in overrides.items() if k != "home"})


# ---- the chat template

CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def chat_tokenizer(template: str | None) -> ChatTokenizer:
    """A byte-level BPE with no merges (every byte a token) and the given chat template (None: the fallback)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {token: index for index, token in enumerate(sorted(alphabet))}
    vocab |= {"<|im_start|>": len(vocab), "<|im_end|>": len(vocab) + 1}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    hf = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>", bos_token="<|im_start|>")
    hf.chat_template = template
    return ChatTokenizer.from_hf(hf)


TOKENIZERS = {"chatml": chat_tokenizer(CHATML), "fallback": chat_tokenizer(None)}
MESSAGES = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant"]) | TEXT,
                                           "content": TEXT}), max_size=5)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(MESSAGES, st.sampled_from(sorted(TOKENIZERS)), st.booleans())
def test_chat_template_inputs_give_valid_token_ids(messages: list[dict[str, str]], template: str,
                                                   add_generation_prompt: bool) -> None:
    """Any messages, lone surrogates and control characters included, render to ids inside the vocabulary (a lone
    surrogate, which JSON can carry, is tokenized as U+FFFD instead of failing in the tokenizer)."""
    tokenizer = TOKENIZERS[template]
    if not messages:
        with pytest.raises(InvalidRequestError, match="at least one message"):
            tokenizer.chat_ids(messages)
        return
    ids = tokenizer.chat_ids(messages, add_generation_prompt=add_generation_prompt)
    assert all(isinstance(i, int) and 0 <= i < tokenizer.vocab_size for i in ids)
    if messages and all(m["content"] for m in messages):
        assert ids
    for message in messages:
        assert all(0 <= i < tokenizer.vocab_size for i in tokenizer.encode(message["content"]))
