"""Find the real anchor programs (peers) that `python tools/peers install` put in its cache.

Interop tests and benchmarks call `require_peer("grite")`; a peer that is not installed fails
the test with the command that installs it (never a silent skip). The cache layout and the
manifest are written by `tools/peers` (see its README):

    $TOOLKIT_PEERS_DIR/<name>/current.json      the manifest of the installed version
    $TOOLKIT_PEERS_DIR/<name>/<version>/...     bin/, lib/, venv/ as the peer needs
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Peer", "find_peer", "peers_dir", "require_peer"]


def peers_dir() -> Path:
    """The peers cache: `TOOLKIT_PEERS_DIR`, else `~/.cache/toolkit-peers`."""
    configured = os.environ.get("TOOLKIT_PEERS_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "toolkit-peers"


@dataclass(frozen=True)
class Peer:
    """One installed peer, as its manifest describes it."""

    name: str
    version: str
    path: Path  # the main executable (a binary, or a venv's console script)
    how: str
    root: Path  # <peers dir>/<name>/<version>
    bin_dir: Path | None = None
    lib_dir: Path | None = None
    venv: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def python(self) -> Path:
        """The interpreter of a peer installed into its own venv."""
        if self.venv is None:
            raise LookupError(f"peer {self.name} has no venv")
        return self.venv / "bin" / "python"

    def exe(self, name: str) -> Path:
        """Another executable the peer installed (e.g. `grite-daemon`, `pls`)."""
        base = self.bin_dir if self.bin_dir is not None else self.path.parent
        return base / name


def find_peer(name: str) -> Peer | None:
    """The installed peer `name`, or None when its manifest is missing or points nowhere."""
    manifest = peers_dir() / name / "current.json"
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None

    def _path(key: str) -> Path | None:
        value = data.get(key)
        return Path(value) if value else None

    path = Path(data["path"])
    if not path.exists():
        return None
    return Peer(
        name=data["name"], version=data["version"], path=path, how=data["how"], root=Path(data["root"]),
        bin_dir=_path("bin_dir"), lib_dir=_path("lib_dir"), venv=_path("venv"), extra=dict(data.get("extra", {})),
    )  # fmt: skip


def require_peer(name: str) -> Peer:
    """The installed peer `name`; fail the calling test (not skip) when it is missing."""
    found = find_peer(name)
    if found is None:
        import pytest

        pytest.fail(
            f"peer {name!r} is not installed in {peers_dir()}: run `python tools/peers install {name}` "
            "(or `nox -s peers`)",
            pytrace=False,
        )
    return found
