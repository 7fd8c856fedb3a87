"""Shared fixtures. Every test runs with a temporary MOE_HOME; integration and e2e tests share one
session-wide home where the embedded model is converted once (or reuse `MOE_TEST_MODEL_CACHE`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One torch (and so ONNX Runtime) thread in this process and in every process it starts (`moe` subprocesses, the
# memory worker, trainers, servers' engines): set before torch is imported. On a 2-core machine that also runs a
# server, a subprocess or other work, two threads that meet at a barrier after every op wait on each other: under
# load the embedded-model tests ran ten times slower with two threads, and e2e + integration took 648 s with two
# against 553 s with one even at a load average of 2. An explicit value wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever writes to the user's ~/.moe or reads their config."""
    monkeypatch.setenv("MOE_HOME", str(tmp_path / "moe_home"))
    monkeypatch.delenv("MOE_CONFIG", raising=False)
    for name in list(os.environ):
        if name.startswith("MOE_") and name not in {"MOE_HOME", "MOE_TEST_MODEL_CACHE"}:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A MOE_HOME whose models/ holds the converted embedded model (converted once per session)."""
    home = Path(os.environ.get("MOE_TEST_MODEL_CACHE") or tmp_path_factory.mktemp("model_home"))
    from moe_system.base import base_model_dir
    from moe_system.config import Settings

    base_model_dir(Settings(home=home))
    yield home
