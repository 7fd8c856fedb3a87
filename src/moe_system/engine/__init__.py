"""Generation on token ids: backends (KV cache, batching), sampling, stop conditions, streaming, beams."""

from moe_system.engine.backends import Backend, HFBackend, NativeBackend, build_backend
from moe_system.engine.beam import Hypothesis, beam_search
from moe_system.engine.generate import Completion, DecodeBatch, Engine, Event
from moe_system.engine.params import SamplingParams
from moe_system.engine.scheduler import QueueFullError, Scheduler, Ticket

__all__ = [
    "Backend", "Completion", "DecodeBatch", "Engine", "Event", "HFBackend", "Hypothesis", "NativeBackend",
    "QueueFullError", "SamplingParams", "Scheduler", "Ticket", "beam_search", "build_backend",
]
