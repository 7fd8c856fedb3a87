"""`tools.python_examples`: the examples a request states (every English and Russian form, literals only), and
`tools.python_check`: the verdict on candidate functions run in the sandbox: ok / failed, keys shared by equivalent
implementations and not by a wrong one, several candidates in one sandbox process, and hostile code that stays inside
(files outside, the network, killing the harness). The verdict tests need bubblewrap (`make setup` installs it).

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q tests/unit/test_python_check.py
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from moe_system.tools.python_check import ERROR, python_check_many, python_verdict
from moe_system.tools.python_examples import class_usage, derived_inputs, guessed_inputs, stated_examples

from .conftest import needs_bubblewrap


def _code(source: str) -> str:
    return f"Here you go:\n\n```python\n{source.strip()}\n```\n"


# ---- stated examples


@pytest.mark.parametrize(("request_", "expected"), [
    ("`f(3)` should return `9`", [("f(3)", 9)]),
    ("f(1, 2) -> 3", [("f(1, 2)", 3)]),
    ("f([1,2]) == [2,1]", [("f([1, 2])", [2, 1])]),
    (">>> f(2)\n4", [("f(2)", 4)]),
    ("```\n>>> f([3, 1])\n[1, 3]\n>>> f([])\n[]\n```", [("f([3, 1])", [1, 3]), ("f([])", [])]),
    ("for example f('ab') gives 'ba'", [("f('ab')", "ba")]),
    ("e.g. f(0) returns True", [("f(0)", True)]),
    ("write f such that f(2)=4, f(5)=25", [("f(2)", 4), ("f(5)", 25)]),
    ("f(2) is expected to return 4.", [("f(2)", 4)]),
    ("Example: `count(\"a, b\")` should return `2`.", [("count('a, b')", 2)]),
    ("f(-3) => -3.5.", [("f(-3)", -3.5)]),
    ("f({'a': 1}) -> {1: 'a'}", [("f({'a': 1})", {1: "a"})]),
    ("f(\"a)b\") -> 'x'", [("f('a)b')", "x")]),
    ("`f(3)` должна вернуть `9`", [("f(3)", 9)]),
    ("например, f(2) → 4", [("f(2)", 4)]),
    ("f('abc') возвращает 3", [("f('abc')", 3)]),
    ("f([1, 2]) даёт [2, 1], а f([]) дает []", [("f([1, 2])", [2, 1]), ("f([])", [])]),
    ("f(5) дает 120.", [("f(5)", 120)]),
    ("f('мир') равно 'рим'; f(3) будет 9", [("f('мир')", "рим"), ("f(3)", 9)]),
    ("f(1) — 2", [("f(1)", 2)]),
    ("Example 1:\nInput: nums = [2, 7], target = 9\nOutput: [0, 1]", [("f([2, 7], 9)", [0, 1])]),
    ("Вход: [1, 2, 3]\nВыход: 6", [("f([1, 2, 3])", 6)]),
    ("input: `[3, 1]` output: `[1, 3]`.", [("f([3, 1])", [1, 3])]),
    ("Ввод: 'мир' Вывод: 'рим'", [("f('мир')", "рим")]),
])
def test_every_stated_example_form_is_read(request_: str, expected: list[tuple[str, Any]]) -> None:
    found = stated_examples(request_)
    assert [(ex.call(), ex.expected) for ex in found] == expected
    assert all(type(ex.expected) is type(want) for ex, (_, want) in zip(found, expected, strict=True))


@pytest.mark.parametrize("request_", [
    "f(x) returns the square of x",  # a name, not a literal
    "f(__import__('os').system('touch /tmp/pwned')) -> 1",  # never evaluated
    "f(2) -> __import__('os').getcwd()",
    "s.push(3) -> None",  # a method call
    "print(f(2)) -> 4",
    "f(2) - 4",  # a minus, not a dash
    "The input: a list of numbers. The output: their sum.",
    "Input: nums = other\nOutput: 2",
])
def test_anything_but_literals_is_skipped(request_: str) -> None:
    assert stated_examples(request_) == []


def test_derived_inputs_keep_the_types_and_are_fixed() -> None:
    examples = stated_examples("f([1, 2, 3], 'ab') -> 1 and f([4], 'x') -> 2")
    inputs = derived_inputs(examples)
    assert inputs[:2] == [([1, 2, 3], "ab"), ([4], "x")] and 2 < len(inputs) <= 16
    assert all(isinstance(a, list) and isinstance(b, str) for a, b in inputs)
    assert ([], "ab") in inputs and any(any("\u0400" <= ch <= "\u04ff" for ch in b) for _, b in inputs)
    assert derived_inputs(examples) == inputs
    assert [(type(a), type(b)) for a, b in guessed_inputs(["nums", "k"])] == [(list, int)] * 4
    assert [(type(a), type(b)) for a, b in guessed_inputs(["text", "first"])] == [(str, int)] * 4 + [(str, str)] * 4 + [
        (str, list)] * 4  # a name that says nothing is tried as each type
    assert [type(a) for (a,) in guessed_inputs(["minutes"])] == [int] * 4


# ---- the verdict


SQUARE = "Write `square(x)`. For example `square(3)` should return `9`, and square(-2) -> 4."


@needs_bubblewrap
def test_equivalent_implementations_agree_and_a_wrong_one_fails() -> None:
    times = _code("def square(x):\n    return x * x")
    power = _code("def helper(v):\n    return v ** 2\n\n\ndef square(n):\n    return helper(n)")
    doubled = _code("def square(x):\n    return x + x")  # passes square(2) = 4 only
    first, second, wrong = python_check_many([times, power, doubled], SQUARE)
    assert first.ok and second.ok and first.key == second.key and first.key is not None
    assert first.text == times and first.reason == ""
    assert not wrong.ok and wrong.key is None and "square(3) returned 6, expected 9" in wrong.reason
    assert python_verdict(times, SQUARE) == first


@needs_bubblewrap
def test_differently_behaving_implementations_get_different_keys() -> None:
    request = "Write `head(items)`: the first item. head([1, 2]) -> 1"
    strict = python_verdict(_code("def head(items):\n    return items[0]"), request)
    lenient = python_verdict(_code("def head(items):\n    return items[0] if items else None"), request)
    assert strict.ok and lenient.ok and strict.key != lenient.key
    assert ERROR in strict.key  # head([]) raised


@needs_bubblewrap
@pytest.mark.parametrize(("answer", "reason"), [
    ("```python\ndef square(x)\n    return x\n```", "does not parse"),
    (_code("def cube(x):\n    return x ** 3"), "does not define `square`"),
    (_code("def square(x):\n    while True:\n        pass"), "returned <timeout>"),
    (_code("raise SystemExit(3)"), "does not define"),
    (_code("import os\nos._exit(0)\ndef square(x):\n    return x * x"), "did not report back"),
])
def test_broken_answers_fail_with_a_reason(answer: str, reason: str) -> None:
    verdict = python_verdict(answer, SQUARE)
    assert not verdict.ok and verdict.key is None and reason in verdict.reason


@needs_bubblewrap
def test_without_examples_it_is_ok_when_the_function_runs() -> None:
    request = "Напишите функцию `count_vowels(text)`, которая считает гласные."
    good = python_verdict(_code("def count_vowels(text):\n    return sum(c in 'aeiou' for c in text.lower())"),
                          request)
    broken = python_verdict(_code("def count_vowels(text):\n    return text.missing()"), request)
    assert good.ok and good.key == ("3", "0", "2", "0")
    anagrams = python_verdict(_code("def is_anagram(first, second):\n    return sorted(first) == sorted(second)"),
                              "Write `is_anagram(first, second)`.")  # fmt: skip
    assert anagrams.ok and anagrams.key[:4] == (ERROR,) * 4  # tried as ints first, then as strings and lists
    assert not broken.ok and "failed on every input" in broken.reason


@needs_bubblewrap
def test_a_class_the_request_names_is_defined_and_run() -> None:
    request = "Write a class `Stack` with push and pop."
    verdict = python_verdict(_code("class Stack:\n    def __init__(self):\n        self.items = []"), request)
    assert verdict.ok and verdict.key is not None


@needs_bubblewrap
def test_hostile_candidates_stay_inside_and_do_not_touch_the_others(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    outside = tmp_path / "pwned.txt"
    writer = _code(f"open({str(outside)!r}, 'w').write('x')\ndef square(x):\n    return x * x")
    caller = _code(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
                   "def square(x):\n    return x * x")
    tamper = _code("import builtins, json, math\nbuiltins.len = lambda x: 0\njson.loads = json.dumps = None\n"
                   "math.isclose = lambda *a, **k: True\ndef square(x):\n    return 0.0")
    killer = _code("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ndef square(x):\n    return x * x")
    good = _code("def square(x):\n    return x * x")
    verdicts = python_check_many([writer, tamper, caller, killer, good], SQUARE)
    assert not outside.exists()
    with pytest.raises(TimeoutError):
        listener.accept()
    listener.close()
    assert [v.ok for v in verdicts] == [False, False, False, False, True]  # the tamperer fools only itself
    assert "the code fails" in verdicts[0].reason and "the code fails" in verdicts[2].reason
    assert verdicts[4].key == python_verdict(good, SQUARE).key


@needs_bubblewrap
def test_reference_solutions_of_the_generator_pass_the_requests_they_answer() -> None:
    from moe_system.data import GENERATORS

    items = GENERATORS["python"].generate(12, 4)
    for item in items:
        verdict = python_verdict(f"```python\n{item['solution']}```", item["prompt"])
        assert verdict.ok, (verdict.reason, item["prompt"])


@needs_bubblewrap
def test_input_output_examples_belong_to_the_function_the_code_defines() -> None:
    request = "Given a list `nums` and `k`, count the items above k.\n\nInput: nums = [1, 5, 7], k = 4\nOutput: 2"
    good = python_verdict(_code("def count_above(nums, k):\n    return sum(x > k for x in nums)"), request)
    wrong = python_verdict(_code("def count_above(nums, k):\n    return sum(x >= k for x in nums) + 1"), request)
    assert good.ok and not wrong.ok and "returned 3, expected 2" in wrong.reason


STACK_REQUEST = """Write a class `Stack`.

Example:
s = Stack()
s.push(3)
s.push('a')
s.pop()  # -> 'a'
len(s)  # -> 1
s.peek() -> 3
s.pop()
s.pop()  # raises IndexError
"""
STACK = """class Stack:
    def __init__(self):
        self.items = []

    def push(self, x):
        self.items.append(x)

    def pop(self):
        return self.items.pop()

    def peek(self):
        return self.items[-1] if self.items else None

    def __len__(self):
        return len(self.items)
"""


def test_a_class_usage_is_read_with_its_results_and_exceptions() -> None:
    usage = class_usage(STACK_REQUEST, "Stack")
    assert usage is not None
    var, init, steps = usage
    assert (var, init) == ("s", ())
    assert [(step.call(var), step.check, step.value) for step in steps] == [
        ("s.push(3)", "", None), ("s.push('a')", "", None), ("s.pop()", "value", "a"), ("len(s)", "value", 1),
        ("s.peek()", "value", 3), ("s.pop()", "", None), ("s.pop()", "raises", "IndexError")]
    assert class_usage("s = Stack(size)\ns.pop() -> 1", "Stack") is None  # not a literal: nothing is run
    assert class_usage("s = Stack()\ns.push(x)\ns.pop() -> 1", "Stack") == ("s", (), [])


@needs_bubblewrap
def test_a_class_is_checked_against_its_usage() -> None:
    good = python_verdict(_code(STACK), STACK_REQUEST)
    queue_like = python_verdict(_code(STACK.replace("self.items.pop()", "self.items.pop(0)")), STACK_REQUEST)
    silent = python_verdict(_code(STACK.replace("return self.items.pop()", "return self.items.pop() if self.items "
                                                "else None")), STACK_REQUEST)  # fmt: skip
    assert good.ok and good.key == ("class", "None", "None", "'a'", "1", "3", "3", ERROR)
    assert not queue_like.ok and "s.pop() gave 3, expected 'a'" in queue_like.reason
    assert not silent.ok and "expected to raise IndexError" in silent.reason


@needs_bubblewrap
def test_a_class_named_in_plain_words_is_found_despite_method_examples() -> None:
    request = "python, класс Stack: `push(item)` кладёт элемент, `is_empty()` — True, если элементов нет."
    verdict = python_verdict(_code(STACK), request)
    assert verdict.ok, verdict.reason
