"""The expert registry: installing from files, folders and git, trust and base-model checks, versions side by
side, atomic installs and crash recovery, and the base-model fingerprint the checks compare against."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from moe_system.base.fingerprint import CACHE_FILE, weights_sha256
from moe_system.config import Settings
from moe_system.durable import Scratch
from moe_system.errors import ExpertError, ModelNotFoundError, PackageError
from moe_system.experts.package import build_package, sign_package
from moe_system.experts.registry import STAGING, Registry
from moe_system.experts.signing import fingerprint, generate_keypair
from moe_system.experts.unpack import extract_package

BASE = "ab" * 32
OTHER_BASE = "cd" * 32
MAX_BYTES = 2**20


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "moe_home"


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings(home=home)


@pytest.fixture
def registry(settings: Settings) -> Iterator[Registry]:
    with Registry(settings) as registry:
        yield registry


@pytest.fixture
def adapter(tmp_path: Path) -> Path:
    """A tiny PEFT LoRA folder: adapter_config.json + a few float tensors."""
    folder = tmp_path / "adapter"
    folder.mkdir()
    config = {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj", "v_proj"]}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    tensors = {
        f"base_model.model.model.layers.0.self_attn.{m}.lora_{ab}.weight": torch.randn(shape)
        for m in ("q_proj", "v_proj")
        for ab, shape in (("A", (2, 8)), ("B", (8, 2)))
    }
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    return folder


@pytest.fixture
def packages(tmp_path: Path) -> Path:
    out = tmp_path / "packages"
    out.mkdir()
    return out


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, str]:
    """(private key path, public key base64)."""
    path = tmp_path / "keys" / "publisher.key"
    return path, generate_keypair(path)


def make_package(
    adapter: Path, out: Path, name: str = "sql", version: str = "1.0.0", base: str = BASE, key: Path | None = None
) -> Path:
    path = out / f"{name}-{version}.expert"
    build_package(
        adapter,
        path,
        name=name,
        version=version,
        base_name="tiny-base",
        base_sha256=base,
        description=f"{name} expert",
        max_bytes=MAX_BYTES,
    )
    if key is not None:
        sign_package(path, key)
    return path


def tree(root: Path, skip: Path | None = None) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if skip is None or skip not in (p, *p.parents)}


# ---- base model fingerprint


def test_weights_sha256_is_cached_and_invalidated(tmp_path: Path) -> None:
    model, cache = tmp_path / "model", tmp_path / "cache"
    model.mkdir()
    (model / "b.safetensors").write_bytes(b"bbbb")
    (model / "a.safetensors").write_bytes(b"aaaa")
    (model / "config.json").write_text("{}")  # not part of the identity
    first = weights_sha256(model, cache)
    assert len(first) == 64 and (cache / CACHE_FILE).is_file()
    (model / "config.json").write_text('{"x": 1}')
    assert weights_sha256(model, cache) == first

    weights = model / "a.safetensors"
    stat = weights.stat()
    weights.write_bytes(b"AAAA")  # same size; restoring the mtime proves the second call is a cache hit
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert weights_sha256(model, cache) == first
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    changed = weights_sha256(model, cache)
    assert changed != first
    assert weights_sha256(model, tmp_path / "fresh_cache") == changed  # same value without any cache


def test_weights_sha256_needs_safetensors(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no .safetensors"):
        weights_sha256(tmp_path, tmp_path / "cache")


# ---- install sources


def test_install_file_unsigned_with_allow(registry: Registry, adapter: Path, packages: Path, home: Path) -> None:
    package = make_package(adapter, packages)
    before = registry.revision()
    expert = registry.install(package, base_sha256=BASE, allow_unsigned=True)
    assert (expert.name, expert.version, expert.kind, expert.base_model) == ("sql", "1.0.0", "lora", "tiny-base")
    assert expert.path == home / "experts" / "sql" / "1.0.0"
    assert {"manifest.json", "adapter_model.safetensors", "adapter_config.json"} <= set(os.listdir(expert.path))
    assert not expert.signed and expert.publisher is None
    assert expert.source == str(package.resolve())
    assert expert.size_bytes > 0 and expert.installed_at.endswith("+00:00")
    assert registry.revision() == before + 1
    data = expert.to_dict()
    json.dumps(data)
    assert {
        "name",
        "version",
        "kind",
        "base_model",
        "description",
        "category",
        "signed",
        "publisher",
        "installed_at",
        "size_mb",
        "path",
        "source",
    } <= set(data)
    assert data["description"] == "sql expert"
    assert list((home / "experts" / STAGING).iterdir()) == []


def test_install_folder(registry: Registry, adapter: Path, packages: Path, tmp_path: Path) -> None:
    folder = extract_package(make_package(adapter, packages), tmp_path / "unpacked", MAX_BYTES)
    expert = registry.install(folder, base_sha256=BASE, allow_unsigned=True)
    assert expert.source == str(folder.resolve())
    assert (expert.path / "manifest.json").is_file()
    with pytest.raises(PackageError, match=r"no manifest.json"):
        registry.install(adapter, base_sha256=BASE, allow_unsigned=True)
    with pytest.raises(ExpertError, match="not found"):
        registry.install(tmp_path / "missing.expert", base_sha256=BASE)


def test_tampered_folder_is_refused(registry: Registry, adapter: Path, packages: Path, tmp_path: Path) -> None:
    folder = extract_package(make_package(adapter, packages), tmp_path / "unpacked", MAX_BYTES)
    weights = folder / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(PackageError):
        registry.install(folder, base_sha256=BASE, allow_unsigned=True)
    assert registry.list() == []


def _git(*args: str, cwd: Path) -> None:
    env = os.environ | {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_install_from_git(
    registry: Registry, adapter: Path, packages: Path, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repo whose root is a package folder (PATH#REF) and one holding a single .expert (git+file://)."""
    folder_repo = extract_package(make_package(adapter, packages), tmp_path / "folder_repo", MAX_BYTES)
    file_repo = tmp_path / "file_repo"
    file_repo.mkdir()
    shutil.copy(make_package(adapter, packages, version="2.0.0"), file_repo)
    for repo in (folder_repo, file_repo):
        _git("init", "-q", "-b", "main", cwd=repo)
        _git("add", "-A", cwd=repo)
        _git("commit", "-q", "-m", "expert", cwd=repo)
        _git("tag", "v1", cwd=repo)
    private_tmp = tmp_path / "tmp"  # nothing may land in the temp dir either: everything stays in MOE_HOME
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    outside = tree(tmp_path, skip=home)

    first = registry.install(f"{folder_repo}#v1", base_sha256=BASE, allow_unsigned=True)
    assert first.source == f"git+{folder_repo.as_uri()}#v1"
    assert not (first.path / ".git").exists()
    second = registry.install(f"git+{file_repo.as_uri()}#v1", base_sha256=BASE, allow_unsigned=True)
    assert second.version == "2.0.0"
    assert tree(tmp_path, skip=home) == outside
    assert list((home / "experts" / STAGING).iterdir()) == []
    with pytest.raises(ExpertError, match=r"git clone .* failed"):
        registry.install(f"git+{file_repo.as_uri()}#no-such-tag", base_sha256=BASE, allow_unsigned=True)
    with pytest.raises(ExpertError, match="unsupported git URL"):
        registry.install("git+ext::sh -c touch% /tmp/pwned", base_sha256=BASE)


# ---- checks


def test_unsigned_refused_without_flag(registry: Registry, adapter: Path, packages: Path, home: Path) -> None:
    with pytest.raises(ExpertError, match=r"not signed.*--allow-unsigned"):
        registry.install(make_package(adapter, packages), base_sha256=BASE)
    assert registry.list() == [] and not (home / "experts" / "sql").exists()


def test_untrusted_refused_trusted_installs(adapter: Path, packages: Path, key: tuple[Path, str], home: Path) -> None:
    private, public = key
    package = make_package(adapter, packages, key=private)
    with Registry(Settings(home=home)) as registry, pytest.raises(ExpertError, match="untrusted key") as refused:
        registry.install(package, base_sha256=BASE)
    assert fingerprint(public) in str(refused.value) and public in str(refused.value)
    with Registry(Settings(home=home, experts={"trusted_publishers": [public]})) as registry:
        expert = registry.install(package, base_sha256=BASE)
    assert expert.signed and expert.publisher == fingerprint(public)


def test_untrusted_with_allow_unsigned(
    registry: Registry, adapter: Path, packages: Path, key: tuple[Path, str]
) -> None:
    expert = registry.install(make_package(adapter, packages, key=key[0]), base_sha256=BASE, allow_unsigned=True)
    assert expert.signed and expert.publisher == fingerprint(key[1])


def test_base_model_mismatch(registry: Registry, adapter: Path, packages: Path, home: Path) -> None:
    package = make_package(adapter, packages, base=OTHER_BASE)
    with pytest.raises(ExpertError, match="base model") as refused:
        registry.install(package, base_sha256=BASE, allow_unsigned=True)
    message = str(refused.value)
    assert "tiny-base" in message and OTHER_BASE[:12] in message and BASE[:12] in message
    assert not (home / "experts" / "sql").exists()


def test_a_kind_that_cannot_run_is_refused(registry: Registry, tmp_path: Path, packages: Path, home: Path) -> None:
    """`kind: solver` is a valid manifest, but nothing runs it yet: installing one is a clear error, even unsigned
    installs allowed, and nothing is left behind."""
    source = tmp_path / "solver"
    source.mkdir()
    save_file({"embed.weight": torch.zeros(8, 4)}, str(source / "model.safetensors"))
    manifest = {"name": "sudoku", "version": "0.1.0", "kind": "solver", "base_model": {"name": "none", "sha256": BASE}}
    (source / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    build_package(source, packages / "sudoku-0.1.0.expert")
    with pytest.raises(ExpertError, match=r"of kind 'solver', which this release cannot run .*not installed"):
        registry.install(packages / "sudoku-0.1.0.expert", base_sha256=BASE, allow_unsigned=True)
    assert registry.list() == [] and not (home / "experts" / "sudoku").exists()


def test_duplicate_refused_unless_replace(registry: Registry, adapter: Path, packages: Path) -> None:
    package = make_package(adapter, packages)
    registry.install(package, base_sha256=BASE, allow_unsigned=True)
    with pytest.raises(ExpertError, match=r"already installed.*--replace"):
        registry.install(package, base_sha256=BASE, allow_unsigned=True)
    revision = registry.revision()
    again = registry.install(package, base_sha256=BASE, allow_unsigned=True, replace=True)
    assert registry.revision() == revision + 1
    assert (again.path / "manifest.json").is_file() and len(registry.list()) == 1


# ---- versions, queries, changes


def test_versions_side_by_side(registry: Registry, adapter: Path, packages: Path) -> None:
    for name, version in (("sql", "1.2.0"), ("sql", "1.10.0"), ("sql", "1.10.0-rc.1"), ("math", "0.1.0")):
        registry.install(make_package(adapter, packages, name, version), base_sha256=BASE, allow_unsigned=True)
    assert [(e.name, e.version) for e in registry.list()] == [
        ("math", "0.1.0"),
        ("sql", "1.10.0"),
        ("sql", "1.10.0-rc.1"),
        ("sql", "1.2.0"),
    ]
    assert registry.names() == ["math", "sql"]
    assert registry.get("sql").version == "1.10.0"  # semver, not string order
    assert registry.get("sql", "1.2.0").path.name == "1.2.0"
    with pytest.raises(ExpertError, match=r"no version 9\.9\.9 installed \(installed: 1\.10\.0, "):
        registry.get("sql", "9.9.9")
    with pytest.raises(ExpertError, match=r"expert 'python' is not installed \(installed: math, sql\)"):
        registry.get("python")


def test_get_with_none_installed(registry: Registry) -> None:
    with pytest.raises(ExpertError, match=r"'sql' is not installed \(none installed\)"):
        registry.get("sql")


def test_remove(registry: Registry, adapter: Path, packages: Path, home: Path) -> None:
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        registry.install(make_package(adapter, packages, version=version), base_sha256=BASE, allow_unsigned=True)
    revision = registry.revision()
    assert [e.version for e in registry.remove("sql", "1.1.0")] == ["1.1.0"]
    assert not (home / "experts" / "sql" / "1.1.0").exists()
    assert registry.revision() == revision + 1
    assert [e.version for e in registry.remove("sql")] == ["2.0.0", "1.0.0"]
    assert registry.list() == [] and not (home / "experts" / "sql").exists()
    with pytest.raises(ExpertError, match="not installed"):
        registry.remove("sql")


def test_update(registry: Registry, adapter: Path, packages: Path) -> None:
    first = make_package(adapter, packages, version="1.0.0")
    registry.install(first, base_sha256=BASE, allow_unsigned=True)
    assert registry.update("sql", base_sha256=BASE, allow_unsigned=True) is None  # same source, same version
    newer = make_package(adapter, packages, version="1.1.0")
    updated = registry.update("sql", str(newer), base_sha256=BASE, allow_unsigned=True)
    assert updated is not None and updated.version == "1.1.0"
    assert registry.get("sql").version == "1.1.0" and len(registry.list()) == 2
    assert registry.update("sql", str(first), base_sha256=BASE, allow_unsigned=True) is None  # older
    other = make_package(adapter, packages, name="math", version="9.0.0")
    with pytest.raises(ExpertError, match="holds expert 'math', not 'sql'"):
        registry.update("sql", str(other), base_sha256=BASE, allow_unsigned=True)
    with pytest.raises(ExpertError, match="not installed"):
        registry.update("python", base_sha256=BASE)


# ---- persistence and recovery


def test_persists_across_instances(settings: Settings, adapter: Path, packages: Path) -> None:
    with Registry(settings) as first:
        first.install(make_package(adapter, packages), base_sha256=BASE, allow_unsigned=True)
        revision = first.revision()
        with Registry(settings) as second:  # another process would see the same
            assert [e.name for e in second.list()] == ["sql"]
            second.remove("sql")
        assert first.revision() == revision + 1 and first.list() == []


def test_reopen_cleans_orphans(
    settings: Settings, adapter: Path, packages: Path, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Registry(settings) as registry:
        kept = registry.install(make_package(adapter, packages), base_sha256=BASE, allow_unsigned=True)
        lost = registry.install(make_package(adapter, packages, "math"), base_sha256=BASE, allow_unsigned=True)
    orphan = home / "experts" / "python" / "1.0.0"  # a crash after the rename, before the row
    shutil.copytree(kept.path, orphan)
    shutil.rmtree(lost.path)  # a row whose folder is gone
    stale = home / "experts" / STAGING / "install-crashed"
    stale.mkdir()
    os.utime(stale, (0, 0))
    killed = home / "experts" / STAGING / "install-killed"  # a new folder nobody holds: its install was killed
    killed.mkdir()
    with Scratch(home / "experts" / STAGING, "install-") as running:  # another process's install in progress
        with caplog.at_level(logging.WARNING), Registry(settings) as registry:
            assert [e.name for e in registry.list()] == ["sql"]
        assert running.path.is_dir()
    assert not orphan.parent.exists() and not stale.exists() and not killed.exists() and kept.path.is_dir()
    assert "math" in caplog.text


# ---- hostile packages through the installer


@pytest.mark.parametrize(
    "case", ["absolute", "traversal", "symlink", "hardlink", "device", "pickle-as-weights", "zip-as-weights",
             "bin-file", "pickle-as-notes"]
)
def test_hostile_package_is_refused_and_writes_nothing_outside_moe_home(
    registry: Registry, home: Path, tmp_path: Path, case: str
) -> None:
    from .test_expert_package import UNSAFE, write_tar

    members, expected, _ = UNSAFE[case]
    (tmp_path / "incoming").mkdir()
    archive = write_tar(tmp_path / "incoming" / "evil.expert", members(tmp_path / "incoming"))
    before = tree(tmp_path, skip=home)
    with pytest.raises(PackageError, match=expected):
        registry.install(archive, base_sha256=BASE, allow_unsigned=True)
    assert tree(tmp_path, skip=home) == before
    assert registry.list() == []
    files = [p.name for p in (home / "experts").rglob("*") if p.is_file()]
    assert [name for name in files if not name.startswith("registry.db") and name != ".lock"] == []


def test_oversized_package_is_refused_by_the_configured_limit(adapter: Path, packages: Path, home: Path) -> None:
    package = make_package(adapter, packages)
    with Registry(Settings(home=home, experts={"max_package_mb": 1})) as registry:
        big = packages / "big.expert"
        big.write_bytes(package.read_bytes() + bytes(2 * 2**20))  # trailing garbage past the limit
        with pytest.raises(PackageError, match="over the limit"):
            registry.install(big, base_sha256=BASE, allow_unsigned=True)
        assert registry.list() == []
