"""The identity of a base model: one sha256 over its safetensors weights.

Experts are trained against one exact set of base weights; a LoRA applied to other weights produces
garbage without any error. Every expert manifest therefore records `base_model.sha256`, and the registry
refuses an expert whose hash differs from `base_sha256(settings)`. Hashing 540 MB takes seconds, so the
result is cached in `MOE_HOME/cache/weights_sha256.json`, keyed by each weight file's resolved path, size
and mtime: a repeated call costs a few `stat`s, and a changed file is hashed again.

    from moe_system.base.fingerprint import base_sha256
    base_sha256(load_settings())     # '3f9c…' (64 hex digits)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from moe_system.base import base_model_dir
from moe_system.config import Settings
from moe_system.durable import write_atomic
from moe_system.errors import ModelNotFoundError

CACHE_FILE = "weights_sha256.json"
_CHUNK = 1 << 20


def weights_sha256(model_dir: Path, cache_dir: Path) -> str:
    """Hex sha256 over `model_dir/*.safetensors` in sorted name order (each file's name, size and bytes)."""
    files = sorted(model_dir.glob("*.safetensors"), key=lambda p: p.name)
    if not files:
        raise ModelNotFoundError(f"{model_dir} has no .safetensors weights to fingerprint")
    signature = [[str(f.resolve()), (st := f.stat()).st_size, st.st_mtime_ns] for f in files]
    key = str(model_dir.resolve())
    cache = _read_cache(cache_dir / CACHE_FILE)
    entry = cache.get(key)
    if isinstance(entry, dict) and entry.get("files") == signature and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as handle:
            while block := handle.read(_CHUNK):
                digest.update(block)
    value = digest.hexdigest()
    cache[key] = {"files": signature, "sha256": value}
    write_atomic(cache_dir / CACHE_FILE, json.dumps(cache, indent=1))
    return value


def base_sha256(settings: Settings) -> str:
    """The fingerprint of the configured base model (converting an embedded GGUF on first use)."""
    return weights_sha256(base_model_dir(settings), settings.home / "cache")


def _read_cache(path: Path) -> dict[str, Any]:
    """The cache file's mapping; a missing or corrupt file is an empty cache."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}

