"""grite: an issue tracker whose source of truth is an event log in git refs (grite 0.5.3 compatible)."""

from __future__ import annotations

from toolkit_kernel import __version__ as __version__  # one version for every toolkit distribution
