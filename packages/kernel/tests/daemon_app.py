"""A tiny daemon for the IPC tests: `python daemon_app.py SOCKET LOCK [--idle S] [--max-conn N]`.

Ops: echo (returns the request), sleep (seconds), stream (n items), stream_fail (items then
an error), fail (a NotFound with hint and details), crash (a plain exception), big (a result
of n bytes), pid.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from toolkit_kernel.errors import NotFound
from toolkit_kernel.ipc import DaemonRuntime, DaemonSpec


async def _stream(n: int, fail_after: int | None = None) -> AsyncIterator[Any]:
    for i in range(n):
        if fail_after is not None and i == fail_after:
            raise NotFound("item vanished", hint="stream less", details={"at": i})
        yield {"i": i}
        await asyncio.sleep(0)


async def handle(request: dict[str, Any]) -> Any:
    op = request.get("op")
    if op == "echo":
        return request
    if op == "sleep":
        if request.get("marker"):
            with open(request["marker"], "w") as fh:
                fh.write("started")
        await asyncio.sleep(float(request["seconds"]))
        return {"slept": request["seconds"]}
    if op == "stream":
        return _stream(int(request["n"]))
    if op == "stream_fail":
        return _stream(int(request["n"]), fail_after=int(request["fail_after"]))
    if op == "fail":
        raise NotFound("no such thing", hint="create it first", details={"name": request.get("name")})
    if op == "crash":
        raise ZeroDivisionError("boom")
    if op == "big":
        return b"x" * int(request["n"])
    if op == "pid":
        return os.getpid()
    if op == "env":
        return {"cwd": os.getcwd(), "var": os.environ.get("TK_TEST_VAR")}
    raise NotFound(f"unknown op {op!r}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("socket")
    parser.add_argument("lock")
    parser.add_argument("--idle", type=float, default=None)
    parser.add_argument("--max-conn", type=int, default=64)
    parser.add_argument("--heartbeat", type=float, default=0.2)
    parser.add_argument("--start-delay", type=float, default=0.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    spec = DaemonSpec(name="testd", socket_path=args.socket, lock_path=args.lock, argv=())
    runtime = DaemonRuntime(
        spec, handle, idle_timeout=args.idle, heartbeat_interval=args.heartbeat, max_connections=args.max_conn
    )
    if args.start_delay:
        time.sleep(args.start_delay)
    return runtime.main()


if __name__ == "__main__":
    sys.exit(main())
