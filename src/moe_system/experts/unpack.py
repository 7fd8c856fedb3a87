"""Safe unpacking of `.expert` packages from strangers, and the safety rules for unpacked folders.

One set of rules (`_Checker` plus `_check_content`) guards both archive extraction and unpacked folders: no links,
devices or odd names, no path leaving the package, size and member-count limits, and weights only as float
safetensors (no pickle or torch.save zip anywhere, whatever the file is called). Archives are unpacked member by
member with our own file writes into a fresh temporary folder that is renamed into place only once everything
passed.
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from collections import deque
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Literal

from safetensors import SafetensorError, safe_open

from moe_system.errors import PackageError, one_line
from moe_system.experts.layout import (
    CHUNK,
    MAX_DEPTH,
    MAX_MEMBERS,
    MAX_NAME_BYTES,
    PICKLE_SUFFIXES,
    TOP_FILES,
    TOP_FOLDERS,
)

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
        shown = name if len(name) <= 200 else name[:200] + "…"  # a hostile name may be a megabyte long
        return PackageError(f"{self.label}: {self.noun} {shown!r} {reason}")

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
        if len(parts) > MAX_DEPTH:
            raise self.refuse(name, f"is nested {len(parts)} levels deep, over the limit of {MAX_DEPTH}")
        if any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in parts):
            raise self.refuse(name, f"has a name longer than {MAX_NAME_BYTES} bytes")
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
        if kind == "file" and suffix in PICKLE_SUFFIXES:
            raise self.refuse(rel, f"is a {suffix} file, a format that can run code when loaded; use .safetensors")
        top = parts[0]
        in_folder = top in TOP_FOLDERS and (kind == "dir" or len(parts) > 1)
        top_file = len(parts) == 1 and kind == "file" and (top in TOP_FILES or top.endswith(".safetensors"))
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


def walk(folder: Path) -> Iterator[tuple[str, Path, os.stat_result]]:
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


def scan_folder(folder: Path, max_bytes: int, label: str, own_source: bool = False) -> dict[str, Path]:
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
        for name, path, st in walk(folder):
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
    scan_folder(folder, max_bytes, str(folder))


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
        with gzip.open(archive, "rb") as inflated, \
                tarfile.TarFile(fileobj=_Bounded(inflated, max_bytes, label), mode="r") as tar:
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


class _Bounded:
    """The inflated tar stream as tarfile reads it, refusing a gzip bomb before it is inflated: any one read longer
    than `CHUNK` (tarfile reads a GNU long name or a pax header whole, so a 1 GB header of zeros compressed to 1 MB
    would land in memory, and pax parsing of it takes minutes) and any read or seek past the content limit plus the
    room the headers of `MAX_MEMBERS` members take."""

    def __init__(self, raw: gzip.GzipFile, max_bytes: int, label: str) -> None:
        self.raw, self.label = raw, label
        self.limit = max_bytes + MAX_MEMBERS * 8 * tarfile.BLOCKSIZE + CHUNK

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > CHUNK:
            raise PackageError(f"{self.label}: an archive header declares {_human(max(size, 0))} of data, over the "
                               f"limit of {_human(CHUNK)}")
        if self.raw.tell() + size > self.limit:
            raise PackageError(f"{self.label}: the archive inflates past the limit of {_human(self.limit)}")
        return self.raw.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        target = offset if whence == os.SEEK_SET else self.raw.tell() + offset if whence == os.SEEK_CUR else None
        if target is None or target > self.limit:
            raise PackageError(f"{self.label}: the archive inflates past the limit of {_human(self.limit)}")
        return self.raw.seek(target)

    def tell(self) -> int:
        return self.raw.tell()

    def write(self, data: bytes) -> int:
        raise PackageError(f"{self.label}: the archive is read-only here")

    def close(self) -> None:
        self.raw.close()


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
                chunk = source.read(min(CHUNK, remaining))
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


def _human(size: int) -> str:
    return f"{size} bytes" if size < 2**20 else f"{size / 2**20:.1f} MiB"
