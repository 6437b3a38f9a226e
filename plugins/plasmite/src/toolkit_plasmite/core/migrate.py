"""`pool migrate`: rewrite a format-100 pool as plasmite's format 3, keeping seqs and times."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

from toolkit_plasmite.core.codec import decode_payload
from toolkit_plasmite.core.format import PLASMITE_LITE3_VERSION, State, encode_header, plan_geometry
from toolkit_plasmite.core.pool import Frame, Gap, PoolFile
from toolkit_plasmite.errors import UsageError, from_os_error

__all__ = ["migrate_pool"]


def migrate_pool(path: Path) -> dict[str, Any]:
    """Rewrite the pool at `path` as format 3 (a no-op for a format-3 pool).

    Raises:
        UsageError: a retained message cannot be stored as Lite3 (the pool is unchanged).
        PlasmiteError: the pool cannot be opened or the new file written.
    """
    spath = str(path)
    with PoolFile(path) as old:
        result: dict[str, Any] = {"migrated": False, "pool": path.stem, "path": spath, "from_version": old.version}
        result["to_version"] = PLASMITE_LITE3_VERSION
        if old.version == PLASMITE_LITE3_VERSION:
            result["messages"] = old.state().newest - old.state().oldest + 1 if old.state().oldest else 0
            return result
        old._lock.acquire()  # writers of the old file wait until the new one is in place
        try:
            st = old.state()
            frames = _retained(old)
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.migrate")
            geo = plan_geometry(old.geo.file_size, old.geo.index_capacity, PLASMITE_LITE3_VERSION)
            start_newest = frames[0][0] - 1 if frames else st.newest
            try:
                fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
                try:
                    os.posix_fallocate(fd, 0, geo.file_size)
                    os.pwrite(fd, encode_header(geo, State(0, 0, 0, 0, 0, start_newest, 0)), 0)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise from_os_error(exc, spath, what="migrate pool") from None
            try:
                with PoolFile(tmp, writable=True) as new:
                    for seq, ts, payload, _next in frames:
                        data, tags = decode_payload(payload, seq=seq, path=spath)
                        try:
                            encoded = new.encode_payload(data, tags)
                        except UsageError as exc:
                            raise UsageError(
                                f"message {seq} cannot be stored in format 3: {exc.message}", path=spath, seq=seq
                            ) from None
                        new._append_locked(encoded, keep_ts=ts)
                    kept = new.state()
                _fsync(tmp)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        finally:
            old._lock.release()
    result["migrated"] = True
    result["messages"] = kept.newest - kept.oldest + 1 if kept.oldest else 0
    result["evicted"] = len(frames) - result["messages"]
    return result


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _retained(pool: PoolFile) -> list[Frame]:
    """Every retained frame, oldest first (the caller holds the writer lock)."""
    frames: list[Frame] = []
    st = pool.state()
    if st.oldest:
        cursor = pool.cursor(st.oldest)
        while True:
            batch = [item for item in cursor.poll(4096) if not isinstance(item, Gap)]
            if not batch:
                break
            frames.extend(batch)
    return frames
