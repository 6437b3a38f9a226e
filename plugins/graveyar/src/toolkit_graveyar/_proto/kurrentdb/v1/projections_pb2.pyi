# mypy: disable-error-code="type-arg,no-untyped-def"
from google.protobuf import struct_pb2 as _struct_pb2
from toolkit_graveyar._proto.kurrentdb.v1 import shared_pb2 as _shared_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateReq(_message.Message):
    __slots__ = ("options",)
    class Options(_message.Message):
        __slots__ = ("one_time", "transient", "continuous", "query", "engine_version", "properties")
        class PropertiesEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: _struct_pb2.Value
            def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
        class Transient(_message.Message):
            __slots__ = ("name",)
            NAME_FIELD_NUMBER: _ClassVar[int]
            name: str
            def __init__(self, name: _Optional[str] = ...) -> None: ...
        class Continuous(_message.Message):
            __slots__ = ("name", "emit_enabled", "track_emitted_streams")
            NAME_FIELD_NUMBER: _ClassVar[int]
            EMIT_ENABLED_FIELD_NUMBER: _ClassVar[int]
            TRACK_EMITTED_STREAMS_FIELD_NUMBER: _ClassVar[int]
            name: str
            emit_enabled: bool
            track_emitted_streams: bool
            def __init__(self, name: _Optional[str] = ..., emit_enabled: _Optional[bool] = ..., track_emitted_streams: _Optional[bool] = ...) -> None: ...
        ONE_TIME_FIELD_NUMBER: _ClassVar[int]
        TRANSIENT_FIELD_NUMBER: _ClassVar[int]
        CONTINUOUS_FIELD_NUMBER: _ClassVar[int]
        QUERY_FIELD_NUMBER: _ClassVar[int]
        ENGINE_VERSION_FIELD_NUMBER: _ClassVar[int]
        PROPERTIES_FIELD_NUMBER: _ClassVar[int]
        one_time: _shared_pb2.Empty
        transient: CreateReq.Options.Transient
        continuous: CreateReq.Options.Continuous
        query: str
        engine_version: int
        properties: _containers.MessageMap[str, _struct_pb2.Value]
        def __init__(self, one_time: _Optional[_Union[_shared_pb2.Empty, _Mapping]] = ..., transient: _Optional[_Union[CreateReq.Options.Transient, _Mapping]] = ..., continuous: _Optional[_Union[CreateReq.Options.Continuous, _Mapping]] = ..., query: _Optional[str] = ..., engine_version: _Optional[int] = ..., properties: _Optional[_Mapping[str, _struct_pb2.Value]] = ...) -> None: ...
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    options: CreateReq.Options
    def __init__(self, options: _Optional[_Union[CreateReq.Options, _Mapping]] = ...) -> None: ...

class CreateResp(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpdateReq(_message.Message):
    __slots__ = ("options",)
    class Options(_message.Message):
        __slots__ = ("name", "query", "emit_enabled", "no_emit_options", "properties")
        class PropertiesEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: _struct_pb2.Value
            def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
        NAME_FIELD_NUMBER: _ClassVar[int]
        QUERY_FIELD_NUMBER: _ClassVar[int]
        EMIT_ENABLED_FIELD_NUMBER: _ClassVar[int]
        NO_EMIT_OPTIONS_FIELD_NUMBER: _ClassVar[int]
        PROPERTIES_FIELD_NUMBER: _ClassVar[int]
        name: str
        query: str
        emit_enabled: bool
        no_emit_options: _shared_pb2.Empty
        properties: _containers.MessageMap[str, _struct_pb2.Value]
        def __init__(self, name: _Optional[str] = ..., query: _Optional[str] = ..., emit_enabled: _Optional[bool] = ..., no_emit_options: _Optional[_Union[_shared_pb2.Empty, _Mapping]] = ..., properties: _Optional[_Mapping[str, _struct_pb2.Value]] = ...) -> None: ...
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    options: UpdateReq.Options
    def __init__(self, options: _Optional[_Union[UpdateReq.Options, _Mapping]] = ...) -> None: ...

class UpdateResp(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteReq(_message.Message):
    __slots__ = ("options",)
    class Options(_message.Message):
        __slots__ = ("name", "delete_emitted_streams", "delete_state_stream", "delete_checkpoint_stream")
        NAME_FIELD_NUMBER: _ClassVar[int]
        DELETE_EMITTED_STREAMS_FIELD_NUMBER: _ClassVar[int]
        DELETE_STATE_STREAM_FIELD_NUMBER: _ClassVar[int]
        DELETE_CHECKPOINT_STREAM_FIELD_NUMBER: _ClassVar[int]
        name: str
        delete_emitted_streams: bool
        delete_state_stream: bool
        delete_checkpoint_stream: bool
        def __init__(self, name: _Optional[str] = ..., delete_emitted_streams: _Optional[bool] = ..., delete_state_stream: _Optional[bool] = ..., delete_checkpoint_stream: _Optional[bool] = ...) -> None: ...
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    options: DeleteReq.Options
    def __init__(self, options: _Optional[_Union[DeleteReq.Options, _Mapping]] = ...) -> None: ...

class DeleteResp(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatisticsReq(_message.Message):
    __slots__ = ("options",)
    class Options(_message.Message):
        __slots__ = ("name", "all", "transient", "continuous", "one_time")
        NAME_FIELD_NUMBER: _ClassVar[int]
        ALL_FIELD_NUMBER: _ClassVar[int]
        TRANSIENT_FIELD_NUMBER: _ClassVar[int]
        CONTINUOUS_FIELD_NUMBER: _ClassVar[int]
        ONE_TIME_FIELD_NUMBER: _ClassVar[int]
        name: str
        all: _shared_pb2.Empty
        transient: _shared_pb2.Empty
        continuous: _shared_pb2.Empty
        one_time: _shared_pb2.Empty
        def __init__(self, name: _Optional[str] = ..., all: _Optional[_Union[_shared_pb2.Empty, _Mapping]] = ..., transient: _Optional[_Union[_shared_pb2.Empty, _Mapping]] = ..., continuous: _Optional[_Union[_shared_pb2.Empty, _Mapping]] = ..., one_time: _Optional[_Union[_shared_pb2.Empty, _Mapping]] = ...) -> None: ...
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    options: StatisticsReq.Options
    def __init__(self, options: _Optional[_Union[StatisticsReq.Options, _Mapping]] = ...) -> None: ...

class StatisticsResp(_message.Message):
    __slots__ = ("details",)
    class Details(_message.Message):
        __slots__ = ("coreProcessingTime", "version", "epoch", "effectiveName", "writesInProgress", "readsInProgress", "partitionsCached", "status", "stateReason", "name", "mode", "position", "progress", "lastCheckpoint", "eventsProcessedAfterRestart", "checkpointStatus", "bufferedEvents", "writePendingEventsBeforeCheckpoint", "writePendingEventsAfterCheckpoint")
        COREPROCESSINGTIME_FIELD_NUMBER: _ClassVar[int]
        VERSION_FIELD_NUMBER: _ClassVar[int]
        EPOCH_FIELD_NUMBER: _ClassVar[int]
        EFFECTIVENAME_FIELD_NUMBER: _ClassVar[int]
        WRITESINPROGRESS_FIELD_NUMBER: _ClassVar[int]
        READSINPROGRESS_FIELD_NUMBER: _ClassVar[int]
        PARTITIONSCACHED_FIELD_NUMBER: _ClassVar[int]
        STATUS_FIELD_NUMBER: _ClassVar[int]
        STATEREASON_FIELD_NUMBER: _ClassVar[int]
        NAME_FIELD_NUMBER: _ClassVar[int]
        MODE_FIELD_NUMBER: _ClassVar[int]
        POSITION_FIELD_NUMBER: _ClassVar[int]
        PROGRESS_FIELD_NUMBER: _ClassVar[int]
        LASTCHECKPOINT_FIELD_NUMBER: _ClassVar[int]
        EVENTSPROCESSEDAFTERRESTART_FIELD_NUMBER: _ClassVar[int]
        CHECKPOINTSTATUS_FIELD_NUMBER: _ClassVar[int]
        BUFFEREDEVENTS_FIELD_NUMBER: _ClassVar[int]
        WRITEPENDINGEVENTSBEFORECHECKPOINT_FIELD_NUMBER: _ClassVar[int]
        WRITEPENDINGEVENTSAFTERCHECKPOINT_FIELD_NUMBER: _ClassVar[int]
        coreProcessingTime: int
        version: int
        epoch: int
        effectiveName: str
        writesInProgress: int
        readsInProgress: int
        partitionsCached: int
        status: str
        stateReason: str
        name: str
        mode: str
        position: str
        progress: float
        lastCheckpoint: str
        eventsProcessedAfterRestart: int
        checkpointStatus: str
        bufferedEvents: int
        writePendingEventsBeforeCheckpoint: int
        writePendingEventsAfterCheckpoint: int
        def __init__(self, coreProcessingTime: _Optional[int] = ..., version: _Optional[int] = ..., epoch: _Optional[int] = ..., effectiveName: _Optional[str] = ..., writesInProgress: _Optional[int] = ..., readsInProgress: _Optional[int] = ..., partitionsCached: _Optional[int] = ..., status: _Optional[str] = ..., stateReason: _Optional[str] = ..., name: _Optional[str] = ..., mode: _Optional[str] = ..., position: _Optional[str] = ..., progress: _Optional[float] = ..., lastCheckpoint: _Optional[str] = ..., eventsProcessedAfterRestart: _Optional[int] = ..., checkpointStatus: _Optional[str] = ..., bufferedEvents: _Optional[int] = ..., writePendingEventsBeforeCheckpoint: _Optional[int] = ..., writePendingEventsAfterCheckpoint: _Optional[int] = ...) -> None: ...
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    details: StatisticsResp.Details
    def __init__(self, details: _Optional[_Union[StatisticsResp.Details, _Mapping]] = ...) -> None: ...

class StateReq(_message.Message):
    __slots__ = ("options",)
    class Options(_message.Message):
        __slots__ = ("name", "partition")
        NAME_FIELD_NUMBER: _ClassVar[int]
        PARTITION_FIELD_NUMBER: _ClassVar[int]
        name: str
        partition: str
        def __init__(self, name: _Optional[str] = ..., partition: _Optional[str] = ...) -> None: ...
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    options: StateReq.Options
    def __init__(self, options: _Optional[_Union[StateReq.Options, _Mapping]] = ...) -> None: ...

class StateResp(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _struct_pb2.Value
    def __init__(self, state: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class ResultReq(_message.Message):
    __slots__ = ("options",)
    class Options(_message.Message):
        __slots__ = ("name", "partition")
        NAME_FIELD_NUMBER: _ClassVar[int]
        PARTITION_FIELD_NUMBER: _ClassVar[int]
        name: str
        partition: str
        def __init__(self, name: _Optional[str] = ..., partition: _Optional[str] = ...) -> None: ...
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    options: ResultReq.Options
    def __init__(self, options: _Optional[_Union[ResultReq.Options, _Mapping]] = ...) -> None: ...

class ResultResp(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _struct_pb2.Value
    def __init__(self, result: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class ResetReq(_message.Message):
    __slots__ = ("options",)
    class Options(_message.Message):
        __slots__ = ("name", "write_checkpoint")
        NAME_FIELD_NUMBER: _ClassVar[int]
        WRITE_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
        name: str
        write_checkpoint: bool
        def __init__(self, name: _Optional[str] = ..., write_checkpoint: _Optional[bool] = ...) -> None: ...
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    options: ResetReq.Options
    def __init__(self, options: _Optional[_Union[ResetReq.Options, _Mapping]] = ...) -> None: ...

class ResetResp(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EnableReq(_message.Message):
    __slots__ = ("options",)
    class Options(_message.Message):
        __slots__ = ("name",)
        NAME_FIELD_NUMBER: _ClassVar[int]
        name: str
        def __init__(self, name: _Optional[str] = ...) -> None: ...
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    options: EnableReq.Options
    def __init__(self, options: _Optional[_Union[EnableReq.Options, _Mapping]] = ...) -> None: ...

class EnableResp(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DisableReq(_message.Message):
    __slots__ = ("options",)
    class Options(_message.Message):
        __slots__ = ("name", "write_checkpoint")
        NAME_FIELD_NUMBER: _ClassVar[int]
        WRITE_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
        name: str
        write_checkpoint: bool
        def __init__(self, name: _Optional[str] = ..., write_checkpoint: _Optional[bool] = ...) -> None: ...
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    options: DisableReq.Options
    def __init__(self, options: _Optional[_Union[DisableReq.Options, _Mapping]] = ...) -> None: ...

class DisableResp(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
