"""The `/train` routes: thin calls into the app's `JobManager` (`app.state.jobs`), as the key's user. A user's key
sees and cancels only its own jobs and cannot install (its job's package is downloaded instead); an admin's key
also sees every user's jobs (`GET /train?all=true`, and any job by id)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from moe_system.server.auth import CurrentCaller, CurrentUser
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
def submit(body: TrainRequest, request: Request, caller: CurrentCaller) -> dict[str, Any]:
    return _jobs(request).submit(body, caller)


@router.get("/train")
def list_jobs(request: Request, caller: CurrentCaller,
              everyone: bool = Query(False, alias="all", description="every user's jobs (an admin's key)"),
              ) -> list[dict[str, Any]]:
    return _jobs(request).list(caller, everyone=everyone)


@router.get("/train/{job_id}")
def get_job(job_id: str, request: Request, caller: CurrentCaller) -> dict[str, Any]:
    return _jobs(request).get(job_id, caller)


@router.get("/train/{job_id}/package", response_class=FileResponse)
def download_package(job_id: str, request: Request, caller: CurrentCaller) -> FileResponse:
    """The signed `.expert` package a succeeded job built (install it with `moe experts install`)."""
    path = _jobs(request).package(job_id, caller)
    return FileResponse(path, media_type="application/octet-stream", filename=path.name)


@router.delete("/train/{job_id}")
def cancel_job(job_id: str, request: Request, caller: CurrentCaller) -> dict[str, Any]:
    return _jobs(request).cancel(job_id, caller)
