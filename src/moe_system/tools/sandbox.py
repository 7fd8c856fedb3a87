"""Running untrusted Python (a model's code, a dataset's tests) in a child process with limits.

    from moe_system.tools.sandbox import run_python
    result = run_python("print(sum(range(10)))", timeout_s=5, memory_mb=256)
    result.returncode, result.stdout, result.timed_out, result.violation   # 0, '45\\n', False, None

The code runs as `python -I -B main.py` (isolated mode: no user site, no `PYTHON*` variables) in a private,
fresh temporary folder that is its working directory, `HOME` and `TMPDIR`, removed afterwards; `files` are
written beside it first, for the code to read (isolated mode keeps the folder itself off `sys.path`).
Limits: CPU seconds, address space (`memory_mb`), file size, no core files, and a wall-clock timeout after which
the whole process group is killed, so nothing the code started outlives it. The environment is emptied but for
`PATH` and `LANG`. Output is kept up to `MAX_OUTPUT_BYTES` a stream (the tail).
"""

from __future__ import annotations

import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

FILE_LIMIT_BYTES = 16 << 20
MAX_OUTPUT_BYTES = 1 << 20
_SIGNAL_VIOLATIONS = {signal.SIGXCPU: "cpu time limit", signal.SIGXFSZ: "file size limit"}


@dataclass(frozen=True)
class SandboxResult:
    """How a sandboxed run ended. `returncode` is None when it was killed on the timeout; `violation` names the
    limit it ran into ("timeout", "cpu time limit", "file size limit", "memory limit"), None when none."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    violation: str | None


def run_python(
    source: str,
    *,
    timeout_s: float,
    memory_mb: int,
    files: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    scratch: Path | None = None,
) -> SandboxResult:
    """Run `source` as `main.py` with `args` in a fresh folder (under `scratch`, else the system's temp folder)
    that also holds `files` (relative name -> text); see the module's docstring for the limits."""
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sandbox-", dir=scratch) as name:
        folder = Path(name)
        for relative, text in {**(files or {}), "main.py": source}.items():
            target = (folder / relative).resolve()
            if folder.resolve() not in target.parents:
                raise ValueError(f"sandbox file {relative!r} lies outside its folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        with open(folder / ".stdout", "w+b") as stdout, open(folder / ".stderr", "w+b") as stderr:
            returncode = _run(folder, ["main.py", *args], stdout, stderr, timeout_s, memory_mb)
            out, err = _tail(stdout), _tail(stderr)
    violation = None
    if returncode is None:
        violation = "timeout"
    elif returncode < 0 and -returncode in _SIGNAL_VIOLATIONS:
        violation = _SIGNAL_VIOLATIONS[signal.Signals(-returncode)]
    elif returncode != 0 and "MemoryError" in err:
        violation = "memory limit"
    return SandboxResult(returncode, out, err, returncode is None, violation)


def _run(folder: Path, args: list[str], stdout: IO[bytes], stderr: IO[bytes], timeout_s: float,
         memory_mb: int) -> int | None:
    """The exit status of `python -I -B *args` run in `folder`, or None on a timeout. Its whole process group
    is killed afterwards, so nothing it started outlives it."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "TMPDIR": str(folder), "LANG": "C.UTF-8"}
    limits = _limits(timeout_s, memory_mb)
    process = subprocess.Popen(
        [sys.executable, "-I", "-B", *args], cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
        stderr=stderr, start_new_session=True,
        preexec_fn=lambda: _apply_limits(limits),  # only setrlimit calls: safe to run between fork and exec
    )  # fmt: skip
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None
    finally:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _limits(timeout_s: float, memory_mb: int) -> list[tuple[int, int]]:
    """(resource, value) pairs, capped at the current hard limits so that setrlimit cannot fail."""
    wanted = [
        (resource.RLIMIT_CPU, math.ceil(timeout_s) + 1),
        (resource.RLIMIT_AS, memory_mb << 20),
        (resource.RLIMIT_FSIZE, FILE_LIMIT_BYTES),
        (resource.RLIMIT_CORE, 0),
    ]
    capped = []
    for kind, value in wanted:
        hard = resource.getrlimit(kind)[1]
        capped.append((kind, value if hard == resource.RLIM_INFINITY else min(value, hard)))
    return capped


def _apply_limits(limits: list[tuple[int, int]]) -> None:
    for kind, value in limits:
        resource.setrlimit(kind, (value, value))


def _tail(stream: IO[bytes]) -> str:
    """The last `MAX_OUTPUT_BYTES` of a stream written by the child, decoded leniently."""
    stream.seek(max(0, stream.seek(0, os.SEEK_END) - MAX_OUTPUT_BYTES))
    return stream.read().decode("utf-8", errors="replace")
