# mypy: disable-error-code="type-arg,no-untyped-def"
from toolkit_graveyar._proto import eventstore_pb2 as _eventstore_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExpectedState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPECTED_STATE_ANY: _ClassVar[ExpectedState]
    EXPECTED_STATE_NO_STREAM: _ClassVar[ExpectedState]
    EXPECTED_STATE_STREAM_EXISTS: _ClassVar[ExpectedState]
    EXPECTED_STATE_EXACT: _ClassVar[ExpectedState]

class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIRECTION_FORWARD: _ClassVar[Direction]
    DIRECTION_BACKWARD: _ClassVar[Direction]
EXPECTED_STATE_ANY: ExpectedState
EXPECTED_STATE_NO_STREAM: ExpectedState
EXPECTED_STATE_STREAM_EXISTS: ExpectedState
EXPECTED_STATE_EXACT: ExpectedState
DIRECTION_FORWARD: Direction
DIRECTION_BACKWARD: Direction

class AppendRequest(_message.Message):
    __slots__ = ("stream", "expected_state", "expected_version", "events")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_STATE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    stream: str
    expected_state: ExpectedState
    expected_version: int
    events: _containers.RepeatedCompositeFieldContainer[_eventstore_pb2.Event]
    def __init__(self, stream: _Optional[str] = ..., expected_state: _Optional[_Union[ExpectedState, str]] = ..., expected_version: _Optional[int] = ..., events: _Optional[_Iterable[_Union[_eventstore_pb2.Event, _Mapping]]] = ...) -> None: ...

class AppendMultiRequest(_message.Message):
    __slots__ = ("appends",)
    APPENDS_FIELD_NUMBER: _ClassVar[int]
    appends: _containers.RepeatedCompositeFieldContainer[AppendRequest]
    def __init__(self, appends: _Optional[_Iterable[_Union[AppendRequest, _Mapping]]] = ...) -> None: ...

class AppendMultiResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[AppendResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[AppendResponse, _Mapping]]] = ...) -> None: ...

class AppendResponse(_message.Message):
    __slots__ = ("first_version", "version", "first_position", "position", "duplicate")
    FIRST_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FIRST_POSITION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    first_version: int
    version: int
    first_position: int
    position: int
    duplicate: bool
    def __init__(self, first_version: _Optional[int] = ..., version: _Optional[int] = ..., first_position: _Optional[int] = ..., position: _Optional[int] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class RecordedEvent(_message.Message):
    __slots__ = ("id", "event_type", "payload", "timestamp", "metadata", "transition", "stream", "version", "position", "custom_metadata", "content_type")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_METADATA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    id: str
    event_type: str
    payload: bytes
    timestamp: int
    metadata: _containers.ScalarMap[str, str]
    transition: _eventstore_pb2.Transition
    stream: str
    version: int
    position: int
    custom_metadata: bytes
    content_type: str
    def __init__(self, id: _Optional[str] = ..., event_type: _Optional[str] = ..., payload: _Optional[bytes] = ..., timestamp: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ..., transition: _Optional[_Union[_eventstore_pb2.Transition, _Mapping]] = ..., stream: _Optional[str] = ..., version: _Optional[int] = ..., position: _Optional[int] = ..., custom_metadata: _Optional[bytes] = ..., content_type: _Optional[str] = ...) -> None: ...

class ReadRequest(_message.Message):
    __slots__ = ("stream", "direction", "limit", "exclude_stream_prefixes")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_STREAM_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    stream: str
    direction: Direction
    limit: int
    exclude_stream_prefixes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, stream: _Optional[str] = ..., direction: _Optional[_Union[Direction, str]] = ..., limit: _Optional[int] = ..., exclude_stream_prefixes: _Optional[_Iterable[str]] = ..., **kwargs) -> None: ...

class ReadResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[RecordedEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[RecordedEvent, _Mapping]]] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("stream", "after", "stream_prefixes", "event_types", "exclude_stream_prefixes")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    STREAM_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_STREAM_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    stream: str
    after: int
    stream_prefixes: _containers.RepeatedScalarFieldContainer[str]
    event_types: _containers.RepeatedScalarFieldContainer[str]
    exclude_stream_prefixes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, stream: _Optional[str] = ..., after: _Optional[int] = ..., stream_prefixes: _Optional[_Iterable[str]] = ..., event_types: _Optional[_Iterable[str]] = ..., exclude_stream_prefixes: _Optional[_Iterable[str]] = ...) -> None: ...

class EventBatch(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[RecordedEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[RecordedEvent, _Mapping]]] = ...) -> None: ...

class CaughtUp(_message.Message):
    __slots__ = ("at",)
    AT_FIELD_NUMBER: _ClassVar[int]
    at: int
    def __init__(self, at: _Optional[int] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("position",)
    POSITION_FIELD_NUMBER: _ClassVar[int]
    position: int
    def __init__(self, position: _Optional[int] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("events", "caught_up", "checkpoint")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    CAUGHT_UP_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    events: EventBatch
    caught_up: CaughtUp
    checkpoint: Checkpoint
    def __init__(self, events: _Optional[_Union[EventBatch, _Mapping]] = ..., caught_up: _Optional[_Union[CaughtUp, _Mapping]] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ...) -> None: ...

class DeleteStreamRequest(_message.Message):
    __slots__ = ("stream", "expected_state", "expected_version")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_STATE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    stream: str
    expected_state: ExpectedState
    expected_version: int
    def __init__(self, stream: _Optional[str] = ..., expected_state: _Optional[_Union[ExpectedState, str]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class DeleteStreamResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class StreamMetadata(_message.Message):
    __slots__ = ("max_count", "max_age")
    MAX_COUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_AGE_FIELD_NUMBER: _ClassVar[int]
    max_count: int
    max_age: int
    def __init__(self, max_count: _Optional[int] = ..., max_age: _Optional[int] = ...) -> None: ...

class SetStreamMetadataRequest(_message.Message):
    __slots__ = ("stream", "metadata")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    stream: str
    metadata: StreamMetadata
    def __init__(self, stream: _Optional[str] = ..., metadata: _Optional[_Union[StreamMetadata, _Mapping]] = ...) -> None: ...

class GetStreamRequest(_message.Message):
    __slots__ = ("stream",)
    STREAM_FIELD_NUMBER: _ClassVar[int]
    stream: str
    def __init__(self, stream: _Optional[str] = ...) -> None: ...

class StreamInfo(_message.Message):
    __slots__ = ("stream", "version", "deleted", "metadata", "position", "truncate_before")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TRUNCATE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    stream: str
    version: int
    deleted: bool
    metadata: StreamMetadata
    position: int
    truncate_before: int
    def __init__(self, stream: _Optional[str] = ..., version: _Optional[int] = ..., deleted: _Optional[bool] = ..., metadata: _Optional[_Union[StreamMetadata, _Mapping]] = ..., position: _Optional[int] = ..., truncate_before: _Optional[int] = ...) -> None: ...

class ListStreamsRequest(_message.Message):
    __slots__ = ("prefix", "after", "limit")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    after: str
    limit: int
    def __init__(self, prefix: _Optional[str] = ..., after: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListStreamsResponse(_message.Message):
    __slots__ = ("streams",)
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    streams: _containers.RepeatedCompositeFieldContainer[StreamInfo]
    def __init__(self, streams: _Optional[_Iterable[_Union[StreamInfo, _Mapping]]] = ...) -> None: ...

class SaveSnapshotRequest(_message.Message):
    __slots__ = ("snapshot",)
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: _eventstore_pb2.Snapshot
    def __init__(self, snapshot: _Optional[_Union[_eventstore_pb2.Snapshot, _Mapping]] = ...) -> None: ...

class SaveSnapshotResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class GetSnapshotRequest(_message.Message):
    __slots__ = ("stream",)
    STREAM_FIELD_NUMBER: _ClassVar[int]
    stream: str
    def __init__(self, stream: _Optional[str] = ...) -> None: ...

class GetSnapshotResponse(_message.Message):
    __slots__ = ("snapshot",)
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: _eventstore_pb2.Snapshot
    def __init__(self, snapshot: _Optional[_Union[_eventstore_pb2.Snapshot, _Mapping]] = ...) -> None: ...

class UpsertSchemaRequest(_message.Message):
    __slots__ = ("schema",)
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    schema: _eventstore_pb2.Schema
    def __init__(self, schema: _Optional[_Union[_eventstore_pb2.Schema, _Mapping]] = ...) -> None: ...

class UpsertSchemaResponse(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetSchemaRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetSchemaResponse(_message.Message):
    __slots__ = ("schema",)
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    schema: _eventstore_pb2.Schema
    def __init__(self, schema: _Optional[_Union[_eventstore_pb2.Schema, _Mapping]] = ...) -> None: ...
