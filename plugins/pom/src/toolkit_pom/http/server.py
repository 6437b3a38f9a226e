"""pom's HTTP API (FastAPI), specs/pom/http.md. Imported only by `pom up`.

Every route calls the same `Control` operations as the Unix-socket CLI.
"""
# ruff: noqa: TID253 - this module is only imported lazily by daemon/runner.py, never by the CLI group.

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from toolkit.webdocs import offline_docs
from toolkit_kernel.errors import ToolkitError
from toolkit_kernel.exposure import ExposurePolicy, guard_asgi
from toolkit_pom import __version__
from toolkit_pom.core.control import Control, LogQuery, query_logs
from toolkit_pom.core.supervisor import Supervisor

__all__ = ["create_app"]

_STATUS = {"not_found": 404, "usage": 400, "config": 400, "conflict": 409, "unauthorized": 401}


def _error(kind: str, message: str, status: int, hint: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"kind": kind, "message": message}
    if hint:
        body["hint"] = hint
    return JSONResponse({"error": body}, status_code=status)


def exposed_app(sup: Supervisor, policy: ExposurePolicy) -> Any:
    """The app behind the kernel's exposure policy (Host/Origin checks; the token off loopback).

    `X-Pom-Token: T` is accepted as `Authorization: Bearer T` (specs/pom/http.md).
    """
    guarded = guard_asgi(create_app(sup), policy, public_paths=("/health",))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = list(scope.get("headers") or [])
        names = {name.lower() for name, _ in headers}
        if b"x-pom-token" in names and b"authorization" not in names:
            token = next(value for name, value in headers if name.lower() == b"x-pom-token")
            scope = {**scope, "headers": [*headers, (b"authorization", b"Bearer " + token)]}
        await guarded(scope, receive, send)

    return app


def create_app(sup: Supervisor) -> FastAPI:
    """Build the app over a running supervisor (unguarded: serve it through `exposed_app`).

    Args:
        sup: The supervisor to expose.
    """
    app = FastAPI(
        title="pom",
        version=__version__,
        description="Dev-session process supervisor: processes, logs, control and agent views.",
        docs_url=None,
        redoc_url=None,
    )
    offline_docs(app)  # /docs and /redoc load their assets from pom itself, so they work offline

    @app.exception_handler(ToolkitError)
    async def toolkit_error(_request: Request, exc: ToolkitError) -> JSONResponse:
        return JSONResponse({"error": exc.to_dict()}, status_code=_STATUS.get(exc.kind, 500))

    control = Control(sup)
    _state_routes(app, sup, control)
    _log_routes(app, sup, control)
    _control_routes(app, control)
    return app


def _state_routes(app: FastAPI, sup: Supervisor, control: Control) -> None:
    @app.get("/health", summary="Liveness of the API")
    async def health() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/info", summary="The running pom")
    async def info() -> dict[str, Any]:
        return sup.info()

    @app.get("/processes", summary="Every process")
    async def processes() -> dict[str, Any]:
        return {"project": sup.info(), "processes": sup.processes()}

    @app.get("/processes/{name}", summary="One process")
    async def process(name: str) -> dict[str, Any]:
        return sup.get(name).to_dict()

    @app.get("/graph", summary="The dependency graph of the process groups")
    async def graph() -> Any:
        return await control.handle({"op": "graph"})

    @app.get("/summary", summary="Agent context: states, last lines, recent errors")
    async def summary() -> Any:
        return await control.handle({"op": "summary"})

    @app.get("/errors", summary="Recent error lines per process")
    async def errors(process: str | None = None, limit: int = Query(20, ge=1, le=1000)) -> Any:
        names = [n for n in (process or "").split(",") if n] or None
        return await control.handle({"op": "errors", "names": names, "limit": limit})


def _log_routes(app: FastAPI, sup: Supervisor, control: Control) -> None:
    @app.get("/processes/{name}/logs", summary="Stored log lines of one process")
    async def process_logs(
        name: str,
        stream: str | None = None,
        after_id: int | None = Query(None, ge=0),
        limit: int | None = Query(None, ge=0, le=100_000),
        grep: str | None = None,
        regex: str | None = None,
    ) -> dict[str, Any]:
        query = LogQuery(stream=stream, after_id=after_id, limit=limit, grep=grep, regex=regex)
        return query_logs(sup.resolve([name]), query)

    @app.delete("/processes/{name}/logs", summary="Drop the stored log lines of a process")
    async def truncate_logs(name: str) -> Any:
        return await control.handle({"op": "truncate", "names": [name]})

    @app.get("/logs", summary="Stored log lines of several processes, merged by time")
    async def logs(
        process: str | None = None,
        stream: str | None = None,
        after_id: int | None = Query(None, ge=0),
        limit: int | None = Query(None, ge=0, le=100_000),
        grep: str | None = None,
        regex: str | None = None,
    ) -> dict[str, Any]:
        names = [n for n in (process or "all").split(",") if n]
        query = LogQuery(stream=stream, after_id=after_id, limit=limit, grep=grep, regex=regex)
        return query_logs(sup.resolve(names), query)

    @app.get("/processes/{name}/logs/stream", summary="Live log lines (Server-Sent Events)")
    async def stream_logs(
        request: Request,
        name: str,
        stream: str | None = None,
        after_id: int | None = Query(None, ge=0),
        grep: str | None = None,
        regex: str | None = None,
    ) -> StreamingResponse:
        instances = sup.resolve([name])
        last = request.headers.get("last-event-id")
        if last and last.isdigit():
            after_id = int(last)
        query = LogQuery(stream=stream, after_id=after_id, grep=grep, regex=regex)
        frames = control.follow(instances, query)
        headers = {"Cache-Control": "no-cache"}
        return StreamingResponse(_sse(request, frames), media_type="text/event-stream", headers=headers)


async def _sse(request: Request, frames: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    async for frame in frames:
        if await request.is_disconnected():
            return
        parts = [f"event: gap\ndata: {json.dumps(gap)}\n\n" for gap in frame["gaps"]]
        parts += [f"event: line\nid: {line['id']}\ndata: {json.dumps(line)}\n\n" for line in frame["lines"]]
        yield "".join(parts) if parts else ": keep-alive\n\n"


def _control_routes(app: FastAPI, control: Control) -> None:
    def lifecycle(op: str) -> Callable[[str], Awaitable[dict[str, Any]]]:
        async def run(name: str) -> dict[str, Any]:
            return await control.lifecycle(op, [name])

        run.__name__ = f"{op}_process"
        return run

    for op in ("start", "stop", "restart"):
        app.post(f"/processes/{{name}}/{op}", summary=f"{op.capitalize()} a process (or group, or all)")(lifecycle(op))

    @app.post("/processes/{name}/signal/{sig}", summary="Send a signal to a process group")
    async def signal_process(name: str, sig: str) -> Any:
        return await control.handle({"op": "signal", "names": [name], "signal": sig})

    @app.post("/processes/{name}/scale/{replicas}", summary="Set the replica count of a group")
    async def scale_process(name: str, replicas: int) -> Any:
        return await control.handle({"op": "scale", "name": name, "replicas": replicas})
