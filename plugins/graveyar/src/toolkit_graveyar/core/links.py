"""KurrentDB's link events: a `$>` event whose data `<revision>@<stream>` points at another event.

Persistent subscriptions park messages as links and the system projections write them; readers
that ask to resolve links get the event a link points at, with the link beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit_graveyar.core.codec import decode_record
from toolkit_kernel.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit_graveyar.core.model import RecordedEvent
    from toolkit_graveyar.storage.base import Store

__all__ = ["LINK_EVENT", "link_data", "resolve_link"]

LINK_EVENT = "$>"


def link_data(ev: RecordedEvent) -> bytes:
    """The data of a link to `ev`."""
    return f"{ev.version - 1}@{ev.stream}".encode()


async def resolve_link(store: Store, link: RecordedEvent) -> bytes | None:
    """The record a `$>` link points at, or None when it is gone (deleted, truncated) or the link is malformed."""
    if link.event_type != LINK_EVENT:
        return None
    rev, sep, stream = link.data.decode("utf-8", "replace").partition("@")
    if not sep or not rev.isdigit() or not stream:
        return None
    version = int(rev) + 1
    try:
        recs = await store.read_stream(stream, version, False, 1)
    except ToolkitError:  # the stream is gone (not found, tombstoned)
        return None
    if recs and decode_record(recs[0]).version == version:
        return recs[0]
    return None
