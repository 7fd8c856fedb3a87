"""Training-job history is bounded: finished jobs older than `server.job_history_days` or beyond the newest
`server.job_history_max` lose their rows and job folders (at open and periodically); queued and running jobs and
every run folder under MOE_HOME/runs stay."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from moe_system.config import Settings
from moe_system.server.jobs import JobManager, supervisor
from moe_system.server.jobs.store import Job, JobStore
from moe_system.server.jobs.supervisor import DAY_S, expired


def job(job_id: str, age_days: float, status: str = "succeeded", **state: Any) -> Job:
    when = time.time() - age_days * DAY_S
    return Job(job_id=job_id, user=None, recipe=None, expert="tiny", version=job_id, created=when - 60,
               epochs=1.0, step_examples=2, status=status,
               finished=when if status in supervisor.FINISHED else None, **state)


def test_expired_keeps_queued_and_running_jobs_and_the_newest_finished() -> None:
    jobs = [job("old-done", 40), job("old-failed", 31, "failed"), job("old-queued", 90, "queued"),
            job("old-running", 90, "running"), *(job(f"new-{n}", n / 10, "cancelled" if n % 2 else "succeeded")
                                                 for n in range(6))]
    now = time.time()
    assert {j.job_id for j in expired(jobs, now, 30, 500)} == {"old-done", "old-failed"}
    assert {j.job_id for j in expired(jobs, now, 30, 4)} == {"old-done", "old-failed", "new-4", "new-5"}
    assert {j.job_id for j in expired(jobs, now, 100, 8)} == set()
    assert {j.job_id for j in expired(jobs, now, 100, 1)} == {f"new-{n}" for n in range(1, 6)} | {"old-done",
                                                                                                  "old-failed"}


def test_the_manager_prunes_at_open_and_periodically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.model_validate({"home": tmp_path, "server": {"job_history_days": 30, "job_history_max": 3}})
    root = tmp_path / "jobs"
    store = JobStore(root)
    for item in [job("a-expired", 45), job("b-failed", 10, "failed"), job("c-done", 5), job("d-done", 3),
                 job("e-done", 1), job("f-queued", 100, "queued")]:
        (root / item.job_id).mkdir()
        (root / item.job_id / "train.log").write_text("log")
        run = tmp_path / "runs" / item.run_key
        run.mkdir(parents=True)
        (run / "metrics.jsonl").write_text("{}")
        store.save(item)
    store.close()
    monkeypatch.setattr(supervisor, "PRUNE_S", 0.05)
    monkeypatch.setattr(supervisor, "POLL_S", 0.02)
    monkeypatch.setattr(JobManager, "_start_queued", lambda self: None)  # the queued job stays queued here
    manager = JobManager(settings)
    try:
        kept = {"c-done", "d-done", "e-done", "f-queued"}
        assert set(manager._jobs) == kept  # at open: one too old, one beyond the newest three finished
        assert {path.name for path in root.iterdir() if path.is_dir()} == kept
        with manager._lock:  # a job finishes long ago, as far as the history is concerned
            manager._jobs["f-queued"].status = "failed"
            manager._jobs["f-queued"].finished = time.time() - 99 * DAY_S
            manager._store.save(manager._jobs["f-queued"])
        deadline = time.monotonic() + 10
        while "f-queued" in manager._jobs and time.monotonic() < deadline:
            time.sleep(0.02)
        assert set(manager._jobs) == {"c-done", "d-done", "e-done"}
        assert not (root / "f-queued").exists()
    finally:
        manager.close()
    reopened = JobStore(root)
    try:
        assert {j.job_id for j in reopened.jobs()} == {"c-done", "d-done", "e-done"}
    finally:
        reopened.close()
    runs = {path.parent.name for path in (tmp_path / "runs").glob("*/metrics.jsonl")}
    assert runs == {f"tiny-{name}" for name in ("a-expired", "b-failed", "c-done", "d-done", "e-done", "f-queued")}
