"""`pom up` without click: the start path of a plain headless `up`.

Importing click and the full CLI costs more than process-compose needs to start ten processes,
so a command line made only of the options below is read by hand and run here, with the same
loader, options and output as the click command (which calls `load_project` and `finish_up`
too). Anything else (names, the TUI, `--json`, `-d`, an unknown, repeated or malformed option,
`POM_FILE`) returns False and the full CLI parses and runs it. A config that does not load also
returns False before anything has started, so the full CLI reports it in its own words; errors
after that are reported exactly as the click group reports them (`ToolkitClickError`).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not worth its import on this path
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

__all__ = ["finish_up", "load_project", "parse_up_args", "run_fast_up"]

_FLAGS = {
    "--headless": "headless", "-q": "quiet", "--quiet": "quiet", "--no-http": "no_http",
    "--exit-when-ready": "exit_when_ready", "--disable-dotenv": "disable_dotenv",
}  # fmt: skip
_VALUES = {"-f": "files", "--file": "files", "--http": "http", "--timeout": "timeout", "--settle": "settle"}


def parse_up_args(argv: Sequence[str]) -> dict[str, Any] | None:
    """Return the options of a plain headless `up` command line, or None when click must handle it."""
    if not argv or argv[0] != "up" or os.environ.get("TOOLKIT_JSON") or os.environ.get("POM_FILE"):
        return None
    opts: dict[str, Any] = {"files": [], "http": None, "timeout": 60.0, "settle": 1.0}
    opts.update(dict.fromkeys(_FLAGS.values(), False))
    seen: set[str] = set()
    args = iter(argv[1:])
    for arg in args:
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg[:2], "", arg[2:])
        if name in _FLAGS and not eq and not inline and _FLAGS[name] not in seen:
            seen.add(_FLAGS[name])
            opts[_FLAGS[name]] = True
            continue
        key = _VALUES.get(name)
        if key is None or (key in seen and key != "files"):
            return None  # names, other options, `--`, a repeated option: click's rules apply
        value = inline if (eq or inline) else next(args, None)
        if value is None:
            return None
        seen.add(key)
        if key in ("timeout", "settle"):
            try:
                opts[key] = float(value)
            except ValueError:
                return None
        elif key == "files":
            opts["files"].append(value)
        else:
            opts[key] = value
    return opts if opts["headless"] else None


def load_project(
    files: Sequence[str], env_files: Sequence[Any], formation: str | None, port: int, no_dotenv: bool
) -> Any:
    """Load the project as `pom up` does (`-e` files given as paths)."""
    from pathlib import Path

    from toolkit_pom.core.config import load_config

    return load_config(
        [Path(f) for f in files] or None,
        env_files=list(env_files),
        formation=formation,
        port=port,
        disable_dotenv=no_dotenv,
    )


def finish_up(
    options: Any, code: int, reason: str | None, final: dict[str, Any], json_out: Callable[..., None] | None
) -> None:
    """Report how a foreground `pom up` ended (shared with the click command)."""
    from toolkit_pom import render
    from toolkit_pom.daemon.runner import readiness_error

    if options.exit_when_ready:
        if json_out is not None:
            json_out({"exit_code": code, "reason": reason, **final})
        else:
            _stderr(render.ps_table(final))
            _stderr(f"pom: {reason}; stopped cleanly" if code == 0 else f"pom: {reason}")
        err = readiness_error(code, reason)
        if err is not None:
            raise err
        return
    if reason and not options.tui:
        _stderr(f"pom: {reason}")
    if code:
        raise SystemExit(code)


def _stderr(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def run_fast_up(argv: Sequence[str]) -> bool:
    """Run a plain headless `pom up`; False (nothing done) when the full CLI must run instead."""
    opts = parse_up_args(argv)
    if opts is None:
        return False
    files = tuple(opts["files"])
    no_dotenv = opts["disable_dotenv"]
    from toolkit_pom.core.startburst import begin_start_burst, end_start_burst

    begin_start_burst()  # until pom serves (`runner` ends it)
    try:
        config = load_project(files, (), None, 5000, no_dotenv)
    except Exception:  # the full CLI loads again and reports the error in its own words
        end_start_burst()
        return False
    options = {
        "http": None if opts["no_http"] else (opts["http"] or config.http),
        "token": os.environ.get("POM_TOKEN") or None,
        "quiet": opts["quiet"],
        "exit_when_ready": opts["exit_when_ready"],
        "timeout": opts["timeout"],
        "settle": opts["settle"],
        "reload": lambda other=(): load_project(tuple(other) or files, (), None, 5000, no_dotenv),
    }
    _guarded(lambda: _run(config, options))
    return True


def _run(config: Any, opts: dict[str, Any]) -> None:
    """Take the lock and bind, start what waits for nothing, then import the rest and supervise."""
    from toolkit_pom.core.prestart import prestart
    from toolkit_pom.daemon.listeners import acquire

    held = acquire(config, opts["http"], None, opts["token"])
    early = None
    try:
        early = prestart(config)  # the processes boot while asyncio and the supervisor are imported
        from toolkit_pom.core.lazyssl import import_asyncio

        import_asyncio()  # without ssl: only an https probe needs it (`lazyssl.asyncio_ssl`)
        import asyncio

        from toolkit_pom.daemon.runner import UpOptions, run_up

        options = UpOptions(**opts)
        result = asyncio.run(run_up(config, options, held, early))
    finally:
        if early is not None:
            early.abort()  # nothing if a supervisor adopted it
        held.release()
    finish_up(options, *result, json_out=None)


def _guarded(body: Callable[[], None]) -> None:
    """Run `body`, leaving like the click group does (`toolkit.cliutil.ToolkitGroup.invoke`)."""
    from toolkit_kernel.errors import Internal, ToolkitError

    try:
        body()
        return
    except ToolkitError as err:
        error = err
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as exc:
        if os.environ.get("TOOLKIT_DEBUG"):
            raise
        hint = "this is a bug; rerun with TOOLKIT_DEBUG=1 for a traceback and report it"
        error = Internal(f"internal error: {type(exc).__name__}: {exc}", hint=hint)
    from toolkit.cliutil import ToolkitClickError  # click only to print an error, as the group does

    failure = ToolkitClickError(error, as_json=False)
    failure.show()
    raise SystemExit(failure.exit_code)
