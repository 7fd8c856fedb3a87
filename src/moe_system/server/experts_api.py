"""`/experts`: list the installed experts, install an uploaded `.expert` package, remove an expert.

    curl -H "Authorization: Bearer $KEY" -F file=@sql-1.0.0.expert [-F allow_unsigned=true] http://HOST/experts
    curl -H "Authorization: Bearer $KEY" -X DELETE http://HOST/experts/sql

An upload installs through `Registry.install`, the code path of `moe experts install FILE`: safe extraction, every
file hash, the signature, the trust rules (a key in `experts.trusted_publishers`, else only with `allow_unsigned`,
which the server accepts only when the operator set `experts.allow_unsigned_uploads`) and the base model's
fingerprint; `replace=true` reinstalls a version, as `--replace` does. The multipart body is
parsed as it arrives and the package written to a file of its own under `MOE_HOME/tmp` (never held in memory; the
limits middleware caps it at `server.max_upload_bytes`), removed once installed or refused (an upload cut short by a
crash is removed when the server starts again: `sweep_uploads`). A refused package is a
400 with the registry's reason. The app's client owns the registry that changed, so `GET /experts`, `GET /v1/models`
and the router (it refits when the registry's revision moves) see an install or a removal at once.
Installing and removing need an admin key (403 for a user's).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from moe_system.client import MoEClient
from moe_system.config import Settings
from moe_system.durable import Scratch, sweep_scratch
from moe_system.errors import ExpertError
from moe_system.experts.registry import InstalledExpert
from moe_system.server.auth import CurrentCaller, CurrentUser
from moe_system.server.errors import error_json

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

router = APIRouter(tags=["experts"])

FILE_FIELD = "file"
UPLOAD_PREFIX = "upload-"  # MOE_HOME/tmp/upload-*: one upload's scratch folder
MAX_FIELD_BYTES = 1024  # a plain form field (allow_unsigned) is a word
FLAGS = ("allow_unsigned", "replace")  # the form's yes/no fields, as `moe experts install` has them
TRUE = {"1", "true", "on", "yes"}
_UPLOAD_BODY = {  # the body FastAPI cannot describe, since the route reads the stream itself
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": [FILE_FIELD],
        "properties": {FILE_FIELD: {"type": "string", "format": "binary", "description": "a .expert package"},
                       "allow_unsigned": {"type": "boolean", "description": "install an unsigned package, or one "
                                                                               "signed by an untrusted key"},
                       "replace": {"type": "boolean", "description": "reinstall a version already installed"}},
    }}},
}


@router.get("/experts")
def experts(request: Request, _: CurrentUser) -> list[dict[str, Any]]:
    """Every installed expert and version, newest version first."""
    return [expert.to_dict() for expert in request.app.state.client.registry.list()]


@router.post("/experts", status_code=201, response_model=None, openapi_extra={"requestBody": _UPLOAD_BODY})
async def install_expert(request: Request, caller: CurrentCaller) -> dict[str, Any] | JSONResponse:
    """Verify an uploaded `.expert` package and install it; answers the installed expert."""
    caller.require_admin("installing experts")
    client: MoEClient = request.app.state.client
    work = await run_in_threadpool(Scratch, client.settings.home / "tmp", UPLOAD_PREFIX)
    try:
        try:
            upload = await receive_upload(request, work.path / "upload.expert")
        except UploadError as err:
            return error(err.status, str(err), err.code)
        allow_unsigned, replace = (upload.fields.get(name, "").strip().lower() in TRUE for name in FLAGS)
        if allow_unsigned and not client.settings.experts.allow_unsigned_uploads:
            return error(403, "this server does not install unsigned or untrusted uploads (the operator can allow "
                              "them with experts.allow_unsigned_uploads: true)", "unsigned_upload_refused")
        try:
            expert = await run_in_threadpool(_install, client, upload.path, upload.filename, allow_unsigned, replace)
        except ExpertError as err:
            return error(400, _reason(str(err), upload.filename, client.settings.home), "invalid_package")
    finally:
        await run_in_threadpool(work.close)
    return expert.to_dict()


def sweep_uploads(settings: Settings) -> list[Path]:
    """Remove the scratch folders of uploads that a killed server left in `MOE_HOME/tmp` (at start)."""
    return sweep_scratch(settings.home / "tmp", UPLOAD_PREFIX)


@router.delete("/experts/{name}", response_model=None)
def remove_expert(
    name: str, request: Request, caller: CurrentCaller, version: str | None = None
) -> dict[str, Any] | JSONResponse:
    """Uninstall every version of `name` (or only `?version=`)."""
    caller.require_admin("removing experts")
    client: MoEClient = request.app.state.client
    try:
        removed = client.registry.remove(name, version)
    except ExpertError as err:  # the only refusal of `remove`: not installed
        return error(404, str(err), "expert_not_found")
    return {"removed": name, "versions": [expert.version for expert in removed]}


def _install(client: MoEClient, path: Path, filename: str, allow_unsigned: bool, replace: bool) -> InstalledExpert:
    """Install through the registry, as `moe experts install` does (a reinstalled version is loaded anew: the
    runtime keys loaded adapters by install time too)."""
    return client.registry.install(path, base_sha256=client.runtime.base_sha256, allow_unsigned=allow_unsigned,
                                   replace=replace, recorded_as=f"upload:{filename}")


def _reason(message: str, filename: str, home: Path) -> str:
    """The registry's refusal as the uploader reads it: the temporary file (or its unpacked copy) named by the
    upload's file name, and the CLI's flags by the form's fields."""
    for folder in {str(home.resolve()), str(home)}:
        message = re.sub(re.escape(folder) + r"/[^\s:']*", lambda _: filename, message)
    return message.replace("--allow-unsigned", "allow_unsigned=true").replace("--replace", "replace=true")


def error(status: int, message: str, code: str | None = None) -> JSONResponse:
    """An error in OpenAI's shape."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse(error_json(message, kind, code), status_code=status)


# ---- the streamed multipart body


class UploadError(Exception):
    """An upload that cannot be read: `status` and OpenAI's `code` for the answer."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class Upload:
    """A received multipart body: the `file` part written to `path` (named `filename` by the client), and the
    plain fields."""

    path: Path
    filename: str = ""
    fields: dict[str, str] = field(default_factory=dict)


async def receive_upload(request: Request, path: Path) -> Upload:
    """Parse the request's multipart body as it streams in, writing its `file` part to `path`.

    The parser and its file writes run in worker threads, so the event loop never waits on the disk. The size
    limit (`server.max_upload_bytes`) is the limits middleware's: past it the client gets 413 and this a
    disconnect."""
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadError(400, f"send the package as multipart/form-data with a '{FILE_FIELD}' field", "bad_upload")
    parts = _Parts(Upload(path))
    parser = MultipartParser(boundary, parts.callbacks())
    try:
        async for chunk in request.stream():
            await run_in_threadpool(parser.write, chunk)
        await run_in_threadpool(parser.finalize)
    except FormParserError as err:
        raise UploadError(400, f"malformed multipart body: {err}", "bad_upload") from err
    except ClientDisconnect as err:  # the client went away, or the body went over the limit
        raise UploadError(400, "the upload was cut off", "bad_upload") from err
    finally:
        parts.close()
    if parts.failed is not None:  # the package could not be written (a full disk: 507); the body was read to its end
        raise parts.failed
    if not parts.ended:
        raise UploadError(400, "the multipart body ended early", "bad_upload")
    if not parts.got_file:
        raise UploadError(400, f"no '{FILE_FIELD}' field: attach the .expert package as '{FILE_FIELD}'", "bad_upload")
    return parts.upload


class _Parts:
    """`MultipartParser` callbacks: one `file` part streamed to disk, small fields kept as text, others refused."""

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.got_file = False
        self.ended = False
        self._headers: dict[bytes, bytes] = {}
        self._header = [b"", b""]  # the header being read: field, value
        self._name = ""
        self._value = bytearray()
        self._file: IO[bytes] | None = None
        self.failed: OSError | None = None  # the file part could not be written: the rest of it is read and dropped

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self._part_begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
                "on_part_end": self._part_end, "on_end": self._end}

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _part_begin(self) -> None:
        self._headers, self._header, self._value = {}, [b"", b""], bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header[0] += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._header[1] += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header[0].strip().lower()] = self._header[1].strip()
        self._header = [b"", b""]

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._name != FILE_FIELD:
            return
        if self.got_file:
            raise UploadError(400, f"send one '{FILE_FIELD}' per request", "bad_upload")
        self.got_file = True
        filename = options.get(b"filename", b"").decode("utf-8", "replace")
        self.upload.filename = Path(filename.replace("\\", "/")).name or "the uploaded package"
        self._guard(lambda: setattr(self, "_file", self.upload.path.open("wb")))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            file = self._file
            self._guard(lambda: file.write(data[start:end]))
            return
        if self._name == FILE_FIELD:
            return  # after a failed write
        self._value += data[start:end]
        if len(self._value) > MAX_FIELD_BYTES:
            raise UploadError(400, f"form field '{self._name}' is over {MAX_FIELD_BYTES} bytes", "bad_upload")

    def _part_end(self) -> None:
        if self._file is not None:
            self._guard(self.close)
        elif self._name and self._name != FILE_FIELD:
            self.upload.fields[self._name] = self._value.decode("utf-8", "replace")

    def _end(self) -> None:
        self.ended = True

    def _guard(self, write: Callable[[], object]) -> None:
        """Write the file part; an `OSError` (a full disk) is kept for the end and the rest of the part dropped, so
        the whole body is read and the client gets the answer rather than a connection reset under its upload."""
        try:
            write()
        except OSError as err:
            self.failed = self.failed or err
            file, self._file = self._file, None
            if file is not None:
                with suppress(OSError):
                    file.close()
