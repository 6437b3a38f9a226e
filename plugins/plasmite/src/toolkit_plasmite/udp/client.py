"""The UDP client (plasmite 1.2's `UdpClient`): best-effort send and follow over one endpoint.

A send is one datagram (`pool NUL lite3`): success means the OS took it, never that it
was stored. A follow subscribes with plasmite's v1 handshake (SUBSCRIBE, CHALLENGE
cookie, SUBSCRIBE again), then receives PROGRESS/DATA/SKIP and exposes strictly
increasing sequences, turning jumps into gap events. Nothing renews behind the caller's
back: `next_event` sends the renewal when it is due (spec/udp/v1).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from toolkit_plasmite.core import lite3
from toolkit_plasmite.core.values import check_pool_name
from toolkit_plasmite.errors import CorruptError, IoError, PlasmiteError, UsageError, error_for_kind
from toolkit_plasmite.udp import wire

__all__ = [
    "UdpClient",
    "UdpEvent",
    "UdpFollow",
    "UdpFollowOptions",
    "UdpFrame",
    "UdpGap",
    "UdpPool",
    "UdpProgress",
    "UdpStart",
    "split_pool_url",
]

_U64 = (1 << 64) - 1
_CONTROL_RETRY = 1.0
_MAX_PENDING = 64


def _u64(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int")
    if value < 0 or value > _U64:
        raise ValueError(f"{name} must fit in an unsigned 64-bit integer")
    return value


@dataclass(frozen=True)
class UdpStart:
    """Where a follow starts; use the named constructors."""

    kind: int
    value: int = 0

    @classmethod
    def new(cls) -> UdpStart:
        """After the newest message at subscription time."""
        return cls(0)

    @classmethod
    def last(cls, count: int) -> UdpStart:
        """The last `count` retained messages, then on."""
        return cls(1, _u64(count, "count"))

    @classmethod
    def since_ns(cls, timestamp_ns: int) -> UdpStart:
        """The first retained message at or after `timestamp_ns`, then on."""
        return cls(2, _u64(timestamp_ns, "timestamp_ns"))

    @classmethod
    def sequence(cls, seq: int) -> UdpStart:
        """At `seq` (evicted messages arrive as a retention gap)."""
        return cls(3, _u64(seq, "seq"))

    def wire(self) -> dict[str, Any]:
        """The `start` object of a SUBSCRIBE selection."""
        if self.kind not in (0, 1, 2, 3):
            raise ValueError("invalid UDP follow start")
        if self.kind == 0:
            return {"kind": "new"}
        return {"kind": wire.START_KINDS[self.kind], "value": _u64(self.value, "start.value")}


@dataclass(frozen=True)
class UdpFollowOptions:
    """Start position and whether to keep following (default: new messages, live)."""

    start: UdpStart = UdpStart(0)
    live: bool = True


@dataclass(frozen=True)
class UdpFrame:
    """One delivered message as its stored Lite3 document."""

    seq: int
    timestamp_ns: int
    payload: bytes

    @property
    def time(self) -> datetime:
        """The timestamp as an aware UTC datetime (microsecond precision)."""
        seconds, nanos = divmod(self.timestamp_ns, 1_000_000_000)
        return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=nanos // 1000)

    def message(self) -> Any:
        """The frame as a `Message` (validated when it arrived)."""
        from toolkit_plasmite.core.api import message_from_frame  # api imports this module lazily

        data, tags = lite3.decode_message(self.payload)
        return message_from_frame(self.seq, self.timestamp_ns, data, tags)


@dataclass(frozen=True)
class UdpGap:
    """Sequences `first..last` that this follower will not see, and why if the server said."""

    first: int
    last: int
    reason: str


@dataclass(frozen=True)
class UdpProgress:
    """The server's cursor: the range it attempted and whether the stream is over."""

    start_seq: int
    next_seq: int
    end_seq: int | None
    terminal: bool
    retention_gap: bool


UdpEvent = UdpFrame | UdpGap | UdpProgress


def _split_url(url: str, *, pool_url: bool) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "udp":
        raise UsageError("UDP URL must use the udp scheme")
    if "@" in parts.netloc:
        raise UsageError("UDP URL must not contain credentials")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise UsageError("UDP URL must not contain a query or fragment")
    try:
        port = parts.port
    except ValueError:
        raise UsageError("invalid UDP URL port") from None
    if not parts.hostname:
        raise UsageError("UDP URL has no host")
    if not port:
        raise UsageError("UDP URL needs an explicit nonzero port")
    if not pool_url:
        if parts.path not in ("", "/"):
            raise UsageError("UDP endpoint must not include a pool path")
        return parts.hostname.lower(), port, ""
    segments = parts.path.split("/")[1:]
    if len(segments) != 1 or not segments[0]:
        raise UsageError("UDP pool URL must contain one pool-name path segment")
    try:
        name = unquote_to_bytes(segments[0]).decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("UDP pool name must be valid UTF-8") from None
    return parts.hostname.lower(), port, check_pool_name(name)


def split_pool_url(url: str) -> tuple[str, str]:
    """`udp://HOST:PORT/POOL` -> (`udp://HOST:PORT`, pool name), without resolving the host.

    Raises:
        UsageError: not a UDP pool URL (credentials, query, no port, not one pool segment...).
    """
    host, port, name = _split_url(url, pool_url=True)
    shown = f"[{host}]" if ":" in host else host
    return f"udp://{shown}:{port}", name


def _resolve(host: str, port: int) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
    """Resolve once, IPv4 first (as the default listener); only unicast destinations."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise IoError(f"failed to resolve UDP endpoint host: {exc}") from None
    usable = []
    for family, _, _, _, addr in infos:
        ip = ipaddress.ip_address(addr[0])
        broadcast = ip == ipaddress.IPv4Address("255.255.255.255")
        if not (ip.is_multicast or ip.is_unspecified or broadcast):
            usable.append((family != socket.AF_INET, family, addr))
    if not usable:
        raise UsageError("UDP endpoint must resolve to a unicast address")
    _, family, addr = min(usable, key=lambda item: item[0])
    return family, addr


def _connected(family: socket.AddressFamily, addr: tuple[Any, ...]) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 128 * 1024)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 128 * 1024)
        sock.connect(addr)
    except OSError as exc:
        sock.close()
        raise IoError(f"failed to open UDP client socket: {exc.strerror}") from None
    return sock


class UdpClient:
    """A client for one explicit `udp://HOST:PORT` endpoint (resolved once)."""

    def __init__(self, endpoint: str) -> None:
        if not endpoint:
            raise ValueError("endpoint is required")
        self._host, self._port, _ = _split_url(endpoint, pool_url=False)
        self._family, self._addr = _resolve(self._host, self._port)
        self._sock: socket.socket | None = _connected(self._family, self._addr)
        self._lock = threading.RLock()

    def open_pool(self, pool_name: str) -> UdpPool:
        """A pool on this endpoint (a name, or a `udp://` URL naming this same endpoint).

        Checked locally only: whether the pool exists shows when a follow starts.
        """
        with self._lock:
            self._open_sock()
            if not pool_name:
                raise ValueError("pool_name is required")
            if pool_name.startswith("udp://"):
                host, port, name = _split_url(pool_name, pool_url=True)
                if host != self._host or port != self._port:
                    raise UsageError(
                        "UDP pool URL names a different server",
                        hint="Create a UdpClient for that server's UDP endpoint.",
                    )
                return UdpPool(self, name)
            return UdpPool(self, check_pool_name(pool_name))

    def _open_sock(self) -> socket.socket:
        if self._sock is None:
            raise UsageError("plasmite: UDP client is closed")
        return self._sock

    def close(self) -> None:
        """Release the send socket (idempotent)."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def __enter__(self) -> UdpClient:
        self._open_sock()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class UdpPool:
    """A named pool on one UDP endpoint: `send_json`, `send_lite3`, `follow`."""

    def __init__(self, client: UdpClient, name: str) -> None:
        self._client: UdpClient | None = client
        self.name = name

    def _live_client(self) -> UdpClient:
        if self._client is None:
            raise UsageError("plasmite: UDP pool is closed")
        return self._client

    def send_json(self, value: Any, tags: Iterable[str] = ()) -> None:
        """Encode one message as Lite3 and send it; returns once the OS accepted the datagram."""
        tag_list = list(tags)
        if not all(isinstance(tag, str) for tag in tag_list):
            raise TypeError("tags must be strings")
        self.send_lite3(lite3.encode_message(value, tag_list))

    def send_lite3(self, payload: bytes | bytearray | memoryview) -> None:
        """Send one Lite3 message document unchanged (validated first)."""
        client = self._live_client()
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise TypeError("payload must be bytes-like")
        document = bytes(payload)
        if not document:
            raise ValueError("payload is required")
        too_big = wire.check_sizes(self.name, len(document))
        if too_big:
            raise UsageError(too_big)
        try:
            lite3.decode_message(document)
        except CorruptError as exc:
            raise UsageError(f"invalid lite3 payload: {exc.message}") from None
        packet = self.name.encode() + b"\0" + document
        with client._lock:
            sock = client._open_sock()
            try:
                sent = sock.send(packet)
            except OSError as exc:
                raise IoError(f"UDP send failed; storage is unknown: {exc.strerror}") from None
        if sent != len(packet):
            raise IoError("UDP send accepted only part of a datagram; storage is unknown")

    def follow(self, options: UdpFollowOptions | None = None) -> UdpFollow:
        """Subscribe (handshake included) and return the event stream."""
        client = self._live_client()
        options = options or UdpFollowOptions()
        if not isinstance(options, UdpFollowOptions):
            raise TypeError("options must be UdpFollowOptions")
        if not isinstance(options.start, UdpStart):
            raise ValueError("invalid UDP follow start")
        selection = {"pool": self.name, "start": options.start.wire(), "live": bool(options.live)}
        return UdpFollow(_connected(client._family, client._addr), selection)

    def close(self) -> None:
        """Forget the client; later sends raise UsageError."""
        self._client = None

    def __enter__(self) -> UdpPool:
        self._live_client()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class UdpFollow:
    """A best-effort event stream; `close()` (from any thread) ends a blocked `next_event`."""

    def __init__(self, sock: socket.socket, selection: dict[str, Any]) -> None:
        self._sock: socket.socket | None = sock
        self._id = os.urandom(16)
        self._selection = selection
        self._live = bool(selection["live"])
        self._since = selection["start"]["value"] if selection["start"]["kind"] == "since" else None
        self._pending: deque[UdpEvent] = deque()
        self._start_seq: int | None = None
        self._end_seq: tuple[int | None] | None = None  # boxed: None means "not seen yet"
        self._first_seen: int | None = None
        self._expected: int | None = None
        self._started = False
        self._finished = False
        self._closing = False
        self._read_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector = selectors.DefaultSelector()
        self._selector.register(sock, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        now = time.monotonic()
        self._last_activity = now
        self._next_renewal = now + wire.RENEW_MS / 1000
        try:
            self._open()
        except BaseException:
            self._release()
            raise

    # ------------------------------------------------------------------ receiving
    def _recv(self, wait: float | None) -> bytes | None:
        """One datagram, or None on timeout or when close() woke us."""
        sock = self._sock
        if sock is None:
            return None
        ready = self._selector.select(wait)
        if not ready:
            return None  # the wait passed: a blocking recv here would ignore the caller's timeout
        for key, _ in ready:
            if key.fileobj is self._wake_r:
                return None
        try:
            return sock.recv(65_536)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            if self._closing:
                return None
            raise IoError(f"UDP follow receive failed: {exc.strerror}") from None

    def _send(self, packet: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise IoError("UDP follow is closed")
        try:
            sock.send(packet)
        except OSError as exc:
            raise IoError(f"UDP follow request failed: {exc.strerror}") from None

    def _subscribe(self, cookie: dict[str, Any] | None) -> bytes:
        body: dict[str, Any] = {"selection": self._selection}
        if cookie is not None:
            body["cookie"] = cookie
        return wire.control(wire.SUBSCRIBE, self._id, body, pad_to=wire.MIN_SUBSCRIBE)

    def _open(self) -> None:
        deadline = time.monotonic() + wire.STARTUP_MS / 1000
        cookie: dict[str, Any] | None = None
        request = self._subscribe(None)
        self._send(request)
        retry_at = time.monotonic() + _CONTROL_RETRY
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise IoError(
                    "UDP follow did not start before the startup deadline",
                    hint="The server may support UDP input only; enable UDP follow on the server.",
                )
            if self._closing:
                raise IoError("UDP follow is closed")
            if now >= retry_at:
                self._send(request)
                retry_at = now + _CONTROL_RETRY
            packet = self._recv(max(0.001, min(retry_at, deadline) - time.monotonic()))
            parsed = wire.parse(packet) if packet else None
            if parsed is None or parsed[1] != self._id:
                continue
            op, _, body = parsed
            if op == wire.CHALLENGE and cookie is None:
                cookie = wire.decode_control(body, "challenge")["cookie"]
                if not cookie["mac"] or cookie["expires_ms"] == 0:
                    raise CorruptError("UDP server sent an invalid challenge")
                request = self._subscribe(cookie)
                self._send(request)
                retry_at = time.monotonic() + _CONTROL_RETRY
            elif op == wire.ERROR:
                raise _failure(body)
            elif op in (wire.PROGRESS, wire.DATA):
                self._accept(op, body)
                self._started = True
                self._last_activity = time.monotonic()
                self._next_renewal = self._last_activity + wire.RENEW_MS / 1000
                return
            elif op == wire.SKIP:
                self._accept(op, body)  # SKIP may overtake the opening PROGRESS: not yet started

    def _accept(self, op: int, body: bytes) -> None:
        if op == wire.PROGRESS:
            self._progress(wire.decode_control(body, "progress"))
        elif op == wire.DATA:
            self._data(body)
        elif op == wire.SKIP:
            self._skip(wire.decode_control(body, "skip"))

    def _progress(self, p: dict[str, Any]) -> None:
        start, nxt, end, terminal = p["start_seq"], p["next_seq"], p.get("end_seq"), p["terminal"]
        retention = bool(p.get("retention_gap", False))
        if (
            start == 0
            or start > nxt
            or self._live != (end is None)
            or (terminal and (end is None or nxt <= end))
            or not 0 < p["lease_ms"] <= wire.LEASE_MS
        ):
            raise CorruptError("UDP progress sequence range is invalid")
        if self._end_seq is None:
            self._end_seq = (end,)
        elif self._end_seq[0] != end:
            raise CorruptError("UDP server changed the follow end sequence")
        if self._start_seq is None:
            self._start_seq = start
            if self._first_seen is not None and self._first_seen > start:
                self._pending.appendleft(UdpGap(start, self._first_seen - 1, "unknown"))
            if self._expected is None:
                self._expected = start
        elif self._start_seq != start:
            raise CorruptError("UDP server changed the follow start sequence")
        stale = self._expected is not None and nxt < self._expected
        if not stale and self._expected is not None and nxt > self._expected:
            self._gap(self._expected, nxt - 1, "retention" if retention else "unknown")
            self._expected = nxt
        if not stale or terminal:
            self._pending.append(UdpProgress(start, nxt, end, terminal, retention))
        if terminal:
            self._finished = True

    def _data(self, body: bytes) -> None:
        seq, ts, payload = wire.data_fields(body)
        try:
            lite3.decode_message(payload)  # validated before anyone sees it
        except CorruptError:
            raise CorruptError("UDP data packet contains invalid Lite3") from None
        if self._expected is not None and seq < self._expected:
            return  # duplicate or late: sequences only ever increase
        if self._first_seen is None:
            self._first_seen = seq
        if self._expected is not None and seq > self._expected:
            self._gap(self._expected, seq - 1, "unknown")
        self._expected = seq + 1
        if self._since is None or ts >= self._since:
            self._pending.append(UdpFrame(seq, ts, payload))

    def _skip(self, s: dict[str, Any]) -> None:
        first, last, reason = s["first"], s["last"], s["reason"]
        if first > last:
            raise CorruptError("UDP skip range is invalid")
        if self._first_seen is None:
            self._first_seen = first
        if self._expected is None:
            self._gap(first, last, reason)
            self._expected = last + 1
            return
        if last < self._expected:
            return
        if first > self._expected:
            self._gap(self._expected, first - 1, "unknown")
        self._gap(max(first, self._expected), last, reason)
        self._expected = last + 1

    def _gap(self, first: int, last: int, reason: str) -> None:
        if first > last:
            return
        tail = self._pending[-1] if self._pending else None
        # Before the stream starts, adjacent gaps fold into one (and the queue stays bounded).
        if (
            not self._started
            and isinstance(tail, UdpGap)
            and ((first <= tail.last + 1 and last + 1 >= tail.first) or len(self._pending) >= _MAX_PENDING)
        ):
            merged = reason if reason == tail.reason and first <= tail.last + 1 else "unknown"
            self._pending[-1] = UdpGap(min(first, tail.first), max(last, tail.last), merged)
            return
        self._pending.append(UdpGap(first, last, reason))

    # ------------------------------------------------------------------ public
    def next_event(self, timeout_ms: int | None = None) -> UdpEvent | None:
        """The next event; None when the stream ended, was closed, or `timeout_ms` passed.

        Raises:
            IoError: the server went silent for a whole lease (30 s).
            PlasmiteError: the server sent ERROR (NotFound, Busy, ...).
        """
        if timeout_ms is not None:
            _u64(timeout_ms, "timeout_ms")
        with self._read_lock:
            with self._state_lock:
                if self._sock is None and not self._closing:
                    raise UsageError("plasmite: UDP follow is closed")
                if self._closing:
                    return None
            deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
            poll_once = timeout_ms == 0
            while True:
                if self._pending:
                    return self._pending.popleft()
                if self._finished or self._closing:
                    return None
                now = time.monotonic()
                alive_until = self._last_activity + wire.LEASE_MS / 1000
                if now >= alive_until:
                    raise IoError("UDP follow lost server liveness")
                if now >= self._next_renewal:
                    self._send(wire.control(wire.SUBSCRIBE, self._id, {}))
                    self._next_renewal = now + wire.RENEW_MS / 1000
                if not poll_once and deadline is not None and now >= deadline:
                    return None
                until = min(self._next_renewal, alive_until, deadline if deadline is not None else alive_until)
                packet = self._recv(0 if poll_once else max(0.0, until - now))
                poll_once = False
                parsed = wire.parse(packet) if packet else None
                if parsed is None or parsed[1] != self._id:
                    continue
                op, _, body = parsed
                if op == wire.ERROR:
                    raise _failure(body)
                if op in (wire.PROGRESS, wire.DATA, wire.SKIP):
                    self._accept(op, body)
                    self._last_activity = time.monotonic()

    def events(self) -> Iterator[UdpEvent]:
        """Every event until the stream ends or is closed."""
        while (event := self.next_event()) is not None:
            yield event

    def __iter__(self) -> UdpFollow:
        return self

    def __next__(self) -> UdpEvent:
        event = self.next_event()
        if event is None:
            raise StopIteration
        return event

    def cancel(self) -> None:
        """Wake a blocked `next_event` (it returns None) and end the stream."""
        with self._state_lock:
            if self._sock is not None and not self._closing:
                self._closing = True
                self._wake_w.send(b"x")

    def close(self) -> None:
        """Send one best-effort CLOSE and release the socket (idempotent, any thread)."""
        self.cancel()
        with self._read_lock, self._state_lock:
            sock = self._sock
            if sock is None:
                return
            with contextlib.suppress(OSError):  # best effort: the lease expires anyway
                sock.send(wire.header(wire.CLOSE, self._id))
            self._release()

    def _release(self) -> None:
        self._selector.close()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._wake_r.close()
        self._wake_w.close()
        self._finished = True

    def __enter__(self) -> UdpFollow:
        if self._sock is None:
            raise UsageError("plasmite: UDP follow is closed")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_sock", None) is not None:
            self.close()


def _failure(body: bytes) -> PlasmiteError:
    failure = wire.decode_control(body, "error")
    if failure["kind"] not in (
        "Internal",
        "Usage",
        "NotFound",
        "AlreadyExists",
        "Busy",
        "Permission",
        "Corrupt",
        "Io",
        "RetentionGap",
    ):
        return CorruptError("UDP server sent an unknown error kind")
    return error_for_kind(failure["kind"], failure["message"])
