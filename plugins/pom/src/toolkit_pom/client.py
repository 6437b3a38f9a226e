"""Finding and talking to the running pom of a project (client side of the control protocol)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from toolkit_kernel.errors import IpcError
from toolkit_pom.core.discovery import discover
from toolkit_pom.errors import NotRunning, PomConfigError

__all__ = ["PomClient", "project_dir"]


def project_dir(file: str | None) -> Path:
    """Return the project directory for `-f FILE` (or the discovered config), without parsing it.

    Raises:
        PomConfigError: no config file found.
    """
    if file:
        path = Path(file)
        if not path.is_file():
            raise PomConfigError(f"config file {path} does not exist", hint="pass -f FILE with an existing file")
        return path.resolve().parent
    return discover().parent


class PomClient:
    """A connection to the pom of one project.

    Args:
        directory: The project directory.
        timeout: Seconds to wait for each answer.
    """

    def __init__(self, directory: Path, *, timeout: float = 30.0) -> None:
        from toolkit_kernel.ipc import IpcClient
        from toolkit_kernel.paths import socket_path

        self.directory = directory
        self.path = socket_path("pom", str(directory))
        self._client = IpcClient(self.path, timeout=timeout, retries=0)

    def _not_running(self) -> NotRunning:
        return NotRunning(
            f"no pom is running for {self.directory}",
            hint="start it with `pom up` (or `pom up -d` to run it in the background)",
            details={"dir": str(self.directory), "socket": str(self.path)},
        )

    def connect(self) -> None:
        """Connect now.

        Raises:
            NotRunning: nobody answers on the project's socket.
        """
        if not self.path.exists():
            raise self._not_running()
        try:
            self._client.connect()
        except IpcError:
            raise self._not_running() from None

    def call(self, op: str, **args: Any) -> Any:
        """Send one request and return its result (remote errors are re-raised)."""
        self.connect()
        return self._client.call({"op": op, **args})

    def stream(self, op: str, **args: Any) -> Iterator[Any]:
        """Send a streaming request and iterate over its frames."""
        self.connect()
        return self._client.stream({"op": op, **args})

    def close(self) -> None:
        """Close the connection."""
        self._client.close()
