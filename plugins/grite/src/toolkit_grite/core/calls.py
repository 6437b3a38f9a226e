"""The operations on an open repository, by name: what the daemon serves and the CLI calls.

Each call is one core function `fn(g: Grite, **args) -> dict`. A request names the call and
gives its arguments as a JSON map; `run` checks them against the function's annotations
before calling it, so a malformed request is `invalid_args` and never reaches the core.
Commands that do not act on an open repository (`init`, `actor init|list|use`), and those
that must run with the caller's environment or streams (`sync`, `export`, the git-bug bridge)
are not calls: they always run in the client.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from toolkit_grite.core.grite import Grite
from toolkit_grite.errors import InvalidArgs

if TYPE_CHECKING:
    import inspect

__all__ = ["CALLS", "as_json", "check_args", "function", "resolve", "run"]

#: Call name -> "module:function" under `toolkit_grite.core`.
CALLS = {
    "issue.create": "ops:create_issue",
    "issue.list": "ops:list_issues",
    "issue.show": "ops:show_issue",
    "issue.update": "ops:update_issue",
    "issue.comment": "ops:comment",
    "issue.set_state": "ops:set_state",
    "issue.edit_comment": "ops:edit_comment",
    "issue.remove": "ops:remove_issue",
    "issue.set_members": "ops:set_members",
    "issue.add_link": "ops:add_link",
    "issue.add_attachment": "ops:add_attachment",
    "issue.dep_change": "ops:dep_change",
    "issue.dep_list": "ops:dep_list",
    "issue.dep_topo": "ops:dep_topo",
    "label.list": "ops:label_list",
    "actor.show": "actors:actor_show",
    "actor.current": "actors:actor_current",
    "actor.set": "identities:publish",
    "actor.identities": "actors:identities",
    "rebuild": "dbops:rebuild",
    "doctor": "doctor:doctor",
    "db.stats": "dbops:stats",
    "db.check": "dbops:check",
    "db.verify": "dbops:verify_signatures",
    "snapshot.create": "snapshots:create",
    "snapshot.list": "snapshots:list_snapshots",
    "snapshot.gc": "snapshots:gc",
    "lock.acquire": "leases:acquire",
    "lock.renew": "leases:renew",
    "lock.release": "leases:release",
    "lock.status": "leases:status",
    "lock.gc": "leases:gc",
    "context.show": "context:show",
    "context.query": "context:query",
    "context.project": "context:project",
    "context.set": "context:set_project",
    "context.record": "context:record_files",
    "context.hashes": "context:recorded_hashes",
}

_RESOLVED: dict[str, tuple[Callable[..., dict[str, Any]], dict[str, inspect.Parameter], dict[str, Any]]] = {}


def function(name: str) -> Callable[..., dict[str, Any]]:
    """The core function of call `name`.

    Raises:
        InvalidArgs: there is no such call.
    """
    target = CALLS.get(name)
    if target is None:
        raise InvalidArgs(f"unknown call {name!r}", hint="see toolkit_grite.core.calls.CALLS")
    module, _, attribute = target.partition(":")
    fn: Callable[..., dict[str, Any]] = getattr(importlib.import_module(f"toolkit_grite.core.{module}"), attribute)
    return fn


def resolve(name: str) -> tuple[Callable[..., dict[str, Any]], dict[str, inspect.Parameter], dict[str, Any]]:
    """The function of call `name`, its parameters after `g`, and their resolved annotations.

    Raises:
        InvalidArgs: there is no such call.
    """
    found = _RESOLVED.get(name)
    if found is None:
        import inspect
        import typing

        fn = function(name)
        params = dict(list(inspect.signature(fn).parameters.items())[1:])  # the first is the Grite
        # Modules that import `Grite` for annotations only still resolve it.
        hints = typing.get_type_hints(fn, localns={"Grite": Grite})
        found = _RESOLVED[name] = (fn, params, hints)
    return found


def _matches(value: Any, hint: Any) -> bool:
    """Whether a JSON-decoded `value` fits the annotation `hint` (the few shapes core calls take)."""
    import types
    import typing

    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if origin in (list, tuple, Sequence):
        item = args[0] if args else Any
        return isinstance(value, (list, tuple)) and all(_matches(v, item) for v in value)
    raise TypeError(f"core call parameter annotation {hint!r} is not supported by the call checker")


def check_args(name: str, args: Mapping[str, Any]) -> None:
    """Refuse arguments the call `name` does not take, lacks, or gets with the wrong type.

    Raises:
        InvalidArgs: with the offending argument named.
    """
    _fn, params, hints = resolve(name)
    for key, value in args.items():
        param = params.get(key)
        if param is None or param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            raise InvalidArgs(f"call {name} takes no argument {key!r}", details={"call": name})
        if not _matches(value, hints[key]):
            raise InvalidArgs(
                f"call {name}: argument {key!r} must be {hints[key]}, got {type(value).__name__}",
                details={"call": name},
            )
    missing = [k for k, p in params.items() if p.default is p.empty and k not in args]
    if missing:
        raise InvalidArgs(f"call {name} needs {', '.join(missing)}", details={"call": name})


def run(g: Grite, name: str, args: Mapping[str, Any], *, check: bool = True) -> dict[str, Any]:
    """Run call `name` on `g`; return the JSON data (`g.warnings` holds the warnings).

    `check` validates `args` against the function first (requests from another process);
    an adapter whose own parser built typed arguments may skip it.

    Raises:
        InvalidArgs: unknown call or bad arguments; any error of the call itself.
    """
    if check:
        check_args(name, args)
    return function(name)(g, **args)


def as_json(data: Mapping[str, Any]) -> str:
    """A call's data as compact sorted-key JSON (the text `--json` puts under `data`)."""
    text_of = getattr(data, "data_json", None)  # a list result carries its summaries' text already
    if text_of is not None:
        return str(text_of())
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
