"""Answer `--help` (and `toolkit --version`) from the entry-point index, before click is imported.

`toolkit --help` and `<script> --help` are what agents run first, so they must cost little more
than starting Python. After a full plugin load the host stores each help text exactly as click
rendered it (`toolkit.index`); while the index is trusted and the help width is the same,
printing that text is all `--help` has to do. Anything unusual (other arguments, strict mode,
plugin filters, another width, no index) falls through to click, which is always right.

This module imports only `os`, `sys` and `marshal` (all loaded by Python's own start-up): the
index is a marshal file, one per interpreter and `sys.path`, so no json, pathlib or dataclasses.
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False  # typing itself costs a few ms at start-up
if TYPE_CHECKING:
    from typing import Any

__all__ = ["answer", "cache_dir", "help_width", "index_file", "load_raw", "mtime", "path_fingerprint", "plain"]

FORMAT = 3
HELP_ARGS = (["--help"], ["-h"])


def cache_dir() -> str:
    """Return `toolkit_kernel.paths.toolkit_cache()` as a string, without importing pathlib."""
    env = os.environ.get("TOOLKIT_CACHE_DIR")
    if env:
        return env
    xdg = os.environ.get("XDG_CACHE_HOME")
    return os.path.join(xdg or os.path.join(os.path.expanduser("~"), ".cache"), "toolkit")


def index_file() -> str:
    """Return this environment's index file (one per interpreter, prefix and `sys.path`)."""
    try:
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - other interpreters
        from hashlib import blake2b
    key = "\0".join([sys.prefix, sys.executable, sys.version, *sys.path])
    return os.path.join(cache_dir(), f"entry-points-{blake2b(key.encode(), digest_size=8).hexdigest()}.marshal")


def mtime(path: str) -> int | None:
    """Return the modification time of `path` in ns, or None when it is gone."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


#: What installing or removing a distribution adds to or takes from a `sys.path` folder.
_INSTALL_MARKS = (".dist-info", ".egg-info", ".egg-link", ".pth")


def path_fingerprint() -> list[tuple[str, int | None, list[str] | None]]:
    """Return each `sys.path` entry with its modification time and the distributions it holds.

    The time alone misses installs that keep it (some installers and container layers restore
    folder times; coarse-grained filesystems round it): the names of the `.dist-info`, `.pth`
    ... entries catch those, for about half a millisecond of `listdir`.
    """
    fingerprint: list[tuple[str, int | None, list[str] | None]] = []
    for entry in sys.path:
        if not entry:
            continue
        when = mtime(entry)
        names = None
        if when is not None:
            try:
                names = sorted(name for name in os.listdir(entry) if name.endswith(_INSTALL_MARKS))
            except OSError:  # a zip file or an unreadable folder: its time has to do
                names = None
        fingerprint.append((entry, when, names))
    return fingerprint


def load_raw() -> dict[str, Any] | None:
    """Return the index's data when nothing it was built from changed, else None."""
    try:
        with open(index_file(), "rb") as fh:
            data = marshal.load(fh)
        if data.get("format") != FORMAT or data.get("sys_path") != path_fingerprint():
            return None
        for path, when in data["files"].items():
            if mtime(path) != when:
                return None
    except (OSError, ValueError, EOFError, TypeError, KeyError, AttributeError):
        return None
    return data  # type: ignore[no-any-return]


def help_width() -> int:
    """Return the width click's help formatter uses: terminal columns, at most 80, minus 2, at least 50."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 80
        except (AttributeError, ValueError, OSError):
            columns = 80
        columns = columns or 80
    return max(min(columns, 80) - 2, 50)


def plain() -> bool:
    """True unless strict mode or plugin filters ask for a real load."""
    if os.environ.get("TOOLKIT_STRICT_PLUGINS", "") not in ("", "0", "false", "no"):
        return False
    return "TOOLKIT_DISABLE_PLUGINS" not in os.environ and "TOOLKIT_LOAD_PLUGINS" not in os.environ


def answer(prog: str, args: list[str]) -> bool:
    """Print the stored help of `prog` when `args` ask only for it; return whether it was answered.

    `toolkit --version` is answered too (the host owns that option; a plugin's group might not).
    """
    if prog == "toolkit" and args in (["--version"], ["-V"]):
        from toolkit_kernel import __version__

        print(f"toolkit {__version__}")
        return True
    if args not in HELP_ARGS or not plain():
        return False
    data = load_raw()
    stored = data["helps"].get(prog) if data is not None else None
    if data is None or stored is None or stored.get("width") != help_width():
        return False
    if prog == "toolkit":
        for broken in data["broken"]:
            print(f"warning: plugin {broken['name']!r} skipped: {broken['error']}", file=sys.stderr)
    sys.stdout.write(stored["text"])
    sys.stdout.flush()
    return True
