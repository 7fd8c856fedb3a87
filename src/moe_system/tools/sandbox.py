"""Running untrusted Python (a model's code, a dataset's tests) in a sandbox: namespaces and limits.

    from moe_system.tools.sandbox import run_python
    result = run_python("print(sum(range(10)))", timeout_s=5, memory_mb=256)
    result.returncode, result.stdout, result.timed_out, result.violation   # 0, '45\\n', False, None

The code runs as `python -I -B main.py` (the base interpreter in isolated mode: the standard library only, no
user site, no `PYTHON*` variables) in a private, fresh temporary folder that is its working directory, `HOME` and
`TMPDIR`, removed afterwards; `files` are written beside it first, for the code to read (isolated mode keeps the
folder itself off `sys.path`). The environment is emptied but for `PATH`, `HOME`, `TMPDIR` and `LANG`. Output is
kept up to `MAX_OUTPUT_BYTES` a stream (the tail).

Mode "namespaces" (the default, setting `sandbox.mode` = `MOE_SANDBOX__MODE`) runs it under bubblewrap (`bwrap`,
Debian's `bubblewrap`; `make setup` installs it) with new namespaces: no network (only its own loopback), its own
PIDs, IPC, hostname and user. The file system it sees is `/usr` (and the `/bin`, `/lib*` links) and the
interpreter's prefix, read-only, fresh `/proc` and `/dev`, a small `/tmp` (`TMP_BYTES`) and its folder, mounted at
`/sandbox`: those two are the only writable places; nothing of `MOE_HOME`, `/root`, `/home`, `/work` or `/etc`.
A process-count limit (`MAX_PROCESSES`, RLIMIT_NPROC set inside, by `_BOOTSTRAP`) holds too: RLIMIT_NPROC binds no
process of root's, even in a user namespace, so when the system runs as root bubblewrap gets no user namespace
and the code drops to `nobody` (`SANDBOX_UID`) before it starts. On the timeout the sandbox's PID 1 is killed,
which takes every process of its PID namespace (what the code started, detached or not); a run that ends leaves
none either.
Without bubblewrap, or where it cannot create namespaces, `run_python` raises `SandboxUnavailableError`; mode
"rlimits" (allowed by the operator) runs the code with the limits alone, as a plain child process, its process
group killed on the timeout (no network or file-system isolation, no process-count limit).
Limits in both modes: CPU seconds, address space (`memory_mb`), file size (`FILE_LIMIT_BYTES`), no core files and a
wall-clock timeout.
"""

from __future__ import annotations

import json
import math
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Literal

from moe_system.config import load_settings
from moe_system.errors import ToolError, one_line

SandboxMode = Literal["namespaces", "rlimits"]

FILE_LIMIT_BYTES = 16 << 20
TMP_BYTES = 64 << 20  # the size of the sandbox's /tmp (where bubblewrap can size it)
MAX_OUTPUT_BYTES = 1 << 20
MAX_PROCESSES = 64  # processes and threads inside the sandbox
SANDBOX_UID = 65534  # nobody (user and group): who the code runs as when the system runs as root
INSIDE = "/sandbox"  # where the private folder is mounted in the sandbox
_SIGNAL_VIOLATIONS = {signal.SIGXCPU: "cpu time limit", signal.SIGXFSZ: "file size limit"}
# What a failed run's stderr says when it ran into a limit (Python ignores SIGXFSZ: a write fails instead)
_STDERR_VIOLATIONS = {
    "MemoryError": "memory limit",
    "File too large": "file size limit",
    "No space left on device": "disk limit",
    "[Errno 11] Resource temporarily unavailable": "process limit",
}
# First thing inside the sandbox: root (no user namespace) becomes SANDBOX_UID, since RLIMIT_NPROC binds no process
# of root's; then the process-count limit, then the code in its folder, as `python -I -B main.py ARGS`
_BOOTSTRAP = (
    "import os, resource, sys\n"
    "if os.getuid() == 0:\n"
    "    os.setgroups([]); os.setgid({uid}); os.setuid({uid})\n"
    "resource.setrlimit(resource.RLIMIT_NPROC, ({n}, {n}))\n"
    "os.chdir({folder!r})\n"
    "os.environ.pop('PWD', None)\n"  # bubblewrap sets it
    "os.execv(sys.executable, [sys.executable, '-I', '-B', *sys.argv[1:]])\n"
)
_INSTALL = ("install bubblewrap ('make setup' as root, or 'sudo apt-get install bubblewrap'), or allow running it "
            "with resource limits only: sandbox.mode: rlimits (MOE_SANDBOX__MODE=rlimits)")  # fmt: skip


class SandboxUnavailableError(ToolError):
    """Generated code cannot be isolated here (no bubblewrap, or no namespaces) and rlimit-only mode is off."""


@dataclass(frozen=True)
class SandboxResult:
    """How a sandboxed run ended. `returncode` is None when it was killed on the timeout, negative for a signal;
    `violation` names the limit it ran into ("timeout", "cpu time limit", "file size limit", "memory limit",
    "disk limit", "process limit"), None when none."""

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
    mode: SandboxMode | None = None,
) -> SandboxResult:
    """Run `source` as `main.py` with `args` in a fresh folder (under `scratch`, else the system's temp folder)
    that also holds `files` (relative name -> text); see the module's docstring for the isolation and limits.
    `mode` None follows the setting `sandbox.mode`. Raises `SandboxUnavailableError` when mode "namespaces"
    cannot work here."""
    mode = mode or load_settings().sandbox.mode
    bwrap = bubblewrap() if mode == "namespaces" else None
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
            if bwrap is None:
                returncode = _run_with_limits(folder, ["main.py", *args], stdout, stderr, timeout_s, memory_mb)
            else:
                returncode = _run_in_namespaces(bwrap, folder, ["main.py", *args], stdout, stderr, timeout_s,
                                                memory_mb)  # fmt: skip
            out, err = _tail(stdout), _tail(stderr)
    violation = None
    if returncode is None:
        violation = "timeout"
    elif returncode < 0 and -returncode in _SIGNAL_VIOLATIONS:
        violation = _SIGNAL_VIOLATIONS[signal.Signals(-returncode)]
    elif returncode != 0:
        violation = next((name for marker, name in _STDERR_VIOLATIONS.items() if marker in err), None)
    return SandboxResult(returncode, out, err, returncode is None, violation)


# ---- bubblewrap


def bubblewrap() -> str:
    """The path of a `bwrap` that can create namespaces here; raises `SandboxUnavailableError` otherwise."""
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailableError(f"cannot run generated code: bubblewrap (bwrap) is not installed; {_INSTALL}")
    problem = _probe(path, os.geteuid() == 0)
    if problem:
        raise SandboxUnavailableError(f"cannot run generated code: bubblewrap cannot create namespaces here "
                                      f"({problem}); {_INSTALL}")  # fmt: skip
    return path


@cache
def _probe(bwrap: str, root: bool) -> str:
    """Why `bwrap` cannot sandbox a command here, '' when it can."""
    probe = subprocess.run([bwrap, *_namespaces(root), "--die-with-parent", "--ro-bind", "/", "/", "true"], env={},
                           capture_output=True, text=True, timeout=30)  # fmt: skip
    return "" if probe.returncode == 0 else one_line(probe.stderr) or f"exit status {probe.returncode}"


@cache
def _tmp_size_supported(bwrap: str) -> bool:
    """Whether this bubblewrap can size a tmpfs (`--size`, bubblewrap 0.8)."""
    usage = subprocess.run([bwrap, "--help"], env={}, capture_output=True, text=True, timeout=30)
    return "--size" in usage.stdout


def _namespaces(root: bool) -> list[str]:
    """bubblewrap's namespace options: all new; run as root, all but the user namespace (root inside one would
    still be root to RLIMIT_NPROC), the code becoming SANDBOX_UID instead (`_BOOTSTRAP`)."""
    if root:  # of root's capabilities only those `_BOOTSTRAP` needs to drop to SANDBOX_UID, and then none
        return ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return ["--unshare-all"]


def _interpreter() -> Path:
    """The base interpreter (not a virtual environment's: the code gets the standard library only)."""
    return Path(os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable))


def _run_in_namespaces(bwrap: str, folder: Path, args: list[str], stdout: IO[bytes], stderr: IO[bytes],
                       timeout_s: float, memory_mb: int) -> int | None:  # fmt: skip
    """The exit status of `python -I -B *args` run under bubblewrap in `folder`, or None on a timeout."""
    deadline = time.monotonic() + timeout_s
    prefix = Path(os.path.realpath(sys.base_prefix))
    interpreter = _interpreter()
    root = os.geteuid() == 0
    if root:  # the code runs as SANDBOX_UID: its folder must be its own
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, SANDBOX_UID, SANDBOX_UID)
    with ExitStack() as stack:
        info_read, info_write = os.pipe()
        stack.callback(os.close, info_read)
        command = [bwrap, *_namespaces(root), "--die-with-parent", "--new-session", "--hostname", "sandbox",
                   "--ro-bind", "/usr", "/usr"]  # fmt: skip
        for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(name):
                command += ["--symlink", os.readlink(name), name]
            elif os.path.isdir(name):
                command += ["--ro-bind", name, name]
        if Path("/usr") not in prefix.parents:  # its parents made walkable (root's bubblewrap makes them 0700)
            for parent in reversed(prefix.parents[:-1]):
                command += ["--perms", "0755", "--dir", str(parent)]
            command += ["--ro-bind", str(prefix), str(prefix)]
        if Path("/usr") not in interpreter.parents and prefix not in interpreter.parents:
            command += ["--ro-bind", str(interpreter), str(interpreter)]
        command += ["--proc", "/proc", "--dev", "/dev"]
        command += ["--size", str(TMP_BYTES)] if _tmp_size_supported(bwrap) else []
        command += ["--perms", "1777", "--tmpfs", "/tmp", "--bind", str(folder), INSIDE, "--info-fd", str(info_write),
                    "--", str(interpreter), "-I", "-B", "-c", _BOOTSTRAP.format(uid=SANDBOX_UID, n=MAX_PROCESSES,
                                                                              folder=INSIDE), *args]  # fmt: skip
        env = {"PATH": "/usr/bin:/bin", "HOME": INSIDE, "TMPDIR": INSIDE, "LANG": "C.UTF-8"}
        limits = _limits(timeout_s, memory_mb)
        try:
            process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, start_new_session=True,
                pass_fds=(info_write,), preexec_fn=lambda: _apply_limits(limits),
            )  # fmt: skip
        finally:
            os.close(info_write)
        pid1 = _child_pid(info_read, deadline)  # the sandbox's PID 1, as the host sees it
        pidfd = None
        if pid1 is not None:
            with suppress(ProcessLookupError):  # a short run may be over by now
                pidfd = os.pidfd_open(pid1)
                stack.callback(os.close, pidfd)
        try:
            returncode = process.wait(timeout=max(0.0, deadline - time.monotonic()))
            # bubblewrap exits with 128 + N when the code was killed by signal N
            return -(returncode - 128) if 128 < returncode < 128 + signal.NSIG else returncode
        except subprocess.TimeoutExpired:
            if pidfd is not None:  # killing PID 1 kills every process of its PID namespace
                with suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
            return None
        finally:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _child_pid(info: int, deadline: float) -> int | None:
    """The `child-pid` bubblewrap writes to its info descriptor once the sandbox is set up (None when it fails
    first, or not before `deadline`)."""
    text = b""
    while b"}" not in text and select.select([info], [], [], max(0.0, deadline - time.monotonic()))[0]:
        chunk = os.read(info, 4096)
        if not chunk:
            break
        text += chunk
    with suppress(ValueError):
        pid = json.loads(text).get("child-pid")
        return pid if isinstance(pid, int) else None
    return None


# ---- resource limits only


def _run_with_limits(folder: Path, args: list[str], stdout: IO[bytes], stderr: IO[bytes], timeout_s: float,
                     memory_mb: int) -> int | None:  # fmt: skip
    """The exit status of `python -I -B *args` run in `folder`, or None on a timeout. Its whole process group
    is killed afterwards, so nothing it started in that group outlives it."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "TMPDIR": str(folder), "LANG": "C.UTF-8"}
    limits = _limits(timeout_s, memory_mb)
    process = subprocess.Popen(
        [str(_interpreter()), "-I", "-B", *args], cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
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
