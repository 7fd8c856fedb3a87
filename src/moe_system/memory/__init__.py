"""Three-level conversation memory: current (verbatim), obsolete (compressed), long-term (facts, summaries)."""

from moe_system.memory.context import Context, Section
from moe_system.memory.three_level import ThreeLevelMemory

__all__ = ["Context", "Section", "ThreeLevelMemory"]
