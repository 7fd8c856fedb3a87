"""`moe serve`: the HTTP API (OpenAI-compatible and native) with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from moe_system.cli.common import err


def serve(
    host: Annotated[str | None, typer.Option("--host", help="address to listen on (server.host: 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help="port (server.port: 8000)")] = None,
) -> None:
    """Serve the API; keys from MOE_API_KEYS or server.api_keys (none: an open server, for localhost)."""
    import uvicorn

    from moe_system.config import load_settings
    from moe_system.server import create_app

    settings = load_settings()
    host, port = host or settings.server.host, port or settings.server.port
    err.print(f"moe_system serving on http://{host}:{port} (web UI at /, OpenAI API at /v1)")
    # the app logs one JSON line per request itself; uvicorn's access log would repeat it, with the query string,
    # where a WebSocket's ?token= key would end up
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)
