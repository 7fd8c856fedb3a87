"""The trainer processes of training jobs: starting one in a session of its own, signalling and reaping its process
group, stopping one a crashed server left behind, reading how it ended, and the lock that lets one server at a time
run the jobs of a `MOE_HOME`."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil

from moe_system.errors import ConfigError
from moe_system.server.jobs.progress import Stamp
from moe_system.server.jobs.store import Job

LOG_FILE, OUTPUT_FILE = "train.log", "output.json"
STOP_GRACE_S = 10.0  # SIGTERM, then SIGKILL after this long
ERROR_LINES = 20  # lines of the trainer's log in a failed job's `error`


@dataclass
class Child:
    """A running trainer; `baseline` holds the run folder's files as they were before it started."""

    process: subprocess.Popen[bytes]
    baseline: dict[str, Stamp]
    cancelled: bool = False


def start(arguments: list[str], folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`python -m moe_system.cli ARGUMENTS` in a session of its own (so its whole group can be signalled), its
    stdout in the job's `output.json` and its stderr appended to `train.log`."""
    with (folder / LOG_FILE).open("ab") as log, (folder / OUTPUT_FILE).open("wb") as output:
        return subprocess.Popen([sys.executable, "-m", "moe_system.cli", *arguments], stdin=subprocess.DEVNULL,
                                stdout=output, stderr=log, env=env, start_new_session=True)


def created(pid: int) -> float | None:
    """A process's start time (None once it is gone), which tells it from a later process given the same pid."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def stop_orphan(job: Job) -> None:
    """Stop the trainer a crashed server left running (it would write the run folder beside the resumed one)."""
    if job.pid is None or job.pid_created is None:
        return
    try:
        process = psutil.Process(job.pid)
        if abs(process.create_time() - job.pid_created) > 0.01:
            return  # the pid names another process now
        os.killpg(job.pid, signal.SIGTERM)  # its own session: the group is the trainer and its helpers
    except (psutil.Error, ProcessLookupError, PermissionError):
        return
    _, alive = psutil.wait_procs([process], timeout=STOP_GRACE_S)
    if alive:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(job.pid, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=STOP_GRACE_S)


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Signal the trainer's process group (it and whatever it started), unless it has already ended."""
    if process.poll() is None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)


def reap(process: subprocess.Popen[bytes]) -> None:
    """Wait for a signalled trainer; SIGKILL its group when it outlasts the grace period."""
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        signal_group(process, signal.SIGKILL)
        process.wait()


def note(folder: Path, text: str) -> None:
    """A line of the job's own in its log, between the trainer's output."""
    with (folder / LOG_FILE).open("a", encoding="utf-8") as log:
        log.write(f"[job {time.strftime('%Y-%m-%d %H:%M:%S')}] {text}\n")


def result(folder: Path) -> dict[str, Any] | None:
    """What the trainer printed (its `RunResult`), or None."""
    try:
        data = json.loads((folder / OUTPUT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def failure(code: int | None, folder: Path) -> str:
    """Why a trainer failed: its exit and the last lines of its log."""
    if code is not None and code < 0:
        why = f"was killed by {signal.Signals(-code).name}"
    elif code == 0:
        why = "printed no result"
    else:
        why = f"exited with code {code}"
    log = folder / LOG_FILE
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - 64 * 1024))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        lines = []
    tail = "\n".join(line for line in lines if line.strip())
    tail = "\n".join(tail.splitlines()[-ERROR_LINES:])
    return f"the trainer {why}" + (f":\n{tail}" if tail else "")


def claim(path: Path, home: Path) -> IO[str]:
    """Hold `path` locked for a job manager's life: two servers over one `MOE_HOME` would both start its queued
    jobs and take each other's running ones for orphans."""
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise ConfigError(f"another server (pid {holder}) runs the training jobs of {home}: stop it, or give this "
                          "one another MOE_HOME") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
