"""`.expert` packages: build, sign, verify, tamper detection and refusal of unsafe archives and folders."""

from __future__ import annotations

import io
import json
import os
import pickle
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from safetensors.torch import save_file

from moe_system.errors import ManifestError, PackageError
from moe_system.experts.manifest import Manifest
from moe_system.experts.package import build_package, sign_package
from moe_system.experts.signing import (
    fingerprint,
    generate_keypair,
    load_private_key,
    sign,
    signing_message,
    verify,
)
from moe_system.experts.unpack import check_folder, extract_package
from moe_system.experts.verify import file_hashes, verify_folder, verify_package

SHA = "cd" * 32
DESCRIPTION = "Writes SQL queries."
LORA_A = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
LORA_B = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"
SIGNED_FILES = [
    "README.md", "adapter_config.json", "adapter_model.safetensors", "examples/queries.txt", "manifest.json",
    "signature.sig",
]  # fmt: skip

Members = list[tuple[tarfile.TarInfo, bytes]]


def safetensors_bytes(tmp_path: Path, tensors: dict[str, torch.Tensor]) -> bytes:
    path = tmp_path / "tensors.tmp"
    save_file(tensors, str(path))
    data = path.read_bytes()
    path.unlink()
    return data


@pytest.fixture
def adapter_dir(tmp_path: Path) -> Path:
    """A small PEFT-like LoRA adapter folder."""
    folder = tmp_path / "adapter"
    (folder / "examples").mkdir(parents=True)
    generator = torch.Generator().manual_seed(0)
    tensors = {LORA_A: torch.randn(4, 16, generator=generator), LORA_B: torch.zeros(16, 4)}
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    config = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    (folder / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (folder / "examples" / "queries.txt").write_text("list all users older than 30\n", encoding="utf-8")
    return folder


def build(adapter_dir: Path, output: Path) -> Manifest:
    return build_package(
        adapter_dir,
        output,
        name="sql",
        version="1.0.0",
        base_name="tiny-base",
        base_sha256=SHA,
        description=DESCRIPTION,
    )


@pytest.fixture
def package(adapter_dir: Path, tmp_path: Path) -> Path:
    path = tmp_path / "out" / "sql-1.0.0.expert"
    build(adapter_dir, path)
    return path


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "publisher"
    generate_keypair(path)
    return path


@pytest.fixture
def signed(package: Path, key: Path) -> Path:
    sign_package(package, key)
    return package


def read_members(path: Path) -> Members:
    members = []
    with tarfile.open(path, "r:gz") as tar:
        for info in tar:
            handle = tar.extractfile(info) if info.isfile() else None
            members.append((info, handle.read() if handle is not None else b""))
    return members


def write_tar(path: Path, members: Members) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def retar(path: Path, change: Callable[[Members], Members]) -> None:
    write_tar(path, change(read_members(path)))


def entry(
    name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, linkname: str = ""
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, 0o644
    return info, data


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def snapshot(root: Path) -> set[str]:
    return {os.path.join(folder, name) for folder, dirs, files in os.walk(root) for name in dirs + files}


# ---------------------------------------------------------------- build and verify


def test_build_then_verify_unsigned(package: Path) -> None:
    result = verify_package(package)
    manifest = result.manifest
    assert (manifest.name, manifest.version, manifest.kind) == ("sql", "1.0.0", "lora")
    assert manifest.adapter.r == 4 and manifest.adapter.alpha == 8.0
    assert manifest.integrity.public_key is None
    assert sorted(manifest.integrity.files) == [n for n in SIGNED_FILES if n not in {"manifest.json", "signature.sig"}]
    assert (result.signed, result.public_key, result.fingerprint) == (False, None, None)
    assert sorted(result.files) == SIGNED_FILES[:-1]
    json.dumps(result.to_dict())  # serialisable for --json


def test_generated_readme_and_archive_metadata(package: Path) -> None:
    members = {info.name: (info, data) for info, data in read_members(package)}
    readme = members["README.md"][1].decode()
    assert readme.startswith("# sql 1.0.0\n") and DESCRIPTION in readme and "Kind: lora" in readme
    assert "tiny-base" in readme
    assert list(members) == sorted(members)
    for info, _ in members.values():
        assert (info.mtime, info.uid, info.gid, info.uname, info.gname) == (0, 0, 0, "", "")
        assert info.mode == (0o755 if info.isdir() else 0o644)
    assert stat.S_IMODE(package.stat().st_mode) == 0o644
    assert [p.name for p in package.parent.iterdir()] == [package.name]  # no temp file left


def test_build_is_deterministic(adapter_dir: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.expert", tmp_path / "b.expert"
    build(adapter_dir, first)
    for path in adapter_dir.rglob("*"):
        os.utime(path, (1_000_000, 1_000_000))
    build(adapter_dir, second)
    assert first.read_bytes() == second.read_bytes()


def test_build_without_manifest_needs_names(adapter_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"has no manifest\.json, so version, base_sha256 must be given"):
        build_package(adapter_dir, tmp_path / "x.expert", name="sql", base_name="b")
    assert not (tmp_path / "x.expert").exists()


def test_build_from_folder_with_manifest_drops_old_signature(signed: Path, tmp_path: Path) -> None:
    unpacked = extract_package(signed, tmp_path / "unpacked", 2**30)
    (unpacked / "README.md").write_text("# My SQL expert\n", encoding="utf-8")
    manifest = build_package(unpacked, tmp_path / "v2.expert", version="1.1.0")
    assert (manifest.name, manifest.version, manifest.description) == ("sql", "1.1.0", DESCRIPTION)
    assert manifest.integrity.public_key is None
    result = verify_package(tmp_path / "v2.expert")
    assert not result.signed and "signature.sig" not in result.files
    assert result.manifest.integrity.files["README.md"] == file_hashes(unpacked)["README.md"]


def test_build_refuses_pickle_weights_in_source(adapter_dir: Path, tmp_path: Path) -> None:
    (adapter_dir / "adapter_model.bin").write_bytes(pickle.dumps({"w": 1}, protocol=4))
    with pytest.raises(PackageError, match=r"'adapter_model.bin' is a \.bin file"):
        build(adapter_dir, tmp_path / "x.expert")
    assert not (tmp_path / "x.expert").exists()


def test_build_requires_adapter_weights(adapter_dir: Path, tmp_path: Path) -> None:
    (adapter_dir / "adapter_model.safetensors").unlink()
    with pytest.raises(PackageError, match=r"missing required file 'adapter_model\.safetensors' \(kind lora\)"):
        build(adapter_dir, tmp_path / "x.expert")


def test_build_copies_symlinked_source_files(adapter_dir: Path, tmp_path: Path) -> None:
    """A Hugging Face cache snapshot links its files into blobs/; the package gets regular files."""
    blob = tmp_path / "blob"
    (adapter_dir / "adapter_model.safetensors").rename(blob)
    (adapter_dir / "adapter_model.safetensors").symlink_to(blob)
    build(adapter_dir, tmp_path / "x.expert")
    weights = {info.name: info for info, _ in read_members(tmp_path / "x.expert")}["adapter_model.safetensors"]
    assert weights.isfile() and weights.size == blob.stat().st_size


def test_model_kind_package(tmp_path: Path) -> None:
    source = tmp_path / "solver"
    source.mkdir()
    save_file({"embed.weight": torch.zeros(8, 4)}, str(source / "model.safetensors"))
    data = {"name": "sudoku", "version": "0.1.0", "kind": "solver", "base_model": {"name": "none", "sha256": SHA}}
    (source / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    manifest = build_package(source, tmp_path / "sudoku.expert")
    assert sorted(manifest.integrity.files) == ["README.md", "model.safetensors"]
    assert verify_package(tmp_path / "sudoku.expert").manifest.kind == "solver"


def test_verify_folder_of_unpacked_package(signed: Path, tmp_path: Path) -> None:
    unpacked = extract_package(signed, tmp_path / "unpacked", 2**30)
    assert stat.S_IMODE(unpacked.stat().st_mode) == 0o755
    assert verify_folder(unpacked).signed
    assert verify_package(unpacked).signed  # a folder is verified in place


# ---------------------------------------------------------------- keys and signatures


def test_keygen_files(tmp_path: Path) -> None:
    private = tmp_path / "a" / "pub.key"
    public = generate_keypair(private)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert (tmp_path / "a" / "pub.key.pub").read_text() == public + "\n"
    assert len(fingerprint(public)) == 16
    load_private_key(private)
    with pytest.raises(PackageError, match="already exists"):
        generate_keypair(private)


def test_load_private_key_errors(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="not found"):
        load_private_key(tmp_path / "missing")
    (tmp_path / "junk").write_text("hello")
    with pytest.raises(PackageError, match="not an unencrypted PEM private key"):
        load_private_key(tmp_path / "junk")
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "ec.pem").write_bytes(ec_pem)
    with pytest.raises(PackageError, match="not an Ed25519 private key"):
        load_private_key(tmp_path / "ec.pem")


def test_signing_message_and_verify_never_raises(key: Path) -> None:
    message = signing_message({"b.txt": "2" * 64, "a.txt": "1" * 64})
    assert message == f"a.txt:{'1' * 64}\nb.txt:{'2' * 64}\n".encode()
    private = load_private_key(key)
    public = key.with_name("publisher.pub").read_text().strip()
    signature = sign(private, message)
    assert verify(public, message, signature)
    assert not verify(public, message + b"x", signature)
    assert not verify("not base64!", message, signature)
    assert not verify(public, message, "%%%")
    assert not verify(public[:-4], message, signature)


def test_sign_then_verify(signed: Path, key: Path) -> None:
    public = key.with_name("publisher.pub").read_text().strip()
    result = verify_package(signed)
    assert result.signed and result.public_key == public
    assert result.fingerprint == fingerprint(public)
    assert sorted(result.files) == SIGNED_FILES
    assert sorted(info.name for info, _ in read_members(signed) if info.isfile()) == SIGNED_FILES


def test_resigning_replaces_the_signature(signed: Path, tmp_path: Path) -> None:
    other = tmp_path / "keys" / "other"
    public = generate_keypair(other)
    assert sign_package(signed, other) == public
    result = verify_package(signed)
    assert result.public_key == public and result.fingerprint == fingerprint(public)


# ---------------------------------------------------------------- tampering


@pytest.mark.parametrize("member", SIGNED_FILES)
def test_flipping_one_byte_of_any_file_breaks_verification(signed: Path, member: str) -> None:
    def change(members: Members) -> Members:
        out = []
        for info, data in members:
            if info.name == member:
                index = data.index(DESCRIPTION.encode()) if member == "manifest.json" else len(data) - 2
                data = flip(data, index)
            out.append((info, data))
        return out

    retar(signed, change)
    expected = "invalid signature" if member in {"manifest.json", "signature.sig"} else f"hash mismatch for '{member}'"
    with pytest.raises(PackageError, match=expected):
        verify_package(signed)


def test_flipped_byte_in_unsigned_package_is_caught(package: Path) -> None:
    retar(package, lambda ms: [(i, flip(d, len(d) - 2) if i.name == "adapter_model.safetensors" else d) for i, d in ms])
    with pytest.raises(PackageError, match=r"hash mismatch for 'adapter_model\.safetensors'"):
        verify_package(package)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda ms: [*ms, entry("examples/extra.txt", b"more")], "'examples/extra.txt' is not listed"),
        (lambda ms: [m for m in ms if m[0].name != "examples/queries.txt"], "'examples/queries.txt' listed .* missing"),
        (lambda ms: [m for m in ms if m[0].name != "README.md"], "missing required file 'README.md'"),
        (lambda ms: [m for m in ms if m[0].name != "manifest.json"], "missing required file 'manifest.json'"),
        (
            lambda ms: [m for m in ms if m[0].name != "signature.sig"],
            "names a signing key but signature.sig is missing",
        ),
    ],
    ids=["added", "removed", "no-readme", "no-manifest", "no-signature"],
)
def test_adding_or_removing_files_breaks_verification(
    signed: Path, change: Callable[[Members], Members], expected: str
) -> None:
    retar(signed, change)
    with pytest.raises(PackageError, match=expected):
        verify_package(signed)


def edit_manifest(path: Path, edit: Callable[[dict], None]) -> None:
    def change(members: Members) -> Members:
        out = []
        for info, data in members:
            if info.name == "manifest.json":
                manifest = json.loads(data)
                edit(manifest)
                data = json.dumps(manifest, indent=2).encode()
            out.append((info, data))
        return out

    retar(path, change)


def test_editing_the_manifest_breaks_the_signature(signed: Path) -> None:
    edit_manifest(signed, lambda m: m["routing"].update(priority=1.0))
    with pytest.raises(PackageError, match="invalid signature"):
        verify_package(signed)


def test_removing_the_public_key_is_caught(signed: Path) -> None:
    edit_manifest(signed, lambda m: m["integrity"].update(public_key=None))
    with pytest.raises(PackageError, match=r"has signature\.sig but the manifest has no integrity\.public_key"):
        verify_package(signed)


def test_signature_from_another_key_fails(signed: Path, tmp_path: Path) -> None:
    other = tmp_path / "keys" / "other"
    generate_keypair(other)
    unpacked = extract_package(signed, tmp_path / "unpacked", 2**30)
    hashes = {**file_hashes(unpacked), "manifest.json": verify_folder(unpacked).files["manifest.json"]}
    forged = sign(load_private_key(other), signing_message(hashes)) + "\n"
    retar(signed, lambda ms: [(i, forged.encode() if i.name == "signature.sig" else d) for i, d in ms])
    with pytest.raises(PackageError, match="invalid signature for key"):
        verify_package(signed)


def test_invalid_manifest_in_package_names_the_package(package: Path) -> None:
    edit_manifest(package, lambda m: m.update(version="one"))
    with pytest.raises(ManifestError, match=f"^{package}: manifest.json: field 'version'"):
        verify_package(package)


# ---------------------------------------------------------------- unsafe archives

README = entry("README.md", b"# ok\n")


def pickle_bytes() -> bytes:
    return pickle.dumps({"weights": [1.0, 2.0]}, protocol=4)


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle_bytes())
    return buffer.getvalue()


UNSAFE: dict[str, tuple[Callable[[Path], Members], str, int]] = {
    "absolute": (lambda tmp: [README, entry(str(tmp / "evil.txt"), b"x")], "is an absolute path", 2**20),
    "traversal": (lambda tmp: [README, entry("../../evil.txt", b"x")], r"leaves the package \('\.\.'", 2**20),
    "nested-traversal": (lambda tmp: [README, entry("examples/../../../evil.txt", b"x")], "leaves the package", 2**20),
    "symlink": (
        lambda tmp: [README, entry("adapter_model.safetensors", kind=tarfile.SYMTYPE, linkname="/etc/passwd")],
        "member 'adapter_model.safetensors' is a symbolic link",
        2**20,
    ),
    "hardlink": (
        lambda tmp: [README, entry("examples/x.txt", kind=tarfile.LNKTYPE, linkname="README.md")],
        "member 'examples/x.txt' is a hard link",
        2**20,
    ),
    "device": (lambda tmp: [README, entry("examples/tty", kind=tarfile.CHRTYPE)], "is a device file", 2**20),
    "fifo": (lambda tmp: [README, entry("examples/pipe", kind=tarfile.FIFOTYPE)], "is a FIFO", 2**20),
    "backslash": (lambda tmp: [README, entry("examples\\..\\..\\evil.txt", b"x")], "backslash", 2**20),
    "control-char": (lambda tmp: [README, entry("examples/a\nb.txt", b"x")], "control character", 2**20),
    "duplicate": (lambda tmp: [README, entry("./README.md", b"again")], "'./README.md' appears twice", 2**20),
    "outside-layout": (lambda tmp: [README, entry("notes.txt", b"x")], "'notes.txt' is not part of the .expert", 2**20),
    "big-member": (
        lambda tmp: [README, entry("examples/big.txt", bytes(5000))],
        "'examples/big.txt' is 5000 bytes, over the limit of 4096 bytes",
        4096,
    ),
    "big-total": (
        lambda tmp: [README, *(entry(f"examples/{i}.txt", bytes(1500)) for i in range(3))],
        "unpacked size passes the limit of 4096 bytes at 'examples/2.txt'",
        4096,
    ),
    "big-archive": (lambda tmp: [README, entry("examples/a.txt", os.urandom(400))], "the archive is .* over the", 300),
    "too-many": (
        lambda tmp: [README, *(entry(f"examples/d{i}", kind=tarfile.DIRTYPE) for i in range(1000))],
        "more than 1000 files and folders",
        2**20,
    ),
    "bin-file": (lambda tmp: [README, entry("pytorch_model.bin", pickle_bytes())], r"is a \.bin file", 2**20),
    "pkl-file": (lambda tmp: [README, entry("examples/data.pkl", b"x")], r"is a \.pkl file", 2**20),
    "pickle-as-notes": (
        lambda tmp: [README, entry("examples/notes.txt", pickle_bytes())],
        "'examples/notes.txt' is a Python pickle",
        2**20,
    ),
    "pickle-as-weights": (
        lambda tmp: [README, entry("adapter_model.safetensors", pickle_bytes())],
        "'adapter_model.safetensors' is a Python pickle",
        2**20,
    ),
    "zip-as-weights": (
        lambda tmp: [README, entry("adapter_model.safetensors", zip_bytes())],
        "'adapter_model.safetensors' is a zip archive",
        2**20,
    ),
    "bad-safetensors": (
        lambda tmp: [README, entry("adapter_model.safetensors", b"\x10" + bytes(7) + b"{not json}......")],
        "'adapter_model.safetensors' is not a valid safetensors file",
        2**20,
    ),
    "int-tensors": (
        lambda tmp: [README, entry("model.safetensors", safetensors_bytes(tmp, {"ids": torch.arange(4)}))],
        "'model.safetensors' holds tensor 'ids' of type I64; weights must be floating point",
        2**20,
    ),
    "not-gzip": (lambda tmp: [], "not a valid .expert archive", 2**20),
}


@pytest.mark.parametrize("case", list(UNSAFE))
def test_unsafe_archive_is_refused_and_leaves_nothing(tmp_path: Path, case: str) -> None:
    members, expected, max_bytes = UNSAFE[case]
    archive = tmp_path / "bad.expert"
    if case == "not-gzip":
        archive.write_bytes(b"plain text, not an archive")
    else:
        write_tar(archive, members(tmp_path))
    area = tmp_path / "area"
    dest = area / "dest"
    before = snapshot(tmp_path)
    with pytest.raises(PackageError, match=expected) as info:
        extract_package(archive, dest, max_bytes)
    assert "\n" not in str(info.value) and str(info.value).startswith(str(archive))
    assert not dest.exists()
    assert list(area.iterdir()) == []
    assert snapshot(tmp_path) - before == {str(area)}


def test_extract_refuses_an_existing_destination(package: Path, tmp_path: Path) -> None:
    (tmp_path / "dest").mkdir()
    with pytest.raises(PackageError, match="already exists"):
        extract_package(package, tmp_path / "dest", 2**30)


def test_verify_package_refuses_unsafe_archive(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "bad.expert", [README, entry("../evil.txt", b"x")])
    with pytest.raises(PackageError, match="leaves the package"):
        verify_package(archive)
    assert not (tmp_path / "evil.txt").exists()


# ---------------------------------------------------------------- unsafe folders


def add_symlink(folder: Path) -> str:
    (folder / "examples" / "link.txt").symlink_to("/etc/passwd")
    return "'examples/link.txt' is a symbolic link"


def add_hardlink(folder: Path) -> str:
    os.link(folder / "examples" / "queries.txt", folder / "examples" / "same.txt")
    return "is a hard link"


def add_fifo(folder: Path) -> str:
    os.mkfifo(folder / "tests" / "pipe")
    return "'tests/pipe' is a FIFO"


def add_disguised_pickle(folder: Path) -> str:
    (folder / "tests" / "case.json").write_bytes(pickle_bytes())
    return "'tests/case.json' is a Python pickle"


def add_stray_file(folder: Path) -> str:
    (folder / "train.py").write_text("print('hi')\n")
    return "'train.py' is not part of the .expert layout"


@pytest.mark.parametrize("make_unsafe", [add_symlink, add_hardlink, add_fifo, add_disguised_pickle, add_stray_file])
def test_unsafe_folder_is_refused(signed: Path, tmp_path: Path, make_unsafe: Callable[[Path], str]) -> None:
    folder = extract_package(signed, tmp_path / "unpacked", 2**30)
    (folder / "tests").mkdir()
    check_folder(folder, 2**30)
    expected = make_unsafe(folder)
    with pytest.raises(PackageError, match=expected):
        check_folder(folder, 2**30)
    with pytest.raises(PackageError, match=expected):
        verify_folder(folder)


def test_check_folder_limits(signed: Path, tmp_path: Path) -> None:
    folder = extract_package(signed, tmp_path / "unpacked", 2**30)
    with pytest.raises(PackageError, match="unpacked size passes the limit"):
        check_folder(folder, 1500)
    with pytest.raises(PackageError, match="is not a folder"):
        check_folder(signed, 2**30)
