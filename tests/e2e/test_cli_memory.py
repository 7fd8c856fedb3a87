"""`moe chat --conversation` and `moe memory ...` as a user runs them: the memory outlives each process."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from test_cli import run  # the e2e folder is on sys.path (pytest prepend mode)

pytestmark = pytest.mark.e2e


def test_a_conversation_is_remembered_across_processes_and_forgotten_for_good(model_home: Path) -> None:
    conversation, user = f"c-{uuid.uuid4().hex[:8]}", f"u-{uuid.uuid4().hex[:8]}"
    said = run(["chat", "--conversation", conversation, "--user", user, "--max-tokens", "8",
                "--prompt", "Hi! My locker code is 7781-K and I live in Tromsø."], model_home)
    assert said.returncode == 0, said.stderr
    again = run(["chat", "-c", conversation, "--max-tokens", "8", "--prompt", "Мой номер телефона: +7 913 555-21-08."],
                model_home)
    assert again.returncode == 0, again.stderr

    stats = json.loads(run(["memory", "stats", conversation, "--json"], model_home).stdout)
    assert stats["user_id"] == user and stats["messages"] == 4 and 0 < stats["current_tokens"] <= 250_000
    shown = json.loads(run(["memory", "show", conversation, "--json"], model_home).stdout)
    assert {fact["key"] for fact in shown["facts"]} >= {"residence", "phone"}
    found = json.loads(run(["memory", "search", conversation, "What is my locker code?", "--json"], model_home).stdout)
    assert "7781-K" in found["text"] and found["token_count"] <= 1000
    listed = json.loads(run(["memory", "list", "--user", user, "--json"], model_home).stdout)
    assert [row["conversation_id"] for row in listed] == [conversation]

    stolen = run(["chat", "-c", conversation, "--user", "somebody-else", "--prompt", "hi"], model_home)
    assert stolen.returncode == 2 and "another user" in stolen.stderr

    forgot = run(["memory", "forget", "--user", user, "--json"], model_home)
    assert forgot.returncode == 0, forgot.stderr
    assert json.loads(forgot.stdout)["rows_left"] == 0
    gone = run(["memory", "stats", conversation], model_home)
    assert gone.returncode == 2 and "no conversation" in gone.stderr


@pytest.mark.parametrize("args, needle", [
    (["memory", "forget"], "exactly one of --user and --conversation"),
    (["memory", "search", "no-such-conversation", "anything"], "no conversation"),
    (["bench", "memory", "--budgets", "many"], "comma-separated integers"),
])
def test_memory_mistakes_are_one_line_exit_2(args: list[str], needle: str, model_home: Path) -> None:
    result = run(args, model_home)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr
