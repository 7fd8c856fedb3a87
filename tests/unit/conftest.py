"""Shared fixtures for the unit tests: tiny random-weight models built in memory (the engine's tests), and
`needs_bubblewrap`, the mark that skips a sandbox test where bubblewrap cannot create namespaces.

Every model is built under a fixed seed, so the tests are deterministic, and is small enough that a whole
generation run takes milliseconds on a CPU. The models are session-scoped and only ever used in eval mode
under inference, so sharing them between tests is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest
import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

from moe_system.tools.sandbox import SandboxUnavailableError, bubblewrap

VOCAB = 97

# The common shape of the Llama-family test models.
_SHAPE = dict(
    vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, eos_token_id=None, pad_token_id=0, bos_token_id=None,
)
# Shapes the block-quantized kernel packs (in_features a multiple of 64, out_features of 16; see block_quant.py).
_BLOCK_SHAPE = {**_SHAPE, "vocab_size": 112, "hidden_size": 64, "intermediate_size": 128}


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    """Run each unit test on one torch thread: for models this small, threads only add synchronisation
    cost (3-5x slower on a busy 2-core machine). The previous setting is restored for other suites."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def make_llama(max_position_embeddings: int = 128, seed: int = 0) -> LlamaForCausalLM:
    """A 2-layer GQA Llama with random weights."""
    torch.manual_seed(seed)
    cfg = LlamaConfig(**_SHAPE, max_position_embeddings=max_position_embeddings)
    return LlamaForCausalLM(cfg).eval()


def make_qwen2(seed: int = 0) -> Qwen2ForCausalLM:
    """A 2-layer Qwen2: biases on q/k/v, none on o (the Qwen2 layout), no sliding window."""
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(Qwen2Config(**_SHAPE, max_position_embeddings=128)).eval()


def make_qwen3(seed: int = 0) -> Qwen3ForCausalLM:
    """A 2-layer Qwen3: per-head RMS norms on q and k, head_dim independent of hidden_size."""
    torch.manual_seed(seed)
    return Qwen3ForCausalLM(Qwen3Config(**_SHAPE, head_dim=16, max_position_embeddings=128)).eval()


def make_gpt2(seed: int = 0) -> GPT2LMHeadModel:
    """A 2-layer GPT-2: an architecture the native backend does not support."""
    torch.manual_seed(seed)
    cfg = GPT2Config(
        vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=128,
        eos_token_id=None, bos_token_id=None, pad_token_id=0,
    )
    return GPT2LMHeadModel(cfg).eval()


@pytest.fixture(scope="session")
def tiny_llama() -> LlamaForCausalLM:
    return make_llama()


@pytest.fixture(scope="session")
def tiny_llama_256() -> LlamaForCausalLM:
    """Like `tiny_llama` but with a 256-token context, for runs longer than the initial KV capacity."""
    return make_llama(max_position_embeddings=256)


@pytest.fixture(scope="session")
def tiny_qwen2() -> Qwen2ForCausalLM:
    return make_qwen2()


@pytest.fixture(scope="session")
def tiny_qwen3() -> Qwen3ForCausalLM:
    return make_qwen3()


@pytest.fixture(scope="session")
def tiny_block_models() -> dict[str, PreTrainedModel]:
    """A Llama, a Qwen2 (biases on q/k/v) and a Qwen3 (q/k norms) whose every linear packs into the
    block-quantized kernel's layout."""
    torch.manual_seed(0)
    llama = LlamaForCausalLM(LlamaConfig(**_BLOCK_SHAPE, max_position_embeddings=128)).eval()
    qwen2 = Qwen2ForCausalLM(Qwen2Config(**_BLOCK_SHAPE, max_position_embeddings=128)).eval()
    qwen3 = Qwen3ForCausalLM(Qwen3Config(**_BLOCK_SHAPE, head_dim=16, max_position_embeddings=128)).eval()
    return {"llama": llama, "qwen2": qwen2, "qwen3": qwen3}


@pytest.fixture(scope="session")
def tiny_gpt2() -> GPT2LMHeadModel:
    return make_gpt2()


@pytest.fixture(scope="session")
def tiny_models(
    tiny_llama: LlamaForCausalLM, tiny_qwen2: Qwen2ForCausalLM, tiny_qwen3: Qwen3ForCausalLM
) -> dict[str, PreTrainedModel]:
    """The native-capable models by name."""
    return {"llama": tiny_llama, "qwen2": tiny_qwen2, "qwen3": tiny_qwen3}


def byte_decode(ids: Sequence[int]) -> str:
    """A byte-level decoder: token id = one raw byte; invalid UTF-8 becomes U+FFFD."""
    return bytes(ids).decode("utf-8", errors="replace")


@pytest.fixture
def decode() -> Callable[[Sequence[int]], str]:
    return byte_decode


HFGenerate = Callable[..., list[int]]


def _hf_generate(model: PreTrainedModel, prompt: Sequence[int], max_new_tokens: int, **kwargs: object) -> list[int]:
    """New tokens of transformers' own `generate` for one prompt: greedy and without an EOS unless
    `kwargs` say otherwise."""
    kwargs = {"do_sample": False, "eos_token_id": None, **kwargs}
    with torch.inference_mode():
        out = model.generate(torch.tensor([list(prompt)]), max_new_tokens=max_new_tokens, **kwargs)
    return out[0, len(prompt) :].tolist()


@pytest.fixture(scope="session")
def hf_generate() -> HFGenerate:
    """The reference implementation every engine result is compared with."""
    return _hf_generate


# ---- the sandbox (tests/unit/test_sandbox.py, tests/unit/test_python_check.py)


def _bubblewrap_works() -> bool:
    """Whether `tools.sandbox` can run code in namespaces here: bubblewrap installed and allowed to create them."""
    try:
        bubblewrap()
    except SandboxUnavailableError:
        return False
    return True


needs_bubblewrap = pytest.mark.skipif(not _bubblewrap_works(), reason="bubblewrap is missing or cannot create "
                                                                      "namespaces here")  # fmt: skip
