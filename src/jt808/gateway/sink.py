"""From decoded uplinks to storage rows, batched per read.

The gateway hands every message of one read to :meth:`StorageSink.collect`, then calls
:meth:`StorageSink.submit` once: the read's location rows go to the :class:`BatchWriter` as one
submission with one future, and the deferred acks of that read are sent from the future's callback
(0x8001 result 0 once the batch committed, result 1 if it failed: the terminal sends again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jt808.protocol.exchange import body_json
from jt808.protocol.header import Header, Version
from jt808.protocol.messages.location import LayoutValues, LocationReport, bcd_time, location_extra
from jt808.protocol.packet import Packet, RawBody, encode
from jt808.protocol.registry import Profile
from jt808.storage.base import EventRow, LocationRow

if TYPE_CHECKING:
    import asyncio

    from jt808.storage.batch import BatchWriter

__all__ = ["NOT_STORED_AS_EVENTS", "StorageSink", "frame_of", "location_row", "values_row"]

log = logging.getLogger("jt808.gateway")

#: uplinks that are not kept as event rows (heartbeats, acks, positions and media have their own place)
NOT_STORED_AS_EVENTS = frozenset({0x0001, 0x0002, 0x0003, 0x0004, 0x0200, 0x0704, 0x0801, 0x0100, 0x0102})

_TIMES: dict[tuple[str, float], datetime | None] = {}  # a fleet reports the same seconds: convert each once


def _bcd_time(t: str, tz_offset: float) -> datetime | None:
    if len(_TIMES) >= 4096:
        _TIMES.clear()
    dt = _TIMES[(t, tz_offset)] = bcd_time(t, tz_offset)
    return dt


def location_row(phone: str, loc: LocationReport, msg_id: int, msg_sn: int, received_at: datetime,
                 tz_offset: float = 8, batch: bool = False, version: Version | None = None,
                 profile: Profile | None = None) -> LocationRow:
    """The storage row of one location (``extras``: the seed-004 ``extra`` map, plus ``bad_tail``)."""
    extras, text = location_extra(loc, version, profile)
    dt = _TIMES.get((loc.time, tz_offset), _TIMES)
    if dt is _TIMES:
        dt = _bcd_time(loc.time, tz_offset)
    status = loc.status
    return LocationRow(phone, dt, received_at, loc.alarm, status,  # type: ignore[arg-type]  # dt None: the row keeps no device time
                       -loc.latitude / 1e6 if status & 4 else loc.latitude / 1e6,
                       -loc.longitude / 1e6 if status & 8 else loc.longitude / 1e6, loc.altitude, loc.speed / 10,
                       loc.direction, msg_id, msg_sn, batch, extras, text)


def values_row(phone: str, lv: LayoutValues, msg_sn: int, received_at: datetime, tz_offset: float = 8) -> LocationRow:
    """The row :func:`location_row` gives for ``lv.report()`` (a 0x0200 given as its values), from the values."""
    v = lv.values
    key = (v[7].hex(), tz_offset)
    dt = _TIMES.get(key, _TIMES)
    if dt is _TIMES:
        dt = _bcd_time(key[0], tz_offset)
    extras, text = lv.extra()
    status = v[1]
    return LocationRow(phone, dt, received_at, v[0], status,  # type: ignore[arg-type]  # dt None: the row keeps no device time
                       -v[2] / 1e6 if status & 4 else v[2] / 1e6, -v[3] / 1e6 if status & 8 else v[3] / 1e6,
                       v[4], v[5] / 10, v[6], 0x0200, msg_sn, False, extras, text)


class StorageSink:
    def __init__(self, writer: BatchWriter, *, save_events: bool = True, tz_offset: float = 8,
                 profile: Profile | None = None) -> None:
        self.writer = writer
        self.profile = profile
        self.save_events = save_events
        self.tz_offset = tz_offset
        self.locations = 0
        self.events = 0

    def collect(self, packet: Packet, received_at: datetime, locs: list[LocationRow],
                events: list[EventRow]) -> None:
        """Rows of one message appended to ``locs`` / ``events``."""
        h = packet.header
        mid = h.msg_id
        body: Any = packet.body
        tz = self.tz_offset
        prof = self.profile
        if mid == 0x0200:
            if type(body) is LocationReport:
                locs.append(location_row(h.phone, body, mid, h.msg_sn, received_at, tz, False, h.version, prof))
            return
        if mid == 0x0704:
            for loc in getattr(body, "locations", ()):
                locs.append(location_row(h.phone, loc, mid, h.msg_sn, received_at, tz, True, h.version, prof))
            return
        loc = getattr(body, "location", None)
        if type(loc) is LocationReport:  # 0x0201, 0x0500
            locs.append(location_row(h.phone, loc, mid, h.msg_sn, received_at, tz, False, h.version, prof))
        if self.save_events and mid not in NOT_STORED_AS_EVENTS:
            try:
                j = body_json(body, h.version, prof)  # 0x0201/0x0500 items named by the profile's rows
            except Exception as e:  # a body that cannot render still leaves a trace
                j = {"error": f"{type(e).__name__}: {e}"}
            events.append(EventRow(h.phone, mid, received_at, j, h.msg_sn))

    def collect_values(self, header: Header, lv: LayoutValues, received_at: datetime, locs: list[LocationRow]) -> None:
        """The row of a 0x0200 given as its values (:class:`~jt808.session.events.LocationValuesReceived`)."""
        locs.append(values_row(header.phone, lv, header.msg_sn, received_at, self.tz_offset))

    def submit(self, locs: list[LocationRow], events: list[EventRow],
               on_durable: Callable[[asyncio.Future[None]], None] | None, context: Any = None) -> None:
        """One submission per read; ``on_durable`` is called with the locations' future. ``context`` (the
        headers and body bytes of the read's stored messages) lets the writer find the frame of a row it has to
        quarantine (:func:`frame_of`)."""
        writer = self.writer
        if locs:
            self.locations += len(locs)
            fut = writer.submit_locations(locs, context)
            if on_durable is not None:
                fut.add_done_callback(on_durable)
            else:
                fut.add_done_callback(_consume)
        elif on_durable is not None:  # deferred acks without rows (e.g. an empty 0x0704)
            import asyncio

            f: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            f.set_result(None)
            on_durable(f)
        if events:
            self.events += len(events)
            writer.submit_events(events, context).add_done_callback(_consume)


def _consume(fut: asyncio.Future[None]) -> None:
    # the writer logs failures (one line per outage, one per quarantined batch): only retrieve the outcome
    if not fut.cancelled():
        fut.exception()


def frame_of(context: Any, row: Any) -> bytes | None:
    """The frame (flags, escaping, check code) of the message a row came from, found by message id and serial
    number in what the gateway submitted with the read's rows: the headers of its stored messages and their body
    bytes (the writer keeps the frame with a quarantined row)."""
    heads, raws = context
    for h, raw in zip(heads, raws, strict=True):
        if h.msg_sn == row.msg_sn and h.msg_id == row.msg_id and raw is not None:
            return encode(Packet(h, RawBody(raw)))
    return None
