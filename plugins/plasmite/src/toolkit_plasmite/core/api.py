"""The Python API: a drop-in for plasmite's Python binding (`import plasmite`).

Same class names, argument names, defaults and semantics; `specs/plasmite/api.md`
lists them and the additions (list/info/delete, `RemoteClient`).
"""

from __future__ import annotations

import json
import time as _time
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit_plasmite.core.client import LocalClient
from toolkit_plasmite.core.client import pool_info as _pool_info
from toolkit_plasmite.core.codec import decode_payload, dumps_compact, envelope, format_time
from toolkit_plasmite.core.format import DEFAULT_POOL_SIZE as _DEFAULT_SIZE
from toolkit_plasmite.core.pool import PoolFile
from toolkit_plasmite.core.tail import follow
from toolkit_plasmite.core.values import default_pool_dir as _default_pool_dir
from toolkit_plasmite.errors import NotFoundError, PlasmiteError, UsageError

if TYPE_CHECKING:
    from toolkit_plasmite.core.lite3_api import Lite3Frame, Lite3Stream

__all__ = [
    "DEFAULT_POOL_DIR",
    "DEFAULT_POOL_SIZE",
    "DEFAULT_POOL_SIZE_BYTES",
    "Client",
    "Durability",
    "Message",
    "MessageMeta",
    "Pool",
    "Stream",
    "default_pool_dir",
    "message_from_envelope",
    "parse_message",
]

DEFAULT_POOL_SIZE_BYTES = _DEFAULT_SIZE
DEFAULT_POOL_SIZE = DEFAULT_POOL_SIZE_BYTES
DEFAULT_POOL_DIR = str(_default_pool_dir())


def default_pool_dir() -> str:
    """The default pool directory (`$TOOLKIT_PLASMITE_DIR`, else `~/.plasmite/pools`)."""
    return str(_default_pool_dir())


class Durability(IntEnum):
    """FAST leaves writes to the page cache; FLUSH msyncs each append."""

    FAST = 0
    FLUSH = 1


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """Message metadata."""

    tags: list[str]


class Message:
    """One committed message (read-only).

    `time`, `time_rfc3339` and `raw` are computed on first use: a `get` or a tail that only
    looks at `data` never formats a timestamp or encodes JSON (the read path's main cost).
    """

    __slots__ = ("_raw", "_rfc", "_time", "_ts_ns", "data", "meta", "seq")

    seq: int
    data: Any
    meta: MessageMeta
    _ts_ns: int | None
    _rfc: str | None
    _time: datetime | None
    _raw: bytes | None

    def __init__(
        self,
        seq: int,
        time: datetime | None = None,
        time_rfc3339: str | None = None,
        data: Any = None,
        meta: MessageMeta | None = None,
        raw: bytes | None = None,
        *,
        ts_ns: int | None = None,
    ) -> None:
        if time_rfc3339 is None and ts_ns is None:
            raise TypeError("Message needs time_rfc3339 or ts_ns")
        setter = object.__setattr__
        setter(self, "seq", seq)
        setter(self, "data", data)
        setter(self, "meta", meta if meta is not None else MessageMeta(tags=[]))
        setter(self, "_ts_ns", ts_ns)
        setter(self, "_rfc", time_rfc3339)
        setter(self, "_time", time)
        setter(self, "_raw", raw)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Message is read-only (cannot set {name!r})")

    @property
    def time_rfc3339(self) -> str:
        """The commit time as RFC 3339 UTC with nanosecond digits, as stored."""
        if self._rfc is None:
            assert self._ts_ns is not None
            object.__setattr__(self, "_rfc", format_time(self._ts_ns))
        assert self._rfc is not None
        return self._rfc

    @property
    def time(self) -> datetime:
        """The commit time as an aware UTC datetime (microsecond precision)."""
        if self._time is None:
            object.__setattr__(self, "_time", _parse_time(_trim_fraction(self.time_rfc3339)))
        assert self._time is not None
        return self._time

    @property
    def raw(self) -> bytes:
        """The envelope as compact JSON bytes."""
        if self._raw is None:
            env = {"data": self.data, "meta": {"tags": self.meta.tags}, "seq": self.seq, "time": self.time_rfc3339}
            object.__setattr__(self, "_raw", dumps_compact(env).encode())
        assert self._raw is not None
        return self._raw

    @property
    def tags(self) -> list[str]:
        """The message's tags."""
        return self.meta.tags

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.seq, self.time_rfc3339, self.data, self.meta) == (
            other.seq,
            other.time_rfc3339,
            other.data,
            other.meta,
        )

    __hash__ = None  # type: ignore[assignment]  # data is mutable JSON, as the dataclass was

    def __repr__(self) -> str:
        return f"Message(seq={self.seq!r}, time_rfc3339={self.time_rfc3339!r}, data={self.data!r}, meta={self.meta!r})"


def message_from_frame(seq: int, ts_ns: int, data: Any, tags: list[str]) -> Message:
    """A Message straight from a decoded frame (time and JSON made only when asked for)."""
    return Message(seq, data=data, meta=MessageMeta(tags=tags), ts_ns=ts_ns)


def _parse_time(raw: str) -> datetime:
    parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("message time must include timezone")
    return parsed.astimezone(UTC)


def message_from_envelope(env: dict[str, Any], raw: bytes | None = None) -> Message:
    """Build a Message from an envelope dict."""
    meta = env.get("meta")
    tags = meta.get("tags") if isinstance(meta, dict) else None
    raw_time = env["time"]
    return Message(
        seq=int(env["seq"]),
        time=_parse_time(_trim_fraction(raw_time)),
        time_rfc3339=raw_time,
        data=env.get("data"),
        meta=MessageMeta(tags=[str(t) for t in tags] if isinstance(tags, list) else []),
        raw=raw if raw is not None else dumps_compact(env).encode(),
    )


def _trim_fraction(raw: str) -> str:
    # datetime.fromisoformat takes at most 6 fractional digits on 3.11.
    if "." not in raw:
        return raw
    head, rest = raw.split(".", 1)
    digits = "".join(ch for ch in rest if ch.isdigit())
    return f"{head}.{digits[:6]}{rest[len(digits) :]}"


def parse_message(payload: bytes) -> Message:
    """Parse envelope JSON bytes into a Message.

    Raises:
        ValueError: not an envelope.
    """
    raw = bytes(payload)
    parsed = json.loads(raw.decode("utf-8"))
    if not isinstance(parsed, dict):
        raise ValueError("message payload must decode to an object")
    if not isinstance(parsed.get("time"), str):
        raise ValueError("message time must be an RFC3339 string")
    if not isinstance(parsed.get("seq"), int):
        raise ValueError("message seq must be an int")
    return message_from_envelope(parsed, raw)


def _closed(target: str) -> PlasmiteError:
    return UsageError(f"plasmite: {target} is closed")


_U64_MAX = (1 << 64) - 1


def _non_negative(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int:  # bool is an int subclass and is refused too
        raise TypeError(f"{name} must be an int")
    if value < 0:
        raise ValueError(f"{name} must be >= 0")
    if value > _U64_MAX:
        raise ValueError(f"{name} must fit in an unsigned 64-bit integer")
    return value


class Client:
    """Pools in a directory.

    Args:
        pool_dir: The pool directory (default: `default_pool_dir()`).
    """

    def __init__(self, pool_dir: str | None = None) -> None:
        if pool_dir is None:
            pool_dir = default_pool_dir()
        if not pool_dir:
            raise ValueError("pool_dir is required")
        self._local: LocalClient | None = LocalClient(Path(pool_dir))

    def _client(self) -> LocalClient:
        if self._local is None:
            raise _closed("client")
        return self._local

    def create_pool(self, pool_ref: str, size_bytes: int = DEFAULT_POOL_SIZE_BYTES) -> Pool:
        """Create a pool (AlreadyExistsError if it exists); `size_bytes=0` means the default."""
        if not pool_ref:
            raise ValueError("pool_ref is required")
        size = _non_negative(size_bytes, "size_bytes")
        if not size:
            size = DEFAULT_POOL_SIZE_BYTES
        client = self._client()
        client.create_pool(pool_ref, size)
        return Pool(client.open_pool(pool_ref))

    def open_pool(self, pool_ref: str) -> Pool:
        """Open an existing pool (NotFoundError if missing)."""
        if not pool_ref:
            raise ValueError("pool_ref is required")
        return Pool(self._client().open_pool(pool_ref))

    def pool(self, pool_ref: str, size_bytes: int = DEFAULT_POOL_SIZE_BYTES) -> Pool:
        """Open the pool, creating it when missing."""
        try:
            return self.open_pool(pool_ref)
        except NotFoundError:
            from toolkit_plasmite.errors import AlreadyExistsError

            try:
                return self.create_pool(pool_ref, size_bytes)
            except AlreadyExistsError:
                return self.open_pool(pool_ref)

    def list_pools(self) -> list[dict[str, Any]]:
        """(ours) `{name, path, file_size, bounds, mtime}` per pool, by name."""
        return self._client().list_entries()

    def pool_info(self, pool_ref: str) -> dict[str, Any]:
        """(ours) PoolInfo of one pool."""
        return self._client().pool_info(pool_ref)

    def delete_pool(self, pool_ref: str) -> None:
        """(ours) Delete a pool (open handles keep working)."""
        self._client().delete_pool(pool_ref)

    def validate_pool(self, pool_ref: str) -> dict[str, Any]:
        """(ours) The doctor report of one pool."""
        return self._client().validate_pool(pool_ref)

    def close(self) -> None:
        """Release the client (idempotent)."""
        self._local = None

    def __enter__(self) -> Client:
        self._client()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class Pool:
    """One open pool."""

    def __init__(self, pool: PoolFile) -> None:
        self._pool: PoolFile | None = pool

    def _p(self) -> PoolFile:
        if self._pool is None or self._pool.closed:
            raise _closed("pool")
        return self._pool

    @property
    def path(self) -> str:
        """(ours) The pool file."""
        return str(self._p().path)

    def append_json(self, payload: bytes, tags: Iterable[str], durability: Durability) -> bytes:
        """Append the JSON object `payload`; return the committed envelope as JSON bytes."""
        pool = self._p()
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise TypeError("payload must be bytes-like")
        if not payload:
            raise ValueError("payload is required")
        try:
            data = json.loads(bytes(payload))
        except ValueError as exc:
            raise UsageError(f"invalid JSON: {exc}") from None
        tag_list = list(tags)
        seq, ts = pool.append(pool.encode_payload(data, tag_list), int(durability) == 1)
        return dumps_compact(envelope(seq, ts, data, tag_list)).encode()

    def append(
        self, value: Any, tags: Iterable[str] | None = None, durability: Durability = Durability.FAST
    ) -> Message:
        """Append `value` (a dict) and return the committed Message."""
        pool = self._p()
        tag_list = [] if tags is None else list(tags)
        seq, ts = pool.append(pool.encode_payload(value, tag_list), int(durability) == 1)
        return message_from_frame(seq, ts, value, tag_list)

    def get_json(self, seq: int) -> bytes:
        """Envelope JSON bytes of message `seq` (NotFoundError outside the bounds)."""
        pool = self._p()
        _non_negative(seq, "seq")
        s, ts, payload, _ = pool.get(seq)
        data, tags = decode_payload(payload, seq=s, path=str(pool.path))
        return dumps_compact(envelope(s, ts, data, tags)).encode()

    def get(self, seq: int) -> Message:
        """Message `seq`."""
        pool = self._p()
        _non_negative(seq, "seq")
        s, ts, payload, _ = pool.get(seq)
        data, tags = decode_payload(payload, seq=s, path=str(pool.path))
        return message_from_frame(s, ts, data, tags)

    def append_lite3(self, payload: bytes, durability: Durability = Durability.FAST) -> int:
        """Append a Lite3 message document (validated); return its seq."""
        from toolkit_plasmite.core.lite3_api import append_lite3

        return append_lite3(self._p(), payload, int(durability) == 1)

    def get_lite3(self, seq: int) -> Lite3Frame:
        """Message `seq` as its Lite3 document."""
        from toolkit_plasmite.core.lite3_api import frame_payload

        pool = self._p()
        _non_negative(seq, "seq")
        return frame_payload(pool, pool.get(seq))

    def open_lite3_stream(
        self,
        since_seq: int | None = None,
        max_messages: int | None = None,
        timeout_ms: int | None = None,
        error_on_gap: bool = False,
    ) -> Lite3Stream:
        """A pull stream of Lite3Frames (see `Lite3Stream.next`)."""
        from toolkit_plasmite.core.lite3_api import Lite3Stream

        pool = self._p()
        since_seq = _non_negative(since_seq, "since_seq")
        max_messages = _non_negative(max_messages, "max_messages")
        timeout_ms = _non_negative(timeout_ms, "timeout_ms")
        return Lite3Stream(_own_handle(pool), since_seq, max_messages, timeout_ms, error_on_gap, owned=True)

    def info(self) -> dict[str, Any]:
        """(ours) PoolInfo."""
        return _pool_info(self._p())

    @property
    def last_seq(self) -> int:
        """(ours) The newest seq ever written."""
        return self._p().last_seq()

    def open_stream(
        self,
        since_seq: int | None = None,
        max_messages: int | None = None,
        timeout_ms: int | None = None,
        error_on_gap: bool = False,
    ) -> Stream:
        """A pull stream of envelope JSON bytes (see `Stream.next_json`)."""
        pool = self._p()
        since_seq = _non_negative(since_seq, "since_seq")
        max_messages = _non_negative(max_messages, "max_messages")
        timeout_ms = _non_negative(timeout_ms, "timeout_ms")
        return Stream(
            _owned_follow(
                pool,
                since_seq=since_seq,
                max_messages=max_messages,
                timeout=None if timeout_ms is None else timeout_ms / 1000,
                gap_policy="error" if error_on_gap else "continue",
                poll_max=0.05,
            )
        )

    def tail(
        self,
        since_seq: int | None = None,
        max_messages: int | None = None,
        timeout_ms: int | None = None,
        tags: Iterable[str] | None = None,
        error_on_gap: bool = False,
    ) -> Generator[Message, None, None]:
        """Messages in order, optionally only those with all `tags`; RetentionGapError under `error_on_gap`."""
        pool = self._p()
        since_seq = _non_negative(since_seq, "since_seq")
        max_messages = _non_negative(max_messages, "max_messages")
        timeout_ms = _non_negative(timeout_ms, "timeout_ms")
        stream = _owned_follow(
            pool,
            since_seq=since_seq,
            max_messages=max_messages,
            timeout=None if timeout_ms is None else timeout_ms / 1000,
            tags=list(tags or []),
            gap_policy="error" if error_on_gap else "continue",
        )
        try:
            for seq, ts, data, mtags in stream:
                yield message_from_frame(seq, ts, data, mtags)
        finally:
            stream.close()

    def replay(
        self,
        speed: float = 1.0,
        since_seq: int | None = None,
        max_messages: int | None = None,
        timeout_ms: int | None = None,
        tags: Iterable[str] | None = None,
    ) -> Generator[Message, None, None]:
        """Like `tail`, sleeping the original gaps divided by `speed` between messages."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        prev: datetime | None = None
        for message in self.tail(since_seq, max_messages, timeout_ms, tags):
            if prev is not None:
                delta = (message.time - prev).total_seconds() / speed
                if delta > 0:
                    _time.sleep(delta)
            prev = message.time
            yield message

    def close(self) -> None:
        """Close the pool (idempotent)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> Pool:
        self._p()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _own_handle(pool: PoolFile) -> PoolFile:
    """A second handle on the pool's file, so a stream outlives the Pool it came from."""
    return PoolFile(pool.path)


def _owned_follow(pool: PoolFile, **options: Any) -> Generator[tuple[int, int, dict[str, Any], list[str]], None, None]:
    """`follow` on a handle of its own (closed when the stream ends or is closed)."""
    own = _own_handle(pool)
    try:
        yield from follow(own, **options)
    finally:
        own.close()


class Stream:
    """A pull stream over a pool; `next_json()` returns None at max or timeout."""

    def __init__(self, source: Generator[tuple[int, int, dict[str, Any], list[str]], None, None]) -> None:
        self._source: Generator[tuple[int, int, dict[str, Any], list[str]], None, None] | None = source

    def next_json(self) -> bytes | None:
        """The next envelope JSON, or None when the stream ended."""
        if self._source is None:
            raise _closed("stream")
        item = next(self._source, None)
        if item is None:
            return None
        seq, ts, data, tags = item
        return dumps_compact({"data": data, "meta": {"tags": tags}, "seq": seq, "time": format_time(ts)}).encode()

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> bytes:
        item = self.next_json()
        if item is None:
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop the stream (idempotent)."""
        if self._source is not None:
            self._source.close()
            self._source = None

    def __enter__(self) -> Stream:
        if self._source is None:
            raise _closed("stream")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
