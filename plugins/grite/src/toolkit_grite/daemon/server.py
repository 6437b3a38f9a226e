"""The grite daemon: one per repository, serving core calls over the kernel's IPC.

A request is `{"op": "call", "call", "args", "cwd", "actor", "data_dir", "env"}`
(see `toolkit_grite.daemon.client.forward`): the daemon opens the caller's view of the
repository (its worktree, actor options and `GRITE_*` settings, never the daemon's own
environment or working directory), runs the named function of `toolkit_grite.core.calls`
and answers its data as JSON text with the warnings; a core error travels as the IPC error envelope.
It keeps one LMDB environment and one repository handle open between calls. Calls run one at
a time (like the local write lock), in a worker thread so the event loop keeps answering
pings. Run with `python -m toolkit_grite.daemon --git-dir DIR`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
from pathlib import Path
from typing import Any

from toolkit_grite.core.repo import RepoPaths, discover
from toolkit_grite.daemon.client import CALLER_ENV, spec_for
from toolkit_grite.errors import InvalidArgs

__all__ = ["main", "serve", "serve_call"]

_RUN_LOCK = threading.Lock()


class _Served:
    """The repository this daemon serves: its paths and the (device, inode) of its common and grite dirs at start."""

    def __init__(self, paths: RepoPaths) -> None:
        self.paths = paths
        self.identity = self.current_identity()
        self.runtime: Any = None

    def current_identity(self) -> tuple[tuple[int, int], ...]:
        try:
            dirs = (self.paths.common_dir, self.paths.grite_dir)
            return tuple((st.st_dev, st.st_ino) for st in map(os.stat, dirs))
        except OSError:
            return ()

    def replaced(self) -> bool:
        """True when the repository at our path was deleted (and maybe recreated) since we started."""
        return bool(self.identity) and self.current_identity() != self.identity


_SERVED: _Served | None = None


def _optional_str(request: dict[str, Any], key: str) -> str | None:
    value = request.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidArgs(f"{key} must be a string or null")
    return value


def _parse(request: dict[str, Any]) -> tuple[str, dict[str, Any], str, str | None, str | None, dict[str, str]]:
    """Check the request's shape (the call's arguments are checked against the call itself)."""
    if request.get("op") != "call":
        raise InvalidArgs(f"unknown op {request.get('op')!r}", hint="this daemon serves {'op': 'call', ...}")
    name, args, cwd = request.get("call"), request.get("args", {}), request.get("cwd")
    if not isinstance(name, str) or not isinstance(args, dict) or not isinstance(cwd, str):
        raise InvalidArgs("a call needs call (str), args (map) and cwd (str)")
    env = request.get("env") or {}
    if not isinstance(env, dict) or not all(k in CALLER_ENV and isinstance(v, str) for k, v in env.items()):
        raise InvalidArgs(f"env must map some of {', '.join(CALLER_ENV)} to strings")
    return name, args, cwd, _optional_str(request, "actor"), _optional_str(request, "data_dir"), env


def serve_call(request: dict[str, Any], served: RepoPaths) -> dict[str, Any]:
    """Run one call request for the repository at `served`; return `{json, warnings}`.

    Raises:
        InvalidArgs: a malformed request, or a `cwd` outside the served repository.
        GriteError: whatever the call raises.
    """
    from toolkit_grite.core.calls import as_json, run
    from toolkit_grite.core.grite import Grite

    name, args, cwd, actor, data_dir, env = _parse(request)
    with _RUN_LOCK:
        paths = discover(Path(cwd))
        if paths.common_dir.resolve() != served.common_dir.resolve():
            raise InvalidArgs(f"{cwd} is not in the repository this daemon serves ({served.common_dir})")
        g = Grite(paths, actor_flag=actor, data_dir=data_dir, env=env)
        try:
            data = run(g, name, args)
        finally:
            g.close()
    # JSON text, not a CBOR tree: the client prints it as is, or parses it with the C json module.
    return {"json": as_json(data), "warnings": g.warnings}


async def _handle(request: dict[str, Any]) -> Any:
    served = _SERVED
    assert served is not None
    if served.replaced():
        # Every handle we hold points at the old repository. Tell the client to run locally
        # (nothing was applied) and leave.
        if served.runtime is not None:
            served.runtime.stop("repository replaced")
        return {"stale": True}
    return await asyncio.to_thread(serve_call, request, served.paths)


def serve(paths: RepoPaths, idle_timeout: float | None) -> None:
    """Run the daemon for `paths` until idle, stopped or signalled."""
    from toolkit_grite.core import grite
    from toolkit_kernel.ipc import DaemonRuntime

    global _SERVED
    grite.SHARED = True
    spec = spec_for(paths.common_dir, idle_timeout=idle_timeout or 0)
    _SERVED = _Served(paths)
    _SERVED.runtime = DaemonRuntime(spec, _handle, idle_timeout=idle_timeout)
    asyncio.run(_SERVED.runtime.run())


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m toolkit_grite.daemon`."""
    parser = argparse.ArgumentParser(prog="grite-daemon")
    parser.add_argument("--git-dir", required=True)
    parser.add_argument("--idle-timeout", type=float, default=300.0, help="seconds; 0 = never")
    args = parser.parse_args(argv)
    paths = discover(Path(args.git_dir))
    try:
        serve(paths, args.idle_timeout or None)
    except Exception as exc:  # startup failures land in the daemon log
        print(f"grite daemon failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
