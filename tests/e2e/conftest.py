"""Fixtures of the end-to-end tests: a real uvicorn server on a free port, in its own `MOE_HOME` that shares the
converted embedded model (so what one test installs or remembers never leaks into another module)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from moe_system.config import Settings


def fresh_home(root: Path, model_home: Path) -> Path:
    """An empty `MOE_HOME` under `root` whose `models/` is the session's converted model."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "models").symlink_to(model_home / "models", target_is_directory=True)
    return root


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """Run the app of `settings` with uvicorn in a thread; yields its base URL once it accepts requests."""
    import uvicorn

    from moe_system.server import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def server_home(tmp_path_factory: pytest.TempPathFactory, model_home: Path) -> Path:
    """A `MOE_HOME` of this test module's own (no experts, empty memory) with the converted model."""
    return fresh_home(tmp_path_factory.mktemp("server_home"), model_home)


@pytest.fixture(scope="session")
def serve() -> object:
    """`serving` as a fixture: `with serve(settings) as url: ...` (conftest modules are not importable)."""
    return serving
