"""Asyncio Unix-socket server speaking the frame protocol of `toolkit_kernel.ipc.frames`."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from toolkit_kernel.errors import Busy, Internal, IoFailure, IpcError, ToolkitError
from toolkit_kernel.ipc.frames import PROTOCOL, encode_frame, read_frame_async

__all__ = ["Handler", "IpcServer"]

log = logging.getLogger("toolkit_kernel.ipc")

#: `async def handler(request) -> result`, an async generator function yielding stream items,
#: or a coroutine function that returns an async iterator (for one handler serving both kinds of op).
Handler = Callable[[dict[str, Any]], Awaitable[Any]] | Callable[[dict[str, Any]], AsyncIterator[Any]]


class _Conn:
    __slots__ = ("busy", "task", "writer")

    def __init__(self, task: asyncio.Task[Any], writer: asyncio.StreamWriter) -> None:
        self.task = task
        self.writer = writer
        self.busy = False


def _error_frame(err: ToolkitError) -> bytes:
    return encode_frame({"ok": False, "error": err.to_dict()})


class IpcServer:
    """Serve `handler` on a Unix socket (mode 0600).

    Each connection is served by its own task; requests on one connection are answered in
    order. A handler's `ToolkitError` goes to the client as an error envelope; any other
    exception is logged and sent as `Internal`. A malformed or oversized frame gets an error
    envelope and the connection is dropped; the server keeps serving everyone else.

    Args:
        path: Socket path; its directory is created 0700 if missing.
        handler: See `Handler`.
        max_connections: Connections served at once; one more is told `Busy` and closed.
        name: Announced in the hello frame.

    Example:
        >>> async def echo(request):
        ...     return request
        >>> server = IpcServer("/tmp/demo.sock", echo)  # doctest: +SKIP
        >>> await server.start(); await server.serve_forever()  # doctest: +SKIP
    """

    def __init__(
        self, path: str | os.PathLike[str], handler: Handler, *, max_connections: int = 64, name: str = ""
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        self.path = Path(path)
        self.name = name
        self.max_connections = max_connections
        self._handler = handler
        self._stream_handler = inspect.isasyncgenfunction(handler)
        self._server: asyncio.Server | None = None
        self._conns: dict[asyncio.Task[Any], _Conn] = {}
        self._closed = asyncio.Event()
        self._inode: tuple[int, int] | None = None
        #: Requests answered so far.
        self.requests_served = 0
        #: `time.monotonic()` of the last request answered (or of `start()`).
        self.last_activity = time.monotonic()

    @property
    def connection_count(self) -> int:
        """Connections currently open."""
        return len(self._conns)

    async def start(self) -> None:
        """Bind and listen. A stale socket file (nobody listening) is replaced.

        Raises:
            Busy: another server is listening on the path.
            IoFailure: the path exists and is not a socket, or cannot be bound.
        """
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        await self._remove_stale_socket()
        try:
            self._server = await asyncio.start_unix_server(self._on_connect, path=str(self.path))
            os.chmod(self.path, 0o600)
            st = os.stat(self.path)
        except OSError as exc:
            raise IoFailure(f"cannot listen on {self.path}: {exc.strerror}", details={"path": str(self.path)}) from exc
        self._inode = (st.st_dev, st.st_ino)
        self.last_activity = time.monotonic()

    async def _remove_stale_socket(self) -> None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise IoFailure(f"{self.path} exists and is not a socket", hint="remove it or choose another socket path")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(self.path)), 2.0)
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            return
        except (OSError, TimeoutError):
            pass  # a live but overloaded server: refuse below rather than steal its path
        else:
            writer.close()
        raise Busy(f"another server is listening on {self.path}", details={"path": str(self.path)})

    async def serve_forever(self) -> None:
        """Wait until `close()` is called (by a handler, a signal, or another task)."""
        if self._server is None:
            await self.start()
        await self._closed.wait()

    async def close(self, *, grace: float = 5.0) -> None:
        """Stop listening, remove the socket, let in-flight requests finish (up to `grace` s), close connections."""
        if self._server is not None:
            # Let connections already waiting in the backlog be accepted (and so tracked and closed below)
            # first: CPython 3.12.1 accepts one after close() with a failed assertion and leaks its socket.
            await asyncio.sleep(0)
            self._server.close()
            self._server = None
            self._unlink_own_socket()
            await asyncio.sleep(0)  # handler tasks of just-accepted connections start and register in _conns
        idle = [c.task for c in self._conns.values() if not c.busy]
        for task in idle:
            task.cancel()
        busy = [c.task for c in self._conns.values() if c.busy]
        if busy:
            _, pending = await asyncio.wait(busy, timeout=grace)
            for task in pending:
                task.cancel()
        remaining = list(self._conns)
        if remaining:
            await asyncio.gather(*remaining, return_exceptions=True)
        self._closed.set()

    def _unlink_own_socket(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        if (st.st_dev, st.st_ino) == self._inode:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._conns) >= self.max_connections:
            busy = Busy(
                f"server at its limit of {self.max_connections} connections",
                hint="retry shortly",
                details={"max_connections": self.max_connections},
            )
            with contextlib.suppress(OSError):
                writer.write(_error_frame(busy))
            await _close_writer(writer)
            return
        conn = _Conn(task, writer)
        self._conns[task] = conn
        try:
            writer.write(encode_frame({"hello": {"protocol": PROTOCOL, "pid": os.getpid(), "name": self.name}}))
            await self._serve_connection(reader, writer, conn)
        except (OSError, asyncio.CancelledError):
            pass  # the peer went away, or we are closing
        finally:
            del self._conns[task]
            await _close_writer(writer)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: _Conn) -> None:
        while True:
            try:
                request = await read_frame_async(reader)
            except IpcError as exc:
                log.warning("dropping connection on %s: %s", self.path, exc.message)
                writer.write(_error_frame(exc))
                await writer.drain()
                return
            if request is None:
                return
            conn.busy = True
            try:
                await self._answer(request, writer)
            finally:
                conn.busy = False
                self.requests_served += 1
                self.last_activity = time.monotonic()

    async def _answer(self, request: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        try:
            out: Any = self._handler(request)
            if not self._stream_handler and inspect.isawaitable(out):
                out = await out
        except ToolkitError as exc:
            await _send(writer, _error_frame(exc))
            return
        except Exception as exc:
            await _send(writer, _error_frame(_internal(exc, request)))
            return
        if hasattr(out, "__anext__"):
            await self._answer_stream(out, request, writer)
            return
        try:
            frame = encode_frame({"ok": True, "result": out})
        except IpcError as exc:
            frame = _error_frame(_internal(exc, request))
        await _send(writer, frame)

    async def _answer_stream(
        self, items: AsyncIterator[Any], request: dict[str, Any], writer: asyncio.StreamWriter
    ) -> None:
        count = 0
        iterator = aiter(items)
        try:
            while True:
                try:
                    item = await anext(iterator)
                except StopAsyncIteration:
                    break
                except ToolkitError as exc:
                    await _send(writer, _error_frame(exc))
                    return
                except Exception as exc:
                    await _send(writer, _error_frame(_internal(exc, request)))
                    return
                try:
                    frame = encode_frame({"item": item})
                except IpcError as exc:
                    await _send(writer, _error_frame(_internal(exc, request)))
                    return
                await _send(writer, frame)  # a vanished client raises OSError: not the handler's fault
                count += 1
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        await _send(writer, encode_frame({"ok": True, "end": True, "count": count}))


def _internal(exc: BaseException, request: dict[str, Any]) -> Internal:
    op = request.get("op")
    log.error("handler failed on op %r", op, exc_info=exc)
    return Internal(
        f"internal error while handling {op!r}: {type(exc).__name__}: {exc}",
        hint="this is a bug; the server log has the traceback",
        details={"op": op if isinstance(op, str) else None},
    )


async def _send(writer: asyncio.StreamWriter, frame: bytes) -> None:
    writer.write(frame)
    await writer.drain()


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, asyncio.CancelledError):
        await writer.wait_closed()
