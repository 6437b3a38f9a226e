"""Shared mechanisms for toolkit systems: no policy, no CLI, no plugins.

Modules: `errors` (the error tree), `hashing` (canonical CBOR, BLAKE2b-256, grite ids),
`locks` (flock file locks; leases from `lease`), `snapshot` (atomic files, checksummed containers),
`ipc` (CBOR frames over Unix sockets, daemon lifecycle), `paths` (state and runtime dirs),
`exposure` (who may talk to a server: token, Host and Origin rules, timeouts).
"""

from __future__ import annotations

__version__ = "0.2.0"
