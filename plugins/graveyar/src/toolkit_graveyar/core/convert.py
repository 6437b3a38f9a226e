"""Conversions between wire messages and the core model (no gRPC import, only protobuf)."""

from __future__ import annotations

from typing import Any

from toolkit_graveyar._proto import eventstore_pb2 as es
from toolkit_graveyar._proto.graveyar.v1 import graveyar_pb2 as pb
from toolkit_graveyar.core.errors import InvalidRequest
from toolkit_graveyar.core.model import (
    Expected,
    ExpectedKind,
    Snapshot,
    StreamInfo,
    StreamMetadata,
)

__all__ = [
    "expected_from_pb",
    "expected_to_pb",
    "info_to_pb",
    "schema_from_pb",
    "schema_to_pb",
    "snapshot_from_pb",
    "snapshot_to_pb",
]

_KINDS = {
    pb.EXPECTED_STATE_ANY: ExpectedKind.ANY,
    pb.EXPECTED_STATE_NO_STREAM: ExpectedKind.NO_STREAM,
    pb.EXPECTED_STATE_STREAM_EXISTS: ExpectedKind.STREAM_EXISTS,
    pb.EXPECTED_STATE_EXACT: ExpectedKind.EXACT,
}
_KINDS_BACK = {v: k for k, v in _KINDS.items()}


def expected_from_pb(state: int, version: int) -> Expected:
    """Map the wire enum; unknown values are INVALID_ARGUMENT."""
    kind = _KINDS.get(state)  # type: ignore[call-overload]
    if kind is None:
        raise InvalidRequest(f"unknown expected_state {state}")
    return Expected(kind, version if kind is ExpectedKind.EXACT else 0)


def expected_to_pb(expected: Expected) -> tuple[int, int]:
    """(expected_state, expected_version) for a request."""
    return _KINDS_BACK[expected.kind], expected.version


def metadata_to_pb(meta: StreamMetadata) -> pb.StreamMetadata:
    """Retention rules on the wire."""
    msg = pb.StreamMetadata()
    if meta.max_count is not None:
        msg.max_count = meta.max_count
    if meta.max_age is not None:
        msg.max_age = meta.max_age
    return msg


def metadata_from_pb(msg: pb.StreamMetadata) -> StreamMetadata:
    """Retention rules from the wire."""
    return StreamMetadata(
        msg.max_count if msg.HasField("max_count") else None, msg.max_age if msg.HasField("max_age") else None
    )


def info_to_pb(info: StreamInfo) -> pb.StreamInfo:
    """Stream state on the wire."""
    return pb.StreamInfo(
        stream=info.stream,
        version=info.version,
        deleted=info.deleted,
        metadata=metadata_to_pb(info.metadata),
        position=info.position,
        truncate_before=info.truncate_before,
    )


def info_from_pb(msg: pb.StreamInfo) -> StreamInfo:
    """Stream state from the wire."""
    return StreamInfo(
        stream=msg.stream,
        version=msg.version,
        position=msg.position,
        deleted=msg.deleted,
        truncate_before=msg.truncate_before,
        metadata=metadata_from_pb(msg.metadata),
    )


def snapshot_from_pb(msg: es.Snapshot) -> Snapshot:
    """A snapshot from the wire."""
    return Snapshot(msg.stream_id, msg.version, msg.payload, msg.timestamp)


def snapshot_to_pb(snap: Snapshot) -> es.Snapshot:
    """A snapshot on the wire."""
    return es.Snapshot(stream_id=snap.stream, version=snap.version, payload=snap.payload, timestamp=snap.timestamp)


def schema_to_dict(msg: es.Schema) -> dict[str, Any]:
    """proto3 JSON form with original field names (the registry's stored form)."""
    from google.protobuf import json_format

    doc: dict[str, Any] = json_format.MessageToDict(msg, preserving_proto_field_name=True)
    return doc


schema_from_pb = schema_to_dict


def schema_to_pb(doc: dict[str, Any]) -> es.Schema:
    """Parse the JSON form into an `eventstore.Schema` (INVALID_ARGUMENT when it does not fit)."""
    from google.protobuf import json_format

    try:
        return json_format.ParseDict(doc, es.Schema())
    except json_format.ParseError as exc:
        raise InvalidRequest(f"schema does not fit eventstore.Schema: {exc}") from None
