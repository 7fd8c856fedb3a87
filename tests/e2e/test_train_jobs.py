"""Training jobs through the server: a real job on the embedded model goes queued -> running -> succeeded with
its loss curve and result, and the expert it installs answers at once; queued and running jobs are cancelled
(the trainer's process is gone); bad or unknown recipes get clear 400/404 errors, keys are required and a job
is only its owner's. Then the job manager alone: a server stop leaves a running job queued, and the next one
runs it again."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from moe_system.config import Settings
from moe_system.server.auth import OPEN_SERVER
from moe_system.server.jobs import JobManager, TrainRequest
from moe_system.server.jobs.store import Job, JobStore

pytestmark = pytest.mark.integration

KEY, OTHER = "train-key", "other-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
TINY = """
expert: {name: jobtiny, version: 0.1.0, description: a server job smoke test}
train:
  method: lora
  data: {generator: {task: math, n: 8, seed: 1, lang: en}, val_fraction: 0.15}
  adapter: {r: 2, alpha: 4, dropout: 0.0, target_modules: [q_proj]}
  optim: {batch_size: 2, max_len: 96}
  run: {eval_every: 100, save_every: 100, log_every: 1, threads: 1}
"""
SLOW = TINY.replace("jobtiny", "jobslow")


def _trainers() -> list[psutil.Process]:
    """This process's children that run `moe train` (the server runs in a thread of the test process)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "moe_system.cli" in child.cmdline() and "train" in child.cmdline():
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _stored(home: Path) -> dict[str, Job]:
    """The jobs as the job store holds them (what the next server reads)."""
    store = JobStore(home / "jobs")
    try:
        return {job.job_id: job for job in store.jobs()}
    finally:
        store.close()


def _wait(check: Callable[[], Any], what: str, timeout: float = 240) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return value


def test_a_job_trains_installs_and_jobs_cancel(server_home: Path, serve: Any) -> None:
    (server_home / "recipes").mkdir()
    (server_home / "recipes" / "tiny.yaml").write_text(TINY, encoding="utf-8")
    settings = Settings(home=server_home, server={"api_keys": [f"{KEY}:admin", OTHER], "max_training_jobs": 1})
    with serve(settings) as url, httpx.Client(base_url=url, headers=AUTH, timeout=60) as http:
        first = http.post("/train", json={"recipe_yaml": TINY, "max_steps": 2})
        assert first.status_code == 202 and first.json()["status"] == "queued", first.text
        job = first.json()["job_id"]
        slow = http.post("/train", json={"recipe_yaml": SLOW, "max_steps": 100_000, "install": False}).json()
        never = http.post("/train", json={"recipe": "tiny", "max_steps": 2}).json()
        assert slow["status"] == never["status"] == "queued" and never["recipe"] == "tiny"
        running = _wait(lambda: (v := http.get(f"/train/{job}").json())["status"] == "running" and v, "running")
        assert running["max_steps"] == 2 and running["max_steps_exact"] and running["started"] >= running["created"]
        assert http.get(f"/train/{slow['job_id']}").json()["status"] == "queued"  # one job at a time

        cancelled = http.delete(f"/train/{never['job_id']}").json()
        assert cancelled["status"] == "cancelled" and cancelled["started"] is None

        # while it trains: keys, scoping, errors
        for method, path in (("GET", "/train/recipes"), ("GET", "/train"), ("POST", "/train"),
                             ("GET", f"/train/{job}"), ("DELETE", f"/train/{job}")):
            assert httpx.request(method, f"{url}{path}", json={"recipe": "tiny"}).status_code == 401, path
        other = {"Authorization": f"Bearer {OTHER}"}
        assert http.get("/train", headers=other).json() == []
        assert http.get(f"/train/{job}", headers=other).status_code == 404
        assert http.delete(f"/train/{job}", headers=other).status_code == 404
        for body in ({"recipe": "tiny", "install": True}, {"recipe": "tiny", "install": False, "fresh": True}):
            refused = http.post("/train", json=body, headers=other)  # a user's key: no installing, no starting over
            assert refused.status_code == 403 and "needs an admin key" in refused.json()["error"]["message"], body
        assert http.get("/train", params={"all": "true"}, headers=other).status_code == 403
        mine = http.post("/train", json={"recipe": "tiny", "max_steps": 2}, headers=other).json()
        assert mine["install"] is False and mine["status"] == "queued"  # a user's job builds a package only
        assert http.get(f"/train/{mine['job_id']}/package", headers=other).status_code == 404  # none yet
        assert http.get(f"/train/{mine['job_id']}").json()["job_id"] == mine["job_id"]  # an admin sees every job
        assert mine["job_id"] in [j["job_id"] for j in http.get("/train", params={"all": "true"}).json()]
        assert http.delete(f"/train/{mine['job_id']}", headers=other).json()["status"] == "cancelled"
        missing = http.get("/train/job-nope")
        assert missing.status_code == 404 and "does not exist" in missing.json()["error"]["message"]
        unknown = http.post("/train", json={"recipe": "nope"})
        assert unknown.status_code == 404 and set(unknown.json()["error"]) == {"message", "type", "code"}
        assert "GET /train/recipes" in unknown.json()["error"]["message"]
        bad = {"expert: [unclosed": "not valid YAML", "- a list": "mapping",
               "expert: {name: x}\ntrain: {method: lora}": "field 'train.data'",
               TINY.replace("jobtiny", "Bad Name!"): "field 'expert.name'",
               TINY.replace("generator: {task: math, n: 8, seed: 1, lang: en}", "train: /etc/passwd"): "datasets",
               TINY.replace("generator: {task: math, n: 8, seed: 1, lang: en}", "train: ../../x.jsonl"): "datasets",
               TINY.replace("generator: {task: math, n: 8, seed: 1, lang: en}", "train: gone.jsonl"): "no such file"}
        for text, message in bad.items():
            answer = http.post("/train", json={"recipe_yaml": text})
            assert answer.status_code == 400 and message in answer.json()["error"]["message"], (text, answer.text)
        for body in ({}, {"recipe": "tiny", "recipe_yaml": TINY}):
            assert http.post("/train", json=body).status_code == 400
        recipes = {r["name"]: r for r in http.get("/train/recipes").json()}
        assert {"sql", "python", "math", "tiny"} <= recipes.keys()
        assert recipes["sql"]["expert"] == "sql" and recipes["sql"]["task"] == "sql" and recipes["sql"]["description"]

        done = _wait(lambda: (v := http.get(f"/train/{job}").json())["status"] in ("succeeded", "failed") and v,
                     "the job to finish")
        assert done["status"] == "succeeded", done["error"]
        assert done["progress"] == 1.0 and done["step"] == 2 and done["finished"] >= done["started"]
        assert [p["step"] for p in done["loss"]] == [1, 2] and all(p["loss"] > 0 for p in done["loss"])
        assert done["eval"] and "val_loss" in done["eval"][-1]
        assert done["result"]["steps"] == 2 and done["result"]["installed"]
        assert _stored(server_home)[job].loss == done["loss"]

        # the expert it installed is served at once
        assert "jobtiny" in [e["name"] for e in http.get("/experts").json()]
        assert "jobtiny" in [m["id"] for m in http.get("/v1/models").json()["data"]]
        reply = http.post("/v1/chat/completions", json={"model": "jobtiny", "max_tokens": 2,
                                                        "messages": [{"role": "user", "content": "2+2?"}]})
        assert reply.status_code == 200 and reply.json()["moe"]["expert"] == "jobtiny", reply.text

        # the queued job starts once the first is done; cancelling it stops its trainer
        _wait(lambda: http.get(f"/train/{slow['job_id']}").json()["status"] == "running", "the second job")
        assert _trainers()
        stopped = http.delete(f"/train/{slow['job_id']}").json()
        assert stopped["status"] == "cancelled" and stopped["result"] is None and not _trainers()
        assert http.get(f"/train/{never['job_id']}").json()["status"] == "cancelled"  # it never started
        assert [j["job_id"] for j in http.get("/train").json()] == [never["job_id"], slow["job_id"], job]


def test_a_server_stop_requeues_a_running_job(tmp_path: Path, model_home: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(model_home / "models", target_is_directory=True)
    settings = Settings(home=home)
    jobs = JobManager(settings)
    job = jobs.submit(TrainRequest(recipe_yaml=SLOW, max_steps=100_000, install=False), OPEN_SERVER)["job_id"]
    _wait(lambda: jobs.get(job, OPEN_SERVER)["status"] == "running", "running", timeout=30)
    assert len(_trainers()) == 1
    jobs.close()
    assert not _trainers()
    state = _stored(home)[job]
    assert state.status == "queued" and state.attempts == 1 and state.pid is None
    assert "queued again" in (home / "jobs" / job / "train.log").read_text()

    again = JobManager(settings)
    try:
        running = _wait(lambda: (v := again.get(job, OPEN_SERVER))["status"] == "running" and v, "running", timeout=30)
        assert running["started"] == state.started and len(_trainers()) == 1
        assert again.cancel(job, OPEN_SERVER)["status"] == "cancelled" and not _trainers()
    finally:
        again.close()
    last = JobManager(settings)  # a cancelled job stays cancelled
    try:
        assert last.get(job, OPEN_SERVER)["status"] == "cancelled" and not _trainers()
    finally:
        last.close()
