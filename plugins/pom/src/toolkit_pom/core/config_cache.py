"""pom.toml validation without pydantic on the start path: a cache of validated tables.

Importing pydantic and building pom.toml's typed model costs ~0.2 s of CPU, more than
process-compose needs to start ten processes. Validation is a pure function of the parsed TOML
(no environment, paths or ports are consulted: those are applied afterwards by
`toolkit_pom.core.config`, on every load), so its result, the model's plain dump, is cached
under a hash of the file's bytes and of the code that validates them. A hit skips the model,
and the TOML parser too (only bytes that parsed and validated are ever cached);
a miss, an unreadable or corrupt entry, or an unwritable cache directory validates as before.
Invalid files are never cached, so every error message still comes from the model.
The cache holds at most `MAX_ENTRIES` files: a hit refreshes its entry's mtime, and each store
removes the entries least recently used beyond that bound (one directory listing, on misses only).

Entries are `marshal` data, not JSON: `marshal` is built into the interpreter (it loads every
`.pyc`), while `json` is the only reason the start path would import `json` and its scanner,
decoder and encoder (~3 ms of CPU while the processes boot). Its format depends on the Python
version, which is part of the key. Like a `__pycache__` folder, the cache directory is the user's
own; data `marshal` cannot read raises and is validated again.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    from _blake2 import blake2b  # built in: no OpenSSL load (hashlib's import costs ~3 ms)
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import blake2b

from toolkit_kernel.paths import toolkit_cache

__all__ = ["MAX_ENTRIES", "InvalidTables", "validated_tables"]

#: Entries kept; each is a few KiB, and a project is one entry per version of its pom.toml.
MAX_ENTRIES = 64


class InvalidTables(ValueError):
    """The model rejected the file: the key path, the problem and a hint (`config_error_parts`)."""

    def __init__(self, key: str, problem: str, hint: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key, self.problem, self.hint = key, problem, hint


_CORE = Path(__file__).resolve().parent
# The files whose code decides what a valid pom.toml is (and what its dump looks like).
_VALIDATORS = (_CORE / "pom_model.py", _CORE / "regex.py", Path(__file__).resolve())


def _key(raw: bytes) -> str:
    digest = blake2b(raw, digest_size=32)
    digest.update(f"{sys.implementation.cache_tag}/{marshal.version}".encode())  # the entry's format
    for source in _VALIDATORS:
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _cache_file(key: str) -> Path:
    return toolkit_cache() / "pom" / "validated" / f"{key}.marshal"


def _store(path: Path, tables: dict[str, Any]) -> None:
    """Write atomically (rename), so a concurrent reader sees a whole entry or none."""
    with contextlib.suppress(OSError, ValueError):  # ValueError: a value `marshal` cannot write
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_bytes(marshal.dumps(tables))
        tmp.replace(path)
        _prune(path.parent)


def _prune(folder: Path, keep: int = MAX_ENTRIES) -> None:
    """Remove the least recently used entries beyond `keep` (a concurrent pruner may win a race: fine)."""
    entries = []
    for entry in folder.glob("*.marshal"):
        with contextlib.suppress(OSError):
            entries.append((entry.stat().st_mtime_ns, entry))
    entries.sort(reverse=True)
    for _, entry in entries[keep:]:
        with contextlib.suppress(OSError):
            entry.unlink()


def validated_tables(raw: bytes, parse: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Return pom.toml's validated tables (every default filled in) for the file's bytes `raw`.

    `parse` returns the parsed TOML; it is called only when the cache misses.

    Raises:
        InvalidTables: the parsed data does not match the model (never served from the cache).
        Whatever `parse` raises.
    """
    try:
        key = _key(raw)
    except OSError:
        key = ""
    if key:
        with contextlib.suppress(OSError, ValueError, EOFError, TypeError):  # what bad data raises
            entry = _cache_file(key)
            tables = marshal.loads(entry.read_bytes())
            if isinstance(tables, dict):
                with contextlib.suppress(OSError):
                    os.utime(entry)  # recently used: kept by `_prune`
                return tables
    data = parse()
    from pydantic import ValidationError  # pydantic and the model: only when the cache misses

    from toolkit_pom.core.pom_model import PomFile, config_error_parts

    try:
        tables = PomFile.model_validate(data).model_dump()
    except ValidationError as exc:
        raise InvalidTables(*config_error_parts(exc)) from None
    if key:
        _store(_cache_file(key), tables)
    return tables
