"""The `/train` routes: thin calls into the app's `JobManager` (`app.state.jobs`), as the key's user."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from moe_system.server.auth import CurrentUser
from moe_system.server.jobs.recipes import TrainRequest
from moe_system.server.jobs.supervisor import JobManager

router = APIRouter(tags=["training"])


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
