# ruff: noqa: TID253 - imported only by the server module (itself loaded lazily by `plasmite serve`)
"""The browser UI of `plasmite serve`: `/ui` (the pools) and `/ui/pools/{pool}` (a live log).

Static pages and one script; everything they show comes from the `/v0` API (`/v0/ui/pools`,
`/v0/ui/pools/{pool}/info`, the SSE stream `/v0/ui/pools/{pool}/events`, and `append` to send).
This module only serves the files; it holds no pool logic.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse

__all__ = ["add_web_routes"]

STATIC = Path(__file__).parent / "static"
_ASSETS = {"ui.js": "text/javascript", "ui.css": "text/css"}


def add_web_routes(app: FastAPI) -> None:
    """Register the pages and their two assets (no data: the pages read the `/v0` API)."""
    from toolkit_plasmite.errors import NotFoundError

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui")

    @app.get("/ui", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/ui/pools/{pool}", include_in_schema=False)
    async def pool_page(pool: str) -> FileResponse:
        return FileResponse(STATIC / "pool.html", media_type="text/html")

    @app.get("/ui/assets/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in _ASSETS:
            raise NotFoundError(f"no UI asset {name!r}")
        return FileResponse(STATIC / name, media_type=_ASSETS[name])
