"""`JobManager`: queues, runs, watches and cancels the training jobs of one `MOE_HOME` (see the package doc).

A supervisor thread starts queued jobs while fewer than `server.max_training_jobs` trainers run (in submission
order; a job waits while another trains the same run folder) and records how each trainer ended. Every change of
a job is saved to the job store before anyone can see it.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from fastapi import HTTPException

from moe_system.config import Settings
from moe_system.durable import write_atomic
from moe_system.server.auth import Caller
from moe_system.server.jobs import processes
from moe_system.server.jobs.processes import Child, note
from moe_system.server.jobs.progress import refresh, stamps
from moe_system.server.jobs.recipes import TrainRequest, offered, recipe_yaml, resolve
from moe_system.server.jobs.store import Job, JobStore

RECIPE_FILE, SETTINGS_FILE, LOCK_FILE = "recipe.yaml", "settings.yaml", "manager.lock"
POLL_S = 0.5  # how often the supervisor looks at its children
PRUNE_S = 60.0  # how often it deletes the finished jobs past the history (`server.job_history_days`, `_max`)
DAY_S = 86_400.0
FINISHED = ("succeeded", "failed", "cancelled")


def recover(store: JobStore, root: Path) -> list[Job]:
    """The jobs of `store`, oldest first, as a starting server takes them over: a job left `running` by the
    previous server is queued again (after stopping its trainer, if a crash left it orphaned); the trainer then
    resumes from the run's last checkpoint."""
    jobs = store.jobs()
    for job in jobs:
        if job.status == "running":
            processes.stop_orphan(job)
            job.status, job.pid, job.pid_created = "queued", None, None
            note(root / job.job_id, "the server stopped during this job: queued again, the run resumes from its "
                                    "last checkpoint")
            store.save(job)
    return jobs


def expired(jobs: Iterable[Job], now: float, days: int, keep: int) -> list[Job]:
    """The finished jobs past the history: finished more than `days` days before `now`, or older than the `keep`
    most recently finished. A queued or running job never is."""
    done = sorted((job for job in jobs if job.status in FINISHED), key=lambda job: -(job.finished or job.created))
    return [job for rank, job in enumerate(done) if rank >= keep or (job.finished or job.created) < now - days * DAY_S]


class JobManager:
    """The training jobs of one `MOE_HOME` (see the package doc). Thread-safe: routes call it from the threadpool
    while its supervisor thread starts and reaps the trainers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.home / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self._owner = processes.claim(self.root / LOCK_FILE, settings.home)
        try:
            self._store = JobStore(self.root)
        except BaseException:
            self._owner.close()
            raise
        self._lock = threading.Lock()
        self._jobs = {job.job_id: job for job in recover(self._store, self.root)}
        self._running: dict[str, Child] = {}
        self._pruned = 0.0  # time.monotonic() of the last `_prune`
        self._prune()
        self._closed = False
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="training-jobs", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the supervisor and terminate the running trainers (SIGTERM, SIGKILL after a grace period); their
        jobs go back to `queued`, and the next server resumes them from their last checkpoints.

        Terminating rather than leaving them running: a trainer that outlives its server has nobody to record
        its result or error, keeps the CPUs/GPU that stopping the server should free, and the next server would
        start a second trainer on the same run folder. A run loses at most `save_every` steps."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        self._thread.join()
        with self._lock:
            children = dict(self._running)
        for child in children.values():
            processes.signal_group(child.process, signal.SIGTERM)
        for child in children.values():
            processes.reap(child.process)
        with self._lock:
            for job_id, child in children.items():
                self._finish(self._jobs[job_id], child, requeue=True)
        self._store.close()
        self._owner.close()  # releases the lock

    # ---- what the routes call

    def recipes(self) -> list[dict[str, Any]]:
        """The runnable recipes (a file that does not load is left out, with a warning in the log)."""
        return offered(self.settings)

    def submit(self, request: TrainRequest, caller: Caller) -> dict[str, Any]:
        """Validate the recipe and queue a job; a bad recipe is an `InvalidRequestError` (400), an unknown name
        a 404, a job that installs or starts over from a user's key a 403. Nothing is written for a refused job."""
        install = caller.role == "admin" if request.install is None else request.install
        if install:
            caller.require_admin("a training job that installs its expert (send install: false to get a package "
                                 "to download)")
        if request.fresh:
            caller.require_admin("a training job that discards an earlier run (fresh)")
        recipe = resolve(request, self.settings)
        optim = recipe.train.optim
        job = Job(job_id=f"job-{uuid.uuid4().hex[:16]}", user=caller.user, recipe=request.recipe,
                  expert=recipe.expert.name, version=recipe.expert.version, created=time.time(),
                  epochs=optim.epochs, step_examples=optim.batch_size * optim.grad_accum,
                  steps_override=request.max_steps, planned_steps=request.max_steps or optim.max_steps,
                  install=install, fresh=request.fresh)
        folder = self.root / job.job_id
        folder.mkdir()
        write_atomic(folder / RECIPE_FILE, recipe_yaml(recipe))
        with self._lock:
            self._store.save(job)
            self._jobs[job.job_id] = job
            view = self._view(job)
        self._wake.set()
        return view

    def list(self, caller: Caller, everyone: bool = False) -> list[dict[str, Any]]:
        """The caller's jobs, newest first; with `everyone`, every user's (an admin's key only)."""
        if everyone:
            caller.require_admin("listing other users' jobs")
        with self._lock:
            return [self._view(job) for job in reversed(self._jobs.values()) if everyone or job.user == caller.user]

    def get(self, job_id: str, caller: Caller) -> dict[str, Any]:
        with self._lock:
            return self._view(self._job(job_id, caller))

    def package(self, job_id: str, caller: Caller) -> Path:
        """The `.expert` package a succeeded job built (404 before it has one)."""
        with self._lock:
            job = self._job(job_id, caller)
            built = (job.result or {}).get("package") if job.status == "succeeded" else None
        if not built or not Path(built).is_file():
            raise HTTPException(404, f"training job '{job_id}' has no package (status: {job.status})")
        return Path(built)

    def cancel(self, job_id: str, caller: Caller) -> dict[str, Any]:
        """A queued job never starts; a running one's trainer is terminated (killed after a grace period) before
        this returns. A finished job is returned as it is."""
        with self._lock:
            job = self._job(job_id, caller)
            child = self._running.get(job_id)
            if job.status == "queued":
                job.status, job.finished = "cancelled", time.time()
                self._store.save(job)
            elif child is not None:
                child.cancelled = True
                processes.signal_group(child.process, signal.SIGTERM)
        if child is not None:
            processes.reap(child.process)
            with self._lock:
                self._finish(job, child)
        with self._lock:
            return self._view(job)

    # ---- supervision

    def _supervise(self) -> None:
        while not self._closed:
            with self._lock:
                for job_id, child in list(self._running.items()):
                    if child.process.poll() is not None:
                        self._finish(self._jobs[job_id], child)
                self._start_queued()
                if time.monotonic() - self._pruned >= PRUNE_S:
                    self._prune()
            self._wake.wait(POLL_S)
            self._wake.clear()

    def _start_queued(self) -> None:
        busy = {self._jobs[job_id].run_key for job_id in self._running}
        for job in self._jobs.values():  # in submission order
            if self._closed or len(self._running) >= self.settings.server.max_training_jobs:
                return
            if job.status == "queued" and job.run_key not in busy:
                self._launch(job)
                busy.add(job.run_key)

    def _prune(self) -> None:
        """Delete the finished jobs past the history (under the lock, or before the supervisor starts): their rows
        and their folders under `MOE_HOME/jobs/` (recipe, settings, log, output). Their run folders under
        `MOE_HOME/runs/` are the user's results and stay."""
        server = self.settings.server
        gone = [job.job_id for job in expired(self._jobs.values(), time.time(), server.job_history_days,
                                              server.job_history_max) if job.job_id not in self._running]
        self._pruned = time.monotonic()
        if gone:
            self._store.delete(gone)
            for job_id in gone:
                del self._jobs[job_id]
                shutil.rmtree(self.root / job_id, ignore_errors=True)

    def _run_dir(self, job: Job) -> Path:
        return self.settings.home / "runs" / job.run_key

    def _launch(self, job: Job) -> None:
        folder = self.root / job.job_id
        run_dir = self._run_dir(job)
        if job.fresh and job.attempts == 0:  # here, not with --fresh: a resumed attempt must not start over
            shutil.rmtree(run_dir, ignore_errors=True)
        # The trainer loads exactly the server's settings; keys and the memory database's URL stay out of the file.
        write_atomic(folder / SETTINGS_FILE, yaml.safe_dump(
            self.settings.model_dump(mode="json", exclude={"server", "memory"}), sort_keys=False))
        arguments = ["train", "--recipe", str(folder / RECIPE_FILE), "--run-dir", str(run_dir), "--json"]
        if job.steps_override is not None:
            arguments += ["--max-steps", str(job.steps_override)]
        if not job.install:
            arguments.append("--no-install")
        env = {key: value for key, value in os.environ.items() if not key.startswith("MOE_")}
        env |= {"MOE_HOME": str(self.settings.home), "MOE_CONFIG": str(folder / SETTINGS_FILE)}
        baseline = stamps(run_dir)
        now = time.time()
        try:
            process = processes.start(arguments, folder, env)
        except OSError as err:
            job.status, job.finished, job.error = "failed", now, f"the trainer could not start: {err}"
            self._store.save(job)
            return
        job.status, job.attempts, job.started = "running", job.attempts + 1, job.started or now
        job.pid, job.pid_created = process.pid, processes.created(process.pid)  # None if gone: the next look reaps
        self._store.save(job)
        self._running[job.job_id] = Child(process, baseline)

    def _finish(self, job: Job, child: Child, requeue: bool = False) -> None:
        """Record how a trainer ended (under the lock; a child already recorded is left alone)."""
        if self._running.get(job.job_id) is not child:
            return
        del self._running[job.job_id]
        refresh(job, self._run_dir(job), child.baseline)
        folder = self.root / job.job_id
        job.pid = job.pid_created = None
        code = child.process.returncode
        if code == 0 and (result := processes.result(folder)) is not None:  # done before any signal came
            job.status, job.result, job.step = "succeeded", result, int(result.get("steps", job.step))
        elif child.cancelled:
            job.status = "cancelled"
        elif requeue:
            job.status = "queued"
            note(folder, "the server stopped: the job is queued again and resumes from its last checkpoint")
        else:
            job.status, job.error = "failed", processes.failure(code, folder)
        if job.status in FINISHED:
            job.finished = time.time()
        self._store.save(job)

    def _job(self, job_id: str, caller: Caller) -> Job:
        """A job the caller may see: their own, or anyone's for an admin (404 otherwise, as for a missing one)."""
        job = self._jobs.get(job_id)
        if job is None or (job.user != caller.user and caller.role != "admin"):
            raise HTTPException(404, f"training job '{job_id}' does not exist")
        return job

    def _view(self, job: Job) -> dict[str, Any]:
        child = self._running.get(job.job_id)
        if child is not None:
            refresh(job, self._run_dir(job), child.baseline)
        max_steps = job.planned_steps or job.estimated_steps
        if job.status == "succeeded":
            progress: float | None = 1.0
        elif job.step == 0:
            progress = 0.0
        else:
            progress = round(min(1.0, job.step / max_steps), 4) if max_steps else None
        return {"job_id": job.job_id, "recipe": job.recipe, "expert": job.expert, "version": job.version,
                "status": job.status, "step": job.step, "max_steps": max_steps,
                "max_steps_exact": job.planned_steps is not None, "progress": progress, "loss": job.loss,
                "eval": job.eval, "result": job.result, "error": job.error, "created": job.created,
                "started": job.started, "finished": job.finished, "install": job.install, "fresh": job.fresh}
