"""Finding and talking to the running pom of a project (client side of the control protocol)."""

from __future__ import annotations

import os

from toolkit_kernel.errors import IpcError
from toolkit_pom.core.discovery import project_dir_name
from toolkit_pom.errors import NotRunning

TYPE_CHECKING = False  # `pom logs` imports this: typing and pathlib cost ~20 ms of it (with `re`)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

__all__ = ["PomClient"]


class PomClient:
    """A connection to the pom of one project.

    Args:
        directory: The project directory.
        timeout: Seconds to wait for each answer.
    """

    def __init__(self, directory: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        from toolkit_kernel.ipc import IpcClient
        from toolkit_kernel.paths import socket_file

        self.directory = os.fspath(directory)
        self.path = socket_file("pom", self.directory)
        self._client = IpcClient(self.path, timeout=timeout, retries=0)

    @classmethod
    def for_config(cls, file: str | None, *, timeout: float = 30.0) -> PomClient:
        """A client of the project of `-f FILE`, or of the config discovered from the working directory.

        Raises:
            PomConfigError: no config file found.
        """
        return cls(project_dir_name(file), timeout=timeout)

    def _not_running(self) -> NotRunning:
        return NotRunning(
            f"no pom is running for {self.directory}",
            hint="start it with `pom up` (or `pom up -d` to run it in the background)",
            details={"dir": self.directory, "socket": self.path},
        )

    def connect(self) -> None:
        """Connect now.

        Raises:
            NotRunning: nobody answers on the project's socket.
        """
        if not os.path.exists(self.path):
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
