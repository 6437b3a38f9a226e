"""plasmite 1.2.1's words for a pool that is not there: the message, the hint and the retry command.

The real CLI answers a missing pool with "not found", the OS cause, and a hint that depends on the
command: `pool info`/`fetch` say how to create it, `feed` names the exact `pool create`, `follow`
echoes the exact command again with `--create`. A ref with a `/` in it is a path the user typed,
so the hint asks to check it instead (and the path is shown as typed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from toolkit_plasmite.errors import NotFoundError

_NO_SUCH_FILE = "No such file or directory (os error 2)"
_CHECK_PATH = "Pool path not found. Check the path or pass --dir for a different pool directory."
#: Tokens plasmite echoes bare; any other is written as a JSON string (the same in every shell).
_BARE_TOKEN = re.compile(r"[A-Za-z0-9_./:=-]+")


def _is_path(ref: str) -> bool:
    return "/" in ref


def _create_it_first(ref: str) -> str:
    if _is_path(ref):
        return _CHECK_PATH
    return f"Create it first: plasmite pool create {ref} (or pass --dir for a different pool directory)."


def _shown_path(ref: str, exc: NotFoundError) -> str | None:
    """The path as plasmite shows it: a path ref exactly as typed, a name resolved in the pool directory."""
    return ref if _is_path(ref) else exc.path


def missing_for_info(ref: str) -> NotFoundError:
    """`pool info` of a missing pool: the hint only (plasmite names no path and no cause here)."""
    return NotFoundError("not found", hint=_create_it_first(ref))


def missing_for_fetch(ref: str, exc: NotFoundError) -> NotFoundError:
    """`fetch` (and other readers) of a missing pool."""
    return NotFoundError("not found", path=_shown_path(ref, exc), hint=_create_it_first(ref), causes=[_NO_SUCH_FILE])


def missing_for_feed(ref: str, exc: NotFoundError) -> NotFoundError:
    """`feed` into a missing pool: the exact `pool create` to run first."""
    hint = _CHECK_PATH if _is_path(ref) else f"Pool is missing. Retry with exact command: plasmite pool create {ref}"
    return NotFoundError("not found", path=_shown_path(ref, exc), hint=hint, causes=[_NO_SUCH_FILE])


def missing_for_follow(ref: str, exc: NotFoundError, flags: Sequence[str]) -> NotFoundError:
    """`follow` of a missing pool: the same command again with `--create` right after the pool."""
    if _is_path(ref):
        hint = _CHECK_PATH
    else:
        command = " ".join(_token(t) for t in ["plasmite", "follow", ref, "--create", *flags])
        hint = f"Pool is missing. Retry with exact command: {command}"
    return NotFoundError("not found", path=_shown_path(ref, exc), hint=hint, causes=[_NO_SUCH_FILE])


def _token(token: str) -> str:
    return token if _BARE_TOKEN.fullmatch(token) else json.dumps(token, ensure_ascii=False)


def number_text(value: float) -> str:
    """A number as the user would have typed it: 2, not 2.0."""
    return str(int(value)) if value == int(value) else repr(value)
