"""grite: an issue tracker whose source of truth is an event log in git refs (grite 0.5.3 compatible)."""

from __future__ import annotations

__version__ = "0.1.0"
