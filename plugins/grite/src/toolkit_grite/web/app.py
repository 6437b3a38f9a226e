"""The web UI's HTTP application (specs/grite/ui.md): the page, its assets and a JSON API.

Every route calls `toolkit_grite.core.ops`, the functions behind `grite issue ...`, so the browser
writes the same events as the CLI. One `Grite` serves the process; a lock serializes the calls
(LMDB and pygit2 handles are shared), and every read first catches up with the WAL so writes by
other processes and syncs show up without a restart.
"""
# ruff: noqa: TID253 - imported only by `grite webui`.

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib.resources import files
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from toolkit_grite.core import ops
from toolkit_grite.core.grite import Grite
from toolkit_grite.errors import InvalidArgs
from toolkit_kernel.errors import ToolkitError

__all__ = ["ASSETS", "create_app"]

#: name -> content type: the only files the server sends (nothing is looked up by request path).
ASSETS = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "app.css": "text/css; charset=utf-8"}  # fmt: skip
#: The page runs only its own script and style, and is never framed (no injected script can run).
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
_STATUS = {"usage": 400, "config": 400, "not_found": 404, "conflict": 409, "busy": 503, "lock_timeout": 503}
T = TypeVar("T")
#: Rows the page asks for at most (a browser table of 10k rows is slow to build; `total` has the count).
LIST_LIMIT = 500
LABEL_ADD, LABEL_REMOVE = 4, 5  # the event kinds `ops.set_members` writes


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewIssue(_Body):
    """`POST /api/issues`."""

    title: str
    body: str = ""
    labels: list[str] = Field(default_factory=list)


class IssueEdit(_Body):
    """`PATCH /api/issues/{id}`: the fields to change."""

    title: str | None = None
    body: str | None = None


class NewComment(_Body):
    """`POST /api/issues/{id}/comments`."""

    body: str


class LabelChange(_Body):
    """`POST /api/issues/{id}/labels`."""

    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)


class StateChange(_Body):
    """`POST /api/issues/{id}/state`."""

    state: str


def _error(code: str, message: str, status: int, hint: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if hint:
        body["hint"] = hint
    return JSONResponse({"error": body}, status_code=status)


def create_app(g: Grite) -> FastAPI:
    """Build the app over one repository (unguarded: `server.serve` wraps it in the exposure policy)."""
    app = FastAPI(title="grite", docs_url=None, redoc_url=None, openapi_url=None)
    lock = threading.Lock()

    def call(what: Callable[[], T], *, read: bool = False) -> T:
        with lock:
            if read:
                g.catch_up(force=True)
            return what()

    @app.exception_handler(ToolkitError)
    async def refused(_request: Request, exc: ToolkitError) -> JSONResponse:
        return _error(exc.kind, exc.message, _STATUS.get(exc.kind, 500), exc.hint)

    @app.exception_handler(OSError)
    async def io_failed(_request: Request, exc: OSError) -> JSONResponse:
        return _error("io", f"I/O error: {exc}", 500)  # the repository went away, a full disk, ...

    @app.exception_handler(RequestValidationError)
    async def malformed(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return _error("usage", f"bad request: {where or 'body'}: {first.get('msg', 'invalid')}", 400)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    _asset_routes(app)
    _read_routes(app, g, call)
    _write_routes(app, g, call)
    return app


Call = Callable[..., Any]


def _read_routes(app: FastAPI, g: Grite, call: Call) -> None:
    @app.get("/healthz")
    def health() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/api/actor")
    def actor() -> dict[str, str]:
        return {"actor_id": call(lambda: g.actor).actor_id.hex()}  # the first use may create the actor

    @app.get("/api/issues")
    def list_issues(q: str = "", limit: int = LIST_LIMIT) -> dict[str, Any]:
        return dict(call(lambda: ops.list_issues(g, text=q, limit=limit), read=True))

    @app.get("/api/issues/{issue_id}")
    def show_issue(issue_id: str) -> dict[str, Any]:
        result: dict[str, Any] = call(lambda: ops.show_issue(g, issue_id), read=True)
        return result


def _write_routes(app: FastAPI, g: Grite, call: Call) -> None:
    @app.post("/api/issues", status_code=201)
    def create_issue(new: NewIssue) -> dict[str, Any]:
        result: dict[str, Any] = call(lambda: ops.create_issue(g, new.title, new.body, new.labels))
        return result

    @app.patch("/api/issues/{issue_id}")
    def edit_issue(issue_id: str, edit: IssueEdit) -> dict[str, Any]:
        result: dict[str, Any] = call(lambda: ops.update_issue(g, issue_id, edit.title, edit.body))
        return result

    @app.post("/api/issues/{issue_id}/comments", status_code=201)
    def add_comment(issue_id: str, new: NewComment) -> dict[str, Any]:
        result: dict[str, Any] = call(lambda: ops.comment(g, issue_id, new.body))
        return result

    @app.patch("/api/issues/{issue_id}/comments/{comment_id}")
    def edit_comment(issue_id: str, comment_id: str, edit: NewComment) -> dict[str, Any]:
        result: dict[str, Any] = call(lambda: ops.edit_comment(g, issue_id, comment_id, edit.body))
        return result

    @app.delete("/api/issues/{issue_id}")
    def remove_issue(issue_id: str) -> dict[str, Any]:
        result: dict[str, Any] = call(lambda: ops.remove_issue(g, issue_id))
        return result

    @app.post("/api/issues/{issue_id}/labels")
    def change_labels(issue_id: str, change: LabelChange) -> dict[str, Any]:
        if not change.add and not change.remove:
            raise InvalidArgs("give labels to add or remove")

        def both() -> dict[str, Any]:
            ids: list[str] = []
            for kind, values in ((LABEL_ADD, change.add), (LABEL_REMOVE, change.remove)):
                if values:
                    ids += ops.set_members(g, issue_id, kind, values)["event_ids"]
            return {"issue_id": g.view.resolve_issue(issue_id).hex(), "event_ids": ids}

        result: dict[str, Any] = call(both)
        return result

    @app.post("/api/issues/{issue_id}/state")
    def change_state(issue_id: str, change: StateChange) -> dict[str, Any]:
        if change.state not in ("open", "closed"):
            raise InvalidArgs("state must be open or closed")
        result: dict[str, Any] = call(lambda: ops.set_state(g, issue_id, change.state))
        return result


def _asset_routes(app: FastAPI) -> None:
    package = files("toolkit_grite.web") / "static"
    cache = {name: (package / name).read_bytes() for name in ASSETS}

    def asset(name: str) -> Callable[[], Response]:
        def send() -> Response:
            return Response(cache[name], media_type=ASSETS[name])

        return send

    app.get("/", include_in_schema=False)(asset("index.html"))
    for name in ASSETS:
        app.get(f"/static/{name}", include_in_schema=False)(asset(name))
