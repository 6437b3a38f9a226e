"""Python clients for a graveyar server: `GraveyarClient` (sync) and `AsyncGraveyarClient` (asyncio).

Both faces run one implementation (`protocol`): they speak `graveyar.v1.Graveyar`, map gRPC
errors back to graveyar's error classes (a version conflict raises `WrongExpectedVersion` with
`details["expected"]` and `details["actual"]`), retry UNAVAILABLE a bounded number of times
(appends are retry-safe: every event carries an id, so a retry of an acknowledged append is
recognised, not duplicated), and resume subscriptions from the last delivered position after a
disconnect.

Example:
    >>> with GraveyarClient("127.0.0.1:50051") as c:  # doctest: +SKIP
    ...     c.append("order-1", [new_event("OrderPlaced", b'{"total": 3}')], Expected.no_stream())
"""

from __future__ import annotations

from toolkit_graveyar.client.aio import AsyncGraveyarClient
from toolkit_graveyar.client.protocol import (
    ALL,
    DEFAULT_ADDRESS,
    SubscriptionMessage,
    map_rpc_error,
    new_event,
    new_event_id,
)
from toolkit_graveyar.client.sync import GraveyarClient
from toolkit_graveyar.core.model import Expected

__all__ = [
    "ALL",
    "DEFAULT_ADDRESS",
    "AsyncGraveyarClient",
    "Expected",
    "GraveyarClient",
    "SubscriptionMessage",
    "map_rpc_error",
    "new_event",
    "new_event_id",
]
