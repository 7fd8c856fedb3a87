"""Every error the server sends has OpenAI's shape, `{"error": {"message", "type", "code"}}`, with the status its
kind maps to: a user's mistake 400, a missing key 401, an unknown thing 404, a full queue 429, a missing model 503,
a full disk 507 (whatever raised it: `unexpected` is also the answer of the request middleware to any other error).
"""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection

from moe_system.durable import disk_full
from moe_system.engine.scheduler import QueueFullError
from moe_system.errors import (
    ConfigError,
    ContextLengthError,
    DatasetError,
    ExpertError,
    InvalidRequestError,
    ModelNotFoundError,
    MoEError,
)


def error_json(message: str, kind: str, code: str | None = None) -> dict[str, dict[str, str | None]]:
    """The one error shape: `{"error": {"message", "type", "code"}}`."""
    return {"error": {"message": message, "type": kind, "code": code}}


_STATUS: list[tuple[type[Exception], int, str]] = [  # first match wins
    (QueueFullError, 429, "rate_limit_error"),
    (ContextLengthError, 400, "invalid_request_error"),
    (InvalidRequestError, 400, "invalid_request_error"),
    (ExpertError, 400, "invalid_request_error"),
    (DatasetError, 400, "invalid_request_error"),
    (ModelNotFoundError, 503, "server_error"),
    (ConfigError, 503, "server_error"),
    (MoEError, 500, "server_error"),
]


STORAGE_FULL = "the server's disk is full: try again once the operator has freed space"


def unexpected(err: BaseException) -> tuple[int, dict[str, dict[str, str | None]]]:
    """The answer to an error no route expected: 507 for a full disk (what was stored before stays whole, the
    server goes on once space returns), else a generic 500 that shows nothing of the error."""
    if disk_full(err):
        return 507, error_json(STORAGE_FULL, "server_error", "insufficient_storage")
    return 500, error_json("the server failed to answer", "server_error", "internal_error")


def moe_error(_: Request, err: Exception) -> JSONResponse:
    """An SDK error as OpenAI's error JSON, with the status its class maps to (507 when a full disk caused it)."""
    if disk_full(err):
        status, body = unexpected(err)
        return JSONResponse(body, status_code=status)
    status, kind = next((status, kind) for cls, status, kind in _STATUS if isinstance(err, cls))
    return JSONResponse(error_json(str(err), kind), status_code=status,
                        headers={"Retry-After": "1"} if status == 429 else None)


_HTTP_KINDS = {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
               413: "invalid_request_error", 429: "rate_limit_error"}


def http_error(_: HTTPConnection, err: Exception) -> JSONResponse:
    """An HTTP error (401, 404, ...) in the same JSON shape as every other error."""
    assert isinstance(err, StarletteHTTPException)
    kind = _HTTP_KINDS.get(err.status_code, "server_error" if err.status_code >= 500 else "invalid_request_error")
    return JSONResponse(error_json(str(err.detail), kind),
                        status_code=err.status_code, headers=err.headers)


class _Utf8Safe(JSONResponse):
    """A JSON answer whose text may hold a lone surrogate: as "?" instead of a UnicodeEncodeError."""

    def render(self, content: object) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "replace")


def validation_error(_: Request, err: Exception) -> JSONResponse:
    """FastAPI's 422 (`{"detail": [...]}`: each failing field with its input), rendered so that an input holding a
    lone surrogate (JSON's `"\\ud800"`, which pydantic refuses as a string) is echoed with "?", not a 500."""
    assert isinstance(err, RequestValidationError)
    return _Utf8Safe({"detail": jsonable_encoder(err.errors())}, status_code=422)
