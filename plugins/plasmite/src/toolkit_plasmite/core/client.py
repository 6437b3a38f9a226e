"""The local client: pool refs in a pool directory, create/open/info/list/delete/validate."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from toolkit_plasmite.core.codec import format_time
from toolkit_plasmite.core.format import DEFAULT_POOL_SIZE
from toolkit_plasmite.core.pool import PoolFile, create_pool_file
from toolkit_plasmite.core.validate import validate_pool
from toolkit_plasmite.core.values import default_pool_dir, resolve_pool_path
from toolkit_plasmite.errors import NotFoundError, PlasmiteError, error_for_kind, from_os_error

__all__ = ["LocalClient", "pool_info", "pool_name"]


def pool_name(path: Path) -> str:
    """The display name of a pool file: its file name without `.plasmite`."""
    name = path.name
    return name[: -len(".plasmite")] if name.endswith(".plasmite") else name


def _bounds(oldest: int, newest: int) -> dict[str, int]:
    return {"oldest": oldest, "newest": newest} if oldest else {}


def pool_info(pool: PoolFile) -> dict[str, Any]:
    """Return PoolInfo: geometry, bounds and metrics of an open pool."""
    geo = pool.geo
    st = pool.state()
    ring = geo.ring_size
    if st.empty:
        used = 0
    elif st.head > st.tail:
        used = st.head - st.tail
    else:
        used = ring - st.tail + st.head
    count = st.newest - st.oldest + 1 if not st.empty else 0
    now = time.time_ns()
    age: dict[str, Any] = {"oldest_time": None, "newest_time": None, "oldest_age_ms": None, "newest_age_ms": None}
    if not st.empty:
        # Format 3 keeps no newest timestamp in its header (newest_ts is 0): read the frame.
        newest_ts = st.newest_ts
        if not newest_ts:
            with contextlib.suppress(PlasmiteError):
                newest_ts = pool.get(st.newest)[1]
        oldest_ts = newest_ts
        with contextlib.suppress(PlasmiteError):
            oldest_ts = pool.get(st.oldest)[1]
        age = {
            "oldest_time": format_time(oldest_ts),
            "newest_time": format_time(newest_ts),
            "oldest_age_ms": max(0, (now - oldest_ts) // 1_000_000),
            "newest_age_ms": max(0, (now - newest_ts) // 1_000_000),
        }
    return {
        "name": pool_name(pool.path),
        "path": str(pool.path),
        "file_size": geo.file_size,
        "index_offset": geo.index_offset,
        "index_capacity": geo.index_capacity,
        "index_size_bytes": 16 * geo.index_capacity,
        "ring_offset": geo.ring_offset,
        "ring_size": ring,
        "bounds": _bounds(st.oldest, st.newest),
        "metrics": {
            "message_count": count,
            "seq_span": count,
            "utilization": {
                "used_bytes": used,
                "free_bytes": ring - used,
                # Whole hundredths, truncated, as plasmite computes it (96.139% is 96.13, not 96.14).
                "used_percent": (used * 10_000 // ring) / 100 if ring else 0.0,
            },
            "age": age,
        },
    }


class LocalClient:
    """Pools in one directory, addressed by name or path.

    Args:
        pool_dir: The pool directory (default: `default_pool_dir()`).
    """

    def __init__(self, pool_dir: Path | str | None = None) -> None:
        self.pool_dir = Path(pool_dir) if pool_dir is not None else default_pool_dir()

    def path_for(self, ref: str) -> Path:
        """Resolve a pool ref to its file path."""
        return resolve_pool_path(ref, self.pool_dir)

    def create_pool(
        self, ref: str, size: int = DEFAULT_POOL_SIZE, index_capacity: int | None = None, *, version: int = 3
    ) -> dict[str, Any]:
        """Create a pool (format `version`: 3, plasmite's, or our earlier 100) and return its PoolInfo."""
        path = self.path_for(ref)
        create_pool_file(path, size, index_capacity, version)
        with PoolFile(path) as pool:
            return pool_info(pool)

    def open_pool(self, ref: str, writable: bool | None = None) -> PoolFile:
        """Open a pool for reading and (when permitted) appending."""
        return PoolFile(self.path_for(ref), writable)

    def pool_info(self, ref: str) -> dict[str, Any]:
        """Return PoolInfo for one pool."""
        with PoolFile(self.path_for(ref), writable=False) as pool:
            return pool_info(pool)

    def list_entries(self) -> list[dict[str, Any]]:
        """Return `{name, path, file_size, bounds, mtime}` per pool (or `{name, path, error}`), by name."""
        try:
            names = sorted(p for p in os.listdir(self.pool_dir) if p.endswith(".plasmite") and not p.startswith("."))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise from_os_error(exc, str(self.pool_dir), what="list pools") from None
        out: list[dict[str, Any]] = []
        for fname in names:
            path = self.pool_dir / fname
            entry: dict[str, Any] = {"name": pool_name(path), "path": str(path)}
            try:
                with PoolFile(path, writable=False) as pool:
                    st = pool.state()
                    entry["file_size"] = pool.geo.file_size
                    entry["bounds"] = _bounds(st.oldest, st.newest)
                    entry["mtime"] = format_time(os.stat(path).st_mtime_ns)
            except PlasmiteError as exc:
                entry = {"name": entry["name"], "path": entry["path"], "error": exc.error_body(include_hint=False)}
            out.append(entry)
        return out

    def list_pools(self) -> list[dict[str, Any]]:
        """Return PoolInfo for every pool, by name (fails if any pool cannot be read)."""
        out = []
        for entry in self.list_entries():
            if "error" in entry:
                raise error_for_kind(entry["error"]["kind"], entry["error"]["message"], path=entry["path"])
            out.append(self.pool_info(entry["path"]))
        return out

    def delete_pool(self, ref: str) -> Path:
        """Unlink a pool file (open handles keep working); return its path."""
        path = self.path_for(ref)
        try:
            os.unlink(path)
        except FileNotFoundError:
            raise NotFoundError("pool not found", path=str(path)) from None
        except OSError as exc:
            raise from_os_error(exc, str(path), what="delete pool") from None
        return path

    def validate_pool(self, ref: str) -> dict[str, Any]:
        """Return the doctor report for one pool."""
        path = self.path_for(ref)
        if not path.exists():
            raise NotFoundError("pool not found", path=str(path))
        return validate_pool(path, ref)
