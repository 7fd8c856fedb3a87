"""ONNX export of the base model (optionally with one LoRA expert baked in) for onnxruntime-genai, and a greedy
runner over such a folder.

The folder is written by onnxruntime-genai's own model builder (`onnxruntime_genai.models.builder`, offline: it
reads the local Hugging Face folder), so what it writes is exactly what `onnxruntime_genai.Model` loads: a
`model.onnx` + `model.onnx.data` graph with a KV cache, `genai_config.json` and the tokenizer. Precision `int4`
uses its MatMulNBits kernels (block-wise 4-bit weights, 86 MB for SmolLM2-135M), `int8` the 8-bit variant, `fp32`
the float weights. A LoRA adapter folder (PEFT layout, as an installed expert holds it) is folded into the graph
by the builder's `adapter_path` option, as a low-rank branch beside each projection. It writes into a staging
folder and renames it into place, so a failed export leaves nothing half-written.

    from moe_system.base.onnx_export import export_onnx, OnnxModel
    export_onnx(base_model_dir(), Path("out"), "int4")
    OnnxModel(Path("out")).greedy(prompt_ids, 32)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from moe_system.errors import ConfigError, MoEError, one_line

Precision = Literal["fp32", "int8", "int4"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "int8", "int4")
EXTRA = "pip install 'moe-system[export]' (onnxruntime-genai, onnx-ir, onnxscript)"

USAGE = """# {name}: an onnxruntime-genai model folder

Exported by `moe export onnx --quantization {precision}{expert_flag}` from `{source}`{expert_line}.

Run it with onnxruntime-genai (CPU):

```python
import onnxruntime_genai as og

model = og.Model("{folder}")
tokenizer = og.Tokenizer(model)
params = og.GeneratorParams(model)
params.set_search_options(max_length=256, do_sample=False)
generator = og.Generator(model, params)
generator.append_tokens(tokenizer.encode("<|im_start|>user\\nWhat is the capital of France?<|im_end|>\\n"
                                         "<|im_start|>assistant\\n"))
while not generator.is_done():
    generator.generate_next_token()
print(tokenizer.decode(generator.get_sequence(0)))
```

Files: `model.onnx` and `model.onnx.data` (the graph and its weights, {precision}), `genai_config.json` (how
onnxruntime-genai drives it: KV cache, end-of-turn tokens, context length), the tokenizer files and
`chat_template.jinja`. The chat template is the base model's; format prompts with it as above.
{check}
"""


def _require_builder() -> None:
    try:
        import onnxruntime_genai  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise ConfigError(f"ONNX export needs onnxruntime-genai and onnxscript: {EXTRA}") from err


def export_onnx(model_dir: Path, out: Path, precision: Precision, adapter_dir: Path | None = None,
                cache_dir: Path | None = None) -> None:
    """Write the onnxruntime-genai folder of `model_dir` (with the LoRA of `adapter_dir`) at `out`, which must not
    exist or be empty; the builder's log goes to `out/build.log`."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} exists and is not an empty folder: choose another -o")
    _require_builder()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        command = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(model_dir),
                   "-o", str(staging), "-p", precision, "-e", "cpu",
                   "-c", str(cache_dir or staging / ".cache")]
        if adapter_dir is not None:
            command += ["--extra_options", f"adapter_path={adapter_dir}"]
        with (staging / "build.log").open("w", encoding="utf-8") as log:
            done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            tail = (staging / "build.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()
            raise MoEError(f"the onnxruntime-genai builder failed: {one_line(tail[-1] if tail else '')}")
        shutil.rmtree(staging / ".cache", ignore_errors=True)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_usage(out: Path, *, name: str, precision: Precision, source: str, expert: str | None, check: str) -> None:
    """The folder's README.md: what it holds and how to run it."""
    text = USAGE.format(name=name, precision=precision, source=source, folder=out,
                        expert_flag=f" --expert {expert}" if expert else "",
                        expert_line=f", with the LoRA of expert `{expert}` folded into its projections" if expert
                        else "", check=check)
    (out / "README.md").write_text(text, encoding="utf-8")


class OnnxModel:
    """An onnxruntime-genai model folder, decoded greedily on token ids."""

    def __init__(self, folder: Path) -> None:
        _require_builder()
        import onnxruntime_genai as og

        self._og = og
        self.model: Any = og.Model(str(folder))

    def greedy(self, ids: list[int], new_tokens: int, forced: bool = False) -> list[int]:
        """Up to `new_tokens` greedy tokens after `ids`: fewer when the model ends its turn, unless `forced`."""
        params = self._og.GeneratorParams(self.model)
        total = len(ids) + new_tokens
        params.set_search_options(max_length=total, min_length=total if forced else 0, do_sample=False)
        generator = self._og.Generator(self.model, params)
        generator.append_tokens(ids)
        tokens: list[int] = []
        while not generator.is_done() and len(tokens) < new_tokens:
            generator.generate_next_token()
            tokens.append(int(generator.get_next_tokens()[0]))
        return tokens
