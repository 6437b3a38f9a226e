"""`serve --udp [--udp-follow]`: plasmite's UDP listener (spec/udp v0 input, v1 follow).

One receive thread reads every datagram and never blocks on storage: appends go to one
bounded worker queue (full queue: the datagram is dropped whole, as plasmite does), and each
follow subscription gets its own thread that opens the pool and sends DATA. A subscription
starts only after the client echoed a cookie (HMAC of its address, id, selection and expiry
under a per-process secret), so a spoofed source cannot make us send anything bigger than
what it sent.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import queue
import selectors
import socket
import threading
import time
from pathlib import Path
from typing import Any

from toolkit_plasmite.core import lite3
from toolkit_plasmite.core.client import LocalClient
from toolkit_plasmite.core.lite3_api import frame_payload
from toolkit_plasmite.core.notify import Waiter
from toolkit_plasmite.core.pool import Gap, PoolFile
from toolkit_plasmite.core.values import check_pool_name
from toolkit_plasmite.errors import CorruptError, NotFoundError, PlasmiteError
from toolkit_plasmite.udp import wire

__all__ = ["UdpServer"]

_COOKIE_MS = 10_000
_APPEND_QUEUE = 1024
_BATCH = 64  # frames sent before a follower looks at its stop flag again
_IDENTITY_CHECK = 1.0  # seconds between checks that an idle follower's pool file is still the named one


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def decode_append(body: bytes) -> tuple[bytes | None, dict[str, Any], list[str]]:
    """A v0 append body: `(lite3 bytes or None, data, tags)`.

    Raises:
        CorruptError / ValueError: not a Lite3 message, nor `{"data": {...}, "tags": [...]}`.
    """
    if body[:1] == b"\x06":  # plasmite: a first byte 0x06 selects Lite3, never retried as JSON
        data, tags = lite3.decode_message(body)
        return body, data, tags
    obj = json.loads(body.decode("utf-8"), object_pairs_hook=wire.no_duplicates)
    if type(obj) is not dict or set(obj) - {"data", "tags"} or type(obj.get("data")) is not dict:
        raise ValueError("want {data: object, tags?: [string]}")
    tags = obj.get("tags", [])
    if type(tags) is not list or not all(type(t) is str for t in tags):
        raise ValueError("tags must be a string array")
    return None, obj["data"], tags


def _check_same_file(pool: PoolFile) -> None:
    """NotFound once the pool's name no longer leads to the file we follow (deleted or replaced).

    A replacement restarts sequence numbers, and a follower must never run on into it.
    """
    try:
        named = os.stat(pool.path)
        ours = os.fstat(pool.fd)
    except OSError:
        raise NotFoundError("pool was deleted", path=str(pool.path)) from None
    if (named.st_dev, named.st_ino) != (ours.st_dev, ours.st_ino):
        raise NotFoundError("pool was replaced", path=str(pool.path))


class _Sub:
    """One follow subscription: its fixed start/end, cursor progress and lease."""

    def __init__(self, server: UdpServer, addr: Any, sub_id: bytes, selection: dict[str, Any]) -> None:
        self.server, self.addr, self.id, self.selection = server, addr, sub_id, selection
        self.live = bool(selection["live"])
        self.start_seq = 0  # 0 until prepared
        self.next_seq = 0
        self.end_seq: int | None = None
        self.retention_gap = False
        self.lease_until = time.monotonic() + wire.LEASE_MS / 1000
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="plasmite-udp-follow", daemon=True)

    @property
    def terminal(self) -> bool:
        return not self.live and self.end_seq is not None and self.next_seq > self.end_seq

    def progress(self) -> bytes | None:
        if not self.start_seq:
            return None  # still preparing: the opening PROGRESS comes from the follower thread
        body = {
            "start_seq": self.start_seq,
            "next_seq": self.next_seq,
            "end_seq": self.end_seq,
            "lease_ms": wire.LEASE_MS,
            "terminal": self.terminal,
            "retention_gap": self.retention_gap,
        }
        return wire.control(wire.PROGRESS, self.id, body)

    def _send(self, packet: bytes | None) -> None:
        if packet is not None:
            self.server.send(packet, self.addr)

    def _fail(self, kind: str, message: str) -> None:
        self._send(wire.control(wire.ERROR, self.id, {"kind": kind, "message": message}))

    def _run(self) -> None:
        try:
            pool = self.server.client.open_pool(self.selection["pool"], writable=False)
        except PlasmiteError as exc:
            self._fail(exc.kind.label, "pool not found" if exc.kind.label == "NotFound" else "cannot open pool")
            self.server.drop(self)
            return
        try:
            self._follow(pool)
        except PlasmiteError as exc:
            self._fail(
                exc.kind.label, "pool was deleted or replaced" if exc.kind.label == "NotFound" else "pool read failed"
            )
        finally:
            pool.close()
            self.server.drop(self)

    def _start(self, pool: PoolFile) -> int:
        newest = pool.last_seq()
        oldest = pool.cursor().next_seq  # newest + 1 when nothing is retained
        kind: str = self.selection["start"]["kind"]
        value: int = self.selection["start"].get("value", 0)
        if kind == "last":
            return max(oldest, newest + 1 - value)
        if kind == "sequence":
            return max(value, 1)
        if kind == "since":
            cursor = pool.cursor(oldest)
            while items := cursor.poll(512):
                for item in items:
                    if not isinstance(item, Gap) and item[0] <= newest and item[1] >= value:
                        return item[0]
        return newest + 1

    def _follow(self, pool: PoolFile) -> None:
        start = self._start(pool)
        self.end_seq = None if self.live else pool.last_seq()
        self.next_seq = start
        self.start_seq = start
        self._send(self.progress())
        cursor = pool.cursor(start)
        waiter = Waiter(pool)
        interval = 0.001
        check_at = time.monotonic() + _IDENTITY_CHECK
        try:
            while not self.stop.is_set() and time.monotonic() < self.lease_until:
                if self.terminal:
                    self.stop.wait(min(1.0, max(0.0, self.lease_until - time.monotonic())))
                    continue  # keeps the terminal progress for renewals until close or expiry
                waiter.arm()
                items = cursor.poll(_BATCH)
                if not items:
                    if time.monotonic() >= check_at:
                        _check_same_file(pool)
                        check_at = time.monotonic() + _IDENTITY_CHECK
                    waiter.wait(interval)
                    interval = min(interval * 2, 0.05)
                    continue
                interval = 0.001
                for item in items:
                    self._deliver(pool, item)
                if self.terminal:
                    self._send(self.progress())
        finally:
            waiter.close()

    def _deliver(self, pool: PoolFile, item: Any) -> None:
        if isinstance(item, Gap):
            self.retention_gap = True
            last = item.resumed_at - 1 if self.end_seq is None else min(item.resumed_at - 1, self.end_seq)
            self._send(wire.control(wire.SKIP, self.id, {"first": item.expected, "last": last, "reason": "retention"}))
            self.next_seq = max(self.next_seq, last + 1)
            return
        seq = item[0]
        if self.end_seq is not None and seq > self.end_seq:
            self.next_seq = self.end_seq + 1  # finite: the opening upper bound never moves
            return
        doc = frame_payload(pool, item)
        packet = wire.data(self.id, seq, item[1], doc.payload)
        if packet is None:  # a stored message bigger than a datagram: skipped whole, never cut
            packet = wire.control(wire.SKIP, self.id, {"first": seq, "last": seq, "reason": "oversized"})
        self._send(packet)
        self.next_seq = seq + 1


class UdpServer:
    """The UDP listener over one pool directory; `start()` binds, `close()` stops and joins."""

    def __init__(self, pool_dir: Path, host: str, port: int, *, follow: bool, max_followers: int = 64) -> None:
        self.client = LocalClient(pool_dir)
        self.follow = follow
        self.max_followers = max_followers
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.address = self.sock.getsockname()
        self._secret = os.urandom(32)
        self._subs: dict[tuple[Any, bytes], _Sub] = {}
        self._subs_lock = threading.Lock()
        self._appends: queue.Queue[tuple[str, bytes] | None] = queue.Queue(_APPEND_QUEUE)
        self._pools: dict[str, PoolFile] = {}
        self._stop_r, self._stop_w = socket.socketpair()
        self._threads = [
            threading.Thread(target=self._receive, name="plasmite-udp-recv", daemon=True),
            threading.Thread(target=self._append_worker, name="plasmite-udp-append", daemon=True),
        ]

    def start(self) -> None:
        """Start the receive thread and the append worker."""
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        """Stop admission, cancel followers, finish the queued appends, release the socket."""
        self._stop_w.send(b"x")
        with self._subs_lock:
            subs = list(self._subs.values())
        for sub in subs:
            sub.stop.set()
        self._threads[0].join()
        self._appends.put(None)
        self._threads[1].join()
        for sub in subs:
            sub.thread.join(timeout=2)
        for pool in self._pools.values():
            pool.close()
        self.sock.close()
        self._stop_r.close()
        self._stop_w.close()

    def send(self, packet: bytes, addr: Any) -> None:
        """Send one packet, best effort by contract: no retries, no confirmation."""
        with contextlib.suppress(OSError):
            self.sock.sendto(packet, addr)

    def drop(self, sub: _Sub) -> None:
        """Forget a subscription whose follower ended."""
        with self._subs_lock:
            if self._subs.get((sub.addr, sub.id)) is sub:
                del self._subs[(sub.addr, sub.id)]

    # ------------------------------------------------------------------ receiving
    def _receive(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.sock, selectors.EVENT_READ)
        selector.register(self._stop_r, selectors.EVENT_READ)
        try:
            while True:
                events = selector.select()
                if any(key.fileobj is self._stop_r for key, _ in events):
                    return
                try:
                    packet, addr = self.sock.recvfrom(65_536)
                except OSError:
                    continue
                if packet[:1] == b"\0":
                    self._control(packet, addr)
                else:
                    self._queue_append(packet)
        finally:
            selector.close()

    def _queue_append(self, packet: bytes) -> None:
        name, sep, body = packet.partition(b"\0")
        if not sep or not body or not name:
            return
        # Saturation or a bad name: the datagram is dropped whole.
        with contextlib.suppress(queue.Full, UnicodeDecodeError):
            self._appends.put_nowait((name.decode("utf-8"), body))

    def _append_worker(self) -> None:
        while (item := self._appends.get()) is not None:
            name, body = item
            try:
                pool = self._pool(check_pool_name(name))
                doc, data, tags = decode_append(body)
                stored = doc if doc is not None and pool.version == 3 else pool.encode_payload(data, tags)
                pool.append(stored)
            except (PlasmiteError, ValueError, UnicodeDecodeError, RecursionError):
                continue  # invalid input or a missing pool: nothing is stored, nobody is told

    def _pool(self, name: str) -> PoolFile:
        pool = self._pools.get(name)
        if pool is None or pool.closed or not Path(pool.path).exists():
            pool = self.client.open_pool(name)
            self._pools[name] = pool
        return pool

    def _control(self, packet: bytes, addr: Any) -> None:
        parsed = wire.parse(packet)
        if parsed is None:
            return
        op, sub_id, body = parsed
        if op == wire.CLOSE:
            with self._subs_lock:
                sub = self._subs.pop((addr, sub_id), None)
            if sub is not None:
                sub.stop.set()
            return
        if op == wire.SUBSCRIBE:
            with contextlib.suppress(CorruptError):  # malformed requests get no answer at all
                self._subscribe(wire.decode_control(body, "subscribe"), len(packet), addr, sub_id)

    def _subscribe(self, request: dict[str, Any], size: int, addr: Any, sub_id: bytes) -> None:
        selection = request.get("selection")
        with self._subs_lock:
            sub = self._subs.get((addr, sub_id))
        if selection is None:  # renewal: only a live subscription from this endpoint and id
            if sub is not None:
                sub.lease_until = time.monotonic() + wire.LEASE_MS / 1000
                self._reply(sub.progress(), addr)
            return
        try:
            check_pool_name(selection["pool"])
        except PlasmiteError:
            self._error(sub_id, addr, "Usage", "invalid pool name", limit=size)
            return
        cookie = request.get("cookie")
        if cookie is None or not self._cookie_ok(cookie, addr, sub_id, selection):
            reply = wire.control(wire.CHALLENGE, sub_id, {"cookie": self._cookie(addr, sub_id, selection)})
            if len(reply) <= size:  # before the source is proven, never amplify
                self.send(reply, addr)
            return
        if not self.follow:
            self._error(sub_id, addr, "Permission", "UDP follow is disabled on this server")
            return
        if sub is not None:
            if sub.selection != selection:
                self._error(sub_id, addr, "Usage", "subscription id already used for another selection")
            else:
                self._reply(sub.progress(), addr)  # a repeated request never restarts the cursor
            return
        with self._subs_lock:
            admitted = len(self._subs) < self.max_followers
            if admitted:
                sub = self._subs[(addr, sub_id)] = _Sub(self, addr, sub_id, selection)
        if admitted and sub is not None:
            sub.thread.start()
        else:
            self._error(sub_id, addr, "Busy", "too many UDP followers")

    def _reply(self, packet: bytes | None, addr: Any) -> None:
        if packet is not None:
            self.send(packet, addr)

    def _error(self, sub_id: bytes, addr: Any, kind: str, message: str, limit: int | None = None) -> None:
        packet = wire.control(wire.ERROR, sub_id, {"kind": kind, "message": message})
        if limit is None or len(packet) <= limit:
            self.send(packet, addr)

    def _mac(self, addr: Any, sub_id: bytes, selection: dict[str, Any], expires_ms: int) -> str:
        signed = json.dumps(
            [addr[0], addr[1], sub_id.hex(), expires_ms, selection], sort_keys=True, separators=(",", ":")
        )
        digest = hmac.new(self._secret, signed.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def _cookie(self, addr: Any, sub_id: bytes, selection: dict[str, Any]) -> dict[str, Any]:
        expires = _now_ms() + _COOKIE_MS
        return {"expires_ms": expires, "mac": self._mac(addr, sub_id, selection, expires)}

    def _cookie_ok(self, cookie: dict[str, Any], addr: Any, sub_id: bytes, selection: dict[str, Any]) -> bool:
        if cookie["expires_ms"] < _now_ms():
            return False
        return hmac.compare_digest(cookie["mac"], self._mac(addr, sub_id, selection, cookie["expires_ms"]))
