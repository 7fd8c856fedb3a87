"""The `moe` command as a user runs it: real subprocesses, real model, exit codes and JSON contracts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
MOE = [sys.executable, "-m", "moe_system.cli"]
REPO = Path(__file__).resolve().parents[2]


def run(args: list[str], home: Path, env: dict[str, str] | None = None, stdin: str | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MOE_")} | {"MOE_HOME": str(home)}
    return subprocess.run(MOE + args, env=full_env | (env or {}), input=stdin, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_generate_json_names_paris(model_home: Path) -> None:
    """The acceptance command prints one JSON document whose text names Paris."""
    result = run(["generate", "--expert", "none", "--json", "What is the capital of France?"], model_home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "Paris" in data["text"]
    assert data["expert"] is None
    assert set(data["usage"]) == {"prompt_tokens", "completion_tokens"}
    assert set(data["timings"]) == {"ttft_ms", "total_ms", "tokens_per_s"}
    assert {"expert", "confidence", "candidates", "strategy", "reason"} <= set(data["routing"])


def test_seed_makes_sampling_reproducible(model_home: Path) -> None:
    """Same seed and temperature, same text across processes."""
    args = ["generate", "--json", "--temperature", "1.0", "--seed", "7", "--max-tokens", "12", "Tell me a joke."]
    first, second = run(args, model_home), run(args, model_home)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["text"] == json.loads(second.stdout)["text"]


def test_chat_reads_stdin_and_commands(model_home: Path) -> None:
    """`moe chat` answers piped lines, understands /reset and stops at /exit."""
    result = run(["chat", "--max-tokens", "8"], model_home, stdin="Hello!\n/reset\n/exit\nnever sent\n")
    assert result.returncode == 0, result.stderr
    assert "conversation cleared" in result.stderr
    assert result.stderr.count("tok/s") == 1  # one answer: the line after /exit is never sent
    assert "[base model 1.00 · none: no experts are installed" in result.stderr  # the routing line


def test_chat_one_shot_prompt(model_home: Path) -> None:
    result = run(["chat", "--prompt", "Say hi.", "--max-tokens", "8"], model_home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["generate", "--max-tokens", "0", "x"], {}, "--max-tokens"),
        (["generate", "--bogus", "x"], {}, "No such option"),
        (["generate", "x"], {"MOE_BASE__DTYPE": "int3"}, "base.dtype"),
        (["generate", "x"], {"MOE_BASE__NAME": "/no/such/model"}, "not found"),
        (["generate", "--expert", "sql", "x"], {}, "not installed"),
        (["config", "show"], {"MOE_CONFIG": "/no/such/config.yaml"}, "MOE_CONFIG"),
        (["bench", "router"], {}, "no experts are installed"),
        (["bench", "router", "--packages", "/no/such/dir"], {}, "no .expert packages"),
        (["route", "--strategy", "magic", "x"], {}, "unknown routing strategy"),
        (["serve", "--host", "0.0.0.0"], {}, "refusing to serve on 0.0.0.0 without API keys: set MOE_API_KEYS"),
        (["--quantization", "int3", "generate", "x"], {}, "--quantization"),
        (["generate", "x"], {"MOE_BASE__QUANTIZATION": "int3"}, "base.quantization"),
        (["export", "onnx", "-o", "/tmp/unused-moe-export", "--quantization", "int3"], {}, "fp32, int8, int4"),
        (["export", "onnx", "-o", "/tmp/unused-moe-export", "--expert", "sql"], {}, "not installed"),
        (["bench", "quality", "--quantization", "int8,int9"], {}, "--quantization"),
    ],
)
def test_user_errors_are_one_line_exit_2(args: list[str], env: dict[str, str], needle: str, model_home: Path) -> None:
    """Bad flags, bad config, missing model, unknown expert: a clear message, exit 2, no traceback."""
    result = run(args, model_home, env)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_int4_runs_or_says_why_once(model_home: Path) -> None:
    """int4 runs on the block kernel where it runs (no warning); elsewhere it runs int8 and says so in one line."""
    from moe_system.engine import block_quant

    result = run(["--quantization", "int4", "generate", "--expert", "none", "--max-tokens", "12", "--json",
                  "What is the capital of France?"], model_home)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("quantization int4:") == (0 if block_quant.available() else 1)
    assert json.loads(result.stdout)["text"].strip()


def test_prompt_longer_than_context(model_home: Path) -> None:
    result = run(["generate", "word " * 300], model_home, {"MOE_BASE__MAX_CONTEXT": "128"})
    assert result.returncode == 2
    assert "context" in result.stderr and "Traceback" not in result.stderr
    debug = run(["--debug", "generate", "word " * 300], model_home, {"MOE_BASE__MAX_CONTEXT": "128"})
    assert "Traceback" in debug.stderr


def test_bad_yaml_config(tmp_path: Path, model_home: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("generation:\n  temperature: hot\n")
    result = run(["config", "show"], model_home, {"MOE_CONFIG": str(config)})
    assert result.returncode == 2
    assert "generation.temperature" in result.stderr


def test_config_show_json_reflects_env(model_home: Path) -> None:
    result = run(["config", "show", "--json"], model_home, {"MOE_GENERATION__MAX_TOKENS": "77"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["generation"]["max_tokens"] == 77


def test_help_everywhere(model_home: Path) -> None:
    for args in (["--help"], ["generate", "--help"], ["chat", "--help"], ["config", "show", "--help"],
                 ["bench", "decode", "--help"], ["demo", "--help"]):
        result = run(args, model_home)
        assert result.returncode == 0, (args, result.stderr)


def test_demo_runs_english_and_russian(model_home: Path) -> None:
    """`moe demo` (what `make demo` runs without the starter experts) answers every prompt with timings."""
    result = run(["demo"], model_home, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout
    assert "Какая столица Франции?" in result.stdout
    assert result.stdout.count("tok/s") == 5


def test_make_demo_installs_the_starter_experts_and_shows_each_beside_the_base(
    tmp_path: Path, model_home: Path
) -> None:
    """`moe demo --experts experts` (what `make demo` runs): the committed packages verify against the key beside
    them, install for the embedded base, and each answers a field-set question next to the base model."""
    from moe_system.base import base_model_dir
    from moe_system.config import Settings

    env = {"MOE_BASE__NAME": str(base_model_dir(Settings(home=model_home)))}
    home = tmp_path / "home"
    shipped = sorted(path.name.split("-")[0] for path in (REPO / "experts").glob("*.expert"))
    assert shipped and set(shipped) <= {"sql", "python", "math"}
    result = run(["demo", "--experts", str(REPO / "experts")], home, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    for task in shipped:
        assert re.search(rf"installed expert {task} \d+\.\d+\.\d+", result.stderr)
        assert f"expert {task} · " in result.stdout
    assert result.stdout.count("held-out accuracy: expert") == len(shipped)
    assert result.stdout.count("field item ") == len(shipped)  # each answers a question of its field set
    scored = result.stdout.count("base model · ✓ correct") + result.stdout.count("base model · ✗ wrong")
    assert scored == len(shipped)
    listed = json.loads(run(["experts", "list", "--json"], home, env=env).stdout)
    assert sorted((e["name"], e["signed"]) for e in listed) == [(task, True) for task in shipped]
    # the second run is about the installs alone: the answers (checked above) may stop after a fraction of a second
    again = run(["demo", "--experts", str(REPO / "experts")], home, env=env | {"MOE_GENERATION__TIME_BUDGET_S": "0.2"},
                timeout=900)
    assert again.returncode == 0 and "installed expert" not in again.stderr  # installed once


def test_demo_refuses_an_experts_folder_without_its_publisher_key(tmp_path: Path, model_home: Path) -> None:
    (tmp_path / "starters").mkdir()
    result = run(["demo", "--experts", str(tmp_path / "starters")], model_home)
    assert result.returncode == 2 and "no publisher.pub" in result.stderr and "Traceback" not in result.stderr


def test_route_without_experts_names_the_base_model_and_refuses_bad_use(tmp_path: Path) -> None:
    result = run(["route", "--json", "Сколько будет 15% от 240?"], tmp_path / "home")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["expert"] is None and set(decision) == {"expert", "confidence", "candidates", "strategy", "reason"}
    for args in (["route"], ["route", "x", "--file", "y"], ["route", "--strategy", "magic", "x"]):
        bad = run(args, tmp_path / "home")
        assert bad.returncode == 2 and "Traceback" not in bad.stderr, args
