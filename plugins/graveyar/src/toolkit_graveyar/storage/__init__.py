"""Storage backends behind one contract (`Store`): LMDB (embedded, default) and PostgreSQL."""

from __future__ import annotations
