"""An `eventsourcing` persistence module backed by a graveyar server.

Use with `PERSISTENCE_MODULE=toolkit_graveyar.eventsourcing` and `GRAVEYAR_SERVER=host:port`
(optionally `GRAVEYAR_TOKEN`, `GRAVEYAR_PREFIX`). Layout and rules: specs/graveyar/eventsourcing.md.

Each aggregate is a graveyar stream; an application's notification log is one more stream whose
versions are the notification ids; tracking records are a stream per upstream application. One
`insert_events` is one atomic multi-stream append, so events of several aggregates, their
notifications and the tracking record are written together or not at all. Stored-event ids are
derived from (stream, originator id, version), so graveyar's id index makes a second insert of
the same version an `IntegrityError`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    DatabaseError,
    DataError,
    InfrastructureFactory,
    IntegrityError,
    Notification,
    OperationalError,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.utils import Environment, resolve_topic

from toolkit_graveyar.client import GraveyarClient, SubscriptionMessage
from toolkit_graveyar.core import errors as E
from toolkit_graveyar.core.model import Expected, ProposedEvent, RecordedEvent
from toolkit_kernel.errors import ToolkitError

__all__ = [
    "Factory",
    "GraveyarAggregateRecorder",
    "GraveyarApplicationRecorder",
    "GraveyarFactory",
    "GraveyarProcessRecorder",
    "GraveyarTrackingRecorder",
]

#: Namespace of the derived event ids (uuid5).
ID_NAMESPACE = uuid.UUID("5d0f3f0e-7a59-4d0b-9a53-6f7a0c1e9b21")
T = TypeVar("T")
_TRACKING_RETRIES = 20


class _VersionConflict(IntegrityError):
    """An expected version failed: only tracking appends have one, so a concurrent tracking write won."""


def _translate(fn: Callable[[], T]) -> T:
    """Run a client call, raising eventsourcing's exception classes instead of graveyar's."""
    try:
        return fn()
    except E.WrongExpectedVersion as exc:
        raise _VersionConflict(exc.message) from None
    except E.DuplicateEventId as exc:
        raise IntegrityError(exc.message) from None
    except E.InvalidRequest as exc:
        raise DataError(exc.message) from None
    except E.Unavailable as exc:
        raise OperationalError(exc.message) from None
    except ToolkitError as exc:
        raise DatabaseError(exc.message) from None


def _stored(ev: RecordedEvent) -> tuple[Any, int]:
    """The originator id (a UUID when it was one) and version recorded in an event's metadata."""
    raw = ev.metadata["originator_id"]
    oid: Any = uuid.UUID(raw) if ev.metadata.get("id_type") == "uuid" else raw
    return oid, int(ev.metadata["originator_version"])


class _Base:
    """What every recorder shares: the client and the stream names under its prefix."""

    def __init__(self, client: GraveyarClient, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _stream(self, originator_id: Any) -> str:
        return f"{self.prefix}:{originator_id}"

    def _tracking_stream(self, application_name: str) -> str:
        return f"{self.prefix}#tracking:{application_name}"

    def _event(self, stream: str, s: StoredEvent) -> ProposedEvent:
        key = f"{stream}@{s.originator_id}@{s.originator_version}"
        meta = {
            "originator_id": str(s.originator_id),
            "originator_version": str(s.originator_version),
            "id_type": "uuid" if isinstance(s.originator_id, uuid.UUID) else "str",
        }
        return ProposedEvent(str(uuid.uuid5(ID_NAMESPACE, key)), s.topic, s.state, meta)

    def _items(self, stored_events: Sequence[StoredEvent]) -> list[tuple[str, Sequence[ProposedEvent], Expected]]:
        seen: set[tuple[str, int]] = set()
        by_stream: dict[str, list[ProposedEvent]] = {}
        for s in stored_events:
            key = (str(s.originator_id), s.originator_version)
            if key in seen:
                raise IntegrityError(f"stored events are not unique: {key}")
            seen.add(key)
            stream = self._stream(s.originator_id)
            by_stream.setdefault(stream, []).append(self._event(stream, s))
        return [(stream, evs, Expected.any()) for stream, evs in by_stream.items()]

    def _write(self, items: list[tuple[str, Sequence[ProposedEvent], Expected]]) -> list[Any]:
        results = _translate(lambda: self.client.append_multi(items))
        if any(r.duplicate for r in results):
            raise IntegrityError("stored events are already recorded")
        return results

    def _tracking_item(self, tracking: Tracking) -> tuple[str, Sequence[ProposedEvent], Expected]:
        """The tracking append, checked against the recorded maximum (its expected version guards a race)."""
        stream = self._tracking_stream(tracking.application_name)
        version, current = self._last_tracking(tracking.application_name)
        if current is not None and current >= tracking.notification_id:
            raise IntegrityError(
                f"tracking notification id {tracking.notification_id} of {tracking.application_name!r} "
                f"is not above the recorded {current}"
            )
        key = f"{stream}@{tracking.notification_id}"
        meta = {"application_name": tracking.application_name, "notification_id": str(tracking.notification_id)}
        event = ProposedEvent(str(uuid.uuid5(ID_NAMESPACE, key)), "Tracking", b"", meta)
        return stream, [event], Expected.exact(version)

    def _last_tracking(self, application_name: str) -> tuple[int, int | None]:
        """(tracking stream version, last tracked notification id)."""
        try:
            last = _translate(lambda: self.client.read(self._tracking_stream(application_name), backward=True, limit=1))
        except DatabaseError:
            last = []
        if not last:
            return 0, None
        return last[0].version, int(last[0].metadata["notification_id"])


class GraveyarAggregateRecorder(_Base, AggregateRecorder):
    """Stored events of aggregates, one graveyar stream each."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Write the events of one or more aggregates atomically."""
        if stored_events:
            self._write(self._items(stored_events))
        return None

    def select_events(
        self,
        originator_id: uuid.UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """Events of one aggregate, by version."""
        try:
            events = _translate(lambda: self.client.read(self._stream(originator_id)))
        except DatabaseError:
            return []
        out = []
        for ev in events:
            oid, version = _stored(ev)
            if (gt is None or version > gt) and (lte is None or version <= lte):
                out.append(
                    StoredEvent(originator_id=oid, originator_version=version, topic=ev.event_type, state=ev.data)
                )
        out.sort(key=lambda s: s.originator_version, reverse=desc)
        return out[:limit] if limit is not None else out


class GraveyarApplicationRecorder(GraveyarAggregateRecorder, ApplicationRecorder):
    """Aggregates plus the application's notification log (a stream whose versions are the ids)."""

    @property
    def log_stream(self) -> str:
        """The notification log's stream."""
        return f"{self.prefix}#log"

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Write events, their notifications (and a tracking record) atomically; return the notification ids."""
        tracking: Tracking | None = kwargs.get("tracking")
        for _ in range(_TRACKING_RETRIES):
            items = self._items(stored_events)
            if stored_events:
                log = [self._event(self.log_stream, s) for s in stored_events]
                items.append((self.log_stream, log, Expected.any()))
            if tracking is not None:
                items.append(self._tracking_item(tracking))
            if not items:
                return []
            try:
                results = self._write(items)
            except _VersionConflict:
                if tracking is not None and self._tracking_moved(tracking):
                    continue
                raise
            if not stored_events:
                return []
            log_result = results[len(items) - (2 if tracking is not None else 1)]
            return list(range(log_result.first_version, log_result.version + 1))
        raise OperationalError("tracking record kept conflicting with concurrent writers")

    def _tracking_moved(self, tracking: Tracking) -> bool:
        """True when a concurrent tracking write (not a duplicate) made the append fail: worth a retry."""
        _, current = self._last_tracking(tracking.application_name)
        return current is None or current < tracking.notification_id

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """Notifications from `start` (ids are log stream versions)."""
        first = 1 if start is None else (start if inclusive_of_start else start + 1)
        first = max(first, 1)
        if limit <= 0 or (stop is not None and stop < first):
            return []
        page = 0 if topics else limit if stop is None else min(limit, stop - first + 1)
        wanted = set(topics)
        out: list[Notification] = []
        try:
            for ev in self.client.iter_read(self.log_stream, first, limit=page):
                if stop is not None and ev.version > stop:
                    break
                if wanted and ev.event_type not in wanted:
                    continue
                out.append(_notification(ev))
                if len(out) >= limit:
                    break
        except E.StreamNotFound:
            return []
        except ToolkitError as exc:
            raise DatabaseError(exc.message) from None
        return out

    def max_notification_id(self) -> int | None:
        """The last notification id (None before the first)."""
        try:
            info = _translate(lambda: self.client.stream_info(self.log_stream))
        except DatabaseError:
            return None
        return info.version or None

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        """Notifications after `gt`, then new ones as they are recorded."""
        return GraveyarSubscription(self, gt, topics)


def _notification(ev: RecordedEvent) -> Notification:
    oid, version = _stored(ev)
    return Notification(
        id=ev.version, originator_id=oid, originator_version=version, topic=ev.event_type, state=ev.data
    )


class GraveyarSubscription(Subscription[ApplicationRecorder]):
    """A graveyar catch-up subscription to the notification log."""

    def __init__(
        self, recorder: GraveyarApplicationRecorder, gt: int | None = None, topics: Sequence[str] = ()
    ) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        messages, self._cancel = recorder.client.subscription(recorder.log_stream, gt, event_types=list(topics))
        self._messages: Iterator[SubscriptionMessage] = messages

    def stop(self) -> None:
        """End the subscription (also from another thread)."""
        super().stop()
        self._cancel()

    def __next__(self) -> Notification:
        """The next notification (blocks until one is recorded)."""
        while not self._has_been_stopped:
            try:
                msg = next(self._messages)
            except ToolkitError as exc:
                raise OperationalError(exc.message) from None
            if msg.event is not None:
                self._last_notification_id = msg.event.version
                return _notification(msg.event)
        raise StopIteration


class GraveyarTrackingRecorder(_Base, TrackingRecorder):
    """Tracking records: one stream per upstream application."""

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record that `tracking.notification_id` of its application was processed."""
        for _ in range(_TRACKING_RETRIES):
            try:
                self._write([self._tracking_item(tracking)])
                return
            except _VersionConflict:
                _, current = self._last_tracking(tracking.application_name)
                if current is not None and current >= tracking.notification_id:
                    raise
        raise OperationalError("tracking record kept conflicting with concurrent writers")

    def max_tracking_id(self, application_name: str) -> int | None:
        """The highest tracked notification id of `application_name`."""
        return self._last_tracking(application_name)[1]


class GraveyarProcessRecorder(GraveyarTrackingRecorder, GraveyarApplicationRecorder, ProcessRecorder):
    """An application recorder whose inserts can carry a tracking record."""


class GraveyarFactory(InfrastructureFactory[GraveyarTrackingRecorder]):
    """Builds recorders that talk to one graveyar server.

    Environment: `GRAVEYAR_SERVER` (default 127.0.0.1:50051), `GRAVEYAR_TOKEN`, `GRAVEYAR_PREFIX`
    (stream name prefix; default the application's name, else "eventsourcing").
    """

    SERVER = "GRAVEYAR_SERVER"
    TOKEN = "GRAVEYAR_TOKEN"
    PREFIX = "GRAVEYAR_PREFIX"

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        address = self.env.get(self.SERVER) or "127.0.0.1:50051"
        self.client = GraveyarClient(address, token=self.env.get(self.TOKEN) or None)
        self.prefix = self.env.get(self.PREFIX) or self.env.name or "eventsourcing"

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        """Aggregates of this application (`purpose` keeps snapshots apart)."""
        return GraveyarAggregateRecorder(self.client, f"{self.prefix}.{purpose}")

    def application_recorder(self) -> ApplicationRecorder:
        """Aggregates and notifications of this application."""
        return GraveyarApplicationRecorder(self.client, f"{self.prefix}.events")

    def tracking_recorder(
        self, tracking_recorder_class: type[GraveyarTrackingRecorder] | None = None
    ) -> GraveyarTrackingRecorder:
        """Tracking records of this application."""
        if tracking_recorder_class is None:
            topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
            tracking_recorder_class = resolve_topic(topic) if topic else GraveyarTrackingRecorder
        assert tracking_recorder_class is not None
        if not issubclass(tracking_recorder_class, GraveyarTrackingRecorder):
            raise TypeError(f"{tracking_recorder_class!r} is not a GraveyarTrackingRecorder")
        return tracking_recorder_class(self.client, f"{self.prefix}.events")

    def process_recorder(self) -> ProcessRecorder:
        """Aggregates, notifications and tracking records of this application."""
        return GraveyarProcessRecorder(self.client, f"{self.prefix}.events")

    def close(self) -> None:
        """Close the connection."""
        self.client.close()
        super().close()


Factory = GraveyarFactory
