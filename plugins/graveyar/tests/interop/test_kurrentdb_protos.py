"""Our KurrentDB contract (specs/graveyar/kurrentdb/v1) is wire-identical to the one kurrentdbclient ships.

Both sets of messages load in one process: ours live in a private descriptor pool.
"""

from __future__ import annotations

from typing import Any

import pytest
from kurrentdbclient.protos.v1 import gossip_pb2 as their_gossip
from kurrentdbclient.protos.v1 import shared_pb2 as their_shared
from kurrentdbclient.protos.v1 import streams_pb2 as their_streams

from toolkit_graveyar._proto.kurrentdb.v1 import gossip_pb2, shared_pb2, streams_pb2

pytestmark = pytest.mark.interop


def _shape(desc: Any) -> dict[str, Any]:
    """Message name -> {field name: (number, type, label, oneof, message type short name)}, nested included."""
    out: dict[str, Any] = {}

    def walk(d: Any) -> None:
        fields = {}
        for f in d.fields:
            sub = f.message_type.name if f.message_type is not None else (f.enum_type.name if f.enum_type else "")
            oneof = f.containing_oneof.name if f.containing_oneof is not None else ""
            fields[f.name] = (f.number, f.type, f.is_repeated, oneof, sub)
        out[d.full_name] = fields
        for n in d.nested_types:
            walk(n)

    for m in desc.message_types_by_name.values():
        walk(m)
    return out


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(shared_pb2, their_shared), (streams_pb2, their_streams), (gossip_pb2, their_gossip)],
    ids=["shared", "streams", "gossip"],
)
def test_messages_match_field_for_field(ours: Any, theirs: Any) -> None:
    assert ours.DESCRIPTOR.package == theirs.DESCRIPTOR.package
    assert _shape(ours.DESCRIPTOR) == _shape(theirs.DESCRIPTOR)


def test_services_match() -> None:
    for ours, theirs in ((streams_pb2, their_streams), (gossip_pb2, their_gossip)):
        for name, svc in theirs.DESCRIPTOR.services_by_name.items():
            mine = ours.DESCRIPTOR.services_by_name[name]
            assert {
                m.name: (m.input_type.full_name, m.output_type.full_name, m.client_streaming, m.server_streaming)
                for m in mine.methods
            } == {
                m.name: (m.input_type.full_name, m.output_type.full_name, m.client_streaming, m.server_streaming)
                for m in svc.methods
            }
