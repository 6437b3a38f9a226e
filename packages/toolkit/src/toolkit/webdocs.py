"""Serve an API's Swagger UI and ReDoc pages from local assets, so `/docs` works offline.

FastAPI's built-in pages load their JavaScript and CSS from a CDN; on a machine without
internet access (or behind a strict proxy) `/docs` stays blank. A plugin server creates its
app with `docs_url=None, redoc_url=None` and calls `offline_docs(app)`; the assets come from
the `fastapi-offline` distribution (`toolkit-host[web]`), served under `assets_url`.

Example:
    ```python
    from fastapi import FastAPI
    from toolkit.webdocs import offline_docs

    app = FastAPI(title="pom", docs_url=None, redoc_url=None)
    offline_docs(app)  # /docs and /redoc, assets under /_docs-assets
    ```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit_kernel.errors import UsageError

__all__ = ["assets_dir", "offline_docs"]


def assets_dir() -> Path:
    """Return the folder holding swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js and favicon.png.

    Raises:
        UsageError: the assets are not installed.
    """
    try:
        import fastapi_offline
    except ImportError as exc:
        raise UsageError(
            "the offline API docs assets are not installed", hint='install them with: pip install "toolkit-host[web]"'
        ) from exc
    return Path(fastapi_offline.__file__).parent / "static"


def offline_docs(
    app: Any, *, docs_url: str = "/docs", redoc_url: str = "/redoc", assets_url: str = "/_docs-assets"
) -> None:
    """Add Swagger UI (`docs_url`) and ReDoc (`redoc_url`) pages to a FastAPI `app`, with local assets.

    Create the app with `docs_url=None, redoc_url=None` so FastAPI's CDN pages are not also registered.
    """
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
    from fastapi.staticfiles import StaticFiles
    from starlette.requests import Request
    from starlette.responses import HTMLResponse

    app.mount(assets_url, StaticFiles(directory=str(assets_dir())), name="toolkit-docs-assets")
    openapi_url = app.openapi_url
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url

    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=oauth2_redirect_url,
            swagger_js_url=f"{root}{assets_url}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets_url}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets_url}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{assets_url}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{assets_url}/favicon.png",
            with_google_fonts=False,
        )

    # Resolved annotations: under `from __future__ import annotations` FastAPI would see the string
    # "Request", which names a function-local import, and take `request` for a query parameter.
    for endpoint in (swagger, redoc):
        endpoint.__annotations__ = {"request": Request, "return": HTMLResponse}
    app.add_api_route(docs_url, swagger, include_in_schema=False, methods=["GET"])
    if oauth2_redirect_url:
        app.add_api_route(oauth2_redirect_url, oauth2_redirect, include_in_schema=False, methods=["GET"])
    app.add_api_route(redoc_url, redoc, include_in_schema=False, methods=["GET"])
