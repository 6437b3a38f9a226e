"""graveyar: a gRPC event store wire-compatible with graveyar_db, on LMDB or PostgreSQL.

Public surface: `toolkit_graveyar.client` (sync and async clients), the `graveyar` CLI, and
the core in `toolkit_graveyar.core` / `toolkit_graveyar.storage` for embedding.
"""

from __future__ import annotations

__all__ = ["ALL_STREAM", "__version__"]

from toolkit_kernel import __version__  # one version for every toolkit distribution

#: Name of the global log in reads and subscriptions.
ALL_STREAM = "$all"
