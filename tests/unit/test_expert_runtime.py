"""The `expert=` parser every interface shares, the LRU cache of loaded adapters, and the page-cache drop that
`moe bench experts` makes its cold loads with."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import PreTrainedModel

from moe_system.bench.experts import drop_from_page_cache, resident_share, write_random_lora
from moe_system.engine import NativeBackend
from moe_system.errors import ExpertError, InvalidRequestError
from moe_system.experts.cache import ExpertCache
from moe_system.experts.spec import MAX_COMPOSED, parse_expert_spec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("auto", "auto"), (" auto ", "auto"), (None, {}), ("none", {}), ("base", {}), ("", {}),
        ("sql", {"sql": 1.0}), ("sql@1.2.0", {"sql@1.2.0": 1.0}), ("sql, python", {"sql": 1.0, "python": 1.0}),
        ("sql=0.7,python=0.3", {"sql": 0.7, "python": 0.3}), ('{"sql": 0.7, "math": -0.5}',
                                                              {"sql": 0.7, "math": -0.5}),
        (["sql", "python"], {"sql": 1.0, "python": 1.0}), ({"sql": 2}, {"sql": 2.0}),
    ],
)
def test_expert_spec_forms(spec: object, expected: object) -> None:
    assert parse_expert_spec(spec) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("sql=abc", "bad expert weight"), ("sql=0", "non-zero"), ({"sql": 11.0}, "within"),
        ({"sql": float("nan")}, "finite"), ({"sql": True}, "finite"), ("sql,sql", "named twice"),
        (",".join(f"e{i}" for i in range(MAX_COMPOSED + 1)), "at most"), ("{not json", "invalid"),
        ("[1, 2]", "bad expert name"), ('["sql"]', "bad expert name"), ("sql,auto", "bad expert name"),
        ("математика", "bad expert name"), ("SQL", "bad expert name"),
        (42, "not int"),
    ],
)
def test_bad_expert_specs_say_why(spec: object, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        parse_expert_spec(spec)  # type: ignore[arg-type]


def _shapes(backend: NativeBackend) -> dict[tuple[int, str], tuple[int, int]]:
    return {site: (lin.in_features, lin.out_features) for site, lin in backend.linears.items()}


def test_cache_loads_once_and_evicts_least_recently_used(
    tiny_models: dict[str, PreTrainedModel], tmp_path: Path
) -> None:
    backend = NativeBackend(tiny_models["llama"])
    folders = [write_random_lora(tmp_path / f"e{i}", _shapes(backend), rank=4, seed=i) for i in range(3)]
    probe = ExpertCache(backend.linears, backend.dtype, budget_bytes=2**30)
    size = probe.get("e0", "1.0.0", "lora", folders[0]).nbytes
    cache = ExpertCache(backend.linears, backend.dtype, budget_bytes=2 * size)  # room for two
    first = cache.get("e0", "1.0.0", "lora", folders[0])
    assert cache.get("e0", "1.0.0", "lora", folders[0]) is first
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)
    cache.get("e1", "1.0.0", "lora", folders[1])
    cache.get("e0", "1.0.0", "lora", folders[0])  # e0 is now the most recent
    cache.get("e2", "1.0.0", "lora", folders[2])  # over budget: e1 goes
    assert len(cache) == 2 and cache.stats.evictions == 1 and cache.nbytes <= 2 * size
    assert cache.get("e0", "1.0.0", "lora", folders[0]) is first
    assert cache.get("e1", "1.0.0", "lora", folders[1]) is not None and cache.stats.misses == 4
    assert cache.get("e0", "2.0.0", "lora", folders[0]) is not first  # another version is another entry
    stamped = cache.get("e0", "1.0.0", "lora", folders[0], "2026-12-01T19:00:00+00:00")
    assert stamped is not first  # a reinstall of the same version (retrained, same folder) loads anew
    assert cache.get("e0", "1.0.0", "lora", folders[0], "2026-12-01T19:00:00+00:00") is stamped


def test_the_page_cache_drop_is_measured_not_assumed(tmp_path: Path) -> None:
    """A file just written is resident; after the drop, mincore says how much is left (nothing on a disk; a
    tmpfs keeps its pages, and the bench then reports `dropped: false`); reading it brings it back."""
    path = tmp_path / "weights.bin"
    path.write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    assert resident_share(path) == 1.0
    before, after = drop_from_page_cache(tmp_path)
    assert before == 1.0 and 0.0 <= after <= 1.0
    path.read_bytes()
    assert resident_share(path) == 1.0


def test_cache_refuses_kinds_that_are_not_adapters(tiny_models: dict[str, PreTrainedModel], tmp_path: Path) -> None:
    backend = NativeBackend(tiny_models["llama"])
    cache = ExpertCache(backend.linears, backend.dtype, budget_bytes=2**20)
    with pytest.raises(ExpertError, match="kind 'solver'"):
        cache.get("sudoku", "1.0.0", "solver", tmp_path)
    with pytest.raises(ExpertError, match="cannot apply experts"):
        ExpertCache({}, backend.dtype, budget_bytes=2**20).get("e", "1.0.0", "lora", tmp_path)


def test_the_calculator_tool_fixes_the_final_answer_line_of_an_expert_reply() -> None:
    from moe_system.client import _ToolRun

    reply = "Two boxes of three.\n```python\nanswer = 2 * 3\n```\nAnswer: 5"
    assert _ToolRun(["calculator"], "", lambda seed: "")(reply).endswith("Answer: 6")
    assert _ToolRun([], "", lambda seed: "")(reply) == reply


def test_the_sql_check_tool_keeps_the_first_sampled_query_that_runs_on_the_requests_schema() -> None:
    from moe_system.client import _ToolRun

    prompt = "Names of engineers?\n\nSchema:\nemployees(id, name, dept)"
    seeds: list[int] = []

    def sample(seed: int) -> str:
        seeds.append(seed)
        return "```sql\nSELECT name FROM employees\n```" if seed == 2 else "```sql\nSELECT nme FROM employees\n```"

    failing = "Here it is:\n```sql\nSELECT nme FROM employees\n```\nDone."
    tool = _ToolRun(["sql_check"], prompt, sample)
    assert tool(failing) == "Here it is:\n```sql\nSELECT name FROM employees\n```\nDone." and seeds == [1, 2]
    seeds.clear()
    assert tool("```sql\nSELECT dept FROM employees\n```") == "```sql\nSELECT dept FROM employees\n```"
    assert seeds == []  # a query that runs is kept without sampling
    no_schema = _ToolRun(["sql_check"], "What does SELECT do?", sample)
    assert no_schema(failing) == failing and seeds == []  # nothing to check against


def test_the_leading_experts_decoding_settings_replace_the_defaults() -> None:
    from types import SimpleNamespace

    from moe_system.client import _expert_defaults
    from moe_system.config import GenerationSettings
    from moe_system.experts.manifest import GenerationInfo

    def expert(**hints: float) -> SimpleNamespace:
        return SimpleNamespace(manifest=SimpleNamespace(generation=GenerationInfo(**hints)))

    defaults = GenerationSettings()
    assert _expert_defaults([], defaults) is defaults
    chosen = [(expert(repetition_penalty=1.0, max_tokens=64), 0.7), (expert(repetition_penalty=1.3), 0.3)]
    merged = _expert_defaults(chosen, defaults)  # type: ignore[arg-type]
    assert (merged.repetition_penalty, merged.max_tokens, merged.temperature) == (1.0, 64, defaults.temperature)
