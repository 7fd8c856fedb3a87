"""`/experts`: the installed experts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from moe_system.server.auth import CurrentUser

router = APIRouter(tags=["experts"])


@router.get("/experts")
def experts(request: Request, _: CurrentUser) -> list[dict[str, Any]]:
    return [expert.to_dict() for expert in request.app.state.client.registry.list()]
