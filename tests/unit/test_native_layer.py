"""The decoder layer in one C call (`engine/backends/native_layer.py`): decode steps through it equal the torch path
of `NativeBackend` (same weights, same int8 / int4 arithmetic, float32 around it), with and without LoRA rows, and
everything it does not compute goes the torch way."""

from __future__ import annotations

import threading
from typing import cast

import pytest
import torch
from transformers import PreTrainedModel

from moe_system.engine import block_quant
from moe_system.engine.backends.native import NativeBackend
from moe_system.engine.backends.native_layer import LayerKernel
from moe_system.engine.kernels import Quantization
from moe_system.engine.lora import SITE_NAMES, AdapterBatch, AdapterWeights, RowAdapters, SiteDelta

pytestmark = pytest.mark.skipif(not block_quant.available(), reason="no AVX-512 VNNI or g++ here")

PROMPTS = [[5, 17, 33, 2, 9, 41, 8], [3, 60], [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]]


def _backend(models: dict[str, PreTrainedModel], arch: str, bits: str) -> NativeBackend:
    backend = NativeBackend(models[arch], quantization=cast(Quantization, bits))
    assert backend.layer_kernel is not None
    return backend


def _lora(backend: NativeBackend, seed: int, rank: int, name: str, **changes: torch.Tensor) -> AdapterWeights:
    """A LoRA expert on every linear, strong enough to move the logits; `changes` add IA3-style scale vectors."""
    generator = torch.Generator().manual_seed(seed)
    sites = {}
    for site, linear in backend.linears.items():
        a = torch.randn(rank, linear.in_features, generator=generator)  # PEFT's lora_A [r, in]
        b = torch.randn(linear.out_features, rank, generator=generator) * 0.3  # lora_B [out, r]
        sites[site] = SiteDelta(a=a.t(), b=b.t(), scale=2.0 / rank, **changes)
    return AdapterWeights(name, "lora", sites)


def _assert_same(fused: torch.Tensor, reference: torch.Tensor) -> None:
    """Most steps agree to float rounding; an activation that sits on an int8 rounding boundary can round the other
    way on one path (seen once in 240 steps), which moves that step, and through the KV cache the later ones, by
    about one quantization step: a bug would move every step, and by far more."""
    error = (fused - reference).abs().amax(dim=-1)  # [steps, B]
    assert float(error.median()) < 1e-5, error
    assert float(error.max()) < 0.02 * float(reference.abs().max()), error


def _decode(backend: NativeBackend, rows: list[RowAdapters] | None, kernel: bool, steps: int,
            stream: int = 0) -> torch.Tensor:
    """Logits [steps, B, V] of `steps` decode steps after prefilling `PROMPTS` (fixed tokens, token stream `stream`,
    so both paths see the same inputs), through the layer kernel or the torch path."""
    held = backend.layer_kernel
    backend.layer_kernel = held if kernel else None
    try:
        _, cache = backend.prefill(PROMPTS, rows)
        return torch.stack([backend.decode(cache, torch.tensor([(7 * t + r + 13 * stream) % 90 + 1
                                                                for r in range(len(PROMPTS))]))
                            for t in range(steps)])
    finally:
        backend.layer_kernel = held


@pytest.mark.parametrize("bits", ["int8", "int4"])
@pytest.mark.parametrize("arch", ["llama", "qwen2", "qwen3"])
def test_decode_steps_equal_the_torch_path(arch: str, bits: str, tiny_block_models: dict[str, PreTrainedModel],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows of different lengths (each attends to its own positions only), 80 steps so the cache grows past its
    first capacity; Qwen2's q/k/v biases and Qwen3's q/k norms."""
    backend = _backend(tiny_block_models, arch, bits)
    calls: list[int] = []
    step = backend.layer_kernel.step  # type: ignore[union-attr]
    monkeypatch.setattr(backend.layer_kernel, "step", lambda *args: calls.append(1) or step(*args))
    fused = _decode(backend, None, kernel=True, steps=80)
    assert len(calls) == 80
    _assert_same(fused, _decode(backend, None, kernel=False, steps=80))


@pytest.mark.parametrize("bits", ["int8", "int4"])
def test_lora_rows_run_inside_the_layer_kernel(bits: str, tiny_block_models: dict[str, PreTrainedModel]) -> None:
    """One expert for every row, then one per row (different ranks, a weighted composition, a plain-base row): the
    kernel adds each row's term as the torch path does, and the terms change the logits far beyond the rounding."""
    backend = _backend(tiny_block_models, "llama", bits)
    first, second = _lora(backend, 1, 4, "first"), _lora(backend, 2, 8, "second")
    plain = _decode(backend, None, kernel=True, steps=6)
    for rows in ([((first, 1.0),)] * 3, [((first, 1.0),), ((second, 0.5), (first, 0.25)), ()]):
        assert _runs(rows)
        fused = _decode(backend, rows, kernel=True, steps=6)
        _assert_same(fused, _decode(backend, rows, kernel=False, steps=6))
        assert (fused - plain).abs().max() > 0.1


def _runs(rows: list[RowAdapters]) -> bool:
    return LayerKernel.runs(AdapterBatch.build(rows))


def test_scale_vectors_take_the_torch_path(tiny_block_models: dict[str, PreTrainedModel]) -> None:
    """IA3's and DoRA's scale vectors run around the linear, which the kernel does not: such rows decode in torch."""
    backend = _backend(tiny_block_models, "llama", "int8")
    scaled = _lora(backend, 3, 4, "scaled", out_scale=torch.full((64,), 1.1))
    for site in list(scaled.sites):
        if site[1] not in ("q_proj", "o_proj", "down_proj"):
            del scaled.sites[site]
    assert not _runs([((scaled, 1.0),), ()])
    assert _runs([()]) and _runs([])


def test_only_block_quantized_float32_layers_get_a_kernel(tiny_block_models: dict[str, PreTrainedModel],
                                                          tiny_llama: PreTrainedModel) -> None:
    assert NativeBackend(tiny_block_models["llama"]).layer_kernel is None  # float weights
    assert NativeBackend(tiny_llama, quantization="int8").layer_kernel is None  # shapes that do not pack: fbgemm
    assert set(SITE_NAMES) == {name for _, name in _backend(tiny_block_models, "llama", "int8").linears}


def test_a_position_past_the_cache_is_refused(tiny_block_models: dict[str, PreTrainedModel]) -> None:
    backend = _backend(tiny_block_models, "llama", "int8")
    _, cache = backend.prefill([[1, 2, 3]])
    kernel = backend.layer_kernel
    assert kernel is not None
    x = torch.zeros(1, 64)
    table = torch.zeros(1, 16)
    with pytest.raises(RuntimeError, match="refused"):
        kernel.step(x, torch.tensor([cache.capacity]), table, table, cache.keys, cache.values, kernel.bind(None))


def test_threads_decoding_other_caches_on_one_backend_do_not_meet(tiny_block_models: dict[str, PreTrainedModel]
                                                                  ) -> None:
    """A request's own thread may decode (a tool's retry) while the scheduler's thread decodes other rows on the
    same backend, with the same adapters or none: each cache carries its own binding of the layer kernel, so one
    thread's cache pointers never reach the other's call."""
    backend = _backend(tiny_block_models, "llama", "int8")
    expert = [((_lora(backend, 1, 4, "first"), 1.0),)] * 3
    for rows in (None, expert):
        alone = [_decode(backend, rows, kernel=True, steps=60, stream=stream) for stream in range(2)]
        together: list[torch.Tensor | None] = [None, None]

        def run(stream: int, rows: list[RowAdapters] | None, out: list[torch.Tensor | None]) -> None:
            out[stream] = _decode(backend, rows, kernel=True, steps=60, stream=stream)

        threads = [threading.Thread(target=run, args=(stream, rows, together)) for stream in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for stream in range(2):
            torch.testing.assert_close(together[stream], alone[stream], rtol=0, atol=0)
