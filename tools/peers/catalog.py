"""The pinned anchors: what each peer is, which version, and how it is installed.

Every peer comes from its own package registry (crates.io, the Go module proxy, PyPI, Debian):
nothing is downloaded from anywhere else, and none of a peer's code is kept in this repository.
Bumping a version is a one-line change here; the cache keeps one directory per version.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PeerSpec:
    """One anchor: its name in the cache, pinned version, installer and what it provides."""

    name: str
    version: str
    how: str  # cargo-install | cargo-build | go-build | uv-venv | pip-sdist | apt
    summary: str
    package: str = ""  # crate, Go module, PyPI requirement or Debian package
    bins: tuple[str, ...] = ()  # executables the peer must provide (first is the main one)
    extra_packages: tuple[str, ...] = ()  # more crates / PyPI requirements installed alongside
    module_alias: str = ""  # Go: the proxy path to fetch when the canonical path is not served
    requires: tuple[str, ...] = ()  # other peers that must be installed first
    libs: tuple[str, ...] = ()  # shared libraries the peer must provide


PEERS: tuple[PeerSpec, ...] = (
    PeerSpec(
        "grite",
        "0.5.3",
        "cargo-install",
        "grite, the Rust git-ref issue tracker, and its daemon",
        package="grite",
        extra_packages=("grite-daemon",),
        bins=("grite", "grite-daemon"),
    ),
    PeerSpec(
        "plasmite",
        "1.2.1",
        "cargo-build",
        "plasmite's CLI (plasmite, pls) and its C library libplasmite.so",
        package="plasmite",
        bins=("plasmite", "pls", "plasmite-conformance"),
        libs=("libplasmite.so",),
    ),
    PeerSpec(
        "plasmite-python",
        "1.2.1",
        "pip-sdist",
        "plasmite's own Python binding, built from its sdist on PyPI",
        package="plasmite",
        requires=("plasmite",),
    ),
    PeerSpec(
        "process-compose",
        "v1.85.0",
        "go-build",
        "process-compose, the Go process supervisor",
        package="github.com/f1bonacc1/process-compose",
        bins=("process-compose",),
    ),
    PeerSpec(
        "git-bug",
        "v0.10.1",
        "go-build",
        "git-bug, the Go issue tracker in git objects",
        package="github.com/git-bug/git-bug",
        module_alias="github.com/MichaelMure/git-bug",
        bins=("git-bug",),
    ),
    PeerSpec("honcho", "2.0.0", "uv-venv", "honcho, the Python Procfile runner", package="honcho", bins=("honcho",)),
    PeerSpec(
        "supervisor",
        "4.3.0",
        "uv-venv",
        "supervisord, the Python process control system",
        package="supervisor",
        bins=("supervisord", "supervisorctl"),
    ),
    PeerSpec(
        "eventsourcing",
        "9.5.6",
        "uv-venv",
        "the eventsourcing library with its test case modules",
        package="eventsourcing[crypto,cryptography,postgres]",
        extra_packages=("psycopg[binary]>=3.2",),
    ),
    PeerSpec(
        "kurrentdbclient",
        "1.3.5",
        "uv-venv",
        "KurrentDB's Python gRPC client",
        package="kurrentdbclient",
        extra_packages=("eventsourcing-kurrentdb==1.2.2",),
    ),
    PeerSpec(
        "redis",
        "",
        "apt",
        "redis-server from Debian, for the plasmite bench",
        package="redis-server",
        bins=("redis-server",),
    ),
)

BY_NAME = {peer.name: peer for peer in PEERS}
