"""process-compose's REST API (v1.85.0 paths and JSON shapes) over a running pom.

Served on its own listener (`pom up --pc-api HOST:PORT`) because `/processes` means something
else in pom's own API. Enough of it for the real `process-compose process list|get|start|stop|
restart|logs` and `project state`-style clients (specs/pom/process-compose-api.md).
"""

# ruff: noqa: TID253 - imported lazily by daemon/runner.py only.

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from toolkit_kernel.errors import ToolkitError
from toolkit_pom.core import pc_process
from toolkit_pom.core.control import Control
from toolkit_pom.core.instance import Instance
from toolkit_pom.core.supervisor import Supervisor

__all__ = ["create_pc_app", "process_state"]

_STATUS = {
    "pending": "Pending",
    "starting": "Running",
    "running": "Running",
    "ready": "Running",
    "restarting": "Restarting",
    "stopping": "Terminating",
    "stopped": "Completed",
    "exited": "Completed",
    "crashed": "Completed",
    "disabled": "Disabled",
    "skipped": "Skipped",
}
_HEALTH = {"ready": "Ready", "not_ready": "Not Ready"}


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else (f"{minutes}m{secs}s" if minutes else f"{secs}s")


def process_state(inst: Instance) -> dict[str, Any]:
    """One process in process-compose's `ProcessState` shape."""
    uptime = inst.uptime
    return {
        "name": inst.name,
        "namespace": inst.spec.namespace,
        "status": _STATUS.get(inst.state, "Pending"),
        "system_time": _age(uptime),
        "age": int((uptime or 0) * 1e9),
        "is_ready": _HEALTH.get(inst.health or "", "-"),
        "has_ready_probe": inst.spec.readiness is not None or inst.spec.liveness is not None,
        "restarts": inst.restarts,
        "exit_code": inst.exit_code if inst.exit_code is not None and inst.exit_code >= 0 else 0,
        "pid": inst.pid or 0,
        "is_elevated": False,
        "password_provided": False,
        "mem": inst.memory_rss or 0,
        "cpu": inst.cpu_percent or 0.0,
        "is_running": inst.pid is not None,
    }


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_pc_app(sup: Supervisor) -> FastAPI:
    """Build the compatibility app over a running supervisor."""
    app = FastAPI(title="pom (process-compose API)", docs_url=None, redoc_url=None)
    control = Control(sup)
    _info_routes(app, sup)
    _change_routes(app, sup, control)

    @app.exception_handler(ToolkitError)
    async def toolkit_error(_request: Any, exc: ToolkitError) -> JSONResponse:
        return _error(str(exc))

    @app.get("/live")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/project/name")
    async def project_name() -> dict[str, str]:
        return {"projectName": sup.config.name}

    @app.get("/processes")
    async def processes() -> dict[str, Any]:
        return {"data": [process_state(i) for i in sup.instances.values()]}

    @app.get("/process/{name}")
    async def process(name: str) -> Any:
        return process_state(sup.get(name))

    @app.post("/process/start/{name}")
    async def start(name: str) -> Any:
        return await _lifecycle("start", name)

    @app.patch("/process/stop/{name}")
    async def stop(name: str) -> Any:
        return await _lifecycle("stop", name)

    @app.patch("/processes/stop")
    async def stop_many(request: Request) -> Any:
        return await _stop_many(sup, control, await request.body())

    @app.post("/process/restart/{name}")
    async def restart(name: str) -> Any:
        return await _lifecycle("restart", name)

    @app.post("/project/stop")
    async def project_stop() -> dict[str, str]:
        asyncio.get_running_loop().call_soon(sup.request_shutdown, 0, "stopped through the process-compose API")
        return {"status": "stopped"}

    @app.get("/process/logs/{name}/{end_offset}/{limit}")
    async def logs(name: str, end_offset: int, limit: int) -> Any:
        lines = _tail(sup.get(name), end_offset + limit if limit else 100_000)
        return {"logs": lines[: len(lines) - end_offset] if end_offset else lines}

    @app.websocket("/process/logs/ws")
    async def logs_ws(ws: WebSocket, name: str, offset: int = 0, follow: bool = False) -> None:
        await _stream_logs(ws, sup, name, offset, follow)

    async def _lifecycle(op: str, name: str) -> Any:
        answer = await control.lifecycle(op, [name])
        result = answer["results"][0]
        return {"name": name} if result["ok"] else _error(result.get("error") or f"cannot {op} {name}")

    return app


def _tail(inst: Instance, count: int) -> list[str]:
    result = inst.log.snapshot().query(limit=min(count, 100_000))
    return [line.text for line in result.lines if line.stream != "pom"]


async def _stream_logs(ws: WebSocket, sup: Supervisor, name: str, offset: int, follow: bool) -> None:
    """Send `{message, process_name}` frames: the last `offset` lines of each, then new ones if following."""
    await ws.accept()
    instances = [sup.get(n) for n in name.split(",") if n]
    cursors: dict[str, int] = {}
    try:
        for inst in instances:
            snap = inst.log.snapshot()
            for line in snap.query(limit=offset).lines if offset else []:
                if line.stream != "pom":
                    await ws.send_json({"message": line.text, "process_name": inst.name})
            cursors[inst.name] = snap.last_id
        while follow and not sup.closed.is_set():
            await sup.logs_changed.wait(1.0)
            for inst in instances:
                result = inst.log.snapshot().query(after_id=cursors[inst.name], limit=5000)
                for line in result.lines:
                    if line.stream != "pom":
                        await ws.send_json({"message": line.text, "process_name": inst.name})
                cursors[inst.name] = result.next_after_id
        await ws.close()
    except WebSocketDisconnect:
        return


async def _stop_many(sup: Supervisor, control: Control, body: bytes) -> Any:
    """`PATCH /processes/stop` with a JSON list of names: `{name: "ok"}`, 207 when some are unknown."""
    try:
        names = json.loads(body or b"null")
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return _error("expected a JSON list of process names")
    known = [n for n in names if n in sup.instances or n in sup.groups]
    if known:
        await control.lifecycle("stop", known)
    stopped = {n: "ok" for n in known}
    if len(known) == len(names):
        return stopped
    missing = ", ".join(n for n in names if n not in known)
    return JSONResponse(stopped, status_code=207) if stopped else _error(f"no such process: {missing}")


def _project_state(sup: Supervisor) -> dict[str, Any]:
    import getpass
    from datetime import UTC, datetime

    from toolkit_pom import __version__

    running = sum(1 for i in sup.instances.values() if i.pid is not None)
    return {
        "fileNames": [str(f) for f in sup.config.files or (sup.config.file,)],
        "upTime": int((time.time() - sup.started_at) * 1e9),
        "startTime": datetime.fromtimestamp(sup.started_at, UTC).isoformat(),
        "processNum": len(sup.instances),
        "runningProcessNum": running,
        "userName": getpass.getuser(),
        "version": f"pom {__version__}",
        "projectName": sup.config.name,
    }


def _ports(inst: Instance) -> dict[str, Any]:
    """TCP/UDP ports the process tree listens on (psutil)."""
    import psutil

    tcp: set[int] = set()
    udp: set[int] = set()
    if inst.pid is not None:
        try:
            root = psutil.Process(inst.pid)
            for proc in (root, *root.children(recursive=True)):
                for conn in proc.net_connections(kind="inet"):
                    if conn.type == socket.SOCK_STREAM and conn.status == psutil.CONN_LISTEN:
                        tcp.add(conn.laddr.port)
                    elif conn.type == socket.SOCK_DGRAM and conn.laddr:
                        udp.add(conn.laddr.port)
        except psutil.Error:
            pass
    return {"name": inst.name, "tcp_ports": sorted(tcp), "udp_ports": sorted(udp)}


def _info_routes(app: FastAPI, sup: Supervisor) -> None:
    @app.get("/project/state")
    async def project_state() -> dict[str, Any]:
        return _project_state(sup)

    @app.get("/process/info/{name}")
    async def process_info(name: str) -> dict[str, Any]:
        return pc_process.go_config(sup, sup.get(name))

    @app.get("/process/ports/{name}")
    async def process_ports(name: str) -> dict[str, Any]:
        return _ports(sup.get(name))

    @app.patch("/process/scale/{name}/{count}")
    async def scale(name: str, count: int) -> dict[str, str]:
        await sup.scale(name, count)
        return {"name": name}


def _change_routes(app: FastAPI, sup: Supervisor, control: Control) -> None:
    """Routes that change what pom holds: log truncation and configuration reload."""

    @app.delete("/process/logs/{name}")
    async def truncate_logs(name: str) -> Any:
        await control.handle({"op": "truncate", "names": [sup.get(name).name]})
        return {"name": name}

    @app.post("/process")
    async def update_process(request: Request) -> Any:
        # process-compose's TUI edit (ctrl+e): a ProcessConfig with Go field names; core applies it.
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return _error("expected a process-compose ProcessConfig as JSON")
        return await pc_process.update_process(sup, body)

    @app.post("/project/configuration")
    async def reload_project() -> Any:
        return _update_status(await control.handle({"op": "reload"}))  # invalid files: 400, nothing changes

    @app.post("/project")
    async def update_project(request: Request) -> Any:
        # `process-compose project update -f FILE` sends the project its own loader built; pom
        # reads the files that project came from (`FileNames`) with its own loader instead.
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            body = None
        names = body.get("FileNames") if isinstance(body, dict) else None
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            return _error("expected a process-compose project with FileNames")
        files = [str(sup.config.dir / name) for name in names]  # relative: to the project directory
        return _update_status(await control.handle({"op": "reload", "files": files}))


def _update_status(kinds: dict[str, list[str]]) -> dict[str, str]:
    """process-compose's answer to an update: `{process: "updated" | "added" | "removed"}`."""
    words = {"changed": "updated", "added": "added", "removed": "removed"}
    return {group: word for kind, word in words.items() for group in kinds[kind]}
