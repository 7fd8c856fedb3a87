"""`.expert` packages: build, sign, verify and safely unpack them.

A package is a deterministic tar.gz (or the same layout as an unpacked folder):

    manifest.json               the manifest (integrity.files: sha256 of every other file but signature.sig)
    README.md                   required; written from the manifest when the source folder has none
    adapter_config.json         PEFT config (required for kinds lora/dora/ia3)
    adapter_model.safetensors   adapter weights (required for kinds lora/dora/ia3)
    config.json                 a Llama decoder config (required for kind model, see experts/standalone.py)
    model.safetensors           its weights (required for kind model); kind solver carries its weights as
                                other top-level *.safetensors files
    examples/  tests/           optional folders; examples/prompts.jsonl ({"text": ...} a line) holds
                                requests the expert is meant for, which routers learn from
    signature.sig               base64 Ed25519 signature, once signed

The signature covers `signing_message` of every file but signature.sig, the manifest included, so any changed,
added or removed byte breaks verification. Packages come from strangers, so one set of safety rules (`_Checker`
plus `_check_content`) guards both archive extraction and unpacked folders: no links, devices or odd names, no
path leaving the package, size and member-count limits, and weights only as float safetensors (no pickle or
torch.save zip anywhere, whatever the file is called). Archives are unpacked member by member with our own file
writes into a fresh temporary folder that is renamed into place only once everything passed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from safetensors import SafetensorError, safe_open

from moe_system.durable import write_atomic
from moe_system.errors import ManifestError, PackageError, one_line
from moe_system.experts.manifest import MANIFEST_FILE, Integrity, Manifest, manifest_from_adapter_config
from moe_system.experts.signing import fingerprint, load_private_key, public_key_b64, sign, signing_message, verify

PACKAGE_SUFFIX = ".expert"
SIGNATURE_FILE = "signature.sig"
WEIGHTS_FILE = "adapter_model.safetensors"
ADAPTER_CONFIG_FILE = "adapter_config.json"
README_FILE = "README.md"
MODEL_CONFIG_FILE = "config.json"  # kind model: the decoder's transformers config (JSON)
MODEL_WEIGHTS_FILE = "model.safetensors"  # kind model: its weights
EXAMPLE_PROMPTS_FILE = "examples/prompts.jsonl"  # optional: requests the expert is for, {"text": ...} a line

DEFAULT_MAX_BYTES = 2048 * 2**20
MAX_MEMBERS = 1000

ADAPTER_KINDS = frozenset({"lora", "dora", "ia3"})
_TOP_FILES = frozenset({MANIFEST_FILE, SIGNATURE_FILE, WEIGHTS_FILE, ADAPTER_CONFIG_FILE, README_FILE,
                        MODEL_CONFIG_FILE})
_REQUIRED = {kind: (WEIGHTS_FILE, ADAPTER_CONFIG_FILE) for kind in ADAPTER_KINDS} | {
    "model": (MODEL_WEIGHTS_FILE, MODEL_CONFIG_FILE)}
_TOP_FOLDERS = frozenset({"examples", "tests"})
_PICKLE_SUFFIXES = frozenset(
    {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz", ".h5", ".msgpack"}
)
_CHUNK = 1 << 20

_Kind = Literal["file", "dir", "symlink", "hardlink", "device", "fifo", "other"]
_KIND_REASONS = {
    "symlink": "is a symbolic link",
    "hardlink": "is a hard link",
    "device": "is a device file",
    "fifo": "is a FIFO",
    "other": "is not a regular file or folder",
}


class _Checker:
    """The name, type, layout and size rules for the entries of one package, fed one entry at a time."""

    def __init__(self, label: str, max_bytes: int, noun: str) -> None:
        self.label, self.max_bytes, self.noun = label, max_bytes, noun
        self.seen: set[str] = set()
        self.count = 0
        self.total = 0

    def refuse(self, name: str, reason: str) -> PackageError:
        return PackageError(f"{self.label}: {self.noun} {name!r} {reason}")

    def add(self, name: str, kind: _Kind, size: int) -> str | None:
        """Check one entry; returns its normalised relative path, or None for the package root itself."""
        self.count += 1
        if self.count > MAX_MEMBERS:
            raise PackageError(f"{self.label}: more than {MAX_MEMBERS} files and folders")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
            raise self.refuse(name, "has a control character in its name")
        if "\\" in name:
            raise self.refuse(name, "has a backslash in its name")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise self.refuse(name, "has a name that is not valid UTF-8") from None
        if name.startswith("/"):
            raise self.refuse(name, "is an absolute path")
        parts = [part for part in name.split("/") if part not in {"", "."}]
        if ".." in parts:
            raise self.refuse(name, "leaves the package ('..' in its path)")
        if kind not in {"file", "dir"}:
            raise self.refuse(name, _KIND_REASONS[kind])
        if not parts:
            if kind == "dir":
                return None
            raise self.refuse(name, "has an empty name")
        rel = "/".join(parts)
        if rel in self.seen:
            raise self.refuse(name, "appears twice")
        self.seen.add(rel)
        suffix = PurePosixPath(rel).suffix.lower()
        if kind == "file" and suffix in _PICKLE_SUFFIXES:
            raise self.refuse(rel, f"is a {suffix} file, a format that can run code when loaded; use .safetensors")
        top = parts[0]
        in_folder = top in _TOP_FOLDERS and (kind == "dir" or len(parts) > 1)
        top_file = len(parts) == 1 and kind == "file" and (top in _TOP_FILES or top.endswith(".safetensors"))
        if not (in_folder or top_file):
            raise self.refuse(
                rel,
                "is not part of the .expert layout (allowed at the top: manifest.json, README.md, "
                "adapter_config.json, *.safetensors, signature.sig, examples/, tests/)",
            )
        if kind == "file":
            if size > self.max_bytes:
                raise self.refuse(rel, f"is {_human(size)}, over the limit of {_human(self.max_bytes)}")
            self.total += size
            if self.total > self.max_bytes:
                raise PackageError(
                    f"{self.label}: unpacked size passes the limit of {_human(self.max_bytes)} at {rel!r}"
                )
        return rel


def _check_content(path: Path, rel: str, checker: _Checker) -> None:
    """Refuse pickles and zip archives under any name, and any safetensors file that is invalid or not float."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        raise checker.refuse(rel, "is a Python pickle (pickle protocol header), which can run code when loaded")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise checker.refuse(rel, "is a zip archive (the torch.save format), which can run code when loaded")
    if rel.endswith(".safetensors"):
        _check_safetensors(path, rel, checker)


def _check_safetensors(path: Path, rel: str, checker: _Checker) -> None:
    """Parse the header (no tensor is loaded) and require floating-point tensors only."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            dtypes = {key: handle.get_slice(key).get_dtype() for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise checker.refuse(rel, f"is not a valid safetensors file: {one_line(err)}") from err
    if not dtypes:
        raise checker.refuse(rel, "holds no tensors")
    for key, dtype in sorted(dtypes.items()):
        if not dtype.startswith(("F", "BF")):
            raise checker.refuse(rel, f"holds tensor {key!r} of type {dtype}; weights must be floating point")


def _tar_kind(info: tarfile.TarInfo) -> _Kind:
    if info.type in {tarfile.REGTYPE, tarfile.AREGTYPE}:
        return "file"
    if info.isdir():
        return "dir"
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    if info.ischr() or info.isblk():
        return "device"
    return "fifo" if info.isfifo() else "other"


def _stat_kind(st: os.stat_result, allow_hardlinks: bool = False) -> _Kind:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return "hardlink" if st.st_nlink > 1 and not allow_hardlinks else "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "fifo" if stat.S_ISFIFO(mode) else "other"


def _walk(folder: Path) -> Iterator[tuple[str, Path, os.stat_result]]:
    """Every entry under `folder` (breadth first, sorted) with its `lstat`; links are never followed."""
    queue: deque[tuple[Path, str]] = deque([(folder, "")])
    while queue:
        directory, prefix = queue.popleft()
        with os.scandir(directory) as entries:
            ordered = sorted(entries, key=lambda entry: entry.name)
        for entry in ordered:
            st = os.lstat(entry.path)
            yield prefix + entry.name, Path(entry.path), st
            if stat.S_ISDIR(st.st_mode):
                queue.append((Path(entry.path), prefix + entry.name + "/"))


def _scan_folder(folder: Path, max_bytes: int, label: str, own_source: bool = False) -> dict[str, Path]:
    """Apply the safety rules to a folder; returns relative path -> path of every file. `own_source` (building
    from the user's own folder) follows links to files and accepts hard links, as their content is copied."""
    try:
        root = os.lstat(folder)
    except FileNotFoundError:
        raise PackageError(f"{label} not found") from None
    if not stat.S_ISDIR(root.st_mode):
        raise PackageError(f"{label} is not a folder")
    checker = _Checker(label, max_bytes, noun="file")
    files: dict[str, Path] = {}
    try:
        for name, path, st in _walk(folder):
            if own_source and stat.S_ISLNK(st.st_mode) and path.is_file():
                st = os.stat(path)
            rel = checker.add(name, _stat_kind(st, allow_hardlinks=own_source), st.st_size)
            if rel is not None and stat.S_ISREG(st.st_mode):
                files[rel] = path
        for rel, path in files.items():
            _check_content(path, rel, checker)
    except OSError as err:
        raise PackageError(f"{label}: cannot read {err.filename or 'folder'}: {err.strerror}") from err
    return files


def check_folder(folder: Path, max_bytes: int) -> None:
    """Apply the safety rules to an unpacked package folder (without following any link)."""
    _scan_folder(folder, max_bytes, str(folder))


def _unpack(archive: Path, root: Path, max_bytes: int, label: str) -> None:
    """Write the members of `archive` into the empty folder `root`, checking each before it is written."""
    try:
        size = os.stat(archive)
    except FileNotFoundError:
        raise PackageError(f"{label} not found") from None
    if not stat.S_ISREG(size.st_mode):
        raise PackageError(f"{label} is not a package file")
    if size.st_size > max_bytes:
        raise PackageError(f"{label}: the archive is {_human(size.st_size)}, over the limit of {_human(max_bytes)}")
    checker = _Checker(label, max_bytes, noun="member")
    files: dict[str, Path] = {}
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for info in tar:
                rel = checker.add(info.name, _tar_kind(info), info.size)
                if rel is None:
                    continue
                _write_member(tar, info, root / rel, checker, rel)
                if not info.isdir():
                    files[rel] = root / rel
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise PackageError(f"{label}: not a valid .expert archive (tar.gz): {one_line(err)}") from err
    for rel, path in files.items():
        _check_content(path, rel, checker)


def _write_member(tar: tarfile.TarFile, info: tarfile.TarInfo, target: Path, checker: _Checker, rel: str) -> None:
    """Create one checked member with our own writes: new files only, never through a link."""
    try:
        if info.isdir():
            target.mkdir(mode=0o755, parents=True, exist_ok=True)
            return
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        source = tar.extractfile(info)
        assert source is not None  # a regular file always has data
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as out:
            remaining = info.size
            while remaining:
                chunk = source.read(min(_CHUNK, remaining))
                if not chunk:
                    raise checker.refuse(rel, "is truncated")
                out.write(chunk)
                remaining -= len(chunk)
    except OSError as err:
        raise checker.refuse(rel, f"cannot be unpacked: {err.strerror or err}") from err


def extract_package(path: Path, dest: Path, max_bytes: int) -> Path:
    """Safely unpack the archive `path` into `dest` (which must not exist; its parent is created). On refusal
    nothing is left behind; nothing is ever written outside `dest`'s parent."""
    if dest.exists() or dest.is_symlink():
        raise PackageError(f"{dest} already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        _unpack(path, staging, max_bytes, str(path))
        os.chmod(staging, 0o755)
        os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def _sha256(content: Path | bytes) -> str:
    digest = hashlib.sha256()
    if isinstance(content, bytes):
        digest.update(content)
    else:
        with open(content, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every regular file under `folder` by posix relative path, except manifest.json and signature.sig."""
    return {
        rel: _sha256(path)
        for rel, path, st in sorted(_walk(folder))
        if stat.S_ISREG(st.st_mode) and rel not in {MANIFEST_FILE, SIGNATURE_FILE}
    }


def _read_manifest(folder: Path, label: str) -> Manifest:
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise PackageError(f"{label}: missing required file '{MANIFEST_FILE}'")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ManifestError(f"{label}: {MANIFEST_FILE} is not UTF-8 text") from err
    return Manifest.from_json(text, source=f"{label}: {MANIFEST_FILE}")


def _check_payload(manifest: Manifest, hashes: Mapping[str, str], label: str) -> None:
    """Required files present, and the payload exactly as `integrity.files` lists it."""
    required = [README_FILE, *_REQUIRED.get(manifest.kind, ())]
    for name in required:
        if name not in hashes:
            raise PackageError(f"{label}: missing required file '{name}' (kind {manifest.kind})")
    listed = manifest.integrity.files
    unlisted = sorted(hashes.keys() - listed.keys())
    if unlisted:
        raise PackageError(f"{label}: file '{unlisted[0]}' is not listed in the manifest's integrity.files")
    missing = sorted(listed.keys() - hashes.keys())
    if missing:
        raise PackageError(f"{label}: file '{missing[0]}' listed in the manifest is missing")
    changed = sorted(rel for rel in hashes if hashes[rel] != listed[rel])
    if changed:
        raise PackageError(f"{label}: hash mismatch for '{changed[0]}' (it changed after packaging)")


@dataclass
class Verification:
    """The result of a successful verification."""

    manifest: Manifest
    signed: bool
    public_key: str | None
    fingerprint: str | None
    files: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for `--json`)."""
        m = self.manifest
        return {
            "name": m.name,
            "version": m.version,
            "kind": m.kind,
            "base_model": m.base_model.model_dump(mode="json"),
            "signed": self.signed,
            "public_key": self.public_key,
            "fingerprint": self.fingerprint,
            "files": self.files,
            "manifest": m.model_dump(mode="json"),
        }


def _verify_checked(folder: Path, label: str) -> Verification:
    """Verify a folder that already passed the safety rules."""
    manifest = _read_manifest(folder, label)
    hashes = file_hashes(folder)
    _check_payload(manifest, hashes, label)
    public = manifest.integrity.public_key
    signature_path = folder / SIGNATURE_FILE
    signed = signature_path.is_file()
    if signed and public is None:
        raise PackageError(f"{label}: has {SIGNATURE_FILE} but the manifest has no integrity.public_key")
    if public is not None and not signed:
        raise PackageError(f"{label}: the manifest names a signing key but {SIGNATURE_FILE} is missing")
    files = {**hashes, MANIFEST_FILE: _sha256(folder / MANIFEST_FILE)}
    key_id = fingerprint(public) if public is not None else None
    if public is not None:
        signature = signature_path.read_bytes().decode("ascii", errors="replace").strip()
        if not verify(public, signing_message(files), signature):
            raise PackageError(f"{label}: invalid signature for key {key_id}: the package was changed after signing")
        files[SIGNATURE_FILE] = _sha256(signature_path)
    return Verification(manifest, signed, public, key_id, dict(sorted(files.items())))


def verify_folder(folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Verification:
    """Check an unpacked package: safety rules, layout, hashes and (when signed) the signature."""
    check_folder(folder, max_bytes)
    return _verify_checked(folder, str(folder))


def verify_package(
    path: Path, max_bytes: int = DEFAULT_MAX_BYTES, *, scratch: Path | None = None
) -> Verification:
    """Verify a package archive (unpacked safely into a temporary folder under `scratch`, the system
    temp folder when None); a folder is verified in place."""
    if path.is_dir():
        return verify_folder(path, max_bytes)
    with _scratch_dir("moe-verify-", scratch) as tmp:
        folder = extract_package(path, Path(tmp) / "package", max_bytes)
        return _verify_checked(folder, str(path))


def _source_manifest(
    source: Path,
    files: Mapping[str, Path],
    label: str,
    *,
    name: str | None,
    version: str | None,
    base_name: str | None,
    base_sha256: str | None,
    description: str,
) -> Manifest:
    """The source folder's manifest with the given values applied, or one written from adapter_config.json."""
    if MANIFEST_FILE in files:
        manifest = _read_manifest(source, label)
        data = manifest.model_dump()
        data.update({k: v for k, v in (("name", name), ("version", version), ("description", description)) if v})
        data["base_model"].update({k: v for k, v in (("name", base_name), ("sha256", base_sha256)) if v})
        return Manifest.from_dict(data, source=f"{label}: {MANIFEST_FILE}")
    given = {"name": name, "version": version, "base_name": base_name, "base_sha256": base_sha256}
    missing = [key for key, value in given.items() if not value]
    if missing:
        raise ManifestError(f"{label} has no {MANIFEST_FILE}, so {', '.join(missing)} must be given")
    if ADAPTER_CONFIG_FILE not in files:
        raise ManifestError(f"{label}: has neither {MANIFEST_FILE} nor {ADAPTER_CONFIG_FILE}")
    try:
        config = json.loads(files[ADAPTER_CONFIG_FILE].read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ManifestError(f"{label}: {ADAPTER_CONFIG_FILE} is not valid JSON: {one_line(err)}") from err
    if not isinstance(config, dict):
        raise ManifestError(f"{label}: {ADAPTER_CONFIG_FILE} must hold a JSON object")
    return manifest_from_adapter_config(
        config,
        name=name or "",
        version=version or "",
        base_name=base_name or "",
        base_sha256=base_sha256 or "",
        description=description,
    )


def _readme(manifest: Manifest) -> str:
    """A README for a package whose source has none."""
    lines = [f"# {manifest.name} {manifest.version}", ""]
    if manifest.description:
        lines += [manifest.description, ""]
    lines += [
        f"- Kind: {manifest.kind}",
        f"- Base model: {manifest.base_model.name} (sha256 {manifest.base_model.sha256[:16]}…)",
        f"- Routing keywords: {', '.join(manifest.routing.keywords) or '(none)'}",
    ]
    evaluation = manifest.evaluation
    if evaluation.score is not None:
        base = f" (base model: {evaluation.base_score})" if evaluation.base_score is not None else ""
        lines.append(f"- Evaluation: {evaluation.task or 'score'} {evaluation.score}{base}")
    lines += [f"- License: {manifest.license}", ""]
    return "\n".join(lines)


def _write_archive(output: Path, members: Mapping[str, Path | bytes]) -> None:
    """Write a deterministic tar.gz atomically: sorted members, mtime 0, root-owned, 0644/0755, no user names."""
    folders = {str(p) for rel in members for p in PurePosixPath(rel).parents if str(p) != "."}

    def write(temp: Path) -> None:
        with (
            temp.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for rel in sorted(folders | members.keys()):
                info = tarfile.TarInfo(rel)
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                if rel in folders:
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                    continue
                content = members[rel]
                info.mode = 0o644
                if isinstance(content, bytes):
                    info.size = len(content)
                    tar.addfile(info, io.BytesIO(content))
                else:
                    info.size = os.stat(content).st_size
                    with open(content, "rb") as handle:
                        tar.addfile(info, handle)

    write_atomic(output, write)


def build_package(
    source: Path,
    output: Path,
    *,
    name: str | None = None,
    version: str | None = None,
    base_name: str | None = None,
    base_sha256: str | None = None,
    description: str = "",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Manifest:
    """Pack a PEFT adapter folder (or a folder in package layout) into an unsigned `.expert` archive."""
    label = str(source)
    files = _scan_folder(source, max_bytes, label, own_source=True)
    manifest = _source_manifest(
        source,
        files,
        label,
        name=name,
        version=version,
        base_name=base_name,
        base_sha256=base_sha256,
        description=description,
    )
    payload: dict[str, Path | bytes] = {
        rel: path for rel, path in files.items() if rel not in {MANIFEST_FILE, SIGNATURE_FILE}
    }
    if README_FILE not in payload:
        payload[README_FILE] = _readme(manifest).encode("utf-8")
    hashes = {rel: _sha256(content) for rel, content in sorted(payload.items())}
    manifest = manifest.model_copy(update={"integrity": Integrity(files=hashes)})
    _check_payload(manifest, hashes, label)
    _write_archive(output, {**payload, MANIFEST_FILE: manifest.to_json().encode("utf-8")})
    return manifest


def sign_package(
    path: Path, private_key_path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, scratch: Path | None = None
) -> str:
    """Sign (or re-sign) a package archive in place; returns the signer's public key (base64).
    The archive is unpacked under `scratch` (the system temp folder when None)."""
    key = load_private_key(private_key_path)
    label = str(path)
    with _scratch_dir("moe-sign-", scratch) as tmp:
        folder = extract_package(path, Path(tmp) / "package", max_bytes)
        manifest = _read_manifest(folder, label)
        hashes = file_hashes(folder)
        _check_payload(manifest, hashes, label)
        public = public_key_b64(key)
        integrity = manifest.integrity.model_copy(update={"public_key": public})
        text = manifest.model_copy(update={"integrity": integrity}).to_json().encode("utf-8")
        signature = sign(key, signing_message({**hashes, MANIFEST_FILE: _sha256(text)}))
        members: dict[str, Path | bytes] = {rel: folder / rel for rel in hashes}
        members |= {MANIFEST_FILE: text, SIGNATURE_FILE: (signature + "\n").encode("ascii")}
        _write_archive(path, members)
    return public


def _scratch_dir(prefix: str, scratch: Path | None) -> tempfile.TemporaryDirectory[str]:
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=prefix, dir=scratch)


def _human(size: int) -> str:
    return f"{size} bytes" if size < 2**20 else f"{size / 2**20:.1f} MiB"

