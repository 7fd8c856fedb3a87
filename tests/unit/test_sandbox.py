"""`tools.sandbox.run_python`: output, exit status, files beside the code, and each limit it enforces."""

from __future__ import annotations

from pathlib import Path

import pytest

from moe_system.tools.sandbox import run_python


def test_it_runs_code_with_its_files_and_arguments(tmp_path: Path) -> None:
    result = run_python("import sys\nprint(2 * int(open('data/n.txt').read()), sys.argv[1])\n", timeout_s=10,
                        memory_mb=512, files={"data/n.txt": "21"}, args=["token"], scratch=tmp_path)
    assert (result.returncode, result.stdout, result.timed_out, result.violation) == (0, "42 token\n", False, None)
    assert list(tmp_path.iterdir()) == []  # its folder is gone afterwards


def test_failures_report_their_status_and_stderr() -> None:
    result = run_python("raise SystemExit('bad input')", timeout_s=10, memory_mb=512)
    assert result.returncode == 1 and "bad input" in result.stderr and result.violation is None


def test_the_environment_is_empty_and_the_folder_private() -> None:
    result = run_python("import os\nprint(sorted(os.environ))\nprint(os.getcwd() == os.environ['HOME'])",
                        timeout_s=10, memory_mb=512)
    assert result.stdout.splitlines() == ["['HOME', 'LANG', 'PATH', 'TMPDIR']", "True"]


def test_a_timeout_kills_it_and_what_it_started() -> None:
    source = "import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n" \
             "time.sleep(60)\n"
    result = run_python(source, timeout_s=1, memory_mb=512)
    assert result.timed_out and result.returncode is None and result.violation == "timeout"


def test_the_memory_limit_holds() -> None:
    result = run_python("x = bytearray(2 << 30)", timeout_s=10, memory_mb=256)
    assert result.returncode != 0 and result.violation == "memory limit"


def test_files_may_not_leave_the_folder() -> None:
    with pytest.raises(ValueError, match="outside"):
        run_python("pass", timeout_s=5, memory_mb=256, files={"../escape.py": "x = 1"})
