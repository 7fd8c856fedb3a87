"""`moe serve`: the HTTP API (OpenAI-compatible and native) with uvicorn.

A server without keys is open: every caller is its administrator. So it only listens on a loopback address unless
the operator says `--insecure`; on any other address it needs keys (`MOE_API_KEYS` or `server.api_keys`).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from moe_system.cli.common import err
from moe_system.errors import ConfigError


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or `localhost`) is reachable from this machine only."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def serve(
    host: Annotated[str | None, typer.Option("--host", help="address to listen on (server.host: 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help="port (server.port: 8000)")] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="serve without keys on a non-loopback address "
                                                               "(everyone who can reach it is an admin)")] = False,
) -> None:
    """Serve the API; keys from MOE_API_KEYS or server.api_keys (none: an open server, for localhost only)."""
    import uvicorn

    from moe_system.config import load_settings
    from moe_system.server import create_app
    from moe_system.server.auth import api_keys

    settings = load_settings()
    host, port = host or settings.server.host, port or settings.server.port
    if not api_keys(settings) and not is_loopback(host):
        if not insecure:
            raise ConfigError(f"refusing to serve on {host} without API keys: set MOE_API_KEYS='KEY:admin' (or "
                              "server.api_keys), or pass --insecure to serve an open server anyway")
        err.print(f"[yellow]warning:[/] serving on {host} without API keys (--insecure): anyone who reaches it can "
                  "install and remove experts, train and read every conversation")
    err.print(f"moe_system serving on http://{host}:{port} (web UI at /, OpenAI API at /v1)")
    # the app logs one JSON line per request itself; uvicorn's access log would repeat it, with the query string,
    # where a WebSocket's ?token= key would end up
    extensions = []
    if settings.bot.webhook_url:  # the Telegram bot answers here, on this server's model (bot/webhook.py)
        from moe_system.bot.webhook import Webhook

        extensions.append(Webhook(settings))
        err.print(f"the Telegram bot answers at {settings.bot.webhook_url}")
    uvicorn.run(create_app(settings, extensions=extensions), host=host, port=port, log_level="warning",
                access_log=False)
