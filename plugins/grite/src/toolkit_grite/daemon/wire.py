"""The kernel's IPC framing (`specs/kernel/ipc.md`) for the `grite` client, with nothing but `_socket` and `struct`.

A forwarded command pays for the interpreter and this module only: the kernel's `IpcClient`
brings `cbor2`, `typing`, `pathlib` and the kernel's error tree (about 10 ms of imports per
command, more than the daemon needs to answer). Frames are a u32 big-endian length and one CBOR
map; this codec covers what the grite daemon exchanges (maps, arrays, text, bytes, integers,
floats, booleans, null) and encodes maps with sorted keys, as canonical CBOR does. Anything
else in a frame is a protocol error.
"""

from __future__ import annotations

import _socket
import os
import struct

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: this module must not import typing (startup cost)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Connection", "Lost", "ProtocolError", "RemoteError", "decode", "encode", "socket_path"]

PROTOCOL = 1
MAX_FRAME = 16 * 1024 * 1024  # as the kernel's server
_U32 = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer sent something that is not a frame of the toolkit IPC protocol."""


class Lost(Exception):
    """The connection broke or timed out after the request was sent (it may have been applied)."""


class RemoteError(Exception):
    """The daemon answered with an error envelope: `{kind, message, hint?, details?}`."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message", "")))
        self.error = error


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | extra]) + struct.pack(fmt, n)
    raise ProtocolError(f"integer {n} does not fit CBOR's 64 bits")


def encode(value: Any) -> bytes:
    """CBOR of `value` (dict with str keys, list/tuple, str, bytes, int, bool, None, float)."""
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _head(3, len(data)) + data
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, (list, tuple)):
        return _head(4, len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ProtocolError("map keys must be strings")
        items = sorted(((encode(k), encode(v)) for k, v in value.items()), key=lambda kv: (len(kv[0]), kv[0]))
        return _head(5, len(items)) + b"".join(k + v for k, v in items)
    raise ProtocolError(f"cannot encode {type(value).__name__}")


def decode(data: bytes) -> Any:
    """The single CBOR value in `data`.

    Raises:
        ProtocolError: malformed, trailing bytes, duplicate map keys, or an unsupported type.
    """
    try:
        value, end = _item(data, 0)
    except (IndexError, struct.error, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(f"malformed frame: {exc}") from None
    if end != len(data):
        raise ProtocolError("malformed frame: trailing bytes")
    return value


def _length(data: bytes, pos: int, info: int) -> tuple[int, int]:
    if info < 24:
        return info, pos
    if info > 27:
        raise ProtocolError("indefinite or reserved length")
    size = 1 << (info - 24)
    if pos + size > len(data):
        raise ProtocolError("malformed frame: truncated length")
    return int.from_bytes(data[pos : pos + size], "big"), pos + size


_SIMPLE = {20: False, 21: True, 22: None}
_FLOATS = {25: ">e", 26: ">f", 27: ">d"}


def _simple(data: bytes, pos: int, info: int) -> tuple[Any, int]:
    if info in _SIMPLE:
        return _SIMPLE[info], pos
    fmt = _FLOATS.get(info)
    if fmt is None:
        raise ProtocolError(f"unsupported simple value {info}")
    size = struct.calcsize(fmt)
    return struct.unpack(fmt, data[pos : pos + size])[0], pos + size


def _item(data: bytes, pos: int) -> tuple[Any, int]:
    initial = data[pos]
    major, info = initial >> 5, initial & 31
    pos += 1
    if major == 7:
        return _simple(data, pos, info)
    n, pos = _length(data, pos, info)
    if major == 0:
        return n, pos
    if major == 1:
        return -1 - n, pos
    if major in (2, 3):
        if pos + n > len(data):
            raise ProtocolError("malformed frame: truncated string")
        raw = data[pos : pos + n]
        return (raw.decode("utf-8") if major == 3 else bytes(raw)), pos + n
    if major == 4:
        items = []
        for _ in range(n):
            value, pos = _item(data, pos)
            items.append(value)
        return items, pos
    if major == 5:
        result: dict[Any, Any] = {}
        for _ in range(n):
            key, pos = _item(data, pos)
            if isinstance(key, (list, dict)) or key in result:
                raise ProtocolError("duplicate or unhashable map key")
            result[key], pos = _item(data, pos)
        return result, pos
    raise ProtocolError(f"unsupported CBOR major type {major} (tags)")


class Connection:
    """One connection to the daemon at `path`, after its hello.

    Raises (constructor):
        OSError: nobody listens, refused, or no hello within `timeout` seconds.
        ProtocolError: the hello is not the toolkit IPC protocol's, or the server refused us.
    """

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self._sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            self._sock.settimeout(timeout)
            self._sock.connect(path)
            hello = self._recv()
            if hello is None:
                raise ConnectionResetError("the daemon closed the connection before its hello")
            info = hello.get("hello")
            if not isinstance(info, dict) or info.get("protocol") != PROTOCOL:
                raise ProtocolError(f"{path} does not greet as a toolkit daemon: {hello!r:.200}")
        except BaseException:
            self._sock.close()
            raise

    def _recv_exact(self, n: int) -> bytes | None:
        chunks, got = [], 0
        while got < n:
            chunk = self._sock.recv(min(n - got, 1 << 20))
            if not chunk:
                if got:
                    raise ConnectionResetError("connection closed mid-frame")
                return None
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _recv(self) -> dict[str, Any] | None:
        header = self._recv_exact(4)
        if header is None:
            return None
        (length,) = _U32.unpack(header)
        if length > MAX_FRAME:
            raise ProtocolError(f"frame of {length} bytes exceeds the limit")
        payload = self._recv_exact(length) if length else b""
        if payload is None:
            raise ConnectionResetError("connection closed mid-frame")
        frame = decode(payload)
        if not isinstance(frame, dict):
            raise ProtocolError("a frame must be a map")
        return frame

    def call(self, request: dict[str, Any], timeout: float) -> Any:
        """Send `request`; return the daemon's result.

        Raises:
            RemoteError: the daemon answered with an error.
            Lost: the connection broke, timed out or spoke nonsense after the request was sent.
        """
        payload = encode(request)
        try:
            self._sock.settimeout(timeout)
            self._sock.sendall(_U32.pack(len(payload)) + payload)
            frame = self._recv()
        except TimeoutError:
            raise Lost(f"no answer from {self.path} within {timeout:g} s") from None
        except (OSError, ProtocolError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            raise Lost(f"connection to {self.path} lost while waiting for the answer: {reason}") from None
        finally:
            self.close()
        if frame is None:
            raise Lost(f"connection to {self.path} lost while waiting for the answer")
        if frame.get("ok") is True and "result" in frame:
            return frame["result"]
        if frame.get("ok") is False and isinstance(frame.get("error"), dict):
            raise RemoteError(frame["error"])
        raise Lost(f"unexpected frame from {self.path}: {frame!r:.200}")

    def close(self) -> None:
        """Close the connection."""
        self._sock.close()


def socket_path(system: str, key: str) -> str:
    """Where the kernel's daemon of `system` for `key` listens (as `toolkit_kernel.paths.socket_path`; creates nothing).

    `$TOOLKIT_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/toolkit`, else `/tmp/toolkit-<uid>`; the file
    is `<system>-<BLAKE2b-64 of key>.sock`. A test pins this to the kernel's answer.
    """
    from _blake2 import blake2b

    base = os.environ.get("TOOLKIT_RUNTIME_DIR")
    if not base:
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        base = os.path.join(xdg, "toolkit") if xdg else f"/tmp/toolkit-{os.getuid()}"
    return os.path.join(base, f"{system}-{blake2b(key.encode(), digest_size=8).hexdigest()}.sock")
