"""Writing a WAL append straight into git's files (loose objects, a loose ref), without libgit2.

Importing pygit2 costs a short-lived `grite issue create` more than everything else it does
(~60-100 ms on a loaded machine, most of a command). An append writes four to seven small
objects and moves one ref, which git's on-disk formats make simple: a loose object is
`zlib("<type> <size>" NUL body)` at `objects/<2 hex>/<38 hex>`, named by the SHA-1 of that
uncompressed text; a ref is moved by creating `<ref>.lock` exclusively (git's and libgit2's
lock protocol, so concurrent git commands are excluded), checking the old value, writing the
new one and renaming the lock over the ref. The bytes are those libgit2 writes for the same
commit, so the oids are identical (a test checks it against pygit2).

`usable` says when this applies: a SHA-1 repository with the files ref backend and no
repository extensions, `logAllRefUpdates = always` or `sharedRepository`; otherwise callers use pygit2.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Sequence

try:  # CPython's own SHA-1: hashlib would load OpenSSL (~2 ms) on every command
    from _sha1 import sha1  # type: ignore[import-not-found]  # no stub; CPython has it
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import sha1

from toolkit_grite.core.refsfs import read_refs
from toolkit_grite.errors import GriteIoError

__all__ = ["BLOB", "TREE", "commit", "tree", "update_ref", "usable", "write_object"]

BLOB, TREE = "100644", "40000"


def usable(common_dir: str) -> bool:
    """True when `common_dir` is a repository this module may write to (else use libgit2)."""
    if os.path.exists(os.path.join(common_dir, "reftable")):
        return False
    try:
        with open(os.path.join(common_dir, "config"), encoding="utf-8", errors="replace") as fh:
            config = fh.read().lower().replace(" ", "").replace("\t", "")
    except OSError:
        return False
    # Extensions (objectformat=sha256, refstorage, worktreeconfig ...) change what is on disk;
    # `logallrefupdates=always` asks for a reflog of our refs, which libgit2 writes and we do not;
    # `sharedrepository` asks for group permissions on new files and directories.
    return not any(word in config for word in ("[extensions]", "logallrefupdates=always", "sharedrepository"))


def write_object(common_dir: str, kind: str, body: bytes) -> str:
    """Store one object (`blob`, `tree` or `commit`) as a loose object; return its hex oid.

    Raises:
        GriteIoError: the object cannot be written.
    """
    raw = f"{kind} {len(body)}\0".encode() + body
    oid: str = sha1(raw).hexdigest()
    folder = os.path.join(common_dir, "objects", oid[:2])
    path = os.path.join(folder, oid[2:])
    if os.path.exists(path):
        return oid  # content-addressed: the same bytes are already there
    tmp = os.path.join(folder, f"tmp_obj_{os.getpid()}_{oid[2:10]}")
    try:
        os.makedirs(folder, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(zlib.compress(raw))
        os.chmod(tmp, 0o444)
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise GriteIoError(f"cannot write git object {oid}: {exc.strerror or exc}") from None
    return oid


def tree(common_dir: str, entries: Sequence[tuple[str, str, str]]) -> str:
    """Write a tree of `(mode, name, hex oid)` entries (git's order: a tree sorts as `name/`); return its oid."""
    ordered = sorted(entries, key=lambda e: e[1] + "/" if e[0] == TREE else e[1])
    body = b"".join(f"{mode} {name}\0".encode() + bytes.fromhex(oid) for mode, name, oid in ordered)
    return write_object(common_dir, "tree", body)


def commit(common_dir: str, tree_oid: str, parents: Sequence[str], who: str, secs: int, message: str) -> str:
    """Write a commit authored and committed by `who` (`Name <email>`) at `secs` UTC; return its oid."""
    lines = [f"tree {tree_oid}", *(f"parent {p}" for p in parents)]
    lines += [f"author {who} {secs} +0000", f"committer {who} {secs} +0000"]
    return write_object(common_dir, "commit", ("\n".join(lines) + "\n\n" + message).encode())


def update_ref(common_dir: str, name: str, oid: str, *, expected: str | None) -> None:
    """Point the loose ref `name` at `oid` if it still points at `expected` (None: absent).

    Raises:
        GriteIoError: the ref moved, or its lock is held (by a crashed writer or a git command).
    """
    path = os.path.join(common_dir, *name.split("/"))
    lock = path + ".lock"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise GriteIoError(
            f"cannot update {name}: {lock} exists",
            hint="a crashed writer may have left a stale .lock file: run `grite doctor --fix`",
        ) from None
    except OSError as exc:
        raise GriteIoError(f"cannot update {name}: {exc.strerror or exc}") from None
    try:
        refs = read_refs(common_dir, (name,))
        current = None if refs is None else refs.get(name)
        if current != expected:
            raise GriteIoError(f"{name} moved from {expected} to {current} during the update", hint="retry the command")
        os.write(fd, f"{oid}\n".encode())
        os.close(fd)
        fd = -1
        os.replace(lock, path)
        lock = ""  # renamed: the name may be another writer's lock from now on
    except OSError as exc:
        raise GriteIoError(f"cannot update {name}: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
        if lock:
            _unlink(lock)


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
