# mypy: disable-error-code="type-arg,no-untyped-def"
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Event(_message.Message):
    __slots__ = ("id", "event_type", "payload", "timestamp", "metadata", "transition")
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
    id: str
    event_type: str
    payload: bytes
    timestamp: int
    metadata: _containers.ScalarMap[str, str]
    transition: Transition
    def __init__(self, id: _Optional[str] = ..., event_type: _Optional[str] = ..., payload: _Optional[bytes] = ..., timestamp: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ..., transition: _Optional[_Union[Transition, _Mapping]] = ...) -> None: ...

class Transition(_message.Message):
    __slots__ = ("name", "from_state", "to_state")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    from_state: str
    to_state: str
    def __init__(self, name: _Optional[str] = ..., from_state: _Optional[str] = ..., to_state: _Optional[str] = ...) -> None: ...

class AppendEventRequest(_message.Message):
    __slots__ = ("stream_id", "events", "expected_version", "is_forwarded")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    IS_FORWARDED_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    events: _containers.RepeatedCompositeFieldContainer[Event]
    expected_version: int
    is_forwarded: bool
    def __init__(self, stream_id: _Optional[str] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., expected_version: _Optional[int] = ..., is_forwarded: _Optional[bool] = ...) -> None: ...

class AppendEventResponse(_message.Message):
    __slots__ = ("success",)
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    def __init__(self, success: _Optional[bool] = ...) -> None: ...

class GetEventsRequest(_message.Message):
    __slots__ = ("stream_id",)
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    def __init__(self, stream_id: _Optional[str] = ...) -> None: ...

class Schema(_message.Message):
    __slots__ = ("name", "fields")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Field
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Field, _Mapping]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    fields: _containers.MessageMap[str, Field]
    def __init__(self, name: _Optional[str] = ..., fields: _Optional[_Mapping[str, Field]] = ...) -> None: ...

class Field(_message.Message):
    __slots__ = ("field_type", "nullable", "overrides_on_null", "constraints")
    FIELD_TYPE_FIELD_NUMBER: _ClassVar[int]
    NULLABLE_FIELD_NUMBER: _ClassVar[int]
    OVERRIDES_ON_NULL_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    field_type: FieldType
    nullable: bool
    overrides_on_null: bool
    constraints: FieldConstraints
    def __init__(self, field_type: _Optional[_Union[FieldType, _Mapping]] = ..., nullable: _Optional[bool] = ..., overrides_on_null: _Optional[bool] = ..., constraints: _Optional[_Union[FieldConstraints, _Mapping]] = ...) -> None: ...

class FieldConstraints(_message.Message):
    __slots__ = ("required", "min_value", "max_value", "min_length", "max_length", "regex")
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    MIN_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    REGEX_FIELD_NUMBER: _ClassVar[int]
    required: bool
    min_value: float
    max_value: float
    min_length: int
    max_length: int
    regex: str
    def __init__(self, required: _Optional[bool] = ..., min_value: _Optional[float] = ..., max_value: _Optional[float] = ..., min_length: _Optional[int] = ..., max_length: _Optional[int] = ..., regex: _Optional[str] = ...) -> None: ...

class FieldType(_message.Message):
    __slots__ = ("primitive", "enum_def", "sub_schema", "array_def")
    class Primitive(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NUMBER: _ClassVar[FieldType.Primitive]
        STRING: _ClassVar[FieldType.Primitive]
        BOOLEAN: _ClassVar[FieldType.Primitive]
    NUMBER: FieldType.Primitive
    STRING: FieldType.Primitive
    BOOLEAN: FieldType.Primitive
    class Enum(_message.Message):
        __slots__ = ("variants",)
        VARIANTS_FIELD_NUMBER: _ClassVar[int]
        variants: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, variants: _Optional[_Iterable[str]] = ...) -> None: ...
    class Array(_message.Message):
        __slots__ = ("element_type",)
        ELEMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
        element_type: FieldType
        def __init__(self, element_type: _Optional[_Union[FieldType, _Mapping]] = ...) -> None: ...
    PRIMITIVE_FIELD_NUMBER: _ClassVar[int]
    ENUM_DEF_FIELD_NUMBER: _ClassVar[int]
    SUB_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    ARRAY_DEF_FIELD_NUMBER: _ClassVar[int]
    primitive: FieldType.Primitive
    enum_def: FieldType.Enum
    sub_schema: Schema
    array_def: FieldType.Array
    def __init__(self, primitive: _Optional[_Union[FieldType.Primitive, str]] = ..., enum_def: _Optional[_Union[FieldType.Enum, _Mapping]] = ..., sub_schema: _Optional[_Union[Schema, _Mapping]] = ..., array_def: _Optional[_Union[FieldType.Array, _Mapping]] = ...) -> None: ...

class UpsertSchemaRequest(_message.Message):
    __slots__ = ("schema",)
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    schema: Schema
    def __init__(self, schema: _Optional[_Union[Schema, _Mapping]] = ...) -> None: ...

class UpsertSchemaResponse(_message.Message):
    __slots__ = ("success", "message")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    def __init__(self, success: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class GetSchemaRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetSchemaResponse(_message.Message):
    __slots__ = ("schema", "found")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    schema: Schema
    found: bool
    def __init__(self, schema: _Optional[_Union[Schema, _Mapping]] = ..., found: _Optional[bool] = ...) -> None: ...

class Snapshot(_message.Message):
    __slots__ = ("stream_id", "version", "payload", "timestamp")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    version: int
    payload: bytes
    timestamp: int
    def __init__(self, stream_id: _Optional[str] = ..., version: _Optional[int] = ..., payload: _Optional[bytes] = ..., timestamp: _Optional[int] = ...) -> None: ...

class SaveSnapshotRequest(_message.Message):
    __slots__ = ("snapshot",)
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: Snapshot
    def __init__(self, snapshot: _Optional[_Union[Snapshot, _Mapping]] = ...) -> None: ...

class SaveSnapshotResponse(_message.Message):
    __slots__ = ("success",)
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    def __init__(self, success: _Optional[bool] = ...) -> None: ...

class GetSnapshotRequest(_message.Message):
    __slots__ = ("stream_id",)
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    def __init__(self, stream_id: _Optional[str] = ...) -> None: ...

class GetSnapshotResponse(_message.Message):
    __slots__ = ("snapshot", "found")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    snapshot: Snapshot
    found: bool
    def __init__(self, snapshot: _Optional[_Union[Snapshot, _Mapping]] = ..., found: _Optional[bool] = ...) -> None: ...
