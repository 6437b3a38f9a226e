"""Reading git refs straight from the files-backend (loose refs + packed-refs), without libgit2.

Read-only commands use it to learn the WAL heads, so they need not import pygit2 when the
view is already up to date. Returns None when the repository uses another ref backend.
"""

from __future__ import annotations

import os
import re

__all__ = ["read_refs"]

_OID = re.compile(r"^[0-9a-f]{40}$")


def read_refs(common_dir: str, prefixes: tuple[str, ...]) -> dict[str, str] | None:
    """Return `{refname: oid}` for direct refs under any of `prefixes` (e.g. `"refs/grite/"`).

    Returns None when the ref storage is not the plain files backend (the caller then asks libgit2).
    """
    if os.path.exists(os.path.join(common_dir, "reftable")):
        return None
    out: dict[str, str] = {}
    try:
        with open(os.path.join(common_dir, "packed-refs"), encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(("#", "^")):
                    continue
                parts = line.split()
                if len(parts) == 2 and parts[1].startswith(prefixes) and _OID.match(parts[0]):
                    out[parts[1]] = parts[0]
    except FileNotFoundError:
        pass
    for prefix in prefixes:
        top = os.path.join(common_dir, prefix.rstrip("/"))
        if os.path.isfile(top):
            _read_loose(common_dir, top, out)
            continue
        for root, _dirs, files in os.walk(top):
            for name in files:
                if not name.endswith(".lock"):
                    _read_loose(common_dir, os.path.join(root, name), out)
    return out


def _read_loose(common_dir: str, path: str, out: dict[str, str]) -> None:
    try:
        with open(path, encoding="utf-8") as fh:
            value = fh.read().strip()
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        return
    if _OID.match(value):
        out[os.path.relpath(path, common_dir).replace(os.sep, "/")] = value
