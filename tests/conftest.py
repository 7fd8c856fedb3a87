"""Shared fixtures. Every test runs with a temporary MOE_HOME; integration and e2e tests share one
session-wide home where the embedded model is converted once (or reuse `MOE_TEST_MODEL_CACHE`)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
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


@pytest.fixture(scope="session")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], bytes]:
    """`spoken(text, voice)`: `text` said by espeak-ng's `voice` (en-us, ru, de, ...) as an OGG/Opus voice note, as
    Telegram sends one (48 kHz mono). `make setup` installs espeak-ng; the voice extra brings PyAV."""
    import shutil
    import subprocess

    av = pytest.importorskip("av", reason="the voice extra (PyAV) is not installed")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make setup installs it)")
    folder = tmp_path_factory.mktemp("speech")

    def speak(text: str, voice: str = "en-us") -> bytes:
        wav = folder / f"{abs(hash((text, voice)))}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text], check=True)
        out = io.BytesIO()
        with av.open(str(wav)) as source, av.open(out, "w", format="ogg") as note:
            stream = note.add_stream("libopus", rate=48000)
            stream.layout = "mono"
            resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
            for frame in source.decode(audio=0):
                for resampled in resampler.resample(frame):
                    for packet in stream.encode(resampled):
                        note.mux(packet)
            for packet in stream.encode(None):
                note.mux(packet)
        return out.getvalue()

    return speak
