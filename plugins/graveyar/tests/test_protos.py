"""The committed stubs match the .proto sources, and the compat proto is graveyar_db 0.3's contract."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from toolkit_graveyar._proto import eventstore_pb2 as es
from toolkit_graveyar._proto.graveyar.v1 import graveyar_pb2 as pb

ROOT = Path(__file__).resolve().parents[3]
PROTO_DIR = ROOT / "plugins" / "graveyar" / "src" / "toolkit_graveyar" / "_proto"


def test_generated_stubs_are_up_to_date(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "tools" / "gen_protos.py")
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    written = mod.generate(tmp_path)
    assert written
    for path in written:
        rel = path.relative_to(tmp_path)
        committed = PROTO_DIR / rel
        assert committed.exists(), f"{rel} is not committed"
        assert committed.read_text() == path.read_text(), f"{rel} is stale: run tools/gen_protos.py"
    committed_files = {p.relative_to(PROTO_DIR) for p in PROTO_DIR.rglob("*.py*") if "__pycache__" not in p.parts}
    assert committed_files == {p.relative_to(tmp_path) for p in written}


def _fields(msg: object) -> dict[str, tuple[int, int]]:
    d = msg.DESCRIPTOR  # type: ignore[attr-defined]
    return {f.name: (f.number, f.type) for f in d.fields}


def test_eventstore_contract_matches_graveyar_db() -> None:
    svc = es.DESCRIPTOR.services_by_name["EventStore"]
    assert es.DESCRIPTOR.package == "eventstore"
    methods = {m.name: (m.input_type.name, m.output_type.name, m.server_streaming) for m in svc.methods}
    assert methods == {
        "AppendEvent": ("AppendEventRequest", "AppendEventResponse", False),
        "GetEvents": ("GetEventsRequest", "Event", True),
        "UpsertSchema": ("UpsertSchemaRequest", "UpsertSchemaResponse", False),
        "GetSchema": ("GetSchemaRequest", "GetSchemaResponse", False),
        "SaveSnapshot": ("SaveSnapshotRequest", "SaveSnapshotResponse", False),
        "GetSnapshot": ("GetSnapshotRequest", "GetSnapshotResponse", False),
    }
    assert {k: v[0] for k, v in _fields(es.Event).items()} == {
        "id": 1,
        "event_type": 2,
        "payload": 3,
        "timestamp": 4,
        "metadata": 5,
        "transition": 6,
    }
    assert {k: v[0] for k, v in _fields(es.AppendEventRequest).items()} == {
        "stream_id": 1,
        "events": 2,
        "expected_version": 3,
        "is_forwarded": 4,
    }
    assert _fields(es.AppendEventRequest)["expected_version"][1] == 3  # TYPE_INT64: -1 must be sendable
    assert {k: v[0] for k, v in _fields(es.Snapshot).items()} == {
        "stream_id": 1,
        "version": 2,
        "payload": 3,
        "timestamp": 4,
    }
    assert {k: v[0] for k, v in _fields(es.FieldConstraints).items()} == {
        "required": 1,
        "min_value": 2,
        "max_value": 3,
        "min_length": 4,
        "max_length": 5,
        "regex": 6,
    }
    assert {k: v[0] for k, v in _fields(es.FieldType).items()} == {
        "primitive": 1,
        "enum_def": 2,
        "sub_schema": 3,
        "array_def": 4,
    }
    assert {k: v[0] for k, v in _fields(es.Transition).items()} == {"name": 1, "from_state": 2, "to_state": 3}


def test_v1_service_surface() -> None:
    svc = pb.DESCRIPTOR.services_by_name["Graveyar"]
    assert pb.DESCRIPTOR.package == "graveyar.v1"
    assert {m.name for m in svc.methods} == {
        "Append",
        "AppendMulti",
        "Read",
        "Subscribe",
        "DeleteStream",
        "SetStreamMetadata",
        "GetStream",
        "ListStreams",
        "SaveSnapshot",
        "GetSnapshot",
        "UpsertSchema",
        "GetSchema",
    }
