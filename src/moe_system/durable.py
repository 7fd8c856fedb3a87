"""Crash-safe writes: a file or folder is either the old one or the complete new one, never half written.

`write_atomic` is the one way a file that must survive a crash is written (a job's recipe and settings,
converted-model fingerprints, packages, datasets, checkpoints): a temporary file in the same folder, fsynced,
renamed over the target, then the folder fsynced, because a rename is only durable once the parent folder's entry
reaches the disk. Folders (a converted model, a checkpoint) are staged beside their target and put in place by
`replace_folder` (flushed with `fsync_tree`, renamed, the parent flushed with `fsync_dir`). Databases keep their
own guarantees (SQLite WAL).

Scratch folders (an upload being received, a package being unpacked) come from `Scratch`: each is locked by the
process using it, so `sweep_scratch`, run when a program starts, removes exactly the ones a killed process left
behind, and never another live process's. `disk_full` tells a full disk apart from other errors.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self


def write_atomic(path: Path, content: str | bytes | Callable[[Path], object], *, mode: int = 0o644) -> None:
    """Replace `path` with `content` (text is written as UTF-8) atomically and durably. `content` may also be a
    function that writes the file at the temporary path it is given (for writers that want a path: tar archives,
    safetensors, ONNX). On any error the temporary file is removed and `path` is untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    temp = Path(name)
    try:
        if callable(content):
            os.close(fd)
            content(temp)
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content.encode("utf-8") if isinstance(content, str) else content)
        with temp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
        fsync_dir(path.parent)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def replace_folder(staging: Path, target: Path) -> None:
    """Flush the complete folder `staging` and rename it to `target`, replacing an older `target`: the old one is
    moved aside first and removed only after the new one is in place, so a crash never leaves neither."""
    fsync_tree(staging)
    old = target.with_name(f".{target.name}.old")
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(staging, target)
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def fsync_tree(folder: Path) -> None:
    """Flush every regular file under `folder` (links are not followed), then the folder itself."""
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (so a rename into it survives a crash)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- scratch folders and a full disk


class Scratch:
    """A new folder `path` under `parent` named `prefix...`, locked (flock on the folder) until `close()`, which
    removes it. A process killed meanwhile leaves it unlocked: `sweep_scratch` removes it later."""

    def __init__(self, parent: Path, prefix: str) -> None:
        parent.mkdir(parents=True, exist_ok=True)
        with _locked(parent):  # so a sweep never sees the folder between its creation and its lock
            self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
            self._fd: int | None = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)  # not inherited by children
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def close(self) -> None:
        if self._fd is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sweep_scratch(parent: Path, prefix: str) -> list[Path]:
    """Remove the `Scratch` folders named `prefix...` under `parent` that no live process holds (left by a crash or
    kill -9); returns them."""
    if not parent.is_dir():
        return []
    removed = []
    with _locked(parent):
        for entry in sorted(parent.glob(f"{prefix}*")):
            if entry.is_symlink() or not entry.is_dir():
                continue
            fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in use
            finally:
                os.close(fd)  # unlocks: nobody else ever locks a folder that is no longer new
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@contextmanager
def _locked(parent: Path) -> Iterator[None]:
    """Hold `parent` itself locked (flock on the folder: no lock file is left among the scratch folders)."""
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def disk_full(err: BaseException | None) -> bool:
    """Whether `err`, or an error it was raised from, is a full disk or quota (ENOSPC, EDQUOT, SQLite's
    "database or disk is full")."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(err, sqlite3.OperationalError) and (
                getattr(err, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(err)):
            return True
        err = err.__cause__ or err.__context__
    return False
