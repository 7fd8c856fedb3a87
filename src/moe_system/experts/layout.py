"""The `.expert` package layout: the files a package may hold, the limits, and the hashing they are listed by.

A package is a deterministic tar.gz (or the same layout as an unpacked folder):

    manifest.json               the manifest (integrity.files: sha256 of every other file but signature.sig)
    README.md                   required; written from the manifest when the source folder has none
    adapter_config.json         PEFT config (required for kinds lora/dora/ia3)
    adapter_model.safetensors   adapter weights (required for kinds lora/dora/ia3)
    config.json                 a Llama decoder config (required for kind model, see experts/standalone.py)
    model.safetensors           its weights (required for kind model); kind solver carries its weights as
                                other top-level *.safetensors files
    examples/  tests/           optional folders; examples/prompts.jsonl ({"text": ...} a line) holds
                                requests the expert is meant for, which routers learn from
    signature.sig               base64 Ed25519 signature, once signed

`unpack.py` checks and unpacks packages from strangers, `verify.py` checks their hashes and signature, and
`package.py` builds and signs them.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import torch

from moe_system.experts.manifest import MANIFEST_FILE

PACKAGE_SUFFIX = ".expert"
SIGNATURE_FILE = "signature.sig"
WEIGHTS_FILE = "adapter_model.safetensors"
# Weights ship in bfloat16: half the size of fp32 with the same exponent range. The trainer's final evaluation scores
# these rounded weights; the engine widens them exactly (or its kernel does, reading half the bytes).
SHIPPED_DTYPE = torch.bfloat16
ADAPTER_CONFIG_FILE = "adapter_config.json"
README_FILE = "README.md"
MODEL_CONFIG_FILE = "config.json"  # kind model: the decoder's transformers config (JSON)
MODEL_WEIGHTS_FILE = "model.safetensors"  # kind model: its weights
EXAMPLE_PROMPTS_FILE = "examples/prompts.jsonl"  # optional: requests the expert is for, {"text": ...} a line

DEFAULT_MAX_BYTES = 2048 * 2**20
MAX_MEMBERS = 1000
MAX_DEPTH = 16  # folders a path may nest (examples/a/b/...): deep trees are a way to exhaust path lengths
MAX_NAME_BYTES = 255  # one part of a path, in UTF-8: what Linux file systems take

ADAPTER_KINDS = frozenset({"lora", "dora", "ia3"})
RUNNABLE_KINDS = ADAPTER_KINDS | {"model"}  # kind solver is a valid manifest, but nothing runs it yet
TOP_FILES = frozenset({MANIFEST_FILE, SIGNATURE_FILE, WEIGHTS_FILE, ADAPTER_CONFIG_FILE, README_FILE,
                       MODEL_CONFIG_FILE})
REQUIRED_FILES = {kind: (WEIGHTS_FILE, ADAPTER_CONFIG_FILE) for kind in ADAPTER_KINDS} | {
    "model": (MODEL_WEIGHTS_FILE, MODEL_CONFIG_FILE)}
TOP_FOLDERS = frozenset({"examples", "tests"})
PICKLE_SUFFIXES = frozenset(
    {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz", ".h5", ".msgpack"}
)
CHUNK = 1 << 20


def content_sha256(content: Path | bytes) -> str:
    """The sha256 (hex) of a file, read in chunks, or of bytes: how `integrity.files` lists a package's files."""
    digest = hashlib.sha256()
    if isinstance(content, bytes):
        digest.update(content)
    else:
        with open(content, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def scratch_dir(prefix: str, scratch: Path | None) -> tempfile.TemporaryDirectory[str]:
    """A temporary folder under `scratch` (created if missing; the system temp folder when None)."""
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=prefix, dir=scratch)
