"""Blocking client for the toolkit IPC protocol (see `specs/kernel/ipc.md`)."""

from __future__ import annotations

# The C `_socket` module, not `socket`: the Python wrapper adds nothing this client uses, and its
# import (enum conversion of every constant, selectors) measured ~3 ms on the CI machine, about a
# tenth of what a CLI that forwards one command to its daemon adds to the interpreter's start-up
# (grite's `issue create`). `socket.socket` subclasses `_socket.socket`, so both are accepted
# wherever this module or `frames` takes a socket.
import _socket
import os
import time

from toolkit_kernel.errors import Busy, IpcError, ToolkitError, UsageError, error_from_dict
from toolkit_kernel.ipc.frames import PROTOCOL, encode_frame, recv_frame

TYPE_CHECKING = False  # `typing` and `pathlib` (with the `re` both import) cost ~20 ms of a short command
if TYPE_CHECKING:
    from collections.abc import Generator
    from types import TracebackType
    from typing import Any

__all__ = ["IpcClient"]

_CONNECT_ERRORS = (FileNotFoundError, ConnectionRefusedError, ConnectionResetError, BrokenPipeError, TimeoutError)


class IpcClient:
    """A connection to an `IpcServer`, opened on first use and reused for later requests.

    Connecting is retried `retries` times with exponential backoff (50 ms doubling, at most
    1 s) when the socket is missing, refuses, or the server answers `Busy`. Once a request has
    been sent it is never re-sent: a lost connection or a timeout raises `IpcError`, because
    the server may already have applied it. Not thread-safe: one client per thread.

    Args:
        path: The server's socket path.
        timeout: Seconds to wait for a connection, for an answer, and between stream items.
        retries: Extra connection attempts after the first fails.

    Example:
        >>> with IpcClient(socket_path("grite", repo)) as client:  # doctest: +SKIP
        ...     client.call({"op": "ping"})
        {'pong': True, 'pid': 4242, 'name': 'grite'}
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 10.0, retries: int = 3) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        self.retries = retries
        self._sock: _socket.socket | None = None
        #: The server's hello (`protocol`, `pid`, `name`) once connected.
        self.server_info: dict[str, Any] = {}

    def connect(self) -> dict[str, Any]:
        """Connect now (calls do it lazily) and return the server's hello.

        Raises:
            IpcError: nobody answers on the socket after all retries.
            Busy: the server stayed at its connection limit.
        """
        if self._sock is not None:
            return self.server_info
        delay = 0.05
        last: ToolkitError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
            try:
                self._sock, self.server_info = self._open()
                return self.server_info
            except Busy as exc:
                last = exc
            except _CONNECT_ERRORS as exc:
                last = IpcError(
                    f"cannot connect to {self.path}: {exc.strerror or type(exc).__name__}",
                    hint="is the server running? check its log, or start it again",
                    details={"path": str(self.path)},
                )
        assert last is not None
        raise last

    def _open(self) -> tuple[_socket.socket, dict[str, Any]]:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            sock.settimeout(self.timeout)
            sock.connect(os.fspath(self.path))
            hello = recv_frame(sock)
            if hello is None:
                raise ConnectionResetError("server closed the connection before its hello")
            if hello.get("ok") is False:
                err = error_from_dict(hello.get("error") or {})
                if isinstance(err, Busy):
                    raise err
                raise IpcError(f"server refused the connection: {err.message}", details={"remote": err.to_dict()})
            info = hello.get("hello")
            if not isinstance(info, dict) or info.get("protocol") != PROTOCOL:
                raise IpcError(
                    f"{self.path} speaks an unknown protocol: {hello!r:.200}",
                    hint="the server and client come from different toolkit versions; restart the server",
                )
        except BaseException:
            sock.close()
            raise
        return sock, info

    def close(self) -> None:
        """Close the connection (a later call reconnects)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _send(self, request: dict[str, Any], timeout: float | None) -> tuple[_socket.socket, float]:
        if not isinstance(request, dict):
            raise UsageError(f"an IPC request must be a dict, got {type(request).__name__}")
        frame = encode_frame(request)
        self.connect()
        sock = self._sock
        assert sock is not None
        wait = self.timeout if timeout is None else timeout
        try:
            if sock.gettimeout() != wait:
                sock.settimeout(wait)
            sock.sendall(frame)
        except OSError as exc:
            self.close()
            raise self._lost(exc, "sending the request") from exc
        return sock, wait

    def _recv(self, sock: _socket.socket, wait: float, what: str) -> dict[str, Any]:
        try:
            if sock.gettimeout() != wait:
                sock.settimeout(wait)
            frame = recv_frame(sock)
        except TimeoutError as exc:
            self.close()
            raise IpcError(
                f"no answer from {self.path} within {wait:g}s while {what}",
                hint="the server is slow or stuck; raise the timeout or check the server",
                details={"path": str(self.path), "timeout_s": wait},
            ) from exc
        except OSError as exc:
            self.close()
            raise self._lost(exc, what) from exc
        except IpcError:
            self.close()
            raise
        if frame is None:
            self.close()
            raise self._lost(None, what)
        return frame

    def _lost(self, exc: OSError | None, what: str) -> IpcError:
        reason = f": {exc.strerror or type(exc).__name__}" if exc is not None else ""
        return IpcError(
            f"connection to {self.path} lost while {what}{reason}",
            hint="the server may have stopped or crashed; the request may or may not have been applied",
            details={"path": str(self.path)},
        )

    def call(self, request: dict[str, Any], *, timeout: float | None = None) -> Any:
        """Send one request and return its result.

        Raises:
            ToolkitError: the server's error, re-raised with its kind, message, hint and details.
            IpcError: connection lost, timeout, or the op streams (use `stream`).
        """
        sock, wait = self._send(request, timeout)
        frame = self._recv(sock, wait, "waiting for the answer")
        if frame.get("ok") is True and "result" in frame:
            return frame["result"]
        if frame.get("ok") is False:
            raise error_from_dict(frame.get("error") or {})
        self.close()
        if "item" in frame:
            raise IpcError("the server answered with a stream", hint="use IpcClient.stream() for this op")
        raise IpcError(f"unexpected frame from {self.path}: {frame!r:.200}")

    def stream(self, request: dict[str, Any], *, timeout: float | None = None) -> Generator[Any, None, None]:
        """Send one request now and return an iterator over the streamed items.

        `timeout` bounds the wait for each item. Abandoning the iterator early closes the
        connection (the next request reconnects).

        Raises:
            ToolkitError: the server's error (possibly after some items).
            IpcError: connection lost, timeout, or the op does not stream (use `call`).
        """
        sock, wait = self._send(request, timeout)
        return self._items(sock, wait)

    def _items(self, sock: _socket.socket, wait: float) -> Generator[Any, None, None]:
        done = False
        try:
            while True:
                frame = self._recv(sock, wait, "waiting for stream items")
                if "item" in frame:
                    yield frame["item"]
                    continue
                done = True
                if frame.get("ok") is True and frame.get("end") is True:
                    return
                if frame.get("ok") is False:
                    raise error_from_dict(frame.get("error") or {})
                self.close()
                if "result" in frame:
                    raise IpcError("the server answered with a single result", hint="use IpcClient.call() for this op")
                raise IpcError(f"unexpected frame from {self.path}: {frame!r:.200}")
        finally:
            if not done and self._sock is sock:
                self.close()

    def __enter__(self) -> IpcClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Not `contextlib.suppress`: contextlib (with collections and functools) costs a short command ~2 ms.
        try:  # noqa: SIM105
            self.close()
        except Exception:  # a finalizer must not raise, and has nobody to tell
            pass
