"""The expert manifest: strict validation with errors that name the field, semver order, PEFT import, schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from moe_system.errors import ManifestError
from moe_system.experts.manifest import Manifest, export_schema, manifest_from_adapter_config, semver_key

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "expert-manifest.schema.json"
SHA = "ab" * 32


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "sql",
        "version": "1.0.0",
        "kind": "lora",
        "base_model": {"name": "smollm2-135m-instruct", "sha256": SHA},
    }
    return data | changes


def test_minimal_manifest_defaults_and_round_trip() -> None:
    manifest = Manifest.from_json(json.dumps(minimal(routing={"keywords": ["select"], "priority": 0.9})))
    assert manifest.schema_version == 1
    assert manifest.adapter.target_modules == [] and manifest.integrity.algorithm == "ed25519"
    assert manifest.routing.priority == 0.9 and manifest.license == "unknown"
    text = manifest.to_json()
    assert text.endswith("}\n") and text.startswith('{\n  "schema_version": 1,')
    assert Manifest.from_json(text) == manifest
    assert Manifest.from_json(text).to_json() == text  # stable


def test_to_json_keeps_unicode_and_sorts_hash_maps() -> None:
    data = minimal(description="Запросы SQL", integrity={"files": {"b.txt": SHA, "a.txt": SHA}})
    text = Manifest.from_dict(data).to_json()
    assert "Запросы SQL" in text
    assert text.index('"a.txt"') < text.index('"b.txt"')


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"version": "1.0"}, "field 'version': '1.0' is not a semantic version"),
        ({"version": "01.0.0"}, "field 'version'"),
        ({"version": "1.0.0-"}, "field 'version'"),
        ({"name": "Bad Name"}, "field 'name': 'Bad Name' is not a valid expert name"),
        ({"name": "-sql"}, "field 'name'"),
        ({"name": "x" * 65}, "field 'name'"),
        ({"routing": {"priority": 1.5}}, "field 'routing.priority': Input should be less than or equal to 1"),
        ({"colour": "red"}, "field 'colour': Extra inputs are not permitted"),
        ({"routing": {"keyword": ["x"]}}, "field 'routing.keyword': Extra inputs are not permitted"),
        ({"base_model": {"name": "b", "sha256": "ABC"}}, "field 'base_model.sha256': expected 64 lowercase hex"),
        ({"kind": "gguf"}, "field 'kind'"),
        ({"adapter": {"dropout": 2}}, "field 'adapter.dropout'"),
        ({"prompt": {"template": "no placeholder"}}, "field 'prompt.template': the template must contain {prompt}"),
        ({"integrity": {"public_key": "bm90IGEga2V5"}}, "field 'integrity.public_key': expected the base64"),
        ({"integrity": {"files": {"../x": SHA}}}, "'../x' is not a plain relative posix path"),
        ({"schema_version": 2}, "field 'schema_version'"),
    ],
)
def test_invalid_manifest_names_the_field(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(ManifestError) as info:
        Manifest.from_json(json.dumps(minimal(**changes)))
    message = str(info.value)
    assert message.startswith("manifest.json: ") and expected in message
    assert "\n" not in message


def test_missing_field_and_count_of_more_errors() -> None:
    data = minimal(routing={"priority": 3})
    del data["version"]
    with pytest.raises(ManifestError, match=r"field 'version': Field required \(and 1 more\)"):
        Manifest.from_json(json.dumps(data), source="x/manifest.json")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{\n  "name": "sql",,\n}', r"^manifest\.json: invalid JSON at line 2, column 17: "),
        ("[1, 2]", "must hold a JSON object, not list"),
    ],
)
def test_bad_json(text: str, expected: str) -> None:
    with pytest.raises(ManifestError, match=expected):
        Manifest.from_json(text)


def test_from_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(minimal(version="v1")), encoding="utf-8")
    with pytest.raises(ManifestError, match=f"^{path}: field 'version'"):
        Manifest.from_file(path)
    with pytest.raises(ManifestError, match="cannot read manifest"):
        Manifest.from_file(tmp_path / "missing.json")


def test_valid_semver_forms() -> None:
    for version in ("0.0.0", "1.2.3-rc.1", "1.2.3+build.5", "10.20.30-alpha.beta.1+sha.abc"):
        assert Manifest.from_dict(minimal(version=version)).version == version


def test_semver_key_follows_semver_precedence() -> None:
    ordered = [
        "0.9.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
        "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.2.0", "1.10.0", "2.0.0",
    ]  # fmt: skip
    assert sorted(reversed(ordered), key=semver_key) == ordered
    assert semver_key("1.0.0+a") == semver_key("1.0.0+b")
    with pytest.raises(ManifestError, match="not a semantic version"):
        semver_key("1.0")


@pytest.mark.parametrize(
    ("config", "kind", "adapter"),
    [
        (
            {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["v_proj", "q_proj"], "lora_dropout": 0.1},
            "lora",
            {"r": 4, "alpha": 8.0, "target_modules": ["q_proj", "v_proj"], "dropout": 0.1},
        ),
        (
            {"peft_type": "LORA", "use_dora": True, "r": 8, "lora_alpha": 16, "target_modules": "q_proj"},
            "dora",
            {"r": 8, "alpha": 16.0, "target_modules": ["q_proj"], "dropout": 0.0},
        ),
        (
            {"peft_type": "IA3", "target_modules": ["k_proj", "down_proj"], "feedforward_modules": ["down_proj"]},
            "ia3",
            {"r": None, "alpha": None, "target_modules": ["down_proj", "k_proj"], "dropout": 0.0},
        ),
    ],
)
def test_manifest_from_adapter_config(config: dict[str, Any], kind: str, adapter: dict[str, Any]) -> None:
    manifest = manifest_from_adapter_config(
        config, name="sql", version="1.0.0", base_name="base", base_sha256=SHA, description="d"
    )
    assert manifest.kind == kind
    assert manifest.adapter.model_dump() == adapter
    assert (manifest.name, manifest.description, manifest.base_model.sha256) == ("sql", "d", SHA)


def test_manifest_from_adapter_config_refuses_other_peft_types_and_bad_names() -> None:
    with pytest.raises(ManifestError, match="peft_type 'PROMPT_TUNING' is not supported"):
        manifest_from_adapter_config({"peft_type": "PROMPT_TUNING"}, name="a", version="1.0.0", base_name="b",
                                     base_sha256=SHA)  # fmt: skip
    with pytest.raises(ManifestError, match="field 'name'"):
        manifest_from_adapter_config({"peft_type": "LORA"}, name="A B", version="1.0.0", base_name="b",
                                     base_sha256=SHA)  # fmt: skip


def test_schema_file_is_up_to_date(tmp_path: Path) -> None:
    """Regenerate with `python -m moe_system.experts.manifest docs/expert-manifest.schema.json`."""
    fresh = tmp_path / "schema.json"
    export_schema(fresh)
    assert SCHEMA_FILE.read_text(encoding="utf-8") == fresh.read_text(encoding="utf-8")
    schema = json.loads(fresh.read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    assert schema["properties"]["name"]["pattern"] == "^[a-z0-9][a-z0-9_-]{0,63}$"
