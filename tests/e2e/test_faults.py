"""Faults a real `moe serve` process survives with nothing acknowledged lost (issue 17): kill -9 during a streamed
chat, an expert upload and install, a training job and the memory's compaction, then a restart; and a full disk
(a small tmpfs as `MOE_HOME`), answered 507 in OpenAI's error shape, after which the server works again without a
restart.

    .venv/bin/python -m pytest -q tests/e2e/test_faults.py

Each test runs its own server (`bench.serve.running_server`: a child process on its own `MOE_HOME` whose `models/`
is the session's converted model) and restarts it after the kill. A kill takes the server and every process it
started at once, as a power cut would, except in the training test, where the trainer (in a session of its own)
lives on as an orphan that the next server has to stop.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import torch
import yaml
from safetensors.torch import save_file
from websockets.sync.client import connect

from moe_system.bench.serve import running_server
from moe_system.config import Settings
from moe_system.experts.manifest import MANIFEST_FILE

pytestmark = pytest.mark.e2e

ADMIN = "faults-admin-key"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
SETTINGS = {"server": {"api_keys": [f"{ADMIN}:admin"], "rate_limit_per_minute": 0},
            "experts": {"allow_unsigned_uploads": True}}


def _home(root: Path, model_home: Path, **settings: dict[str, Any]) -> Path:
    """A `MOE_HOME` at `root` with the session's converted model and a config file of `SETTINGS` and `settings`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "models").symlink_to(model_home / "models", target_is_directory=True)
    (root / "config.yaml").write_text(yaml.safe_dump(SETTINGS | settings), encoding="utf-8")
    return root


@contextmanager
def _server(home: Path) -> Iterator[tuple[httpx.Client, subprocess.Popen[str]]]:
    with running_server(Settings(home=home)) as (url, process), \
            httpx.Client(base_url=url, headers=AUTH, timeout=120) as http:
        yield http, process


def _kill(process: subprocess.Popen[str], *, children: bool = True) -> list[psutil.Process]:
    """SIGKILL the server, and with `children` every process it started, at the same moment; returns those."""
    server = psutil.Process(process.pid)
    family = server.children(recursive=True) if children else []
    for victim in (server, *family):
        with suppress(psutil.NoSuchProcess):
            victim.kill()
    process.wait(30)
    psutil.wait_procs(family, timeout=30)
    return family


@contextmanager
def _held(process: psutil.Process) -> Iterator[None]:
    """`process` stopped (SIGSTOP) for the block and let go after it, also when the block fails (a worker left
    stopped would outlive its server)."""
    process.suspend()
    try:
        yield
    finally:
        with suppress(psutil.NoSuchProcess):
            process.resume()


def _wait(check: Callable[[], Any], what: str, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def _integrity(db: Path) -> None:
    with closing(sqlite3.connect(db, timeout=30)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def _sql(db: Path, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db, timeout=30)) as connection:
        return connection.execute(query, args).fetchall()


def _memory(home: Path) -> Path:
    return home / "memory" / "memory.db"


# ---- kill -9 during a streamed chat


def test_kill_9_during_a_stream_loses_no_acknowledged_turn(tmp_path: Path, model_home: Path) -> None:
    home = _home(tmp_path / "home", model_home)
    with _server(home) as (http, process):
        first = http.post("/chat", json={"conversation_id": "c1", "message": "Hello, my name is Ada.", "max_tokens": 4})
        assert first.status_code == 200, first.text
        acknowledged = [("user", "Hello, my name is Ada."), ("assistant", first.json()["text"] or "(no answer)")]
        question = "Count from one to five hundred in words, please."
        body = {"conversation_id": "c1", "message": question, "max_tokens": 2000, "stream": True}
        with http.stream("POST", "/chat", json=body) as stream:
            for line in stream.iter_lines():
                event = json.loads(line.removeprefix("data: ")) if line.startswith("data: ") else {}
                if event.get("type") == "start":  # the user's turn is stored before the answer starts
                    acknowledged.append(("user", question))
                if event.get("type") == "done":  # only a finished answer is stored
                    acknowledged.append(("assistant", event["text"] or "(no answer)"))
                if event.get("type") in ("delta", "done"):
                    break
            _kill(process)
    assert acknowledged[2] == ("user", question)

    with _server(home) as (http, _):
        turns = http.get("/conversations/c1").json()["messages"]
        assert [(turn["role"], turn["content"]) for turn in turns] == acknowledged
        _integrity(_memory(home))
        again = http.post("/chat", json={"conversation_id": "c1", "message": "And now?", "max_tokens": 2})
        assert again.status_code == 200 and len(http.get("/conversations/c1").json()["messages"]) == 5


# ---- kill -9 during the memory's compaction


def _covered(db: Path, conversation_id: str) -> set[int]:
    """The turns (seq) a conversation still holds: verbatim, or inside a compressed chunk's range."""
    key = _sql(db, "SELECT key FROM conversations WHERE id LIKE ?", f"%/{conversation_id}")[0][0]
    seqs = {seq for (seq,) in _sql(db, "SELECT seq FROM messages WHERE conv_key = ?", key)}
    for first, last in _sql(db, "SELECT first_seq, last_seq FROM chunks WHERE conv_key = ?", key):
        seqs |= set(range(first, last + 1))
    return seqs


def _pending(db: Path) -> int:
    """Messages the worker has still to compress or index."""
    return _sql(db, "SELECT count(*) FROM messages WHERE state = 'moving' OR indexed = 0")[0][0]


def test_kill_9_during_compaction_loses_no_acknowledged_turn(tmp_path: Path, model_home: Path) -> None:
    # a current tier of 200 tokens: every few turns its oldest ones leave for the worker to compress; the lower
    # tiers are large, so nothing is dropped by design and every turn must stay covered
    home = _home(tmp_path / "home", model_home,
                 memory={"current_tokens": 200, "obsolete_tokens": 100_000, "longterm_tokens": 100_000})
    db, turns = _memory(home), 0

    def say(http: httpx.Client, index: int) -> None:
        nonlocal turns
        text = (f"Note {index}: the shipment number {1000 + index} left the warehouse in Oslo on day {index} "
                f"with {index * 3} crates of apples, pears and plums for the market in Bergen.")
        reply = http.post("/chat", json={"conversation_id": "c4", "message": text, "max_tokens": 1})
        assert reply.status_code == 200, reply.text
        turns += 2  # the user's turn and the answer, both stored when /chat returns

    with _server(home) as (http, process):
        for index in range(6):
            say(http, index)
        _wait(lambda: _sql(db, "SELECT count(*) FROM chunks")[0][0], "the worker's first compression")
        # a backlog: the worker is held (SIGSTOP) while 16 more turns are acknowledged, then let go and killed with
        # the server a moment later, in the middle of working it off
        worker = next(p for p in psutil.Process(process.pid).children() if "moe_system.memory.worker" in p.cmdline())
        with _held(worker):
            for index in range(6, 22):
                say(http, index)
        time.sleep(0.01)
        _kill(process)
    pending_at_kill = _pending(db)
    assert pending_at_kill, "the kill came after the worker had finished: nothing was interrupted"
    assert _covered(db, "c4") >= set(range(1, turns + 1))

    with _server(home) as (http, _):  # its worker starts at once on the interrupted work, before any message
        _integrity(db)
        _wait(lambda: not _pending(db), "the next server's worker to finish the interrupted compaction", 120)
        assert _covered(db, "c4") >= set(range(1, turns + 1))
        say(http, 22)
        assert _sql(db, "SELECT count(*) FROM chunks")[0][0] > 1
        assert http.get("/conversations/c4").status_code == 200
        _integrity(db)


# ---- kill -9 during an expert upload and install


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory, model_home: Path) -> Path:
    """An unsigned `.expert` of about 8 MB: a random-weight rank-32 LoRA on every attention projection of every
    layer of the embedded model."""
    from moe_system.base.fingerprint import base_sha256
    from moe_system.experts.package import build_package

    folder = tmp_path_factory.mktemp("big-lora")
    rank, width = 32, 576
    outputs = {"q_proj": 576, "k_proj": 192, "v_proj": 192, "o_proj": 576}
    config = {"peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank, "target_modules": list(outputs)}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    generator = torch.Generator().manual_seed(17)
    weights = {}
    for layer in range(30):
        for module, rows in outputs.items():
            name = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            weights[f"{name}.lora_A.weight"] = torch.randn((rank, width), generator=generator) * 0.01
            weights[f"{name}.lora_B.weight"] = torch.zeros((rows, rank))
    save_file(weights, str(folder / "adapter_model.safetensors"))
    output = folder.parent / "faulty-1.0.0.expert"
    build_package(folder, output, name="faulty", version="1.0.0", description="a fault test expert",
                  base_name="SmolLM2-135M-Instruct", base_sha256=base_sha256(Settings(home=model_home)))
    return output


BOUNDARY = "faults-boundary-7d1f"


def _upload_body(package: Path, sent: list[int], pause_s: float = 0.0) -> Iterator[bytes]:
    """The multipart body of `POST /experts`, streamed in 64 KiB pieces (`pause_s` between them); counts the
    package's bytes sent into `sent[0]`."""
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"allow_unsigned\"\r\n\r\ntrue\r\n"
           f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"replace\"\r\n\r\ntrue\r\n"
           f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{package.name}\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    with package.open("rb") as handle:
        while piece := handle.read(64 * 1024):
            yield piece
            sent[0] += len(piece)
            time.sleep(pause_s)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def _upload_in_background(url: str, package: Path, pause_s: float) -> tuple[threading.Thread, list[int]]:
    """Start uploading `package` from a thread of its own (it fails when the server dies); returns it and the
    count of bytes sent."""
    sent = [0]

    def upload() -> None:
        with suppress(httpx.HTTPError):
            httpx.post(f"{url}/experts", content=_upload_body(package, sent, pause_s), timeout=120,
                       headers=AUTH | {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})

    thread = threading.Thread(target=upload, daemon=True)
    thread.start()
    return thread, sent


def _consistent(http: httpx.Client, home: Path) -> list[tuple[str, str]]:
    """The registry agrees with the folders (no half-installed expert) and no upload or install left scratch
    files; returns the installed (name, version)s."""
    listed = sorted((expert["name"], expert["version"]) for expert in http.get("/experts").json())
    root = home / "experts"
    folders = sorted((f.parent.name, f.name) for f in root.glob("*/*") if f.is_dir() and f.parent.name[0] != ".")
    assert listed == folders
    assert all((root / name / version / MANIFEST_FILE).is_file() for name, version in listed)
    assert not list((home / "tmp").glob("upload-*")) and not list((root / ".staging").glob("install-*"))
    return listed


def test_kill_9_during_an_upload_and_an_install_leaves_a_consistent_registry(
        tmp_path: Path, model_home: Path, package: Path) -> None:
    home = _home(tmp_path / "home", model_home)
    size = package.stat().st_size
    with _server(home) as (http, process):  # killed while the package streams in
        thread, sent = _upload_in_background(str(http.base_url).rstrip("/"), package, pause_s=0.01)
        _wait(lambda: sent[0] > size // 3 and list((home / "tmp").glob("upload-*/upload.expert")), "the upload")
        _kill(process)
        thread.join(60)
    assert list((home / "tmp").glob("upload-*"))  # the killed server left its scratch folder

    with _server(home) as (http, process):  # killed while it installs (unpacks, verifies, moves in)
        assert _consistent(http, home) == []  # the scratch folder is gone, nothing half installed
        thread, _ = _upload_in_background(str(http.base_url).rstrip("/"), package, pause_s=0.0)
        _wait(lambda: list((home / "experts" / ".staging").glob("install-*")), "the install", timeout=120)
        _kill(process)
        thread.join(60)

    with _server(home) as (http, _):
        assert _consistent(http, home) in ([], [("faulty", "1.0.0")])  # all or nothing
        with package.open("rb") as handle:
            installed = http.post("/experts", files={"file": (package.name, handle)},
                                  data={"allow_unsigned": "true", "replace": "true"})
        assert installed.status_code == 201, installed.text
        assert _consistent(http, home) == [("faulty", "1.0.0")]


# ---- kill -9 during a training job


RECIPE = yaml.safe_dump({
    "expert": {"name": "faultjob", "version": "0.1.0", "description": "a job the server is killed under"},
    "train": {"method": "lora", "data": {"generator": {"task": "math", "n": 8, "seed": 3, "lang": "en"}},
              "adapter": {"r": 2, "alpha": 4, "dropout": 0.0, "target_modules": ["q_proj"]},
              "optim": {"batch_size": 2, "max_len": 96},
              "run": {"eval_every": 1000, "save_every": 1, "log_every": 1, "threads": 1}}})


def _trainers(process: subprocess.Popen[str]) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(process.pid).children(recursive=True):
        with suppress(psutil.NoSuchProcess):
            if "moe_system.cli" in child.cmdline() and "train" in child.cmdline():
                found.append(child)
    return found


def test_kill_9_during_a_training_job_requeues_and_resumes_it(tmp_path: Path, model_home: Path) -> None:
    home = _home(tmp_path / "home", model_home)
    with _server(home) as (http, process):
        submitted = http.post("/train", json={"recipe_yaml": RECIPE, "max_steps": 100_000, "install": False})
        assert submitted.status_code == 202, submitted.text
        job = submitted.json()["job_id"]
        trained = _wait(lambda: (step := http.get(f"/train/{job}").json()["step"]) >= 2 and step, "a few steps")
        orphans = _trainers(process)
        assert len(orphans) == 1
        _kill(process, children=False)  # the trainer, in a session of its own, lives on
        assert orphans[0].is_running()

    try:
        with _server(home) as (http, process):
            psutil.wait_procs(orphans, timeout=30)  # the new server stopped the orphan before resuming the job
            assert not orphans[0].is_running()
            running = _wait(lambda: (v := http.get(f"/train/{job}").json())["status"] == "running" and v,
                            "the job to run again")
            assert running["error"] is None
            _wait(lambda: http.get(f"/train/{job}").json()["step"] > trained, "the job to go on from its checkpoint")
            assert "queued again" in (home / "jobs" / job / "train.log").read_text()
            trainers = _wait(lambda: _trainers(process), "the resumed trainer")
            assert [t.pid for t in trainers] != [o.pid for o in orphans]
            assert http.delete(f"/train/{job}").json()["status"] == "cancelled"
            assert not _trainers(process)
    finally:
        for orphan in orphans:
            with suppress(psutil.NoSuchProcess):
                orphan.kill()


# ---- a full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MB tmpfs (root only: skipped where mounting is not permitted)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True,
                          text=True, check=False)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Fill `disk` with one file, to the last byte."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:
        for size in (2**20, 4096):
            with suppress(OSError):
                while True:
                    handle.write(b"\0" * size)
    return filler


def test_a_full_disk_is_answered_507_and_the_server_recovers(
        small_disk: Path, model_home: Path, package: Path) -> None:
    home = _home(small_disk, model_home)  # the model stays where it is: a link
    with _server(home) as (http, process), ExitStack() as sockets:
        def until_full(send: Callable[[int], httpx.Response]) -> httpx.Response:
            """`send` until the disk refuses: a write that fits in the free pages SQLite's WAL holds still
            succeeds (and is stored), the next that needs a new page gets 507."""
            for attempt in range(40):
                if (answer := send(attempt)).status_code != 200:
                    return answer
            raise AssertionError("40 writes on a full disk, none refused")

        acknowledged: list[str] = []

        def turn(conversation_id: str, text: str, **options: Any) -> httpx.Response:
            body = {"conversation_id": conversation_id, "message": text, "max_tokens": 4, **options}
            answer = http.post("/chat", json=body)
            if answer.status_code == 200 and conversation_id == "c5":
                acknowledged.extend((text, answer.json()["text"] or "(no answer)"))
            return answer

        assert turn("c5", "My favourite colour is teal.").status_code == 200
        worker = next(p for p in psutil.Process(process.pid).children() if "moe_system.memory.worker" in p.cmdline())
        _wait(lambda: not _pending(_memory(home)), "the worker to index the first turn")
        url = str(http.base_url).rstrip("/").replace("http://", "ws://")
        socket = sockets.enter_context(connect(f"{url}/ws/chat?token={ADMIN}", open_timeout=30))

        def over_socket(text: str) -> dict[str, Any]:
            """A turn over the WebSocket: its last event."""
            socket.send(json.dumps({"conversation_id": "c7", "message": text, "max_tokens": 4}))
            while (event := json.loads(socket.recv(timeout=60)))["type"] not in ("done", "error"):
                pass
            return event

        with _held(worker):  # the next turn's indexing waits until the disk is full
            assert turn("c5", "I live in Oslo.").status_code == 200
            filler = _fill(small_disk)
        # the worker indexes into the WAL's free pages, or, where those are short, waits for space
        for attempt in range(40):  # the socket gets an error event and stays open
            if (event := over_socket(f"Socket turn {attempt}"))["type"] == "error":
                break
        assert event["type"] == "error" and "disk is full" in event["error"]["message"], event
        refused = [until_full(lambda i: turn("c5", f"My dog number {i} is called Rex.")),
                   until_full(lambda i: turn("c6", f"A streamed question {i}", stream=True)),
                   http.post("/experts", files={"file": (package.name, package.read_bytes()[:2**20])},
                             data={"allow_unsigned": "true"})]
        for answer in refused:
            assert answer.status_code == 507, answer.text
            assert answer.json()["error"]["code"] == "insufficient_storage"
            assert set(answer.json()["error"]) == {"message", "type", "code"}
            assert "disk is full" in answer.json()["error"]["message"]
        before = [m["content"] for m in http.get("/conversations/c5").json()["messages"]]  # still readable
        assert before[:len(acknowledged)] == acknowledged  # every acknowledged turn, whole; then at most the
        # refused request's own user turn, stored before its answer could not be (as /chat stores a turn first)
        assert before[len(acknowledged):] in ([], [f"My dog number {len(acknowledged) // 2 - 2} is called Rex."])
        _integrity(_memory(home))

        filler.unlink()  # space returns: no restart
        assert turn("c5", "And my cat is Tom.").status_code == 200
        assert over_socket("Still there?")["type"] == "done"
        assert [m["content"] for m in http.get("/conversations/c5").json()["messages"]][:len(before)] == before
        with package.open("rb") as handle:
            installed = http.post("/experts", files={"file": (package.name, handle)}, data={"allow_unsigned": "true"})
        assert installed.status_code == 201, installed.text
        assert _consistent(http, home) == [("faulty", "1.0.0")]
        _wait(lambda: not _pending(_memory(home)), "the worker to index once space returned", 60)
        assert worker.is_running()  # the memory's worker lived through it
        _integrity(_memory(home))
    shutil.rmtree(home / "experts", ignore_errors=True)
