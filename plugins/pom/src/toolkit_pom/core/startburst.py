"""The start burst: no cyclic collections from loading the config until pom serves.

What the start allocates (modules, the config, the supervisor) lives as long as pom, so
collections meanwhile would only take CPU from the processes starting at the same time.
Only the click-free `pom up` (`cli.fast_up`) begins a burst; the flag, not `gc.isenabled()`,
says whether one is open: CPython turns the collector off for a moment elsewhere (around a
fork with a pre-exec hook, in another thread), and ending a burst nobody began would freeze
and re-enable under that code's feet.
"""

from __future__ import annotations

import gc

__all__ = ["begin_start_burst", "end_start_burst"]

_open = False


def begin_start_burst() -> None:
    """Turn the cyclic collector off until `end_start_burst`."""
    global _open
    _open = True
    gc.disable()


def end_start_burst() -> None:
    """Close the burst begun here, if any: freeze what the start allocated and collect again.

    Frozen objects are skipped by later collections; they live as long as pom anyway.
    """
    global _open
    if _open:
        _open = False
        gc.freeze()
        gc.enable()
