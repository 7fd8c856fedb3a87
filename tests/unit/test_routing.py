"""Routing: text normalization and stemming, keyword rules, the learned and hierarchical classifiers (fitted,
stored, loaded), the evaluation report, and a router that follows installs and removals without a restart."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from moe_system.config import Settings
from moe_system.errors import InvalidRequestError
from moe_system.experts.layout import EXAMPLE_PROMPTS_FILE
from moe_system.experts.manifest import Manifest
from moe_system.experts.package import build_package
from moe_system.experts.registry import Registry
from moe_system.routing.decision import Candidate, RoutingDecision
from moe_system.routing.evaluation import evaluate, load_examples
from moe_system.routing.hierarchical import HierarchicalRouter
from moe_system.routing.learned import BASE, LinearRouter, TrainingSet, bundled_examples, training_set
from moe_system.routing.profiles import ExpertProfile
from moe_system.routing.router import Router, Strategies
from moe_system.routing.rules import RuleRouter
from moe_system.text.languages import _PATTERNS, named_languages
from moe_system.text.words import is_russian, normalize, stems

SQL = ExpertProfile("sql", keywords=("sql", "query", "group by", "table", "запрос", "таблица"),
                    exclude_keywords=("what is sql", "что такое sql"), category="code", priority=0.6)  # fmt: skip
PYTHON = ExpertProfile("python", keywords=("python", "function", "функция"), category="code")
MATH = ExpertProfile("math", keywords=("percent", "solve", "процент", "вычисли"), category="math")


def test_normalize_and_stems_meet_across_forms_and_scripts() -> None:
    assert normalize("  ＳＥＬＥＣＴ\tЁлка  ") == "select елка"
    assert stems("Queries") == stems("query") and stems("запросы") == stems("запросом")
    assert stems("group-by") == stems("group by")
    assert is_russian("Сколько будет 2 + 2?") and not is_russian("What is 2 + 2?")


def test_rules_match_whole_stemmed_words_and_phrases_and_honour_exclusions() -> None:
    rules = RuleRouter([SQL, PYTHON, MATH])
    strong = rules.route("Write an SQL query with GROUP BY over table sales")
    assert strong.expert == "sql" and strong.confidence >= 0.9 and "group by" in strong.reason
    assert rules.route("Напиши запросы к таблицам orders").expert == "sql"  # Russian stems
    assert rules.route("What is SQL?").expert is None  # an exclude keyword rules sql out
    assert rules.route("a tablet for sketches").expert is None  # "tablet" is not the keyword "table"
    assert rules.route("the groupby idiom").expert is None  # "group by" needs both words
    about = rules.route("Explain what a python function is")
    assert about.expert == "python" and about.confidence < 0.9  # a question about it: not sure enough
    assert rules.route("Hello there").expert is None


def _data() -> TrainingSet:
    data = TrainingSet()
    data.add(["count users per city in table users", "sql query for orders total", "join orders and customers",
              "напиши запрос: сумма заказов", "выбери строки из таблицы users"], "sql", 1.0)
    data.add(["write a python function to reverse a list", "def add(a, b) returns wrong value, fix it",
              "функция на python для сортировки", "python code to read a csv file"], "python", 1.0)
    data.add(["what is 15 percent of 80", "solve 2x + 3 = 11", "вычисли 12 * 7", "поезд едет 3 часа по 60 км/ч"],
             "math", 1.0)
    data.add(["hello, how are you?", "what is the capital of France", "write a poem about the sea",
              "расскажи анекдот", "что такое sql"], BASE, 1.0)
    return data


def test_learned_router_fits_and_round_trips_through_safetensors(tmp_path: Path) -> None:
    data = _data()
    router = LinearRouter.fit(data.texts, data.labels, data.weights)
    decision = router.route("python function to reverse a string")
    assert decision.expert == "python" and decision.strategy == "learned"
    assert {c.expert for c in decision.candidates} == {"sql", "python", "math", None}
    router.save(tmp_path / "learned")
    assert sorted(p.name for p in (tmp_path / "learned").iterdir()) == ["classifier.json", "weights.safetensors"]
    loaded = LinearRouter.load(tmp_path / "learned")
    for text in ("вычисли 15 процентов от 300", "hello!", "sql to count orders"):
        assert loaded.probabilities(text) == pytest.approx(router.probabilities(text), abs=1e-6)


def test_hierarchical_router_goes_category_then_expert(tmp_path: Path) -> None:
    data = _data()
    router = HierarchicalRouter.fit(data, {"sql": "code", "python": "code", "math": "math"})
    assert set(router.inner) == {"code"}  # math is alone in its category
    decision = router.route("write a python function to sort a list")
    assert decision.expert == "python" and "category code" in decision.reason
    router.save(tmp_path / "h")
    assert HierarchicalRouter.load(tmp_path / "h").route("write a python function to sort a list").expert == "python"


def test_training_set_keeps_bundled_examples_only_for_installed_experts() -> None:
    data = training_set([MATH])
    bundled = bundled_examples("train")
    assert set(data.labels) == {"math", BASE}
    # base-model requests naming only languages no installed expert covers are the rules' job, not examples
    kept = sum(1 for text, expert in bundled if expert == "math" or (expert is None and not named_languages(text)))
    assert len(data.texts) == kept + len(MATH.keywords) * 5  # + "what is <keyword>?" questions for the base
    assert "What is percent?" in data.texts
    assert "Write a JavaScript function that debounces another function" not in data.texts
    mixed = "Should I learn Python or JavaScript first?"  # names python: the classifier's job once python is in
    assert mixed not in data.texts and mixed in training_set([PYTHON]).texts


def test_languages_are_named_in_context_and_only_uncovered_ones_go_to_the_base_model() -> None:
    named = {
        "Write a Go HTTP server with a /ping endpoint": {"go"},
        "Rust: implement a linked list": {"rust"},
        "Напиши на C++ шаблонный класс": {"c++"},
        "скрипт на баше для очистки логов": {"shell"},
        "Write a program in C.": {"c"},
        "read the csv with pandas and plot it": {"python"},
        "Ruby has 5 apples and buys 3 more": set(),  # a first name, not a language
        "Pascal's triangle, row 7": set(),
        "for c in s:\n    print(c)": set(),  # pasted Python code is not "in C"
        "fetch https://example.net/app.js and count the lines": set(),
        "Let's go through the function together": set(),
    }
    for text, expected in named.items():
        assert named_languages(text) == expected, text
    # the substring prefilter never hides a match of the full patterns
    for text in [*named, *(t for t, _ in bundled_examples("train")), *(t for t, _ in bundled_examples("test"))]:
        norm = normalize(text)
        assert named_languages(text) == {n for n, p in _PATTERNS.items() if re.search(p, norm)}, text
    rules = RuleRouter([SQL, PYTHON, MATH])
    assert rules.covered == {"python", "sql"}
    gated = rules.route("Write a JavaScript function that debounces another")
    assert gated.expert is None and gated.confidence >= 0.9 and "javascript" in gated.reason
    assert rules.route("convert this JavaScript snippet to a Python function").expert == "python"
    assert RuleRouter([MATH]).route("Write a Python function that reverses a list").expert is None


def test_bundled_splits_are_disjoint_and_cover_both_languages() -> None:
    train, test = bundled_examples("train"), bundled_examples("test")
    assert not {t for t, _ in train} & {t for t, _ in test}
    for split in (train, test):
        assert {e for _, e in split} == {"sql", "python", "math", None}
        assert any(is_russian(t) for t, _ in split) and any(not is_russian(t) for t, _ in split)


def test_evaluation_report_counts_per_class_and_language(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    rows = [{"text": "a", "expert": "sql"}, {"text": "б", "expert": None},
            {"text": "c", "expert": "math", "lang": "en"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    examples = load_examples(path)
    assert [e.lang for e in examples] == ["en", "ru", "en"]
    report = evaluate(lambda text: _decide({"a": "sql", "б": None, "c": "sql"}[text]), examples)
    assert report.accuracy == pytest.approx(2 / 3, abs=1e-4) and report.by_language == {"en": 0.5, "ru": 1.0}
    assert report.per_class["sql"] == {"precision": 0.5, "recall": 1.0, "support": 1.0}
    assert report.confusion["math"]["sql"] == 1 and report.errors[0]["expected"] == "math"
    path.write_text('{"text": "x"}\n')
    with pytest.raises(InvalidRequestError, match=r"eval\.jsonl:1: needs"):
        load_examples(path)


def _decide(expert: str | None) -> RoutingDecision:
    return RoutingDecision(expert, 1.0)


def _package(tmp_path: Path, name: str, keywords: list[str], prompts: list[str]) -> Path:
    folder = tmp_path / f"src-{name}"
    (folder / "examples").mkdir(parents=True)
    config = {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"]}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    save_file({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.zeros(2, 8),
               "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": torch.zeros(8, 2)},
              str(folder / "adapter_model.safetensors"))  # fmt: skip
    manifest = Manifest.from_dict({"name": name, "version": "1.0.0", "kind": "lora",
                                   "base_model": {"name": "b", "sha256": "ab" * 32},
                                   "routing": {"keywords": keywords}})  # fmt: skip
    (folder / "manifest.json").write_text(manifest.to_json())
    (folder / EXAMPLE_PROMPTS_FILE).write_text("".join(json.dumps({"text": p}) + "\n" for p in prompts))
    out = tmp_path / f"{name}.expert"
    build_package(folder, out)
    return out


def test_router_follows_installs_and_removals_without_a_restart(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    with Registry(settings) as registry:
        router = Router(registry, default="learned")
        assert router.route("solve 2x + 1 = 7").expert is None  # nothing installed
        math = ["solve 3x - 4 = 11", "what is 20% of 150", "a car drives 60 km/h for 2 hours, how far?",
                "вычисли 17 * 23", "сколько будет 15% от 200", "find the area of a 3 by 4 rectangle"]
        registry.install(_package(tmp_path, "math", ["solve", "percent"], math), base_sha256="ab" * 32,
                         allow_unsigned=True)
        assert router.route("solve 5x + 2 = 12").expert == "math"
        stored = list((registry.root / ".router").iterdir())
        assert len(stored) == 1 and (stored[0] / "learned" / "weights.safetensors").is_file()
        assert Router(registry, default="learned").route("solve 5x + 2 = 12").expert == "math"  # loads, no refit
        registry.remove("math")
        decision = router.route("solve 5x + 2 = 12")
        assert decision.expert is None and "no experts are installed" in decision.reason
        with pytest.raises(InvalidRequestError, match="unknown routing strategy 'magic'"):
            router.route("x", strategy="magic")
    with Registry(settings) as reopened:  # the stored router survives the registry's start-up cleanup
        assert (reopened.root / ".router").is_dir()


def test_semantic_router_needs_the_best_label_to_clear_its_threshold(tmp_path: Path) -> None:
    import numpy as np

    from moe_system.routing.semantic import SemanticRouter, _best_threshold

    assert _best_threshold(np.array([0.9, 0.8, 0.3, 0.2]), np.array([True, True, False, False])) == 0.55
    vectors = np.eye(3, dtype=np.float32)[[0, 0, 1, 2]]  # two sql examples, one math, one base
    router = SemanticRouter(["sql", "sql", "math", BASE], vectors, {"sql": 0.7, "math": 0.95})
    assert router.route("q", vector=np.array([1.0, 0.0, 0.0], dtype=np.float32)).expert == "sql"
    weak = router.route("q", vector=np.array([0.1, 0.9, 0.0], dtype=np.float32))
    assert weak.expert is None and "under its threshold" in weak.reason  # math's best score 0.9 < 0.95
    router.save(tmp_path / "s")
    loaded = SemanticRouter.load(tmp_path / "s")
    assert loaded.thresholds == router.thresholds and np.array_equal(loaded.vectors, router.vectors)


def test_top_k_composes_the_chosen_expert_with_confident_runners_up() -> None:
    decision = RoutingDecision("sql", 0.6, [Candidate("sql", 0.6), Candidate("python", 0.3), Candidate(None, 0.07),
                                            Candidate("math", 0.03)], "cascade", "test")  # fmt: skip
    assert decision.top(1, 0.2) == {"sql": 1.0}
    assert decision.top(3, 0.2) == {"sql": round(0.6 / 0.9, 4), "python": round(0.3 / 0.9, 4)}  # math too weak
    assert RoutingDecision(None, 0.9, [Candidate(None, 0.9)]).top(3, 0.0) == {}  # the base model answers alone


def test_cascade_settles_by_rules_first_then_the_classifiers() -> None:
    cascade = Strategies([SQL, PYTHON, MATH]).cascade  # fitted on the bundled training split
    gated = cascade.route("Write a JavaScript function that flattens a nested array")
    assert gated.expert is None and gated.strategy == "cascade"
    assert gated.reason.startswith("rules: asks for javascript")
    ruled = cascade.route("Write an SQL query with GROUP BY over table sales")
    assert ruled.expert == "sql" and ruled.reason.startswith("rules: keywords of sql")
    assert cascade.route("Сколько будет 15% от 240, если потом вычесть 12?").expert == "math"
    assert cascade.route("Tell me a joke about cats").expert is None
    decision = cascade.route("fix my function: def add(a, b): return a - b")
    assert decision.expert == "python" and decision.candidates[0].expert == "python"


def test_storing_a_fit_removes_older_fits_of_other_expert_sets(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / ".router"
    Strategies([SQL, MATH], root / "old")
    assert (root / "old" / "learned").is_dir() and (root / "old" / "hierarchical").is_dir()
    newer = root / "newer" / "learned"  # stored meanwhile by a process that already sees a newer set
    newer.mkdir(parents=True)
    os.utime(newer, ns=(time.time_ns() + 10**12,) * 2)  # (its mtime says later than any fit made here)
    (root / "other" / "semantic").mkdir(parents=True)  # a strategy not fitted here stays until it is
    Strategies([SQL, PYTHON, MATH], root / "current")
    assert not (root / "old").exists()  # both of its fits are gone, and then the folder
    assert (root / "current" / "learned" / "weights.safetensors").is_file()
    assert (root / "other" / "semantic").is_dir() and newer.is_dir()
    Strategies([SQL, PYTHON], root / "latest")
    assert newer.is_dir() and not (root / "current").exists()  # a later fit than this one's stays
    assert sorted(path.name for path in root.iterdir()) == ["latest", "newer", "other"]

    def vanished(folder: Path) -> LinearRouter:  # another process removed the fit as this one began to load it
        raise FileNotFoundError(folder / "weights.safetensors")

    monkeypatch.setattr(LinearRouter, "load", staticmethod(vanished))
    assert Strategies([SQL, PYTHON], root / "latest").learned.route("solve 2x = 4") is not None  # fitted again
