"""`moe experts` as a publisher and a user run it: keygen, package, sign, verify, install (trust checks), list,
remove, in real subprocesses against the converted embedded model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

pytestmark = pytest.mark.e2e
MOE = [sys.executable, "-m", "moe_system.cli"]
COMMANDS = ("list", "info", "install", "update", "remove", "package", "keygen", "sign", "verify")


def run(args: list[str], home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MOE_")} | {"MOE_HOME": str(home)}
    return subprocess.run(MOE + args, env=full_env | env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def base_env(model_home: Path) -> dict[str, str]:
    """Point a fresh MOE_HOME at the session's converted model folder, so nothing is converted again."""
    from moe_system.base import base_model_dir
    from moe_system.config import Settings

    return {"MOE_BASE__NAME": str(base_model_dir(Settings(home=model_home)))}


@pytest.fixture
def adapter(tmp_path: Path) -> Path:
    """A LoRA folder with SmolLM2's module names and shapes (random weights: only its format matters here)."""
    folder = tmp_path / "lora"
    folder.mkdir()
    config = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    prefix = "base_model.model.model.layers.0.self_attn"
    tensors = {
        f"{prefix}.{module}.lora_{ab}.weight": torch.randn(shape) * 0.01
        for module, out_features in (("q_proj", 576), ("v_proj", 192))
        for ab, shape in (("A", (4, 576)), ("B", (out_features, 4)))
    }
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    return folder


def test_publish_verify_install_list_remove(tmp_path: Path, adapter: Path, base_env: dict[str, str]) -> None:
    home = tmp_path / "home"
    key, package = tmp_path / "keys" / "publisher.key", tmp_path / "sql-1.0.0.expert"

    keygen = run(["experts", "keygen", "-o", str(key)], home, base_env)
    assert keygen.returncode == 0, keygen.stderr
    public = keygen.stdout.strip()
    assert public == (tmp_path / "keys" / "publisher.key.pub").read_text().strip()

    packed = run(
        ["experts", "package", str(adapter), "--name", "sql", "--version", "1.0.0", "-o", str(package)], home, base_env
    )
    assert packed.returncode == 0, packed.stderr
    assert package.is_file() and str(package) in packed.stdout
    assert run(["experts", "sign", str(package), "--key", str(key)], home, base_env).returncode == 0

    verified = run(["experts", "verify", "--json", str(package)], home, base_env)
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["signed"] and report["public_key"] == public and report["name"] == "sql"

    tampered = tmp_path / "tampered.expert"
    data = bytearray(package.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    refused = run(["experts", "verify", str(tampered)], home, base_env)
    assert refused.returncode == 2
    assert "error:" in refused.stderr and str(tampered) in refused.stderr and "Traceback" not in refused.stderr

    untrusted = run(["experts", "install", str(package)], home, base_env)
    assert untrusted.returncode == 2
    assert "untrusted key" in untrusted.stderr and report["fingerprint"] in untrusted.stderr
    trusted_env = base_env | {"MOE_EXPERTS__TRUSTED_PUBLISHERS": json.dumps([public])}
    installed = run(["experts", "install", str(package)], home, trusted_env)
    assert installed.returncode == 0, installed.stderr
    assert "warning" not in installed.stderr

    unsigned = tmp_path / "sql-1.1.0.expert"
    sha = report["base_model"]["sha256"]
    args = ["--name", "sql", "--version", "1.1.0", "--base-sha256", sha, "-o", str(unsigned)]
    assert run(["experts", "package", str(adapter), *args], home, base_env).returncode == 0
    assert run(["experts", "install", str(unsigned)], home, base_env).returncode == 2
    forced = run(["experts", "install", "--allow-unsigned", str(unsigned)], home, base_env)
    assert forced.returncode == 0, forced.stderr
    assert "not signed" in forced.stderr

    listed = run(["experts", "list", "--json"], home, base_env)
    assert listed.returncode == 0, listed.stderr
    experts = json.loads(listed.stdout)
    assert [(e["name"], e["version"], e["kind"]) for e in experts] == [
        ("sql", "1.1.0", "lora"),
        ("sql", "1.0.0", "lora"),
    ]
    assert all(e["base_model"] for e in experts)

    answered = run(["generate", "--expert", "sql=lots", "-n", "4", "Count the users."], home, base_env)
    assert answered.returncode == 2 and "bad expert weight" in answered.stderr
    answered = run(["generate", "--expert", "sql@1.0.0=0.5,sql", "-n", "4", "--json", "Count the users."],
                   home, base_env)
    assert answered.returncode == 0, answered.stderr
    result = json.loads(answered.stdout)
    assert result["expert"] == "sql@1.0.0,sql" and result["routing"]["strategy"] == "explicit"
    assert result["usage"]["completion_tokens"] >= 1
    missing = run(["generate", "--expert", "nosuch", "-n", "4", "Hi"], home, base_env)
    assert missing.returncode == 2 and "not installed" in missing.stderr

    removed = run(["experts", "remove", "sql"], home, base_env)
    assert removed.returncode == 0, removed.stderr
    assert json.loads(run(["experts", "list", "--json"], home, base_env).stdout) == []


def test_help_for_every_experts_command() -> None:
    from moe_system.cli import app

    runner = CliRunner()
    for command in ((), *((name,) for name in COMMANDS)):
        result = runner.invoke(app, ["experts", *command, "--help"])
        assert result.exit_code == 0, (command, result.output)
