"""A client for `plasmite serve` (the `/v0` HTTP API): the binding's API over HTTP.

plasmite's Python binding has no remote client; this one mirrors the local `Client`
and `Pool` so code can switch between a file and a server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from toolkit_plasmite.errors import IoError, PlasmiteError, UsageError, error_for_kind

if TYPE_CHECKING:
    import httpx

    from toolkit_plasmite.core.api import Durability, Message

__all__ = ["RemoteClient", "RemotePool", "RemoteSource"]

_MAX_TAIL_MS = 30_000
_STOP_CHECK_MS = 500


def _error_from_response(resp: httpx.Response) -> PlasmiteError:
    try:
        body = resp.json()
        err = body["error"]
        return error_for_kind(
            err.get("kind", "Internal"),
            err.get("message", f"HTTP {resp.status_code}"),
            path=err.get("path"),
            seq=err.get("seq"),
            offset=err.get("offset"),
            hint=err.get("hint"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return IoError(f"server answered HTTP {resp.status_code}", causes=[resp.text[:200]])


def _request_wait_ms(deadline: float | None, checking_stop: bool, stopping: bool) -> int | None:
    """How long one tail request may wait for messages (None: the idle deadline has passed)."""
    wait_ms = _MAX_TAIL_MS
    if deadline is not None:
        wait_ms = int((deadline - time.monotonic()) * 1000)
        if wait_ms <= 0:
            return None
        wait_ms = min(wait_ms, _MAX_TAIL_MS)
    if checking_stop:
        wait_ms = 1 if stopping else min(wait_ms, _STOP_CHECK_MS)
    return wait_ms


class RemoteClient:
    """Pools served by `plasmite serve` at `base_url` (`http(s)://host:port`).

    Args:
        base_url: Server root URL.
        token: Bearer token, if the server requires one.
        tls_ca_file: CA bundle to verify the server's certificate.
        tls_skip_verify: Do not verify the certificate (testing only).
        timeout: Per-request timeout in seconds (tails manage their own).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        tls_ca_file: str | None = None,
        tls_skip_verify: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.tls_ca_file = tls_ca_file
        self.tls_skip_verify = tls_skip_verify
        self.timeout = timeout
        self._http: httpx.Client | None = None

    def with_token(self, token: str) -> RemoteClient:
        """Use a bearer token; returns self."""
        self.token = token
        self._reset()
        return self

    def with_tls_ca_file(self, path: str) -> RemoteClient:
        """Verify the server with this CA bundle; returns self."""
        self.tls_ca_file = path
        self._reset()
        return self

    def with_tls_skip_verify(self) -> RemoteClient:
        """Skip certificate verification; returns self."""
        self.tls_skip_verify = True
        self._reset()
        return self

    def _reset(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def http(self) -> httpx.Client:
        """The underlying httpx client (created on first use)."""
        if self._http is None:
            import httpx

            verify: Any = True
            if self.tls_skip_verify:
                verify = False
            elif self.tls_ca_file:
                import ssl

                verify = ssl.create_default_context(cafile=self.tls_ca_file)
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            self._http = httpx.Client(base_url=self.base_url, headers=headers, verify=verify, timeout=self.timeout)
        return self._http

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request and return the decoded JSON body, raising PlasmiteError on errors."""
        import httpx

        try:
            resp = self.http().request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise IoError(
                f"cannot reach {self.base_url}", causes=[str(exc)], hint="is `plasmite serve` running?"
            ) from None
        if resp.status_code >= 400:
            raise _error_from_response(resp)
        return resp.json()

    def create_pool(self, pool_ref: str, size_bytes: int = 1024 * 1024) -> RemotePool:
        """Create a pool on the server."""
        self.request("POST", "/v0/pools", json={"pool": pool_ref, "size_bytes": size_bytes})
        return RemotePool(self, pool_ref)

    def open_pool(self, pool_ref: str) -> RemotePool:
        """Open an existing pool on the server (NotFoundError if missing)."""
        self.request("POST", "/v0/pools/open", json={"pool": pool_ref})
        return RemotePool(self, pool_ref)

    def pool(self, pool_ref: str, size_bytes: int = 1024 * 1024) -> RemotePool:
        """Open, else create."""
        from toolkit_plasmite.errors import NotFoundError

        try:
            return self.open_pool(pool_ref)
        except NotFoundError:
            return self.create_pool(pool_ref, size_bytes)

    def list_pools(self) -> list[dict[str, Any]]:
        """PoolInfo of every pool on the server."""
        return list(self.request("GET", "/v0/pools")["pools"])

    def pool_info(self, pool_ref: str) -> dict[str, Any]:
        """PoolInfo of one pool."""
        return dict(self.request("GET", f"/v0/pools/{pool_ref}/info")["pool"])

    def delete_pool(self, pool_ref: str) -> None:
        """Delete a pool on the server."""
        self.request("DELETE", f"/v0/pools/{pool_ref}")

    def close(self) -> None:
        """Close the connection pool."""
        self._reset()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class RemotePool:
    """One pool on a server; same methods as the local `Pool` (JSON only)."""

    def __init__(self, client: RemoteClient, name: str) -> None:
        self.client = client
        self.name = name

    def append_json(self, payload: bytes, tags: Iterable[str], durability: Durability | int = 0) -> bytes:
        """Append `payload` (JSON of an object) and return the envelope JSON."""
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise UsageError(f"invalid JSON: {exc}") from None
        return json.dumps(self.append_value(data, tags, durability), sort_keys=True, separators=(",", ":")).encode()

    def append_value(self, data: Any, tags: Iterable[str] = (), durability: Durability | int = 0) -> dict[str, Any]:
        """Append and return the envelope as a dict."""
        body = {"data": data, "tags": list(tags), "durability": "flush" if int(durability) == 1 else "fast"}
        return dict(self.client.request("POST", f"/v0/pools/{self.name}/append", json=body)["message"])

    def append(self, value: Any, tags: Iterable[str] | None = None, durability: Durability | int = 0) -> Message:
        """Append and return the committed Message."""
        from toolkit_plasmite.core.api import message_from_envelope

        return message_from_envelope(self.append_value(value, tags or (), durability))

    def get_json(self, seq: int) -> bytes:
        """Envelope JSON of message `seq`."""
        env = self.client.request("GET", f"/v0/pools/{self.name}/messages/{int(seq)}")["message"]
        return json.dumps(env, sort_keys=True, separators=(",", ":")).encode()

    def get(self, seq: int) -> Message:
        """Message `seq`."""
        from toolkit_plasmite.core.api import parse_message

        return parse_message(self.get_json(seq))

    def info(self) -> dict[str, Any]:
        """PoolInfo."""
        return self.client.pool_info(self.name)

    def iter_envelopes(
        self,
        since_seq: int | None = None,
        max_messages: int | None = None,
        timeout_ms: int | None = None,
        tags: Iterable[str] | None = None,
        error_on_gap: bool = False,
        live: bool = False,
        should_stop: Callable[[], bool] | None = None,
        lite3: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Yield envelopes, reconnecting with `since_seq=last+1` until max, an idle timeout or `should_stop`.

        With `should_stop`, requests wait at most half a second so the check runs often; once it
        returns True, one last request without waiting delivers what was committed before.
        With `lite3`, the `/tail_lite3` route is read and the envelopes are `StoredEnvelope`s
        keeping each received document (`follow --format lite3`).
        """
        next_seq = since_seq
        if next_seq is None and not live:
            bounds = self.info().get("bounds") or {}
            if bounds:
                next_seq = int(bounds["oldest"])
        delivered = 0
        tag_list = list(tags or [])
        deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
        stopping = False
        while True:
            stopping = stopping or (should_stop is not None and should_stop())
            wait_ms = _request_wait_ms(deadline, should_stop is not None, stopping)
            if wait_ms is None:
                return
            params: list[tuple[str, str | int | float | bool | None]] = [
                ("timeout_ms", max(wait_ms, 1)),
                ("gap_policy", "error" if error_on_gap else "continue"),
            ]
            if max_messages is not None:
                params.append(("max", max_messages - delivered))
            params.extend(("tag", t) for t in tag_list)
            if next_seq is not None:
                params.append(("since_seq", next_seq))
            for item in self._tail_request(params, wait_ms, lite3):
                if "_start_seq" in item:
                    next_seq = int(item["_start_seq"]) if next_seq is None else next_seq
                    continue
                if next_seq is not None and item["seq"] < next_seq:
                    continue
                next_seq = item["seq"] + 1
                delivered += 1
                if deadline is not None:
                    deadline = time.monotonic() + (timeout_ms or 0) / 1000
                yield item
                if max_messages is not None and delivered >= max_messages:
                    return
            if stopping:
                return

    def _tail_request(
        self, params: list[tuple[str, str | int | float | bool | None]], wait_ms: int, lite3: bool = False
    ) -> Iterator[dict[str, Any]]:
        """One tail request: first `{"_start_seq": N}`, then the envelopes; a final error line raises.

        With `lite3`, the `/tail_lite3` route, whose frames become `StoredEnvelope`s.
        """
        import httpx

        route = "tail_lite3" if lite3 else "tail"
        try:
            with self.client.http().stream(
                "GET", f"/v0/pools/{self.name}/{route}", params=params, timeout=wait_ms / 1000 + 30
            ) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise _error_from_response(resp)
                yield {"_start_seq": int(resp.headers.get("plasmite-start-seq", "1"))}
                yield from (_lite3_items(resp, self.client.base_url) if lite3 else _jsonl_items(resp))
        except httpx.HTTPError as exc:
            raise IoError(f"tail from {self.client.base_url} failed", causes=[str(exc)]) from None

    def tail(
        self,
        since_seq: int | None = None,
        max_messages: int | None = None,
        timeout_ms: int | None = None,
        tags: Iterable[str] | None = None,
        error_on_gap: bool = False,
    ) -> Generator[Message, None, None]:
        """Messages from `since_seq` (default: the oldest retained), like `Pool.tail`."""
        from toolkit_plasmite.core.api import message_from_envelope

        for env in self.iter_envelopes(since_seq, max_messages, timeout_ms, tags, error_on_gap):
            yield message_from_envelope(env)

    def close(self) -> None:
        """Nothing to release per pool (the client owns the connection)."""

    def __enter__(self) -> RemotePool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _jsonl_items(resp: httpx.Response) -> Iterator[dict[str, Any]]:
    """The envelopes of a `/tail` response; a final error line raises."""
    for line in resp.iter_lines():
        if not line.strip():
            continue
        item = json.loads(line)
        if "error" in item:
            err = item["error"]
            raise error_for_kind(err.get("kind", "Internal"), err.get("message", ""), seq=err.get("seq"))
        yield item


def _lite3_items(resp: httpx.Response, base_url: str) -> Iterator[dict[str, Any]]:
    """A `/tail_lite3` response's frames (`[u64be seq][u64be time_ns][u32be len]` + document) as StoredEnvelopes."""
    from toolkit_plasmite.core import lite3
    from toolkit_plasmite.core.codec import envelope
    from toolkit_plasmite.core.follow import StoredEnvelope
    from toolkit_plasmite.core.lite3_api import pack_stream_frame

    head = 20
    buf = bytearray()
    for chunk in resp.iter_bytes():
        buf += chunk
        while len(buf) >= head:
            seq, ts, size = (int.from_bytes(buf[a:b], "big") for a, b in ((0, 8), (8, 16), (16, 20)))
            if len(buf) < head + size:
                break
            doc = bytes(buf[head : head + size])
            del buf[: head + size]
            data, tags = lite3.decode_message(doc)
            yield StoredEnvelope(envelope(seq, ts, data, tags), pack_stream_frame(seq, ts, doc))
    if buf:
        raise IoError(f"tail_lite3 from {base_url} ended inside a frame")


class RemoteSource:
    """A served pool as a follow source (core.follow.FollowSource).

    Args:
        pool: The remote pool.
        tags: Tags the server filters on (the selection checks them again).
        lite3: Read the Lite3 tail: envelopes keep their documents (`follow --format lite3`).
    """

    def __init__(self, pool: RemotePool, tags: Iterable[str] = (), lite3: bool = False) -> None:
        self.pool = pool
        self.tags = list(tags)
        self.lite3 = lite3
        self._bounds: dict[str, Any] = pool.info().get("bounds") or {}

    def live_edge(self) -> int | None:
        """The seq after the newest one when the source was opened (None: the pool was empty)."""
        return int(self._bounds["newest"]) + 1 if self._bounds else None

    def history(self, before_seq: int | None, last: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
        """Retained messages (as of opening) before `before_seq`, oldest first.

        With `last` (`--tail N`) only the last `last` of them are requested: the tail route
        starts at `since_seq` and stops after `max`, so the older history is never sent.
        """
        from toolkit_plasmite.core.codec import parse_time

        if not self._bounds:
            return
        oldest, newest = int(self._bounds["oldest"]), int(self._bounds["newest"])
        if before_seq is not None:
            newest = min(newest, before_seq - 1)
        if last > 0:
            oldest = max(oldest, newest - last + 1)
        if newest < oldest:
            return
        for env in self.pool.iter_envelopes(oldest, newest - oldest + 1, 2000, lite3=self.lite3):
            if before_seq is not None and env["seq"] >= before_seq:
                return
            yield parse_time(env["time"]), env
            if env["seq"] >= newest:
                return

    def live(
        self, since_seq: int | None, timeout: float | None, should_stop: Callable[[], bool] | None
    ) -> Iterator[dict[str, Any]]:
        """Messages from `since_seq` on, long-polling the server's tail route."""
        timeout_ms = None if timeout is None else int(timeout * 1000)
        yield from self.pool.iter_envelopes(
            since_seq, None, timeout_ms, self.tags, False, live=True, should_stop=should_stop, lite3=self.lite3
        )
