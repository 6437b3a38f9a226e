"""`python -m toolkit_grite.daemon --git-dir DIR` runs the daemon (how clients spawn it)."""

from __future__ import annotations

from toolkit_grite.daemon.server import main

main()
