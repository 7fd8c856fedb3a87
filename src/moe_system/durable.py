"""fsync helpers for the atomic writes everywhere in the system (staging folder -> fsync -> rename).

A rename is only durable once the renamed files' data and the parent folder's entry reach the disk; these two
calls are what every writer of converted models, installed experts and checkpoints needs for that.
"""

from __future__ import annotations

import os
from pathlib import Path


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
