"""`moe export onnx`: the base model, or the base with one LoRA expert folded in, as an onnxruntime-genai folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from moe_system.cli.common import err, make_client, out, print_json

app = typer.Typer(help="Export the base model (and an expert) for other runtimes.", no_args_is_help=True)

CHECK_PROMPTS = 4  # prompts the export is checked on against the native engine


@app.command("onnx")
def onnx(
    output: Annotated[Path, typer.Option("-o", "--output", help="folder to write (must not exist, or be empty)")],
    quantization: Annotated[str, typer.Option(
        "--quantization", help="weights of the exported graph: fp32, int8 or int4 (onnxruntime-genai's MatMulNBits)")
    ] = "int4",
    expert: Annotated[str | None, typer.Option("--expert", help="fold this installed LoRA expert in")] = None,
    check: Annotated[bool, typer.Option(
        "--check/--no-check", help="compare greedy answers with the native engine's")] = True,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Write an onnxruntime-genai model folder (graph, weights, genai_config.json, tokenizer, README) that
    `onnxruntime_genai.Model` loads, checked against the native engine on a few prompts."""
    from moe_system.base import base_model_dir
    from moe_system.base.onnx_export import PRECISIONS, Precision, export_onnx, write_usage
    from moe_system.bench.common import PROMPTS
    from moe_system.bench.onnx import agreement_with_engine
    from moe_system.errors import InvalidRequestError

    if quantization not in PRECISIONS:
        raise InvalidRequestError(f"--quantization {quantization!r}: use one of {', '.join(PRECISIONS)}")
    precision: Precision = quantization
    client = make_client()
    adapter_dir, texts, system = None, PROMPTS[:CHECK_PROMPTS], None
    chosen: list[tuple[Any, float]] = []
    if expert is not None:
        installed = client.registry.get(expert)
        if installed.kind != "lora":
            raise InvalidRequestError(f"expert '{expert}' is kind {installed.kind}: the onnxruntime-genai builder "
                                      "folds LoRA adapters only")
        adapter_dir, chosen, system = installed.path, [(installed, 1.0)], installed.manifest.prompt.system
        examples = installed.path / "examples" / "prompts.jsonl"
        if examples.is_file():
            lines = examples.read_text(encoding="utf-8").splitlines()
            texts = [json.loads(line)["text"] for line in lines if line.strip()][:CHECK_PROMPTS]
    model_dir = base_model_dir(client.settings)
    with err.status(f"exporting {expert or 'the base model'} to ONNX ({quantization})…"):
        export_onnx(model_dir, output, precision, adapter_dir)
    runtime = client.runtime
    files_mb = {p.name: round(p.stat().st_size / 2**20, 1) for p in sorted(output.iterdir()) if p.is_file()}
    result: dict[str, Any] = {"folder": str(output), "quantization": precision, "expert": expert,
                              "base": runtime.model_name, "files_mb": files_mb}
    note = ""
    if check:
        with err.status("checking the export against the native engine…"):
            prompts = [runtime.prompt_ids([{"role": "user", "content": text}], system) for text in texts]
            result["agreement"] = agree = agreement_with_engine(output, runtime.engine, runtime.adapters(chosen),
                                                                prompts)
        note = (f"\nChecked against the native engine on {agree['prompts']} prompts ({agree['new_tokens']} greedy "
                f"tokens): {agree['identical']:.0%} identical, {agree['prefix']:.0%} of tokens before the first "
                "difference (int8 and int4 round the weights, so they may drift from the float engine).\n")
    write_usage(output, name=f"{runtime.model_name}{'+' + expert if expert else ''}", precision=precision,
                source=str(model_dir), expert=expert, check=note)
    if json_output:
        print_json(result)
        return
    out.print(f"wrote {output} ({sum(files_mb.values()):.1f} MB){note.rstrip()}", markup=False)
