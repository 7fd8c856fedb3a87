"""Crash-safe writes: a file or folder is either the old one or the complete new one, never half written.

`write_atomic` is the one way a file that must survive a crash is written (a job's recipe and settings,
converted-model fingerprints, packages, datasets, checkpoints): a temporary file in the same folder, fsynced,
renamed over the target, then the folder fsynced, because a rename is only durable once the parent folder's entry
reaches the disk. Folders (a converted model, a checkpoint) are staged beside their target and put in place by
`replace_folder` (flushed with `fsync_tree`, renamed, the parent flushed with `fsync_dir`). Databases keep their
own guarantees (SQLite WAL).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


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
