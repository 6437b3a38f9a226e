"""Operations of the control protocol (specs/pom/control-protocol.md), shared by IPC and HTTP.

`Control.handle(request)` answers one request map; `follow` returns an async iterator of
`Logs` frames. Nothing here knows about sockets or HTTP.
"""

from __future__ import annotations

import asyncio
import heapq
import os
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from toolkit_pom.core import agent
from toolkit_pom.core.config import parse_signal
from toolkit_pom.core.instance import Instance
from toolkit_pom.core.logstore import MAX_LIMIT, LogLine, stream_code
from toolkit_pom.core.supervisor import Supervisor
from toolkit_pom.errors import UsageError

__all__ = ["HEARTBEAT_S", "Control", "LogQuery", "query_logs"]

#: Seconds between empty frames on an idle follow stream.
HEARTBEAT_S = 5.0


class LogQuery:
    """Validated log query arguments (shared by `logs`, `follow` and HTTP).

    Raises:
        UsageError: a bad stream, limit, after_id or regex.
    """

    def __init__(
        self,
        *,
        stream: Any = None,
        after_id: Any = None,
        limit: Any = None,
        grep: Any = None,
        regex: Any = None,
    ) -> None:
        try:
            stream_code(stream)
        except ValueError as exc:
            raise UsageError(str(exc), hint="--stdout or --stderr") from None
        for label, value in (("after_id", after_id), ("limit", limit)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise UsageError(f"{label} must be a non-negative integer, got {value!r}")
        if limit is not None and limit > MAX_LIMIT:
            raise UsageError(f"limit must be at most {MAX_LIMIT}")
        if grep is not None and not isinstance(grep, str):
            raise UsageError("grep must be a string")
        self.pattern = None
        if regex is not None:
            from toolkit_pom.core.regex import PatternError, compile_pattern

            try:
                self.pattern = compile_pattern(str(regex))
            except PatternError as exc:
                raise UsageError(f"bad regular expression {regex!r}: {exc}", hint="escape special characters") from None
        self.stream = stream
        self.after_id = after_id
        self.limit = limit
        self.grep = grep

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> LogQuery:
        """Build from a request map."""
        return cls(
            stream=request.get("stream"),
            after_id=request.get("after_id"),
            limit=request.get("limit"),
            grep=request.get("grep"),
            regex=request.get("regex"),
        )


def _names(request: dict[str, Any], key: str = "names") -> list[str]:
    value = request.get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{key!r} must be a non-empty list of process names", hint="pass NAMES or all")
    return value


Merged = list[tuple[float, str, int, LogLine]]


def merge_logs(
    instances: Iterable[Instance], q: LogQuery, cursors: dict[str, int] | None = None
) -> tuple[Merged, list[dict[str, Any]], dict[str, int]]:
    """Run `q` against each instance: (lines merged by time as (ts, name, id, line), gaps, cursors).

    Each instance contributes up to `q.limit` lines; the merged list is not cut to `q.limit`.
    """
    per: list[Merged] = []
    gaps: list[dict[str, Any]] = []
    out_cursors: dict[str, int] = {}
    for inst in instances:
        after = cursors.get(inst.name, q.after_id) if cursors is not None else q.after_id
        result = inst.log.snapshot().query(
            stream=q.stream, after_id=after, limit=q.limit, contains=q.grep, regex=q.pattern
        )
        if result.gap is not None:
            gaps.append({"process": inst.name, **result.gap})
        out_cursors[inst.name] = result.next_after_id
        name = inst.name
        per.append([(line.ts, name, line.id, line) for line in result.lines])
    # (ts, name, id) is unique, so tuples compare in C without ever reaching the LogLine.
    merged = per[0] if len(per) == 1 else list(heapq.merge(*per))
    return merged, gaps, out_cursors


def query_logs(instances: Iterable[Instance], q: LogQuery, cursors: dict[str, int] | None = None) -> dict[str, Any]:
    """Run `q` against several instances and merge the lines (the `Logs` shape), at most `q.limit`."""
    merged, gaps, out_cursors = merge_logs(instances, q, cursors)
    if q.limit is not None and len(merged) > q.limit:
        if q.after_id is None and cursors is None:
            merged = merged[-q.limit :]
        else:
            merged = merged[: q.limit]
            # Cursors must not skip lines that were cut from the merged page.
            for name in out_cursors:
                kept = [t[2] for t in merged if t[1] == name]
                if kept:
                    out_cursors[name] = kept[-1]
                else:
                    out_cursors[name] = cursors.get(name, q.after_id or 0) if cursors else (q.after_id or 0)
    return {
        "lines": [t[3].to_dict(t[1]) for t in merged],
        "gaps": gaps,
        "cursors": out_cursors,
    }


class Control:
    """Request dispatcher over one supervisor.

    Args:
        sup: The running supervisor.
    """

    def __init__(self, sup: Supervisor) -> None:
        self.sup = sup

    async def handle(self, request: dict[str, Any]) -> Any:
        """Answer one control request (or return an async iterator for `follow`).

        Raises:
            UsageError: unknown op or bad arguments.
            UnknownProcess: a name matches nothing.
        """
        op = request.get("op")
        method = getattr(self, f"_op_{op}", None) if isinstance(op, str) and op.isidentifier() else None
        if method is None:
            raise UsageError(f"unknown op {op!r}", hint="see specs/pom/control-protocol.md")
        return await method(request)

    async def _op_ping(self, _request: dict[str, Any]) -> Any:
        return {"ok": True}

    async def _op_info(self, _request: dict[str, Any]) -> Any:
        return self.sup.info()

    async def _op_ps(self, _request: dict[str, Any]) -> Any:
        return {"project": self.sup.info(), "processes": self.sup.processes()}

    async def _op_status(self, request: dict[str, Any]) -> Any:
        name = request.get("name")
        if not isinstance(name, str):
            raise UsageError("status needs a process name")
        return self.sup.get(name).to_dict()

    async def _op_logs(self, request: dict[str, Any]) -> Any:
        return query_logs(self.sup.resolve(_names(request)), LogQuery.from_request(request))

    async def _op_follow(self, request: dict[str, Any]) -> Any:
        instances = self.sup.resolve(_names(request))
        start = request.get("cursors")
        if start is not None and (
            not isinstance(start, dict)
            or not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in start.items())
        ):
            raise UsageError("cursors must map process names to line ids", hint='e.g. {"web.1": 120}')
        return self.follow(instances, LogQuery.from_request(request), start)

    async def _op_start(self, request: dict[str, Any]) -> Any:
        return await self.lifecycle("start", _names(request))

    async def _op_stop(self, request: dict[str, Any]) -> Any:
        return await self.lifecycle("stop", _names(request))

    async def _op_restart(self, request: dict[str, Any]) -> Any:
        return await self.lifecycle("restart", _names(request))

    async def _op_signal(self, request: dict[str, Any]) -> Any:
        try:
            sig = parse_signal(request.get("signal"))
        except ValueError as exc:
            raise UsageError(str(exc), hint="use a name like HUP or SIGTERM, or a number") from None
        results = []
        for inst in self.sup.resolve(_names(request)):
            ok = inst.send_signal(sig)
            results.append(self._result(inst, ok, None if ok else "not running"))
        return {"results": results}

    async def _op_input(self, request: dict[str, Any]) -> Any:
        data = request.get("data")
        if not isinstance(data, str):
            raise UsageError(
                "input needs `data`: the text to type", hint='e.g. {"op": "input", "name": "repl", "data": "1+1\\n"}'
            )
        name = request.get("name")
        if not isinstance(name, str):
            raise UsageError("input needs a process name (one instance, e.g. repl or web.2)")
        inst = self.sup.get(name)
        if not inst.spec.interactive:
            raise UsageError(f"{inst.name} is not interactive", hint="set interactive = true (is_interactive: true)")
        ok = inst.write_input(data.encode())
        return self._result(inst, ok, None if ok else "not running or not reading its input")

    async def _op_truncate(self, request: dict[str, Any]) -> Any:
        results = []
        for inst in self.sup.resolve(_names(request)):
            dropped = inst.log.truncate()
            self.sup.logs_changed.notify()
            results.append({**self._result(inst, True, None), "dropped": dropped})
        return {"results": results}

    async def _op_reload(self, request: dict[str, Any]) -> Any:
        files = request.get("files") or []
        if not isinstance(files, list) or not all(isinstance(f, str) and os.path.isabs(f) for f in files):
            raise UsageError("files must be a list of absolute paths", hint="the files to read instead of pom's own")
        return await self.sup.reload(files)

    async def _op_scale(self, request: dict[str, Any]) -> Any:
        name = request.get("name")
        replicas = request.get("replicas")
        if not isinstance(name, str) or isinstance(replicas, bool) or not isinstance(replicas, int):
            raise UsageError("scale needs a group name and a replica count", hint="pom scale web 3")
        instances = await self.sup.scale(name, replicas)
        return {"results": [self._result(i, True, None) for i in instances]}

    async def _op_graph(self, _request: dict[str, Any]) -> Any:
        from toolkit_pom.core.graph import dependency_graph

        return dependency_graph(self.sup.processes())

    async def _op_down(self, _request: dict[str, Any]) -> Any:
        asyncio.get_running_loop().call_soon(self.sup.request_shutdown, 0, "pom down")
        return {"ok": True}

    async def _op_summary(self, _request: dict[str, Any]) -> Any:
        return agent.summary(self.sup)

    async def _op_errors(self, request: dict[str, Any]) -> Any:
        limit = request.get("limit", 20)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise UsageError("limit must be between 1 and 1000")
        names = _names(request) if request.get("names") else None
        return {"errors": agent.errors(self.sup, names, limit)}

    @staticmethod
    def _result(inst: Instance, ok: bool, error: str | None) -> dict[str, Any]:
        return {"name": inst.name, "ok": ok, "state": inst.state, "error": error}

    async def lifecycle(self, op: str, names: list[str]) -> dict[str, Any]:
        """Start, stop or restart the named instances; return one `Result` each."""
        sup = self.sup
        instances = sup.resolve(names)
        results = []
        if op == "stop":
            await sup.stop_many(instances)
            results = [self._result(i, True, None) for i in instances]
        elif op == "restart":
            await sup.restart(instances)
            await asyncio.sleep(0)
            results = [self._result(i, True, None) for i in instances]
        else:
            started = [inst.start() for inst in instances]
            await asyncio.sleep(0)  # let the actors take their first step, so states are current
            results = [
                self._result(inst, True, None if ok else "already running")
                for inst, ok in zip(instances, started, strict=True)
            ]
        return {"results": results}

    async def follow(
        self, instances: list[Instance], q: LogQuery, start: dict[str, int] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield `Logs` frames as lines arrive, until pom has stopped every process.

        Each process starts after `start[name]`, else `q.after_id`, else its current last line.
        """
        sup = self.sup
        start = start or {}
        cursors = {
            inst.name: start.get(inst.name, q.after_id if q.after_id is not None else inst.log.snapshot().last_id)
            for inst in instances
        }
        page = LogQuery(stream=q.stream, after_id=0, limit=min(q.limit or 5000, 5000), grep=q.grep)
        page.pattern = q.pattern
        idle_since = time.monotonic()
        while True:
            frame = query_logs(instances, page, cursors)
            cursors.update(frame["cursors"])
            if frame["lines"] or frame["gaps"]:
                idle_since = time.monotonic()
                yield frame
                continue
            if sup.closed.is_set():
                return  # every process is down and its last lines were sent
            if time.monotonic() - idle_since >= HEARTBEAT_S:
                idle_since = time.monotonic()
                yield frame  # an empty frame keeps idle followers' connections alive
            await sup.logs_changed.wait(1.0)
