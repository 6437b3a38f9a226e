"""Canonical CBOR and BLAKE2b-256 ids.

`canonical_cbor` is the one encoder every content-addressed format uses: definite
lengths, shortest integer and float forms, map keys in RFC 7049 length-first order
(cbor2's `canonical=True`). grite's event-id preimage contains no maps, so its bytes
equal ciborium's default encoding, which is what grite 0.5.3 hashes.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # `typing` (and the `re` it imports) costs ~10 ms of a short CLI command
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType
    from typing import Any


def _load_cbor2() -> ModuleType:
    """Return cbor2's C codec (`cbor2._cbor2`) without running the `cbor2` package's `__init__`.

    That `__init__` only re-exports the codec's names and defines type aliases, for which it
    imports `typing` (and with it `re`): ~10 ms of every short command that only forwards a
    request to its daemon (`pom logs`). The codec is registered under its own name, so a later
    `import cbor2` re-exports this very module. A cbor2 without that extension (another layout
    or version) is imported the usual way.
    """
    for loaded in ("cbor2", "cbor2._cbor2"):
        if loaded in sys.modules:
            return sys.modules[loaded]
    from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, ModuleSpec, PathFinder

    package = PathFinder.find_spec("cbor2")
    folders = (package.submodule_search_locations if package is not None else None) or []
    for folder in folders:
        for suffix in EXTENSION_SUFFIXES:
            path = f"{folder}/_cbor2{suffix}"
            try:
                loader = ExtensionFileLoader("cbor2._cbor2", path)
                codec = loader.create_module(ModuleSpec("cbor2._cbor2", loader, origin=path))
            except ImportError:  # no such file, or not loadable here
                continue
            loader.exec_module(codec)
            sys.modules["cbor2._cbor2"] = codec
            return codec
    import cbor2

    return cbor2


if TYPE_CHECKING:  # checkers see the package, whose API is the codec's (it re-exports it)
    import cbor2
else:
    cbor2 = _load_cbor2()

try:  # CPython's own BLAKE2: hashlib would load OpenSSL (~2.5 ms) on every CLI start
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import blake2b

__all__ = [
    "GRITE_SCHEMA_VERSION",
    "blake2b_256",
    "canonical_cbor",
    "decode_cbor",
    "grite_event_id",
    "grite_event_preimage",
]

#: The first item of every grite event-id preimage.
GRITE_SCHEMA_VERSION = 1


def canonical_cbor(value: Any) -> bytes:
    """Encode `value` as deterministic CBOR: equal values always give equal bytes.

    Example:
        >>> canonical_cbor({"b": 1, "a": [1, None]}).hex()
        'a261618201f6616201'
    """
    return cbor2.dumps(value, canonical=True)


def decode_cbor(data: bytes) -> Any:
    """Decode untrusted CBOR, refusing duplicate map keys (the last one would silently win)."""
    return cbor2.loads(data, allow_duplicate_keys=False)


def blake2b_256(data: bytes | bytearray | memoryview) -> bytes:
    """BLAKE2b with a 32-byte digest (not a truncated BLAKE2b-512)."""
    return blake2b(data, digest_size=32).digest()


def _check_len(name: str, value: bytes | None, size: int) -> None:
    if value is not None and len(value) != size:
        raise ValueError(f"{name} must be {size} bytes, got {len(value)}")


def grite_event_preimage(
    issue_id: bytes,
    actor: bytes,
    ts_unix_ms: int,
    parent: bytes | None,
    kind_tag: int,
    payload: Sequence[Any],
) -> bytes:
    """Build grite 0.5.3's event-id preimage.

    The preimage is the CBOR array `[1, issue_id, actor, ts_unix_ms, parent, kind_tag, payload]`
    with 16-byte ids, a 32-byte (or null) parent and the kind's payload array.

    Raises:
        ValueError: an id has the wrong length or the timestamp is negative.
    """
    _check_len("issue_id", issue_id, 16)
    _check_len("actor", actor, 16)
    _check_len("parent", parent, 32)
    if ts_unix_ms < 0:
        raise ValueError("ts_unix_ms must be >= 0")
    return cbor2.dumps([GRITE_SCHEMA_VERSION, issue_id, actor, ts_unix_ms, parent, kind_tag, list(payload)])


def grite_event_id(
    issue_id: bytes,
    actor: bytes,
    ts_unix_ms: int,
    parent: bytes | None,
    kind_tag: int,
    payload: Sequence[Any],
) -> bytes:
    """Return the 32-byte grite event id: BLAKE2b-256 over `grite_event_preimage(...)`."""
    return blake2b_256(grite_event_preimage(issue_id, actor, ts_unix_ms, parent, kind_tag, payload))
