"""The web UI: `GET /` is its page, `/static/*` its script and style (plain files, no build step, nothing fetched
from the internet).

The files are open, as `/healthz` is: the page holds no data. It asks for the API key once, keeps it in the
browser's localStorage and sends it with every API call (`Authorization: Bearer`; `?token=` on the chat
WebSocket), so the API routes stay exactly as protected as for any other client. `mount` runs after every API
router is included, and the page is served with a Content-Security-Policy that allows only this origin's script,
style and connections: text the UI shows is inserted as text, and a policy without inline script backs that up.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate (ETag): a new version of the UI shows up on the next load
}


def mount(app: FastAPI) -> None:
    """Serve the page at `/` and its assets under `/static`."""

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
