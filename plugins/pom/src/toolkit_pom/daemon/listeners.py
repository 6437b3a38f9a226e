"""What `pom up` holds before it supervises anything: the project's lock and its listening sockets.

Kept apart from `runner` (and free of asyncio) so a plain headless `pom up` can take the lock and
bind first, then start its processes (`toolkit_pom.core.prestart`) while it imports the rest: an
`up` that is refused (another pom runs, an address cannot be bound) has started nothing.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit_kernel.errors import Conflict, IoFailure
from toolkit_kernel.locks import FileLock
from toolkit_kernel.paths import socket_path
from toolkit_pom.core.config import ProjectConfig
from toolkit_pom.core.record import Record

if TYPE_CHECKING:  # socket and ipaddress are imported where used: processes start right after `acquire`
    import socket

__all__ = [
    "AlreadyRunning",
    "Held",
    "acquire",
    "bind_http",
    "bind_unix",
    "is_loopback",
    "lock_path",
    "lock_path_for",
]


class AlreadyRunning(Conflict):
    """A pom already supervises this project."""

    exit_code = 4


def lock_path(directory: Path) -> Path:
    """The lock file that marks a running pom for the project in `directory`.

    Probe it with `toolkit_kernel.ipc.daemon.lock_file_is_held`.
    """
    return socket_path("pom", str(directory)).with_suffix(".lock")


def lock_path_for(config: ProjectConfig) -> Path:
    """The lock file that marks a running pom for this project."""
    return lock_path(config.dir)


def is_loopback(host: str) -> bool:
    """True for loopback addresses and `localhost`."""
    if host == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_http(address: str) -> socket.socket:
    """Bind the HTTP listening socket; fall back to a free port when a loopback port is taken.

    Raises:
        IoFailure: the address cannot be bound.
    """
    import socket

    host, _, port_text = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    port = int(port_text)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        if port == 0 or not is_loopback(host):
            sock.close()
            raise IoFailure(f"cannot listen on {address}: {exc.strerror}", hint="pick another --http address") from None
        sock.bind((host, 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def bind_unix(path: Path) -> socket.socket:
    """Listen on a Unix socket (owner-only), replacing a stale socket file.

    Raises:
        IoFailure: the path cannot be bound.
    """
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with contextlib.suppress(FileNotFoundError):
            if path.is_socket():
                path.unlink()
        sock.bind(str(path))
        path.chmod(0o600)
    except OSError as exc:
        sock.close()
        raise IoFailure(f"cannot listen on {path}: {exc.strerror}", hint="pick another --pc-api path") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


class Held(Record):
    """The project's lock, the control socket's path and the bound HTTP listeners (either may be None)."""

    lock: FileLock
    sock_path: Path
    http_sock: socket.socket | None
    pc_sock: socket.socket | None

    def release(self) -> None:
        """Close the listeners and release the lock."""
        for listener in (self.http_sock, self.pc_sock):
            if listener is not None:
                listener.close()
        self.lock.close()


def acquire(config: ProjectConfig, http: str | None, pc_api: str | None, token: str | None) -> Held:
    """Take the project's lock and bind the HTTP listeners (`http`, process-compose's `pc_api`).

    Raises:
        AlreadyRunning: a pom already runs for this project.
        UsageError: a non-loopback HTTP address without a token.
        IoFailure: an address cannot be bound.
    """
    sock_path = socket_path("pom", str(config.dir))
    lock = FileLock(lock_path_for(config))
    if not lock.acquire(blocking=False):
        lock.close()
        raise AlreadyRunning(
            f"a pom is already running for {config.dir}",
            hint="use `pom ps`, or stop it with `pom down`",
            details={"dir": str(config.dir)},
        )
    held = Held(lock, sock_path, None, None)
    try:
        if pc_api:
            from toolkit_kernel.exposure import ExposurePolicy

            if pc_api.startswith("unix:"):
                held.pc_sock = bind_unix(Path(pc_api[5:]))
            else:
                pc_host, _, pc_port = pc_api.rpartition(":")
                # No token scheme of process-compose's is spoken: loopback only.
                ExposurePolicy.for_bind(pc_host.strip("[]") or "127.0.0.1", int(pc_port or 0))
                held.pc_sock = bind_http(pc_api)
        if http:
            from toolkit_kernel.exposure import ExposurePolicy

            host, _, port = http.rpartition(":")
            # Refuses a non-loopback address without a token before anything listens.
            ExposurePolicy.for_bind(host.strip("[]") or "127.0.0.1", int(port or 0), token=token)
            held.http_sock = bind_http(http)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(sock_path)  # we hold the lock: any socket file is stale
    except BaseException:
        held.release()
        raise
    return held
