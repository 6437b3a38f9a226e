"""Console-script launchers: `grite = "toolkit.scripts:grite"` runs the plugin's real main.

Each plugin declares its real main in the `toolkit.scripts` entry-point group
(`grite = "toolkit_grite.cli:main"`) and points its console script here. The launcher first
lets `toolkit.fastpath` answer `--help` from the entry-point index (no plugin module, no click
imported), and otherwise imports and runs the real main, found through the index or, without
one, through the installed metadata.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # see toolkit/__init__.py: typing is not worth its import here
if TYPE_CHECKING:
    from collections.abc import Callable

__all__: list[str] = []

SCRIPTS_GROUP = "toolkit.scripts"


def _installed_target(name: str) -> str | None:
    from importlib.metadata import entry_points

    for entry_point in entry_points(group=SCRIPTS_GROUP, name=name):
        return entry_point.value
    return None


def _build_index() -> None:
    """Load every plugin once, which writes the index; a failure here only means no fast path."""
    import contextlib  # here, not at the top: every console script imports this module (~2 ms)

    from toolkit.plugins import get_plugins
    from toolkit_kernel.errors import ToolkitError

    with contextlib.suppress(ToolkitError):  # a command clash: the real main reports it properly
        get_plugins().commands()


def _import(target: str) -> Callable[[], object]:
    import importlib

    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)  # type: ignore[no-any-return]


def _load_main(name: str) -> Callable[[], object]:
    """Return the real main of `name`: from the index, else from the installed metadata.

    A trusted index that does not know `name`, or names a main that no longer imports (a plugin
    moved, upgraded or removed since), is rebuilt once and the lookup retried in the installed
    metadata, so installing or removing a plugin never needs a manual step. Without a trusted
    index the metadata answers directly (the next `--help` or `toolkit` command writes one).
    """
    from toolkit import fastpath

    data = fastpath.load_raw()
    if data is not None and name in data["scripts"]:
        try:
            return _import(str(data["scripts"][name]))
        except (ImportError, AttributeError):
            pass  # a stale entry
    if data is not None and fastpath.plain():
        _build_index()
    target = _installed_target(name)
    if target is None:
        print(f"error: no installed plugin provides the command {name!r}", file=sys.stderr)
        print("hint: `toolkit plugins` lists what is installed", file=sys.stderr)
        raise SystemExit(1)
    try:
        return _import(target)
    except (ImportError, AttributeError) as exc:
        print(f"error: the command {name!r} ({target}) cannot be loaded: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("hint: reinstall the distribution that provides it", file=sys.stderr)
        raise SystemExit(1) from None


def _launcher(name: str) -> Callable[[], None]:
    def launch() -> None:
        from toolkit import fastpath

        if fastpath.answer(name, sys.argv[1:]):
            return
        if sys.argv[1:] in fastpath.HELP_ARGS and fastpath.plain() and fastpath.load_raw() is None:
            _build_index()  # the first `--help` after an install pays for the index once
            if fastpath.answer(name, sys.argv[1:]):
                return
        _load_main(name)()

    launch.__name__ = launch.__qualname__ = name
    return launch


def __getattr__(name: str) -> Callable[[], None]:
    if name.startswith("_"):
        raise AttributeError(name)
    return _launcher(name)
