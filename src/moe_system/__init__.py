"""moe_system: a compact base language model with hot-swappable domain experts.

Everything runs offline: the hub is switched off before transformers is ever imported.
`MoEClient` is imported lazily so `import moe_system` stays cheap (the CLI's `--help` needs no torch).
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"
__all__ = ["MoEClient", "__version__"]


def __getattr__(name: str) -> object:
    if name == "MoEClient":
        from moe_system.client import MoEClient

        return MoEClient
    raise AttributeError(f"module 'moe_system' has no attribute {name!r}")
