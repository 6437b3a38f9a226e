"""The `grite` fast path: the everyday issue commands sent to the daemon before click is imported.

`grite issue create|list|show|comment|update|close|reopen` with plain options is parsed here
(no click), sent to the repository's daemon as a core call, and printed with the very renderers
the click commands use (`toolkit_grite.cli.render`), so the bytes match a local run. Anything
else (another command, `--help`, a usage error, `--body-file`, an option spelled in a way this
parser does not know, no daemon) returns None and the click CLI handles the command line, which
reports usage errors exactly as always.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: this module must not import typing (startup cost)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["run"]

FLAG, VALUE, MULTI = "flag", "value", "multi"
#: Options every grite command takes: name -> (kind, key).
GLOBAL = {
    "--json": (FLAG, "json"),
    "--quiet": (FLAG, "quiet"),
    "-q": (FLAG, "quiet"),
    "--actor": (VALUE, "actor"),
    "--data-dir": (VALUE, "data_dir"),
    "--no-daemon": (FLAG, "no_daemon"),
}
_LOCK = {"--lock": (FLAG, "lock")}


class _Command:
    """One fast command: its core call, options (-> call arguments), positionals and human rendering."""

    def __init__(
        self,
        call: str,
        options: dict[str, tuple[str, str]],
        positional: tuple[str, ...] = (),
        *,
        fixed: dict[str, Any] | None = None,
        rest: str | None = None,
        required: tuple[str, ...] = (),
        human: str = "",
    ) -> None:
        self.call, self.options, self.positional = call, options, positional
        self.fixed, self.rest, self.required, self.human = fixed or {}, rest, required, human


COMMANDS = {
    "create": _Command(
        "issue.create",
        {"--title": (VALUE, "title"), "--body": (VALUE, "body"), "--label": (MULTI, "labels"), **_LOCK},
        required=("title",),
        fixed={"body": ""},
        human="done:created",
    ),
    "list": _Command(
        "issue.list",
        {
            "--state": (VALUE, "state"),
            "--label": (MULTI, "labels"),
            "--assignee": (VALUE, "assignee"),
            "--search": (VALUE, "search"),
            "--sort": (VALUE, "sort"),
            "--desc": (FLAG, "desc"),
            "--limit": (VALUE, "limit"),
        },
        rest="text",
        human="table",
    ),
    "show": _Command("issue.show", {}, ("ident",), human="show"),
    "comment": _Command(
        "issue.comment", {"--body": (VALUE, "body"), **_LOCK}, ("ident",), required=("body",), human="done:commented on"
    ),
    "update": _Command(
        "issue.update",
        {"--title": (VALUE, "title"), "--body": (VALUE, "body"), **_LOCK},
        ("ident",),
        fixed={"title": None, "body": None},
        human="done:updated",
    ),
    "close": _Command("issue.set_state", dict(_LOCK), ("ident",), fixed={"state": "closed"}, human="done:closed"),
    "reopen": _Command("issue.set_state", dict(_LOCK), ("ident",), fixed={"state": "open"}, human="done:reopened"),
}


def _parse(argv: list[str]) -> tuple[_Command, dict[str, Any], dict[str, Any]] | None:
    """`(command, call arguments, global options)` for `issue <fast command> ...`, else None."""
    words: list[str] = []
    given: dict[str, Any] = {}
    command: _Command | None = None
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token.startswith("-") and token != "-":
            name, eq, inline = token.partition("=")
            spec = GLOBAL.get(name) or (command.options.get(name) if command else None)
            if spec is None or (spec[0] == FLAG and eq):
                return None  # unknown here (or `--help`, `--`): click decides
            kind, key = spec
            if kind == FLAG:
                given[key] = True
                continue
            if not eq:
                if i >= len(argv):
                    return None
                inline, i = argv[i], i + 1
            if kind == MULTI:
                given.setdefault(key, []).append(inline)
            else:
                given[key] = inline
            continue
        words.append(token)
        if len(words) == 2:
            if words[0] != "issue" or token not in COMMANDS:
                return None
            command = COMMANDS[token]
    if command is None:
        return None
    return _arguments(command, words[2:], given)


def _arguments(
    command: _Command, words: list[str], given: dict[str, Any]
) -> tuple[_Command, dict[str, Any], dict[str, Any]] | None:
    if command.rest is None and len(words) != len(command.positional):
        return None
    glob = {key: given.pop(key) for _n, (_k, key) in GLOBAL.items() if key in given}
    args: dict[str, Any] = dict(command.fixed)
    args.update(zip(command.positional, words, strict=False))
    if command.rest is not None:
        args[command.rest] = " ".join(words)  # as the click command: the arguments joined
    args.update(given)
    if any(key not in args for key in command.required):
        return None
    if "limit" in args:
        try:
            args["limit"] = int(args["limit"])
        except ValueError:
            return None
    return command, args, glob


def _env_flag(name: str) -> bool | None:
    """A boolean environment variable as click reads it; None for a value click would refuse."""
    value = os.environ.get(name, "")
    if value.lower() in ("", "0", "false", "f", "no", "n", "off"):
        return False
    if value.lower() in ("1", "true", "t", "yes", "y", "on"):
        return True
    return None


def run(argv: list[str]) -> int | None:
    """Serve `argv` (through the daemon, else here); return the exit code, or None to hand it to the click CLI."""
    parsed = _parse(argv)
    if parsed is None:
        return None
    command, args, glob = parsed
    env_json = _env_flag("TOOLKIT_JSON")
    if env_json is None:
        return None
    as_json = bool(glob.get("json") or env_json)
    quiet = not as_json and bool(glob.get("quiet") or os.environ.get("GRITE_QUIET", "") not in ("", "0"))
    data_dir = glob.get("data_dir") or os.environ.get("GRITE_HOME") or None
    try:
        result = None
        if not glob.get("no_daemon") and os.environ.get("GRITE_NO_DAEMON", "") in ("", "0"):
            result = _forward(command.call, args, actor=glob.get("actor"), data_dir=data_dir)
        if result is None:
            result = _local(command.call, args, actor=glob.get("actor"), data_dir=data_dir)
    except _LocalError as exc:
        return _error(exc.error, as_json)
    try:
        _print(command, result, as_json=as_json, quiet=quiet)
    except BrokenPipeError:  # piped into `head` and closed: not an error (as the click CLI)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


class _LocalError(Exception):
    """A local call's failure, as the error dict the daemon would have sent."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error


def _forward(call: str, args: dict[str, Any], *, actor: str | None, data_dir: str | None) -> dict[str, Any] | None:
    """The daemon's answer, or None when no daemon serves the repository.

    The client (and its wire codec) is imported here: `--no-daemon` and `GRITE_NO_DAEMON=1` runs
    never load it.

    Raises:
        _LocalError: the daemon's error, or the IPC failure after the request was sent.
    """
    from toolkit_grite.daemon import client

    try:
        return client.forward(call, args, actor=actor, data_dir=data_dir)
    except client.RemoteError as exc:
        raise _LocalError(exc.error) from None
    except client.Lost as exc:
        failure = {"kind": "ipc", "message": client.failure_message(str(exc)), "hint": client.FAILURE_HINT}
        raise _LocalError(failure) from None


def _local(call: str, args: dict[str, Any], *, actor: str | None, data_dir: str | None) -> dict[str, Any]:
    """Run the core call in this process; the answer has the daemon's shape (and the data itself).

    Raises:
        _LocalError: the call failed (a toolkit error as its dict; a bug as an `internal` one,
            unless TOOLKIT_DEBUG asks for the traceback), as the click CLI reports them.
    """
    from toolkit_kernel.errors import ToolkitError

    try:
        from toolkit_grite.core.calls import as_json, run
        from toolkit_grite.core.grite import Grite

        g = Grite(actor_flag=actor, data_dir=data_dir)
        try:
            data = run(g, call, args, check=False)  # typed by our own parser
        finally:
            g.close()
    except ToolkitError as exc:
        raise _LocalError(exc.to_dict()) from None
    except Exception as exc:
        if os.environ.get("TOOLKIT_DEBUG"):
            raise
        bug = f"internal error: {type(exc).__name__}: {exc}"
        hint = "this is a bug; rerun with TOOLKIT_DEBUG=1 for a traceback and report it"
        raise _LocalError({"kind": "internal", "message": bug, "hint": hint}) from None
    return {"json": as_json(data), "warnings": g.warnings, "data": data}


def _print(command: _Command, result: dict[str, Any], *, as_json: bool, quiet: bool) -> None:
    """What `toolkit_grite.cli.base.output` prints for this result."""
    warnings = result["warnings"]
    if as_json:
        text = result["json"]
        if warnings:
            import json

            data = dict(json.loads(text), warnings=warnings)
            text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        sys.stdout.write('{"data":' + text + ',"ok":true,"schema_version":1}\n')
        return
    if quiet and not warnings:
        return
    from toolkit_grite.cli import render

    for warning in warnings:
        sys.stderr.write(f"warning: {render.terminal_safe(warning)}\n")
    if quiet:
        return
    if "data" in result:
        data = result["data"]
    else:
        import json

        data = json.loads(result["json"])
    kind, _, verb = command.human.partition(":")
    text = render.done(verb)(data) if kind == "done" else render.table(data) if kind == "table" else render.show(data)
    if text:
        sys.stdout.write(render.terminal_safe(text) + "\n")


def _error(error: dict[str, Any], as_json: bool) -> int:
    """Print a daemon's error as the click CLI prints a GriteError; return its exit code."""
    from toolkit_grite.error_codes import CODE_BY_KIND, EXIT_BY_CODE, envelope

    kind = error.get("kind")
    code = CODE_BY_KIND.get(kind, "internal_error") if isinstance(kind, str) else "internal_error"
    message, hint = str(error.get("message", "")), error.get("hint")
    details = error.get("details") if isinstance(error.get("details"), dict) else None
    if as_json:
        import json

        doc = envelope(code, message, hint if isinstance(hint, str) else None, details)
        sys.stderr.write(json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n")
    else:
        tty = sys.stderr.isatty()
        sys.stderr.write(("\x1b[31m" if tty else "") + f"error: {message}" + ("\x1b[0m" if tty else "") + "\n")
        if hint:
            sys.stderr.write(f"hint: {hint}\n")
    return EXIT_BY_CODE[code]
