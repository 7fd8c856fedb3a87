"""What gets trained: a PEFT adapter (LoRA, DoRA, IA3) on the frozen base, or `ExpertModel`, a small
transformer trained from scratch on the base tokenizer's vocabulary (the seeds' standalone experts).

`ExpertModel` is a Llama-architecture decoder built from `ExpertModelConfig`, so the engine's native backend
runs it like any base model and it saves as plain safetensors.
"""

from __future__ import annotations

from peft import IA3Config, LoraConfig, PeftModel, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedModel

from moe_system.training.config import AdapterConfig, ExpertModelConfig, Method


def adapter_model(base: PreTrainedModel, method: Method, adapter: AdapterConfig) -> PeftModel:
    """Wrap `base` (frozen) with a fresh trainable adapter of the given method."""
    config: IA3Config | LoraConfig
    if method == "ia3":
        # PEFT's defaults for the architecture (k/v/down for Llama) unless modules are named
        targets = None if adapter.target_modules == "all-linear" else adapter.target_modules
        config = IA3Config(target_modules=targets, task_type="CAUSAL_LM")
    elif method in {"lora", "dora"}:
        config = LoraConfig(
            r=adapter.r, lora_alpha=adapter.alpha,  # type: ignore[arg-type]  # PEFT types it int; any number scales
            lora_dropout=adapter.dropout,
            target_modules=adapter.target_modules, use_dora=method == "dora", task_type="CAUSAL_LM",
        )
    else:
        raise ValueError(f"method {method!r} is not an adapter")
    return get_peft_model(base, config)


def expert_model(config: ExpertModelConfig, vocab_size: int, pad_id: int, eos_id: int | None) -> LlamaForCausalLM:
    """A randomly initialised `ExpertModel` (Llama architecture) for training from scratch."""
    llama = LlamaConfig(
        vocab_size=vocab_size, hidden_size=config.d_model, intermediate_size=config.d_ff,
        num_hidden_layers=config.n_layers, num_attention_heads=config.n_heads,
        num_key_value_heads=config.n_heads, max_position_embeddings=config.max_positions,
        tie_word_embeddings=True, pad_token_id=pad_id, eos_token_id=eos_id, bos_token_id=None,
    )
    return LlamaForCausalLM(llama).float()
