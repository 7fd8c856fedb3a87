"""The `expert=` argument of every interface, parsed in one place.

Accepted (SDK, CLI `--expert`, HTTP): `"auto"` (the router decides); `None`, `"none"` or `"base"` (the plain
base model); a name; a comma list `"sql,python"` or a list of names (each at weight 1.0, i.e. the sum of
their deltas); `"sql=0.7,python=0.3"`, a JSON object `'{"sql": 0.7}'` or a dict `{name: weight}`.
The result is `"auto"` or a dict name -> weight (empty: the base model).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Literal, Union

from moe_system.errors import InvalidRequestError

MAX_COMPOSED = 10
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}(@[0-9A-Za-z.+-]+)?$")  # a manifest name, maybe @version
MAX_WEIGHT = 10.0
ExpertSpec = Union[str, Sequence[str], Mapping[str, float], None]  # noqa: UP007 - readable alias
ExpertChoice = Union[Literal["auto"], dict[str, float]]  # noqa: UP007


def parse_expert_spec(spec: ExpertSpec) -> ExpertChoice:
    """Normalise `spec` (see the module doc); raises `InvalidRequestError` with the reason."""
    if spec is None:
        return {}
    if isinstance(spec, str):
        text = spec.strip()
        if text in {"", "none", "base"}:
            return {}
        if text == "auto":
            return "auto"
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError as err:
                raise InvalidRequestError(f"expert JSON is invalid: {err}") from err
            if not isinstance(data, dict):
                raise InvalidRequestError("expert JSON must be an object {name: weight}")
            return _checked(list(data.items()))
        return _checked([_pair(part) for part in text.split(",") if part.strip()])
    if isinstance(spec, Mapping):
        return _checked(list(spec.items()))
    if isinstance(spec, Sequence):
        return _checked([(name, 1.0) for name in spec])
    raise InvalidRequestError(f"expert must be a name, a list of names or a dict, not {type(spec).__name__}")


def _pair(part: str) -> tuple[str, object]:
    name, sep, weight = part.partition("=")
    if not sep:
        return name, 1.0
    try:
        return name, float(weight)
    except ValueError as err:
        raise InvalidRequestError(f"bad expert weight '{part.strip()}': use NAME=0.5") from err


def _checked(pairs: list[tuple[object, object]]) -> dict[str, float]:
    if len(pairs) > MAX_COMPOSED:
        raise InvalidRequestError(f"at most {MAX_COMPOSED} experts can be combined, got {len(pairs)}")
    result: dict[str, float] = {}
    for name, weight in pairs:
        if not isinstance(name, str) or not _NAME.match(name.strip()) or name.strip() in {"auto", "none", "base"}:
            raise InvalidRequestError(
                f"bad expert name {name!r}: use an installed expert's name (a-z, 0-9, _ and -), optionally "
                "@VERSION, and auto or none only alone"
            )
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
            raise InvalidRequestError(f"expert '{name}' needs a finite number as weight, got {weight!r}")
        if weight == 0 or abs(weight) > MAX_WEIGHT:
            raise InvalidRequestError(f"expert '{name}' weight {weight} must be non-zero, within ±{MAX_WEIGHT:g}")
        if name.strip() in result:
            raise InvalidRequestError(f"expert '{name.strip()}' is named twice")
        result[name.strip()] = float(weight)
    return result
