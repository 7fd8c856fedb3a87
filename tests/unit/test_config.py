"""Settings: defaults < YAML < MOE_* env < arguments, with errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from moe_system.base.source import resolve_source
from moe_system.config import BaseModelSettings, load_settings
from moe_system.errors import ConfigError, ModelNotFoundError


def test_defaults_use_moe_home(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.home == tmp_path / "moe_home"
    assert settings.base.name == "smollm2-135m-instruct"
    assert settings.models_dir == settings.home / "models"


def test_yaml_then_env_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("generation:\n  max_tokens: 10\n  temperature: 0.5\nbase:\n  threads: 1\n")
    monkeypatch.setenv("MOE_CONFIG", str(config))
    monkeypatch.setenv("MOE_GENERATION__MAX_TOKENS", "20")
    settings = load_settings()
    assert settings.generation.max_tokens == 20  # env beats YAML
    assert settings.generation.temperature == 0.5  # YAML beats default
    assert settings.base.threads == 1
    assert load_settings(generation={"max_tokens": 30}).generation.max_tokens == 30  # arguments beat env


def test_default_config_file_in_home(tmp_path: Path) -> None:
    home = tmp_path / "moe_home"
    home.mkdir()
    (home / "config.yaml").write_text("base:\n  dtype: bfloat16\n")
    assert load_settings().base.dtype == "bfloat16"


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [
        ("generation:\n  top_p: 2\n", "generation.top_p"),
        ("base:\n  backend: turbo\n", "base.backend"),
        ("nonsense_key: 1\n", "nonsense_key"),
        ("- a list\n", "mapping"),
        ("base: [1\n", "not valid YAML"),
    ],
)
def test_bad_yaml_names_the_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, yaml_text: str,
                                    field: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml_text)
    monkeypatch.setenv("MOE_CONFIG", str(config))
    with pytest.raises(ConfigError, match=field):
        load_settings()


def test_missing_moe_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MOE_CONFIG", str(tmp_path / "absent.yaml"))
    with pytest.raises(ConfigError, match="not a file"):
        load_settings()


def test_model_sources(tmp_path: Path) -> None:
    """A local HF folder, a .gguf file and bad paths resolve or fail clearly."""
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(ModelNotFoundError, match="safetensors"):
        resolve_source(BaseModelSettings(name=str(folder)))
    (folder / "model.safetensors").write_bytes(b"")
    assert resolve_source(BaseModelSettings(name=str(folder))).gguf_file is None
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_source(BaseModelSettings(name=str(gguf))).gguf_file == gguf
    with pytest.raises(ModelNotFoundError, match=r"not a \.gguf"):
        resolve_source(BaseModelSettings(name=str(folder / "config.json")))
    with pytest.raises(ModelNotFoundError, match="not found"):
        resolve_source(BaseModelSettings(name=str(tmp_path / "missing")))
