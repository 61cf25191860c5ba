"""The storage interface shared by the gateway, the HTTP API and the MQTT bridge.

One interface, several backends (``memory`` for tests and ``--db none``, SQLite by default,
PostgreSQL for production). All methods are coroutines. Writes of high-rate data (locations,
events) go through :meth:`Storage.add_locations` / :meth:`Storage.add_events` in batches; the
:class:`jt808.storage.batch.BatchWriter` in front of them collects rows by count and by age and
tells each submitter when its row is durable.

Rows are plain dataclasses; times are aware UTC ``datetime`` objects except ``time`` strings that
are the device's BCD as sent.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jt808.errors import JT808Error

if TYPE_CHECKING:
    from jt808.storage.health import StorageHealth

__all__ = [
    "AlarmRow",
    "AttachmentRow",
    "CommandRow",
    "EventRow",
    "LocationRow",
    "MediaRow",
    "QuarantineRow",
    "RowsRejected",
    "Storage",
    "StorageClosed",
    "StorageError",
    "StorageInDoubt",
    "StorageOverloaded",
    "StorageUnavailable",
    "TerminalRecord",
]


class StorageError(JT808Error):
    """A storage backend failed or refused a write (the platform answers 0x8001 result 1)."""

    reply_result = 1


class StorageOverloaded(StorageError):
    """The batch writer's queue is full: the database does not keep up with the submitted rows."""


class StorageUnavailable(StorageError):
    """The database cannot be reached or cannot write now (connection lost, server shutting down, disk
    I/O error): nothing about the rows themselves. The platform answers 0x8001 result 1 (failure) and the
    terminal sends again; see :class:`jt808.storage.health.StorageHealth` for the outage state."""


class StorageInDoubt(StorageUnavailable):
    """The connection was lost while the database was committing a write: it may or may not be stored.
    ``token`` identifies the transaction for :meth:`Storage.commit_status` once the database answers again."""

    def __init__(self, message: str, token: Any) -> None:
        super().__init__(message)
        self.token = token


def classify(e: Exception, what: str, content_errors: tuple[type[BaseException], ...]) -> StorageError:
    """A backend's exception as ours: a :class:`StorageError` when ``e`` is one of ``content_errors``
    (the values of a row: the batch writer isolates the row), else :class:`StorageUnavailable`."""
    if isinstance(e, StorageError):
        return e
    cls = StorageError if isinstance(e, content_errors) else StorageUnavailable
    return cls(f"{what}: {type(e).__name__}: {e}")


class StorageClosed(StorageUnavailable):
    """A write was submitted after the storage (or its batch writer) was closed."""


class RowsRejected(StorageError):
    """Some rows of a submission were not stored; every other row of it was committed.

    ``failed`` maps the index of each such row (in the submitted list) to ``(error, retry)``. Rows refused
    for their content are kept in the quarantine (:class:`QuarantineRow`) and their messages answered
    0x8001 result 2 (message error: sending them again would fail the same way); ``retry`` rows (the store
    became unavailable before they were tried, or the quarantine could not keep them) are answered
    result 1 so that the terminal sends them again.
    """

    def __init__(self, failed: dict[int, tuple[str, bool]], rows: list[Any]) -> None:
        first = next(iter(failed.values()), ("", False))[0]
        super().__init__(f"{len(failed)} of {len(rows)} rows not stored: {first}")
        self.failed = failed
        self.rows = rows

    def results(self) -> dict[tuple[int, int], int]:
        """0x8001 result per ``(msg_id, msg_sn)`` of the messages whose rows were not stored (1 wins)."""
        out: dict[tuple[int, int], int] = {}
        rows = self.rows
        for i, (_, retry) in self.failed.items():
            key = (rows[i].msg_id, rows[i].msg_sn)
            if retry or key not in out:
                out[key] = 1 if retry else 2
        return out


@dataclass(slots=True)
class TerminalRecord:
    """A registered terminal (0x0100) and its authentication code."""

    phone: str
    auth_code: str = ""
    version: int = 2013
    province: int = 0
    city: int = 0
    manufacturer: str = ""
    model: str = ""
    dev_id: str = ""
    color: int = 0
    license_number: str = ""
    registered_at: datetime | None = None  # the first registration (kept by re-registrations)
    last_seen: datetime | None = None  # the last frame received (flushed every few seconds)
    imei: str = ""
    software_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    last_registered_at: datetime | None = None  # the latest registration


@dataclass(slots=True)
class LocationRow:
    """One position (from 0x0200, 0x0201, 0x0500, 0x0704 items)."""

    phone: str
    time: datetime | None  # device time (converted from BCD with the profile's time zone), UTC-aware
    received_at: datetime
    alarm: int
    status: int
    latitude: float  # signed degrees
    longitude: float
    altitude: int
    speed: float  # km/h
    direction: int
    msg_id: int = 0x0200
    msg_sn: int = 0
    batch: bool = False  # from 0x0704
    extras: dict[str, Any] = field(default_factory=dict)  # seed-004 "extra" JSON
    #: ``extras`` already rendered as compact JSON text (``None``: not rendered; backends render it). A
    #: producer that has the text for free sets it (the gateway does, per item layout); backends that store
    #: JSON text use it instead of serialising ``extras`` again. It must render the same map, so a row is
    #: not mutated once handed over. Not part of equality; rows read back leave it ``None``.
    extras_json: str | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class EventRow:
    """Any other uplink worth keeping (events, answers, pass-through …) as seed-004 JSON."""

    phone: str
    msg_id: int
    received_at: datetime
    body: dict[str, Any]
    msg_sn: int = 0


@dataclass(slots=True)
class CommandRow:
    """A downlink command and what became of it."""

    phone: str
    msg_id: int
    msg_sn: int
    sent_at: datetime
    request: dict[str, Any]
    status: str = "sent"  # sent | replied | failed | timeout | offline
    reply: dict[str, Any] | None = None
    replied_at: datetime | None = None
    id: int | None = None


@dataclass(slots=True)
class MediaRow:
    """A completed multimedia upload (0x0801) saved as a file."""

    phone: str
    media_id: int
    type: int
    format: int
    event: int
    channel: int
    path: str
    size: int
    received_at: datetime
    location: dict[str, Any] | None = None


@dataclass(slots=True)
class AlarmRow:
    """One alarm: a standard 0x0200 alarm bit that rose, a JT/T 1078 video alarm, or an active-safety item
    (ADAS / DSM / TPMS / BSD). ``alarm_id`` is the active-safety alarm identification (``AlarmSign.key()``)
    that links the item, its 0x1210 attachment list and the uploaded files; ``None`` for the others."""

    phone: str
    time: datetime | None  # device time (UTC-aware), None when the device sent none
    received_at: datetime
    kind: str  # standard | video | adas | dsm | tpms | bsd
    code: int  # bit number (standard, video) or alarm/event type (active safety)
    name: str  # the standard's title
    level: int = 0
    latitude: float = 0.0
    longitude: float = 0.0
    speed: float = 0.0
    alarm_id: str | None = None
    msg_sn: int = 0  # serial of the report that carried it (0x8203 acknowledges by it)
    detail: dict[str, Any] = field(default_factory=dict)  # the item as JSON
    acknowledged_at: datetime | None = None
    id: int | None = None


@dataclass(slots=True)
class AttachmentRow:
    """A complete alarm attachment file (received by the attachment server), linked to its alarm by
    ``(phone, alarm_id)``."""

    phone: str
    alarm_id: str
    name: str
    size: int
    type: int  # 0 image, 1 audio, 2 video, 3 text, 4 other
    path: str
    received_at: datetime
    alarm_no: str = ""
    id: int | None = None


@dataclass(slots=True)
class QuarantineRow:
    """A row the store refused because of its content, kept with the reason.

    ``kind`` is ``"location"`` or ``"event"``; ``row`` the row as JSON (every field, strings escaped so
    that any store accepts them); ``frame`` the frame it came from when the producer knows it (the
    gateway does: the whole frame as received, escaped and framed, ready for ``jt808 decode``).
    """

    phone: str
    kind: str
    msg_id: int
    msg_sn: int
    received_at: datetime
    error: str
    row: dict[str, Any]
    frame: bytes | None = None
    quarantined_at: datetime | None = None
    id: int | None = None


class Storage(abc.ABC):
    """What the gateway needs from a database."""

    _health: StorageHealth

    @property
    def health(self) -> StorageHealth:
        """The outage state of this store (updated by the batch writer; read by ``/healthz`` and ``/metrics``)."""
        try:
            return self._health
        except AttributeError:
            from jt808.storage.health import StorageHealth

            self._health = StorageHealth()
            return self._health

    async def ping(self) -> None:
        """Raise :class:`StorageUnavailable` unless the store answers now (used to probe during an outage).

        The default (a store inside this process) always answers."""
        return

    async def commit_status(self, token: Any) -> bool | None:
        """Whether the write of a :class:`StorageInDoubt` committed (``None``: not known yet, ask again).

        Only stores that raise :class:`StorageInDoubt` implement it."""
        raise NotImplementedError(f"{type(self).__name__} has no writes in doubt")

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and create the schema if missing."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush and disconnect."""

    # -- terminals and authentication -----------------------------------------------------------
    @abc.abstractmethod
    async def get_terminal(self, phone: str) -> TerminalRecord | None: ...

    @abc.abstractmethod
    async def save_terminal(self, rec: TerminalRecord) -> None:
        """Insert or replace a registration (auth code included)."""

    @abc.abstractmethod
    async def delete_terminal(self, phone: str) -> None:
        """Remove a registration (0x0003 logout)."""

    @abc.abstractmethod
    async def list_terminals(self, limit: int = 1000, offset: int = 0) -> list[TerminalRecord]: ...

    @abc.abstractmethod
    async def touch_terminal(self, phone: str, when: datetime) -> None:
        """Record ``last_seen``."""

    async def get_terminals(self, phones: list[str]) -> dict[str, TerminalRecord]:
        """The records of ``phones`` that exist (one query where the backend can: logins of a fleet)."""
        out = {}
        for phone in phones:
            rec = await self.get_terminal(phone)
            if rec is not None:
                out[phone] = rec
        return out

    async def save_terminals(self, recs: list[TerminalRecord]) -> None:
        """Insert or replace several registrations (one transaction where the backend can)."""
        for rec in recs:
            await self.save_terminal(rec)

    async def touch_terminals(self, seen: dict[str, datetime]) -> None:
        """Record ``last_seen`` of several terminals (the gateway flushes them every few seconds)."""
        for phone, when in seen.items():
            await self.touch_terminal(phone, when)

    async def count_terminals(self) -> int:
        """Registered terminals in all (the ``total`` of the terminal list)."""
        n, offset = 0, 0
        while page := await self.list_terminals(10000, offset):
            n += len(page)
            offset += len(page)
        return n

    # -- data -----------------------------------------------------------------------------------
    @abc.abstractmethod
    async def add_locations(self, rows: list[LocationRow]) -> None:
        """Store a batch durably (returns after commit)."""

    @abc.abstractmethod
    async def query_locations(self, phone: str, start: datetime | None = None, end: datetime | None = None,
                              limit: int = 1000) -> list[LocationRow]:
        """Positions of ``phone`` by device time within [start, end], the newest ``limit``, oldest first.

        Rows without a device time (``time is None``), or with one more than a day after their
        ``received_at`` (:func:`jt808.storage.sanitize.placed_at`), are placed by ``received_at``. Ties keep
        the insertion order. ``limit <= 0`` returns nothing.
        """

    async def count_locations(self, phone: str, start: datetime | None = None, end: datetime | None = None) -> int:
        """How many positions :meth:`query_locations` would find without a limit."""
        return len(await self.query_locations(phone, start, end, 2**31 - 1))

    async def latest_locations(self) -> list[LocationRow]:
        """The newest position (by device time, as :meth:`query_locations` orders) of every phone that
        has one, ordered by phone. Backends answer it in one query; this default asks per terminal."""
        out = []
        offset = 0
        while True:
            recs = await self.list_terminals(limit=1000, offset=offset)
            for rec in recs:
                rows = await self.query_locations(rec.phone, limit=1)
                out.extend(rows)
            if len(recs) < 1000:
                return out
            offset += 1000

    @abc.abstractmethod
    async def add_events(self, rows: list[EventRow]) -> None: ...

    async def add_batch(self, locations: list[LocationRow], events: list[EventRow]) -> None:
        """Store locations and events together (one transaction where the backend can)."""
        if locations:
            await self.add_locations(locations)
        if events:
            await self.add_events(events)

    @abc.abstractmethod
    async def query_events(self, phone: str, msg_id: int | None = None, limit: int = 1000) -> list[EventRow]:
        """Events of ``phone`` (optionally one message id), the newest ``limit``, oldest first."""

    @abc.abstractmethod
    async def add_command(self, row: CommandRow) -> int:
        """Log a downlink; returns its id."""

    @abc.abstractmethod
    async def update_command(self, command_id: int, status: str, reply: dict[str, Any] | None = None,
                             replied_at: datetime | None = None) -> None: ...

    @abc.abstractmethod
    async def query_commands(self, phone: str, limit: int = 100) -> list[CommandRow]:
        """Logged downlinks of ``phone``, the newest ``limit``, oldest first."""

    @abc.abstractmethod
    async def add_media(self, row: MediaRow) -> None: ...

    @abc.abstractmethod
    async def query_media(self, phone: str, limit: int = 100) -> list[MediaRow]:
        """Saved multimedia of ``phone``, the newest ``limit``, oldest first."""

    # -- alarms and their attachments ------------------------------------------------------------
    @abc.abstractmethod
    async def add_alarms(self, rows: list[AlarmRow]) -> list[int]:
        """Store alarms; returns their ids (also set on the rows)."""

    @abc.abstractmethod
    async def query_alarms(self, phone: str | None = None, start: datetime | None = None,
                           end: datetime | None = None, kind: str | None = None, acknowledged: bool | None = None,
                           limit: int = 100, offset: int = 0) -> tuple[list[AlarmRow], int]:
        """Alarms matching the filters (time = device time, else receive time; ``start`` inclusive, ``end``
        exclusive), newest first, and the total number matching."""

    @abc.abstractmethod
    async def get_alarm(self, alarm_pk: int) -> AlarmRow | None: ...

    @abc.abstractmethod
    async def ack_alarm(self, alarm_pk: int, when: datetime) -> bool:
        """Record the acknowledgement (the first one counts); False for an unknown id."""

    @abc.abstractmethod
    async def add_attachment(self, row: AttachmentRow) -> int: ...

    @abc.abstractmethod
    async def query_attachments(self, phone: str, alarm_ids: list[str]) -> list[AttachmentRow]:
        """The attachments of these alarms of ``phone``, in arrival order."""

    @abc.abstractmethod
    async def get_attachment(self, attachment_pk: int) -> AttachmentRow | None: ...

    # -- quarantine ------------------------------------------------------------------------------
    @abc.abstractmethod
    async def add_quarantine(self, rows: list[QuarantineRow]) -> None:
        """Keep rows the store refused (see :class:`QuarantineRow`)."""

    @abc.abstractmethod
    async def query_quarantine(self, phone: str | None = None, limit: int = 100) -> list[QuarantineRow]:
        """Quarantined rows (of ``phone``, or of every terminal), the newest ``limit``, oldest first."""
