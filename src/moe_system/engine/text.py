"""Turning a growing list of token ids into text deltas, and watching for stop strings.

`IncrementalDetokenizer` never emits half a UTF-8 character: byte-level BPE can split one character
over several tokens, and decoding such a prefix yields U+FFFD, so the delta is held back until the
character is complete (the approach of text-generation-inference). `StopStringMatcher` holds back any
tail that could still grow into a stop string, and cuts the text before a stop string once it appears.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Decode = Callable[[Sequence[int]], str]
_REPLACEMENT = "\ufffd"


class IncrementalDetokenizer:
    """Feed ids one at a time with `push`; get back only complete new text."""

    def __init__(self, decode: Decode) -> None:
        self._decode = decode
        self._ids: list[int] = []
        self._prefix = 0  # start of the window that gives decoding its left context
        self._read = 0  # ids up to here have been emitted

    def push(self, token_id: int) -> str:
        self._ids.append(token_id)
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        if len(after) > len(before) and not after.endswith(_REPLACEMENT):
            self._prefix, self._read = self._read, len(self._ids)
            return after[len(before) :]
        return ""

    def flush(self) -> str:
        """Whatever is still held back (possibly an incomplete character) at the end of generation."""
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        self._prefix = self._read = len(self._ids)
        return after[len(before) :]


class StopStringMatcher:
    """Filters a stream of text deltas: emits text that can no longer be part of a stop string."""

    def __init__(self, stop_strings: Sequence[str]) -> None:
        self._stops = tuple(stop_strings)
        self._pending = ""
        self.matched = False

    def feed(self, delta: str) -> str:
        """Add a delta; return the text that is safe to emit. Sets `matched` on a stop string."""
        if not self._stops:
            return delta
        self._pending += delta
        cut = min((i for i in (self._pending.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self.matched = True
            out, self._pending = self._pending[:cut], ""
            return out
        hold = max((n for s in self._stops for n in range(1, len(s)) if self._pending.endswith(s[:n])),
                   default=0)
        out = self._pending[: len(self._pending) - hold]
        self._pending = self._pending[len(out) :]
        return out

    def flush(self) -> str:
        out, self._pending = self._pending, ""
        return out
