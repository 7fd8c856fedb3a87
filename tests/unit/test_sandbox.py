"""`tools.sandbox.run_python`: output, exit status, files beside the code, each limit it enforces, and hostile code
(network, files outside, the key, a fork bomb, a detached process, a 10 GB write, an endless loop) that is stopped
or fails inside while the host is unharmed. Mode "namespaces" needs bubblewrap (`make setup` installs it)."""

from __future__ import annotations

import ast
import os
import secrets
import shutil
import socket
import subprocess
import time
from contextlib import suppress
from pathlib import Path

import pytest

from moe_system.tools.sandbox import MAX_PROCESSES, SandboxMode, SandboxUnavailableError, run_python

from .conftest import needs_bubblewrap

MODES = [pytest.param("namespaces", marks=needs_bubblewrap), "rlimits"]


@pytest.mark.parametrize("mode", MODES)
def test_it_runs_code_with_its_files_and_arguments(tmp_path: Path, mode: SandboxMode) -> None:
    result = run_python("import sys\nprint(2 * int(open('data/n.txt').read()), sys.argv[1])\n", timeout_s=10,
                        memory_mb=512, files={"data/n.txt": "21"}, args=["token"], scratch=tmp_path, mode=mode)
    assert (result.returncode, result.stdout, result.timed_out, result.violation) == (0, "42 token\n", False, None)
    assert list(tmp_path.iterdir()) == []  # its folder is gone afterwards


@pytest.mark.parametrize("mode", MODES)
def test_failures_report_their_status_and_stderr(mode: SandboxMode) -> None:
    result = run_python("raise SystemExit('bad input')", timeout_s=10, memory_mb=512, mode=mode)
    assert result.returncode == 1 and "bad input" in result.stderr and result.violation is None


@pytest.mark.parametrize("mode", MODES)
def test_the_environment_is_empty_and_the_folder_private(mode: SandboxMode) -> None:
    result = run_python("import os\nprint(sorted(os.environ))\nprint(os.getcwd() == os.environ['HOME'])",
                        timeout_s=10, memory_mb=512, mode=mode)
    assert result.stdout.splitlines() == ["['HOME', 'LANG', 'PATH', 'TMPDIR']", "True"]


@pytest.mark.parametrize("mode", MODES)
def test_a_timeout_kills_it_and_what_it_started(mode: SandboxMode) -> None:
    source = "import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n" \
             "time.sleep(60)\n"
    result = run_python(source, timeout_s=1, memory_mb=512, mode=mode)
    assert result.timed_out and result.returncode is None and result.violation == "timeout"


@pytest.mark.parametrize("mode", MODES)
def test_the_memory_limit_holds(mode: SandboxMode) -> None:
    result = run_python("x = bytearray(2 << 30)", timeout_s=10, memory_mb=256, mode=mode)
    assert result.returncode != 0 and result.violation == "memory limit"


def test_files_may_not_leave_the_folder() -> None:
    with pytest.raises(ValueError, match="outside"):
        run_python("pass", timeout_s=5, memory_mb=256, files={"../escape.py": "x = 1"}, mode="rlimits")


# ---- hostile code under bubblewrap: stopped or failing inside, the host unharmed


def _leftovers(marker: str) -> list[int]:
    """Host processes whose command line holds `marker` (the sandboxed code is given it as an argument)."""
    found = []
    for entry in Path("/proc").iterdir():
        with suppress(OSError):  # gone meanwhile
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def _gone(marker: str, within_s: float = 2.0) -> bool:
    """Whether no process with `marker` is left (allowing the kernel `within_s` to reap a killed PID namespace)."""
    deadline = time.monotonic() + within_s
    while _leftovers(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _leftovers(marker)


@needs_bubblewrap
def test_no_network_neither_outside_nor_the_hosts_loopback() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        port = server.getsockname()[1]
        source = (
            "import socket, sys\n"
            "for address in [('1.1.1.1', 80), ('127.0.0.1', int(sys.argv[1]))]:\n"
            "    try:\n"
            "        socket.create_connection(address, timeout=2)\n"
            "        print('connected', address)\n"
            "    except OSError as err:\n"
            "        print(type(err).__name__)\n"
        )
        result = run_python(source, timeout_s=10, memory_mb=256, args=[str(port)], mode="namespaces")
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing reached the host's port
    assert result.stdout.split() == ["OSError", "ConnectionRefusedError"], result  # unreachable; its own loopback


@needs_bubblewrap
def test_files_outside_its_folder_are_not_there(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host data")
    source = (
        "import os, sys\n"
        "for path in sys.argv[1:]:\n"
        "    print(os.path.exists(path))\n"
        "print(sorted(os.listdir('/')))\n"
    )
    paths = [str(secret), "/etc/shadow", "/etc/passwd", "/root", "/home", "/work", os.getcwd()]
    result = run_python(source, timeout_s=10, memory_mb=256, args=paths, mode="namespaces")
    lines = result.stdout.splitlines()
    assert lines[:3] == ["False"] * 3 and secret.read_text() == "host data", result
    visible = {"bin", "dev", "lib", "lib32", "lib64", "libx32", "proc", "root", "sandbox", "sbin", "tmp", "usr"}
    assert set(ast.literal_eval(lines[-1])) <= visible


@needs_bubblewrap
def test_the_key_in_moe_home_is_out_of_sight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "moe_home"
    (home / "keys").mkdir(parents=True)
    (home / "keys" / "project.key").write_text("PRIVATE KEY")
    monkeypatch.setenv("MOE_HOME", str(home))
    source = (
        "import os, sys\n"
        "try:\n"
        "    print(open(sys.argv[1]).read())\n"
        "except OSError as err:\n"
        "    print(type(err).__name__)\n"
        "print(os.listdir('..'), os.listdir('.'))\n"
    )
    # its folder lies under MOE_HOME (as the evaluation's does): still nothing else of MOE_HOME is visible
    result = run_python(source, timeout_s=10, memory_mb=256, args=[str(home / "keys" / "project.key")],
                        scratch=home / "tmp", mode="namespaces")  # fmt: skip
    assert "PRIVATE KEY" not in result.stdout and result.stdout.startswith("FileNotFoundError"), result
    assert "keys" not in result.stdout


@needs_bubblewrap
def test_a_fork_bomb_is_stopped_and_the_host_can_still_fork() -> None:
    marker = secrets.token_hex(8)
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    started = time.monotonic()
    result = run_python(bomb, timeout_s=2, memory_mb=256, args=[marker], mode="namespaces")
    assert result.timed_out and result.violation == "timeout" and time.monotonic() - started < 10
    assert _gone(marker)
    assert subprocess.run(["true"], check=False).returncode == 0


@needs_bubblewrap
def test_the_process_count_is_limited() -> None:
    source = (
        "import os, time\n"
        "children = 0\n"
        "try:\n"
        "    while children < 1000:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "        children += 1\n"
        "finally:\n"
        "    print(children, flush=True)\n"
    )
    result = run_python(source, timeout_s=10, memory_mb=256, mode="namespaces")
    assert int(result.stdout.split()[0]) < MAX_PROCESSES and result.violation == "process limit", result


@needs_bubblewrap
@pytest.mark.parametrize("wait", [False, True])
def test_a_detached_process_does_not_outlive_the_run(wait: bool) -> None:
    marker = secrets.token_hex(8)
    source = "import os, time\nos.setsid()\nif os.fork() == 0:\n    time.sleep(60)\n" + \
             ("time.sleep(60)\n" if wait else "print('parent done')\n")
    result = run_python(source, timeout_s=1, memory_mb=256, args=[marker], mode="namespaces")
    assert result.timed_out is wait and _gone(marker), result


@needs_bubblewrap
@pytest.mark.parametrize("folder", [".", "/tmp"])
def test_writing_10_gb_is_stopped_by_the_file_size_limit(folder: str) -> None:
    source = (
        "import sys\n"
        "chunk = b'0' * (1 << 20)\n"
        "with open(sys.argv[1] + '/big', 'wb') as out:\n"
        "    for _ in range(10 << 10):\n"
        "        out.write(chunk)\n"
    )
    started = time.monotonic()
    result = run_python(source, timeout_s=10, memory_mb=256, args=[folder], mode="namespaces")
    assert result.returncode != 0 and result.violation == "file size limit", result
    assert time.monotonic() - started < 5 and shutil.disk_usage("/").free > 0


@needs_bubblewrap
def test_its_tmp_is_small() -> None:
    source = (
        "chunk = b'0' * (1 << 20)\n"
        "for i in range(1000):\n"
        "    with open(f'/tmp/part{i}', 'wb') as out:\n"
        "        for _ in range(8):\n"
        "            out.write(chunk)\n"
    )
    result = run_python(source, timeout_s=10, memory_mb=256, mode="namespaces")
    assert result.returncode != 0 and result.violation == "disk limit", result


@needs_bubblewrap
def test_an_endless_loop_times_out() -> None:
    started = time.monotonic()
    result = run_python("while True:\n    pass\n", timeout_s=1, memory_mb=256, mode="namespaces")
    assert (result.returncode, result.timed_out, result.violation) == (None, True, "timeout")
    assert time.monotonic() - started < 3


# ---- without bubblewrap


def test_without_bubblewrap_it_refuses_with_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    with pytest.raises(SandboxUnavailableError, match=r"bubblewrap.*apt-get install bubblewrap.*MOE_SANDBOX__MODE"):
        run_python("print(1)", timeout_s=5, memory_mb=256)


def test_a_bubblewrap_without_namespaces_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxUnavailableError, match=r"cannot create namespaces here \(bwrap: No permissions"):
        run_python("print(1)", timeout_s=5, memory_mb=256)


def test_the_operator_may_allow_rlimit_only_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("MOE_SANDBOX__MODE", "rlimits")
    result = run_python("print(6 * 7)", timeout_s=5, memory_mb=256)
    assert (result.returncode, result.stdout) == (0, "42\n")
    looping = run_python("while True:\n    pass\n", timeout_s=1, memory_mb=256)
    assert looping.timed_out and looping.violation == "timeout"
