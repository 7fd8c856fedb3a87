"""`durable`'s scratch folders and its full-disk test: a sweep removes what a killed process left and never a live
one's folder; `disk_full` finds ENOSPC and SQLite's full database behind the errors raised from them."""

from __future__ import annotations

import errno
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from moe_system.durable import Scratch, disk_full, sweep_scratch
from moe_system.errors import MoEError

HOLD = "import sys, time; from pathlib import Path; from moe_system.durable import Scratch; " \
       "s = Scratch(Path(sys.argv[1]), 'upload-'); print(s.path, flush=True); time.sleep(60)"


def test_a_sweep_removes_a_killed_processs_scratch_and_keeps_live_ones(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    held = Path(holder.stdout.readline().strip())
    with Scratch(tmp_path, "upload-") as mine:
        (mine.path / "part").write_bytes(b"x" * 10)
        (tmp_path / "upload-unlocked").mkdir()  # left by a crash: nobody holds it
        (tmp_path / "other").mkdir()  # not a scratch folder of this prefix
        assert sweep_scratch(tmp_path, "upload-") == [tmp_path / "upload-unlocked"]
        assert mine.path.is_dir() and held.is_dir()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert sweep_scratch(tmp_path, "upload-") == [held]
        assert mine.path.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other"]  # closing removes it; no lock file left
    assert sweep_scratch(tmp_path / "missing", "upload-") == []


def test_disk_full_is_found_behind_the_errors_raised_from_it() -> None:
    full = OSError(errno.ENOSPC, "No space left on device")
    assert disk_full(full) and disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert disk_full(sqlite3.OperationalError("database or disk is full"))
    try:
        try:
            raise full
        except OSError as err:
            raise MoEError("could not store it") from err
    except MoEError as wrapped:
        assert disk_full(wrapped)
    assert not disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not disk_full(sqlite3.OperationalError("database is locked")) and not disk_full(None)
