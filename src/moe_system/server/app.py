"""The FastAPI app: `create_app()` builds it, `moe serve` runs it with uvicorn.

One module per resource, each an `APIRouter`:
- `openai_api`: `/v1/models`, `/v1/chat/completions` (OpenAI-compatible);
- `native`: `/generate`, `/status`, `/healthz`;
- `chat`: `/chat`, `/ws/chat`, the user's conversations and memory search (scoped by the key's user);
- `experts_api`: `/experts` (list, install an uploaded package, remove);
- `jobs`: `/train` (background jobs running issue 3's trainer) and `/train/{job_id}`;
- `observability`: request ids, JSON logs, limits (rate, size, CORS) and Prometheus `/metrics`;
- `web`: the web UI at `/` (static files);
- `errors`: every error in OpenAI's JSON shape.

The model loads in the app's lifespan (before the first request is accepted), through one `MoEClient` in batching
mode, so concurrent requests share decode steps. SDK errors become JSON errors in OpenAI's shape with a fitting
status (`errors.py`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Protocol

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from moe_system.client import MoEClient
from moe_system.config import Settings, load_settings
from moe_system.errors import MoEError
from moe_system.server import chat, experts_api, jobs, native, observability, openai_api, web
from moe_system.server.auth import api_keys
from moe_system.server.errors import http_error, moe_error, validation_error


class AppExtension(Protocol):
    """What another interface adds to the app (the Telegram bot's webhook, `bot/webhook.py`): routes, installed when
    the app is built, and work that runs while it serves, entered once the model is loaded."""

    def install(self, app: FastAPI) -> None: ...

    def running(self, app: FastAPI) -> AbstractAsyncContextManager[None]: ...


def create_app(settings: Settings | None = None, client: MoEClient | None = None,
               extensions: Sequence[AppExtension] = ()) -> FastAPI:
    """The app over `client` (default: a batching `MoEClient` of `settings`, closed with the app), with
    `extensions`."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = client is None
        await run_in_threadpool(experts_api.sweep_uploads, settings)  # what a killed server left in MOE_HOME/tmp
        app.state.client = client or MoEClient(settings, batching=True)
        await run_in_threadpool(lambda: app.state.client.runtime)  # load the model before serving
        app.state.jobs = jobs.JobManager(settings)
        threading.Thread(target=chat.resume_memory, args=(app.state.client,), name="memory-resume", daemon=True).start()
        try:
            async with AsyncExitStack() as running:
                for extension in extensions:
                    await running.enter_async_context(extension.running(app))
                yield
        finally:
            app.state.jobs.close()
            if owned:
                app.state.client.close()

    app = FastAPI(title="moe_system", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.api_keys = api_keys(settings)
    app.state.started = time.time()
    observability.install(app, settings)
    for module in (native, openai_api, chat, experts_api, jobs):
        app.include_router(module.router)
    app.add_exception_handler(openai_api.ModelNotFound, openai_api.model_not_found)
    app.add_exception_handler(MoEError, moe_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    for extension in extensions:
        extension.install(app)
    web.mount(app)
    return app
