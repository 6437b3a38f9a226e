"""KurrentDB stream metadata (`$metadata` events in `$$<stream>`) as graveyar retention rules.

KurrentDB keeps a stream's metadata as the last `$metadata` event of its metastream; the keys
graveyar enforces are `$maxCount`, `$maxAge` (seconds) and `$tb` (truncate before, a 0-based
revision). Other keys (ACLs, `$cacheControl`, custom keys) are stored and returned unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from toolkit_graveyar.core import errors as E
from toolkit_graveyar.core.model import StreamMetadata

__all__ = ["DELETED_STREAM", "METADATA_EVENT_TYPE", "metadata_target", "retention_of", "with_truncate_before"]

#: The event type KurrentDB clients write to a metastream.
METADATA_EVENT_TYPE = "$metadata"
#: KurrentDB's `$tb` of a soft-deleted stream (EventNumber.DeletedStream, long.MaxValue).
DELETED_STREAM = 2**63 - 1


def metadata_target(stream: str) -> str | None:
    """The stream whose metadata `stream` holds (`$$orders` -> `orders`), else None."""
    return stream[2:] if stream.startswith("$$") and len(stream) > 2 else None


def retention_of(events: Sequence[Any]) -> StreamMetadata | None:
    """The rules of the last `$metadata` event among `events` (None when there is none).

    Raises InvalidRequest (nothing is written) when that event is not a JSON object or a rule is
    not a non-negative integer (`$maxCount` must be positive).
    """
    last = next((e for e in reversed(events) if e.event_type == METADATA_EVENT_TYPE), None)
    if last is None:
        return None
    try:
        doc = json.loads(last.payload or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise E.InvalidRequest(f"stream metadata is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise E.InvalidRequest("stream metadata must be a JSON object")
    max_count = _rule(doc, "$maxCount", minimum=1)
    max_age = _rule(doc, "$maxAge", minimum=1)
    tb = _rule(doc, "$tb", minimum=0)
    if tb == DELETED_STREAM:
        # KurrentDB's soft-delete mark, not a truncation: graveyar keeps the deletion in the
        # stream's state (Delete sets it, the next append clears it).
        tb = None
    return StreamMetadata(max_count=max_count, max_age=max_age, truncate_before=None if tb is None else tb + 1)


def _rule(doc: dict[str, Any], key: str, *, minimum: int) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise E.InvalidRequest(
            f"stream metadata {key} must be an integer >= {minimum}, got {value!r}", details={"property": key}
        )
    return value


def with_truncate_before(previous: bytes | None, tb: int) -> bytes:
    """The previous metadata document (every key kept) with `$tb` set, as KurrentDB records it.

    A soft delete sets `$tb` to DELETED_STREAM; the append that revives the stream sets it to the
    revision of its first event (StorageWriterService.SoftUndeleteStream), so the deleted events
    stay hidden. Clients read both back with `get_stream_metadata`.
    """
    try:
        doc = json.loads(previous) if previous else {}
    except (ValueError, UnicodeDecodeError):
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    doc["$tb"] = tb
    return json.dumps(doc).encode()
