"""The training jobs' state and checks without the model: recovery after a crash (an orphaned trainer is stopped,
its job queued again), uploaded recipes kept to MOE_HOME/datasets, progress read from a run's files, one job
manager per MOE_HOME, and requests refused before anything is written."""

from __future__ import annotations

import json
import math
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from fastapi import HTTPException

from moe_system.config import Settings
from moe_system.errors import ConfigError, InvalidRequestError
from moe_system.server.auth import OPEN_SERVER
from moe_system.server.jobs import JobManager, TrainRequest
from moe_system.server.jobs.processes import LOG_FILE
from moe_system.server.jobs.progress import estimate_steps, read_metrics
from moe_system.server.jobs.recipes import parse_recipe
from moe_system.server.jobs.store import DB_FILE, Job, JobStore
from moe_system.server.jobs.supervisor import LOCK_FILE, recover

RECIPE = """
expert: {name: tiny, version: 0.1.0}
train:
  data: {train: data.jsonl}
  optim: {batch_size: 2, grad_accum: 3, epochs: 2}
"""


def _job(store: JobStore, root: Path, job_id: str, created: float, **state: Any) -> Job:
    job = Job(job_id=job_id, user=None, recipe=None, expert="tiny", version="0.1.0", created=created, epochs=1.0,
              step_examples=2, **state)
    (root / job_id).mkdir(parents=True)
    store.save(job)
    return job


def test_recovery_stops_an_orphaned_trainer_and_queues_its_job(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    orphan = subprocess.Popen(["sleep", "60"], start_new_session=True)  # what a crashed server leaves behind
    try:
        _job(store, tmp_path, "b-orphan", 2.0, status="running", pid=orphan.pid,
             pid_created=psutil.Process(orphan.pid).create_time(), step=4, loss=[{"step": 4, "loss": 1.5}])
        me = psutil.Process()  # a pid now used by another process: never signalled
        _job(store, tmp_path, "c-reused", 3.0, status="running", pid=me.pid, pid_created=me.create_time() - 100)
        _job(store, tmp_path, "a-done", 1.0, status="succeeded", result={"steps": 3})
        _job(store, tmp_path, "d-queued", 4.0)

        jobs = recover(store, tmp_path)
        assert orphan.wait(5) is not None
    finally:
        orphan.kill()
        store.close()
    assert [(j.job_id, j.status) for j in jobs] == [("a-done", "succeeded"), ("b-orphan", "queued"),
                                                     ("c-reused", "queued"), ("d-queued", "queued")]
    store = JobStore(tmp_path)  # what the next server reads
    try:
        saved = {job.job_id: job for job in store.jobs()}
    finally:
        store.close()
    assert saved["b-orphan"].status == "queued" and saved["b-orphan"].pid is None and saved["b-orphan"].step == 4
    assert saved["b-orphan"].loss == [{"step": 4, "loss": 1.5}] and saved["a-done"].result == {"steps": 3}
    assert saved["a-done"].install is True and saved["a-done"].fresh is False
    assert "queued again" in (tmp_path / "b-orphan" / LOG_FILE).read_text()


def test_uploaded_recipes_read_data_only_under_datasets(tmp_path: Path) -> None:
    datasets = tmp_path / "datasets"
    recipe = parse_recipe(RECIPE, datasets)
    assert recipe.train.data.train == datasets / "data.jsonl"
    for path in ("/etc/passwd", "../keys/project.key", "sub/../../x.jsonl"):
        with pytest.raises(InvalidRequestError, match="MOE_HOME/datasets"):
            parse_recipe(RECIPE.replace("data.jsonl", path), datasets)
    for text, message in (("[" * 5000, "not valid YAML"), ("expert: 2020-13-45", "not valid YAML"),
                          ("- 1", "mapping"), (RECIPE.replace("epochs: 2", "epochs: -1"), "'train.optim.epochs'")):
        with pytest.raises(InvalidRequestError, match=message):
            parse_recipe(text, datasets)


def test_progress_comes_from_the_run_files(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    # NaN as a diverged run logs it, and a line the trainer is still writing
    metrics.write_text('{"kind": "train", "step": 1, "loss": 2.5, "lr": 0.1}\n'
                       '{"kind": "eval", "step": 1, "val_loss": NaN}\n'
                       '{"kind": "train", "step": 2, "lo', encoding="utf-8")
    loss, evals = read_metrics(metrics)
    assert loss == [{"step": 1, "loss": 2.5}] and evals == [{"step": 1, "val_loss": None}]
    assert read_metrics(tmp_path / "missing.jsonl") == ([], [])
    manifest = tmp_path / "split_manifest.json"
    manifest.write_text(json.dumps({"counts": {"train": 13, "val": 1, "test": 0}}), encoding="utf-8")
    assert estimate_steps(manifest, 1.5, 6) == math.ceil(1.5 * math.ceil(13 / 6)) == 5  # the trainer's formula
    assert estimate_steps(tmp_path / "none.json", 1.0, 6) is None


def test_one_manager_per_home_and_bad_requests_write_nothing(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "mine.yaml").write_text(RECIPE, encoding="utf-8")
    (tmp_path / "recipes" / "broken.yaml").write_text("expert: [", encoding="utf-8")
    (tmp_path / "recipes" / "baddate.yml").write_text("expert: 2020-13-45", encoding="utf-8")
    jobs = JobManager(settings)
    try:
        with pytest.raises(ConfigError, match="another server"):
            JobManager(settings)
        listed = {r["name"]: r for r in jobs.recipes()}
        assert {"sql", "python", "math", "mine"} <= listed.keys() and not {"broken", "baddate"} & listed.keys()
        assert listed["mine"] == {"name": "mine", "expert": "tiny", "version": "0.1.0", "task": None,
                                  "description": ""}
        refused = [TrainRequest(), TrainRequest(recipe="mine", recipe_yaml=RECIPE), TrainRequest(recipe="mine"),
                   TrainRequest(recipe_yaml=RECIPE), TrainRequest(recipe_yaml=RECIPE.replace("0.1.0", "one"))]
        for request in refused:
            with pytest.raises(InvalidRequestError):
                jobs.submit(request, OPEN_SERVER)
        with pytest.raises(HTTPException) as missing:
            jobs.submit(TrainRequest(recipe="nope"), OPEN_SERVER)
        assert missing.value.status_code == 404
        with pytest.raises(ConfigError, match="baddate"):
            jobs.submit(TrainRequest(recipe="baddate"), OPEN_SERVER)
        with pytest.raises(HTTPException):
            jobs.get("job-nope", OPEN_SERVER)
        assert jobs.list(OPEN_SERVER) == [] and not [p for p in (tmp_path / "jobs").iterdir() if p.is_dir()]
        assert {p.name for p in (tmp_path / "jobs").iterdir()} <= {LOCK_FILE, DB_FILE, f"{DB_FILE}-wal",
                                                                   f"{DB_FILE}-shm"}
    finally:
        started = time.monotonic()
        jobs.close()
        assert time.monotonic() - started < 5
    JobManager(settings).close()  # the lock is free again
