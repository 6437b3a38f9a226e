"""The grite daemon: one per repository, serving whole command lines over the kernel's IPC.

The daemon runs the very same click group as the local CLI, in-process, with the caller's
argv, working directory and `GRITE_*`/`TOOLKIT_JSON` environment, and returns stdout, stderr
and the exit code. Results are therefore byte-identical to local execution by construction.
Requests run one at a time (like the local write lock), in a worker thread so the event
loop keeps answering pings. Run with `python -m toolkit_grite.daemon --git-dir DIR`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import sys
import threading
from pathlib import Path
from typing import Any

from toolkit_grite.core.repo import RepoPaths, discover
from toolkit_grite.daemon.client import PASSED_ENV, spec_for

__all__ = ["execute", "main", "serve"]

_RUN_LOCK = threading.Lock()


def execute(argv: list[str], cwd: str, env: dict[str, str]) -> dict[str, Any]:
    """Run one grite command line in this process; return `{stdout, stderr, code}`."""
    from toolkit_grite.cli.commands import grite

    out, err = io.StringIO(), io.StringIO()
    with _RUN_LOCK:
        saved_env = {k: os.environ.get(k) for k in PASSED_ENV}
        saved_cwd = os.getcwd()
        code = 0
        try:
            for key in PASSED_ENV:
                if key in env:
                    os.environ[key] = env[key]
                else:
                    os.environ.pop(key, None)
            os.chdir(cwd)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    grite.main(args=list(argv), prog_name="grite", standalone_mode=True)
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            os.chdir(saved_cwd)
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return {"stdout": out.getvalue(), "stderr": err.getvalue(), "code": code}


#: The repository this daemon serves, as (device, inode) of its common dir and of `grite/` at start.
_IDENTITY: tuple[tuple[int, int], ...] = ()
_PATHS: RepoPaths | None = None
_RUNTIME: Any = None


def _identity(paths: RepoPaths) -> tuple[tuple[int, int], ...]:
    try:
        return tuple((st.st_dev, st.st_ino) for st in (os.stat(paths.common_dir), os.stat(paths.grite_dir)))
    except OSError:
        return ()


async def _handle(request: dict[str, Any]) -> Any:
    from toolkit_grite.errors import InvalidArgs

    if _IDENTITY and _PATHS is not None and _identity(_PATHS) != _IDENTITY:
        # The repository was deleted (and maybe recreated) at this path: every handle we hold
        # points at the old one. Tell the client to run locally (nothing was applied) and leave.
        if _RUNTIME is not None:
            _RUNTIME.stop("repository replaced")
        return {"stale": True}
    if request.get("op") != "run":
        raise InvalidArgs(f"unknown op {request.get('op')!r}")
    argv, cwd, env = request.get("argv"), request.get("cwd"), request.get("env") or {}
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or not isinstance(cwd, str):
        raise InvalidArgs("run needs argv (list of str) and cwd (str)")
    if not isinstance(env, dict):
        raise InvalidArgs("env must be a map")
    clean = {k: v for k, v in env.items() if k in PASSED_ENV and isinstance(v, str)}
    return await asyncio.to_thread(execute, argv, cwd, clean)


def serve(paths: RepoPaths, idle_timeout: float | None) -> None:
    """Run the daemon for `paths` until idle, stopped or signalled."""
    from toolkit_grite.core import grite as core
    from toolkit_kernel.ipc import DaemonRuntime

    global _IDENTITY, _RUNTIME, _PATHS
    core.SHARED = True
    spec = spec_for(paths.common_dir, idle_timeout=idle_timeout or 0)
    _PATHS, _IDENTITY = paths, _identity(paths)
    _RUNTIME = DaemonRuntime(spec, _handle, idle_timeout=idle_timeout)
    asyncio.run(_RUNTIME.run())


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


if __name__ == "__main__":
    main()
