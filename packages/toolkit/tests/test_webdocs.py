"""Offline API docs: Swagger UI and ReDoc pages whose assets come from this server, not a CDN."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from toolkit.webdocs import assets_dir, offline_docs


def _app() -> FastAPI:
    app = FastAPI(title="demo", docs_url=None, redoc_url=None)

    @app.get("/v0/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    offline_docs(app)
    return app


def test_docs_pages_load_every_asset_from_the_server_itself():
    client = TestClient(_app())
    for page, assets in (("/docs", 3), ("/redoc", 2)):
        html = client.get(page)
        assert html.status_code == 200
        urls = re.findall(r'(?:src|href)="([^"]+)"|url: *[\'"]([^\'"]+)', html.text)
        found = [a or b for a, b in urls]
        assert not [u for u in found if u.startswith(("http://", "https://", "//"))], found  # nothing from a CDN
        local = [u for u in found if u.startswith("/_docs-assets/")]
        assert len(local) >= assets, found
        for url in local:
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 100
    assert client.get("/openapi.json").json()["paths"].keys() == {"/v0/ping"}


def test_assets_are_installed():
    names = {p.name for p in assets_dir().iterdir()}
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"} <= names
