"""`/train`: background training jobs that run issue 3's trainer (`moe train`) and survive server restarts.

    curl -X POST localhost:8000/train -H 'Authorization: Bearer KEY' -d '{"recipe": "sql", "max_steps": 50}'
    curl localhost:8000/train/JOB_ID -H 'Authorization: Bearer KEY'     # status, progress, loss curve, result

A job is `python -m moe_system.cli train --recipe FILE --json` in a child process of its own session: training
never shares the server's event loop or decode thread, and a crash of the trainer (an OOM kill included) fails
the job, never the server. At most `server.max_training_jobs` children run at once; the other jobs wait, queued,
in the order they were submitted (a job also waits while another job trains the same `<expert>-<version>`,
since both would write one run folder).

Everything about a job lives in `MOE_HOME/jobs/<job_id>/`: `job.json` (its state, replaced atomically on every
change), `recipe.yaml` (the validated recipe it runs, data paths made absolute, so a later edit of a shipped
recipe does not change a submitted job), `settings.yaml` (the server's settings, which the trainer loads through
`MOE_CONFIG`), `train.log` (the trainer's stderr, every attempt) and `output.json` (its stdout: the `RunResult`).

A restart loses no job: a job a previous server left `running` is queued again (its trainer, if a crash left
it orphaned, is stopped first), and the trainer resumes the run from its last checkpoint, as `moe train` does
for a run of the same recipe. Queued jobs stay queued.

Progress comes from the run folder (`MOE_HOME/runs/<expert>-<version>/`): the loss and evaluation points of
`metrics.jsonl`, once this attempt has rewritten it (the trainer does so on start), and the step count: exact
when the request or the recipe gives `max_steps`, otherwise estimated with the trainer's formula from the
training split's size once the run has written `split_manifest.json` (`max_steps_exact` says which; documents
split into windows can add steps), null before. When a job ends, its points are copied into `job.json`, so a
later run of the same recipe does not rewrite a finished job's curve.

Recipes: by name, the repository's `recipes/` and `MOE_HOME/recipes/` (GET /train/recipes lists them), or a whole
recipe uploaded as `recipe_yaml`, validated before the job is accepted; an uploaded recipe's data files must lie
under `MOE_HOME/datasets/` (relative paths resolve there). A job belongs to the key that submitted it: other keys
neither see nor cancel it (as conversations).
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any

import psutil
import yaml
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

import moe_system
from moe_system.config import Settings
from moe_system.durable import write_atomic
from moe_system.errors import ConfigError, InvalidRequestError, one_line
from moe_system.server.auth import CurrentUser
from moe_system.training.callbacks import METRICS_FILE
from moe_system.training.config import Recipe

_LOG = logging.getLogger(__name__)

JOB_FILE, RECIPE_FILE, SETTINGS_FILE, LOG_FILE, OUTPUT_FILE = (
    "job.json", "recipe.yaml", "settings.yaml", "train.log", "output.json")
SPLIT_MANIFEST = "split_manifest.json"  # written by `training.pipeline.run_recipe` before training starts
# The repository's recipes/ (a source checkout; an installed wheel has none) and the installation's own.
SHIPPED_RECIPES = Path(moe_system.__file__).resolve().parents[2] / "recipes"
STOP_GRACE_S = 10.0  # SIGTERM, then SIGKILL after this long
POLL_S = 0.5  # how often the supervisor looks at its children
ERROR_LINES = 20  # lines of the trainer's log in a failed job's `error`
FINISHED = ("succeeded", "failed", "cancelled")

# ---- durable job state


@dataclass
class Job:
    """One job as `job.json` holds it; `JobManager.view` is what the routes show."""

    job_id: str
    user: str | None
    recipe: str | None  # its name in GET /train/recipes; None for an uploaded recipe
    expert: str
    version: str
    created: float
    epochs: float  # the recipe's, for the step estimate
    step_examples: int  # examples per optimizer step (batch_size * grad_accum)
    steps_override: int | None = None  # the request's max_steps (`moe train --max-steps`)
    planned_steps: int | None = None  # the exact step count when known in advance (request or recipe)
    estimated_steps: int | None = None  # from the split's size, once the run has one
    install: bool = True
    fresh: bool = False
    status: str = "queued"
    attempts: int = 0  # trainer processes started for this job
    started: float | None = None
    finished: float | None = None
    pid: int | None = None  # the running trainer, and its start time (so a reused pid is never taken for it)
    pid_created: float | None = None
    step: int = 0
    loss: list[dict[str, float]] = field(default_factory=list)
    eval: list[dict[str, float]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: str | None = None

    @property
    def run_key(self) -> str:
        """The run folder's name under `MOE_HOME/runs/`."""
        return f"{self.expert}-{self.version}"

    def save(self, folder: Path) -> None:
        write_atomic(folder / JOB_FILE, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Job:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def recover(root: Path) -> list[Job]:
    """The jobs under `root`, oldest first, as a starting server takes them over: a job left `running` by the
    previous server is queued again (after stopping its trainer, if a crash left it orphaned); the trainer then
    resumes from the run's last checkpoint. An unreadable `job.json` is skipped with a warning."""
    jobs = []
    for path in sorted(root.glob(f"*/{JOB_FILE}")):
        try:
            job = Job.load(path)
        except (OSError, ValueError, TypeError) as err:
            _LOG.warning("skipping training job %s: unreadable %s (%s)", path.parent.name, JOB_FILE, one_line(err))
            continue
        if job.status == "running":
            _stop_orphan(job)
            job.status, job.pid, job.pid_created = "queued", None, None
            _note(path.parent, "the server stopped during this job: queued again, the run resumes from its last "
                               "checkpoint")
            job.save(path.parent)
        jobs.append(job)
    return sorted(jobs, key=lambda job: job.created)


def _stop_orphan(job: Job) -> None:
    """Stop the trainer a crashed server left running (it would write the run folder beside the resumed one)."""
    if job.pid is None or job.pid_created is None:
        return
    try:
        process = psutil.Process(job.pid)
        if abs(process.create_time() - job.pid_created) > 0.01:
            return  # the pid names another process now
        os.killpg(job.pid, signal.SIGTERM)  # its own session: the group is the trainer and its helpers
    except (psutil.Error, ProcessLookupError, PermissionError):
        return
    _, alive = psutil.wait_procs([process], timeout=STOP_GRACE_S)
    if alive:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(job.pid, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=STOP_GRACE_S)


def _note(folder: Path, text: str) -> None:
    """A line of the job's own in its log, between the trainer's output."""
    with (folder / LOG_FILE).open("a", encoding="utf-8") as log:
        log.write(f"[job {time.strftime('%Y-%m-%d %H:%M:%S')}] {text}\n")


# ---- recipes


def recipe_files(settings: Settings) -> dict[str, Path]:
    """The recipes the server can run by name (file stem): the shipped ones, then `MOE_HOME/recipes/` (whose
    file wins over a shipped one of the same name)."""
    found: dict[str, Path] = {}
    for folder in (SHIPPED_RECIPES, settings.home / "recipes"):
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            found[path.stem] = path
    return found


def parse_recipe(text: str, datasets: Path) -> Recipe:
    """An uploaded recipe, validated; its data paths resolve against `datasets` (`MOE_HOME/datasets`) and must
    stay inside it, so that a key holder cannot train on (and so read back) any file of the server."""
    try:
        recipe = Recipe.parse(text, "recipe_yaml", datasets)
    except ConfigError as err:
        raise InvalidRequestError(str(err)) from None
    root = Path(os.path.normpath(datasets))
    for key, path in (("train.data.train", recipe.train.data.train), ("train.data.eval_file",
                                                                        recipe.train.data.eval_file)):
        if path is not None and not Path(os.path.normpath(path)).is_relative_to(root):
            raise InvalidRequestError(f"recipe_yaml: {key} must be a path under MOE_HOME/datasets/ (relative paths "
                                      "resolve there)")
    return recipe


def check_runnable(recipe: Recipe, source: str) -> None:
    """What the trainer would only find out later: the data files exist (the recipe's model already checked that
    the expert's name and version make a package and a run folder name)."""
    for key, path in (("train.data.train", recipe.train.data.train),
                      ("train.data.eval_file", recipe.train.data.eval_file)):
        if path is not None and not _exists(path):
            raise InvalidRequestError(f"{source}: {key}: no such file: {path.name}")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except ValueError:  # a NUL byte in the name
        return False


def recipe_yaml(recipe: Recipe) -> str:
    """The recipe as the job's `recipe.yaml`: the fields it sets, with its data paths absolute."""
    return yaml.safe_dump(recipe.model_dump(mode="json", exclude_unset=True), sort_keys=False, allow_unicode=True,
                          width=120)


# ---- progress from the run folder


def read_metrics(path: Path) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """The loss points ({step, loss}) and evaluation points ({step, val_loss, ...}) of a `metrics.jsonl`."""
    loss: list[dict[str, float]] = []
    evals: list[dict[str, float]] = []
    with suppress(FileNotFoundError):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the line the trainer is writing right now
            if record.get("kind") == "train" and "loss" in record:
                loss.append({"step": record["step"], "loss": _finite(record["loss"])})
            elif record.get("kind") == "eval":
                evals.append({key: _finite(value) for key, value in record.items() if key != "kind"})
    return loss, evals


def _finite(value: Any) -> Any:
    """A diverged run logs NaN or infinity, which JSON cannot carry: null instead."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def estimate_steps(manifest: Path, epochs: float, step_examples: int) -> int | None:
    """The trainer's step count (`Trainer.total_steps` without max_steps) for the split in `manifest`."""
    try:
        train = int(json.loads(manifest.read_text(encoding="utf-8"))["counts"]["train"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return max(1, math.ceil(epochs * math.ceil(train / step_examples)))


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """Enough of a file's stat to tell that it was rewritten or appended to."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


@dataclass
class _Child:
    """A running trainer; `baseline` holds the run folder's files as they were before it started."""

    process: subprocess.Popen[bytes]
    baseline: dict[str, tuple[int, int, int] | None]
    cancelled: bool = False


# ---- the manager


class JobManager:
    """Queues, runs, watches and cancels the jobs of one `MOE_HOME` (see the module doc). Thread-safe: routes
    call it from the threadpool while its supervisor thread starts and reaps the trainers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.home / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self.datasets = settings.home / "datasets"
        self._owner = _claim(self.root / "manager.lock", settings.home)
        self._lock = threading.Lock()
        self._jobs = {job.job_id: job for job in recover(self.root)}
        self._running: dict[str, _Child] = {}
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
            _signal(child.process, signal.SIGTERM)
        for child in children.values():
            _reap(child.process)
        with self._lock:
            for job_id, child in children.items():
                self._finish(self._jobs[job_id], child, requeue=True)
        self._owner.close()  # releases the lock

    # ---- what the routes call

    def recipes(self) -> list[dict[str, Any]]:
        """The runnable recipes (a file that does not load is left out, with a warning in the log)."""
        listed = []
        for name, path in recipe_files(self.settings).items():
            try:
                recipe = Recipe.load(path)
            except ConfigError as err:
                _LOG.warning("recipe %s is not offered: %s", path, err)
                continue
            listed.append({"name": name, "expert": recipe.expert.name, "version": recipe.expert.version,
                           "task": recipe.task, "description": recipe.expert.description})
        return listed

    def submit(self, request: TrainRequest, user: str | None) -> dict[str, Any]:
        """Validate the recipe and queue a job; a bad recipe is an `InvalidRequestError` (400), an unknown name
        a 404. Nothing is written for a refused job."""
        if (request.recipe is None) == (request.recipe_yaml is None):
            raise InvalidRequestError("give exactly one of recipe (a name from GET /train/recipes) or recipe_yaml")
        if request.recipe is not None:
            path = recipe_files(self.settings).get(request.recipe)
            if path is None:
                raise HTTPException(404, f"recipe '{request.recipe}' does not exist: GET /train/recipes lists the "
                                         "recipes this server can run")
            recipe, source = Recipe.load(path), f"recipe {request.recipe}"
        else:
            assert request.recipe_yaml is not None
            recipe, source = parse_recipe(request.recipe_yaml, self.datasets), "recipe_yaml"
        check_runnable(recipe, source)
        optim = recipe.train.optim
        job = Job(job_id=f"job-{uuid.uuid4().hex[:16]}", user=user, recipe=request.recipe,
                  expert=recipe.expert.name, version=recipe.expert.version, created=time.time(),
                  epochs=optim.epochs, step_examples=optim.batch_size * optim.grad_accum,
                  steps_override=request.max_steps, planned_steps=request.max_steps or optim.max_steps,
                  install=request.install, fresh=request.fresh)
        folder = self.root / job.job_id
        folder.mkdir()
        write_atomic(folder / RECIPE_FILE, recipe_yaml(recipe))
        with self._lock:
            job.save(folder)
            self._jobs[job.job_id] = job
            view = self._view(job)
        self._wake.set()
        return view

    def list(self, user: str | None) -> list[dict[str, Any]]:
        """The user's jobs, newest first."""
        with self._lock:
            return [self._view(job) for job in reversed(self._jobs.values()) if job.user == user]

    def get(self, job_id: str, user: str | None) -> dict[str, Any]:
        with self._lock:
            return self._view(self._job(job_id, user))

    def cancel(self, job_id: str, user: str | None) -> dict[str, Any]:
        """A queued job never starts; a running one's trainer is terminated (killed after a grace period) before
        this returns. A finished job is returned as it is."""
        with self._lock:
            job = self._job(job_id, user)
            child = self._running.get(job_id)
            if job.status == "queued":
                job.status, job.finished = "cancelled", time.time()
                job.save(self.root / job_id)
            elif child is not None:
                child.cancelled = True
                _signal(child.process, signal.SIGTERM)
        if child is not None:
            _reap(child.process)
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

    def _launch(self, job: Job) -> None:
        folder = self.root / job.job_id
        run_dir = self.settings.home / "runs" / job.run_key
        if job.fresh and job.attempts == 0:  # here, not with --fresh: a resumed attempt must not start over
            shutil.rmtree(run_dir, ignore_errors=True)
        # The trainer loads exactly the server's settings; keys and the memory database's URL stay out of the file.
        write_atomic(folder / SETTINGS_FILE, yaml.safe_dump(
            self.settings.model_dump(mode="json", exclude={"server", "memory"}), sort_keys=False))
        command = [sys.executable, "-m", "moe_system.cli", "train", "--recipe", str(folder / RECIPE_FILE), "--json"]
        if job.steps_override is not None:
            command += ["--max-steps", str(job.steps_override)]
        if not job.install:
            command.append("--no-install")
        env = {key: value for key, value in os.environ.items() if not key.startswith("MOE_")}
        env |= {"MOE_HOME": str(self.settings.home), "MOE_CONFIG": str(folder / SETTINGS_FILE)}
        baseline = {name: _stamp(run_dir / name) for name in (METRICS_FILE, SPLIT_MANIFEST)}
        now = time.time()
        try:
            with (folder / LOG_FILE).open("ab") as log, (folder / OUTPUT_FILE).open("wb") as output:
                process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=log, env=env,
                                           start_new_session=True)
        except OSError as err:
            job.status, job.finished, job.error = "failed", now, f"the trainer could not start: {err}"
            job.save(folder)
            return
        job.status, job.attempts, job.started = "running", job.attempts + 1, job.started or now
        job.pid = process.pid
        try:
            job.pid_created = psutil.Process(process.pid).create_time()
        except psutil.Error:
            job.pid_created = None  # already gone: the next look reaps it
        job.save(folder)
        self._running[job.job_id] = _Child(process, baseline)

    def _finish(self, job: Job, child: _Child, requeue: bool = False) -> None:
        """Record how a trainer ended (under the lock; a child already recorded is left alone)."""
        if self._running.get(job.job_id) is not child:
            return
        del self._running[job.job_id]
        self._refresh(job, child)
        folder = self.root / job.job_id
        job.pid = job.pid_created = None
        code = child.process.returncode
        if code == 0 and (result := _result(folder / OUTPUT_FILE)) is not None:  # done before any signal came
            job.status, job.result, job.step = "succeeded", result, int(result.get("steps", job.step))
        elif child.cancelled:
            job.status = "cancelled"
        elif requeue:
            job.status = "queued"
            _note(folder, "the server stopped: the job is queued again and resumes from its last checkpoint")
        else:
            job.status, job.error = "failed", _failure(code, folder / LOG_FILE)
        if job.status in FINISHED:
            job.finished = time.time()
        job.save(folder)

    def _refresh(self, job: Job, child: _Child) -> None:
        """Progress of a running job from its run folder's files, once this attempt has rewritten them."""
        run_dir = self.settings.home / "runs" / job.run_key
        metrics = run_dir / METRICS_FILE
        if (stamp := _stamp(metrics)) is not None and stamp != child.baseline[METRICS_FILE]:
            job.loss, job.eval = read_metrics(metrics)
            job.step = max([point["step"] for point in job.loss + job.eval], default=job.step)
        manifest = run_dir / SPLIT_MANIFEST
        if job.planned_steps is None and (stamp := _stamp(manifest)) is not None \
                and stamp != child.baseline[SPLIT_MANIFEST]:
            job.estimated_steps = estimate_steps(manifest, job.epochs, job.step_examples)

    def _job(self, job_id: str, user: str | None) -> Job:
        job = self._jobs.get(job_id)
        if job is None or job.user != user:
            raise HTTPException(404, f"training job '{job_id}' does not exist")
        return job

    def _view(self, job: Job) -> dict[str, Any]:
        child = self._running.get(job.job_id)
        if child is not None:
            self._refresh(job, child)
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


def _claim(path: Path, home: Path) -> IO[str]:
    """Hold `path` locked for this manager's life: two servers over one `MOE_HOME` would both start its queued
    jobs and take each other's running ones for orphans."""
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise ConfigError(f"another server (pid {holder}) runs the training jobs of {home}: stop it, or give this "
                          "one another MOE_HOME") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _signal(process: subprocess.Popen[bytes], signum: int) -> None:
    """Signal the trainer's process group (it and whatever it started), unless it has already ended."""
    if process.poll() is None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)


def _reap(process: subprocess.Popen[bytes]) -> None:
    """Wait for a signalled trainer; SIGKILL its group when it outlasts the grace period."""
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        _signal(process, signal.SIGKILL)
        process.wait()


def _result(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _failure(code: int | None, log: Path) -> str:
    """Why a trainer failed: its exit and the last lines of its log."""
    if code is not None and code < 0:
        why = f"was killed by {signal.Signals(-code).name}"
    elif code == 0:
        why = "printed no result"
    else:
        why = f"exited with code {code}"
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - 64 * 1024))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        lines = []
    tail = "\n".join(line for line in lines if line.strip())
    tail = "\n".join(tail.splitlines()[-ERROR_LINES:])
    return f"the trainer {why}" + (f":\n{tail}" if tail else "")


# ---- routes

router = APIRouter(tags=["training"])


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipe: str | None = Field(None, min_length=1, max_length=200, description="a name from GET /train/recipes")
    recipe_yaml: str | None = Field(None, min_length=1, max_length=1_000_000, description="a whole recipe (YAML)")
    max_steps: int | None = Field(None, ge=1, le=10_000_000, description="stop after N optimizer steps")
    fresh: bool = Field(False, description="discard an earlier run of this recipe instead of resuming it")
    install: bool = Field(True, description="install the expert at the end")


def _jobs(request: Request) -> JobManager:
    jobs: JobManager = request.app.state.jobs
    return jobs


@router.get("/train/recipes")
def list_recipes(request: Request, _: CurrentUser) -> list[dict[str, Any]]:
    return _jobs(request).recipes()


@router.post("/train", status_code=202)
def submit(body: TrainRequest, request: Request, user: CurrentUser) -> dict[str, Any]:
    return _jobs(request).submit(body, user)


@router.get("/train")
def list_jobs(request: Request, user: CurrentUser) -> list[dict[str, Any]]:
    return _jobs(request).list(user)


@router.get("/train/{job_id}")
def get_job(job_id: str, request: Request, user: CurrentUser) -> dict[str, Any]:
    return _jobs(request).get(job_id, user)


@router.delete("/train/{job_id}")
def cancel_job(job_id: str, request: Request, user: CurrentUser) -> dict[str, Any]:
    return _jobs(request).cancel(job_id, user)
