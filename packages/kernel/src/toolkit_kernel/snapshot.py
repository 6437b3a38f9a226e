"""Atomic file replacement and a versioned, checksummed snapshot container.

`atomic_write_bytes` gives all-or-nothing file contents: readers (and a machine that
loses power) see either the old file or the new one, never a mix. The container format
is specified in `specs/kernel/snapshot.md`:

```
offset  size  field
0       4     magic b"TKSN"
4       1     container format version (1)
5       1     kind length K (1..255)
6       K     kind, UTF-8 (for example b"grite.view")
6+K     4     payload version, u32 big-endian (chosen by the caller)
10+K    8     payload length N, u64 big-endian
18+K    N     payload
18+K+N  32    BLAKE2b-256 of every byte before it (header + payload)
```
"""

from __future__ import annotations

import contextlib
import os
import secrets
import struct
from collections.abc import Container
from pathlib import Path

from toolkit_kernel.errors import IoFailure, NotFound, SnapshotCorrupt, UsageError
from toolkit_kernel.hashing import blake2b_256

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "atomic_write_bytes",
    "atomic_write_text",
    "fsync_dir",
    "pack_snapshot",
    "read_snapshot",
    "unpack_snapshot",
    "write_snapshot",
]

MAGIC = b"TKSN"
FORMAT_VERSION = 1
_CHECKSUM_LEN = 32
_MAX_VERSION = 2**32 - 1
_HINT = "restore the file from a backup or rebuild it from its source of truth"


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Fsync a directory so a rename or unlink inside it survives a power loss."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> None:
    """Replace `path` with `data` atomically and durably.

    Writes a temporary file in the same directory, fsyncs it, renames it over `path`
    and fsyncs the directory. The file gets exactly `mode` (the umask does not apply).
    On any failure the temporary file is removed and `path` is untouched.

    Raises:
        IoFailure: the directory is missing or not writable, or the disk is full.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except OSError as exc:
        raise IoFailure(
            f"cannot create a file in {target.parent}: {exc.strerror}",
            hint="check that the directory exists and is writable",
            details={"path": str(target), "errno": exc.errno},
        ) from exc
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise IoFailure(
                f"cannot write {target}: {exc.strerror}",
                hint="check free disk space and permissions",
                details={"path": str(target), "errno": exc.errno},
            ) from exc
        raise
    fsync_dir(target.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, mode: int = 0o644) -> None:
    """Replace `path` with UTF-8 `text` atomically; see `atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def pack_snapshot(payload: bytes, *, kind: str, version: int) -> bytes:
    """Wrap `payload` in a snapshot container (see module docstring for the layout).

    Raises:
        UsageError: `kind` is empty or longer than 255 UTF-8 bytes, or `version` is not a u32.

    Example:
        >>> blob = pack_snapshot(b"state", kind="demo", version=3)
        >>> unpack_snapshot(blob, kind="demo", versions={3})
        (3, b'state')
    """
    kind_bytes = kind.encode("utf-8")
    if not 1 <= len(kind_bytes) <= 255:
        raise UsageError(f"snapshot kind must be 1..255 UTF-8 bytes, got {len(kind_bytes)}")
    if not 0 <= version <= _MAX_VERSION:
        raise UsageError(f"snapshot version must fit in a u32, got {version}")
    header = MAGIC + bytes((FORMAT_VERSION, len(kind_bytes))) + kind_bytes + struct.pack(">IQ", version, len(payload))
    body = header + payload
    return body + blake2b_256(body)


def _corrupt(message: str, **details: object) -> SnapshotCorrupt:
    return SnapshotCorrupt(message, hint=_HINT, details=details)


def unpack_snapshot(data: bytes, *, kind: str, versions: Container[int]) -> tuple[int, bytes]:
    """Check a snapshot container and return `(version, payload)`.

    Checks, in order: magic, container format, lengths, checksum, kind, payload version.

    Raises:
        SnapshotCorrupt: any check fails; the message says which.
    """
    if len(data) < 6 or data[:4] != MAGIC:
        raise _corrupt("not a toolkit snapshot (bad magic)", expected=MAGIC.decode())
    if data[4] != FORMAT_VERSION:
        raise _corrupt(f"unknown snapshot container format {data[4]}", format=data[4], supported=[FORMAT_VERSION])
    kind_len = data[5]
    fixed = 6 + kind_len + 12
    if kind_len == 0 or len(data) < fixed + _CHECKSUM_LEN:
        raise _corrupt(f"snapshot is truncated ({len(data)} bytes)", size=len(data))
    version, length = struct.unpack_from(">IQ", data, 6 + kind_len)
    expected_size = fixed + length + _CHECKSUM_LEN
    if len(data) != expected_size:
        what = "truncated" if len(data) < expected_size else "followed by extra bytes"
        raise _corrupt(f"snapshot is {what}: {len(data)} bytes, header says {expected_size}", size=len(data))
    body = memoryview(data)[: fixed + length]
    if blake2b_256(body) != data[fixed + length :]:
        raise _corrupt("snapshot checksum mismatch (the file is damaged)")
    try:
        found_kind = data[6 : 6 + kind_len].decode("utf-8")
    except UnicodeDecodeError:  # pragma: no cover - the checksum covers the kind
        raise _corrupt("snapshot kind is not UTF-8") from None
    if found_kind != kind:
        raise _corrupt(f"snapshot holds {found_kind!r}, expected {kind!r}", kind=found_kind, expected=kind)
    if version not in versions:
        raise SnapshotCorrupt(
            f"{kind} snapshot version {version} is not supported",
            hint="upgrade toolkit, or rebuild the snapshot with this version",
            details={"kind": kind, "version": version},
        )
    return version, bytes(body[fixed:])


def write_snapshot(path: str | os.PathLike[str], payload: bytes, *, kind: str, version: int) -> None:
    """Pack `payload` and write it to `path` atomically (see `atomic_write_bytes`)."""
    atomic_write_bytes(path, pack_snapshot(payload, kind=kind, version=version))


def read_snapshot(path: str | os.PathLike[str], *, kind: str, versions: Container[int]) -> tuple[int, bytes]:
    """Read and check the snapshot at `path`; returns `(version, payload)`.

    Raises:
        NotFound: there is no file at `path`.
        SnapshotCorrupt: the file fails a check (`details` carries the path).
        IoFailure: the file cannot be read.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise NotFound(f"no snapshot at {path}", details={"path": str(path)}) from None
    except OSError as exc:
        raise IoFailure(f"cannot read {path}: {exc.strerror}", details={"path": str(path)}) from exc
    try:
        return unpack_snapshot(data, kind=kind, versions=versions)
    except SnapshotCorrupt as exc:
        exc.message = f"{path}: {exc.message}"
        exc.args = (exc.message,)
        exc.details["path"] = str(path)
        raise
