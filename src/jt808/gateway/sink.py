"""From decoded uplinks to storage rows, batched per read.

The gateway hands every message of one read to :meth:`StorageSink.collect`, then calls
:meth:`StorageSink.submit` once: the read's location rows go to the :class:`BatchWriter` as one
submission with one future, and the deferred acks of that read are sent from the future's callback
(0x8001 result 0 once the batch committed, result 1 if it failed: the terminal sends again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from jt808.protocol.exchange import _plan, location_to_json
from jt808.protocol.header import V2013
from jt808.protocol.messages.location import LocationReport, LocationValues
from jt808.protocol.packet import Packet, RawBody, encode
from jt808.protocol.registry import DEFAULT_PROFILE
from jt808.session.events import MessageReceived
from jt808.storage._util import dumps
from jt808.storage.base import EventRow, LocationRow

if TYPE_CHECKING:
    import asyncio

    from jt808.storage.batch import BatchWriter

__all__ = ["NOT_STORED_AS_EVENTS", "StorageSink", "frame_of", "location_row", "values_row"]

log = logging.getLogger("jt808.gateway")

#: uplinks that are not kept as event rows (heartbeats, acks, positions and media have their own place)
NOT_STORED_AS_EVENTS = frozenset({0x0001, 0x0002, 0x0003, 0x0004, 0x0200, 0x0704, 0x0801, 0x0100, 0x0102})

_TZ: dict[float, timezone] = {}
_TIMES: dict[tuple[str, float], datetime | None] = {}  # a fleet reports the same seconds: convert each once


def _bcd_time(t: str, tz_offset: float) -> datetime | None:
    key = (t, tz_offset)
    dt = _TIMES.get(key, _TIMES)
    if dt is not _TIMES:
        return dt  # type: ignore[return-value]
    tz = _TZ.get(tz_offset)
    if tz is None:
        tz = _TZ[tz_offset] = timezone(timedelta(hours=tz_offset))
    try:
        dt = datetime(2000 + int(t[0:2]), int(t[2:4]), int(t[4:6]), int(t[6:8]), int(t[8:10]), int(t[10:12]),
                      tzinfo=tz)
    except ValueError:
        dt = None
    if len(_TIMES) >= 4096:
        _TIMES.clear()
    _TIMES[key] = dt
    return dt


def location_row(phone: str, loc: LocationReport, msg_id: int, msg_sn: int, received_at: datetime,
                 tz_offset: float = 8, batch: bool = False, version: Any = None) -> LocationRow:
    status = loc.status
    lat = loc.latitude / 1e6
    lng = loc.longitude / 1e6
    ex = loc.extras
    text = None
    if ex and not loc.bad_tail:
        ids, vals = zip(*ex, strict=False)  # pairs: never ragged
        tbl = _TABLES.get(version if version is not None else V2013)
        plan = _LAYOUT_PLANS.get((id(tbl), ids))
        if plan is None or plan[2] is not tbl:
            plan = _layout_plan(tbl, ids, loc, version)
        fmt = plan[1]
        if fmt is not None:
            try:
                text = fmt % vals
            except TypeError:  # an item kept raw (bytes, unexpected length): the general rendering
                text = None
        extras = dict(zip(plan[0], vals, strict=False)) if text is not None else _extras_map(loc, version)  # type: ignore[arg-type]
    elif ex or loc.bad_tail:
        extras = _extras_map(loc, version)
    else:
        extras = {}
    t = loc.time
    key = (t, tz_offset)
    dt = _TIMES.get(key, _TIMES)
    if dt is _TIMES:
        dt = _bcd_time(t, tz_offset)
    return LocationRow(phone, dt, received_at, loc.alarm, status,  # type: ignore[arg-type]
                       -lat if status & 4 else lat, -lng if status & 8 else lng, loc.altitude, loc.speed / 10,
                       loc.direction, msg_id, msg_sn, batch, extras, text)


_BTIMES: dict[tuple[bytes, float], datetime | None] = {}  # the same, keyed by the BCD bytes
_VALUE_PLANS: dict[int, tuple[tuple[Any, ...], tuple[str, ...] | None, str | None]] = {}  # id(layout) ->


def values_row(phone: str, lv: LocationValues, msg_sn: int, received_at: datetime, tz_offset: float = 8,
               version: Any = None) -> LocationRow:
    """The row :func:`location_row` gives for ``lv.report()`` (a 0x0200), read straight from the values."""
    lay = lv.layout
    entry = _VALUE_PLANS.get(id(lay))
    if entry is None or entry[0] is not lay:
        entry = _values_plan(lv, version)
    fmt = entry[2]
    if fmt is None:  # no fast rendering of this layout: the general row
        return location_row(phone, lv.report(), 0x0200, msg_sn, received_at, tz_offset, False, version)
    v = lv.values
    vals = v[8:]
    key = (v[7], tz_offset)
    dt = _BTIMES.get(key, _BTIMES)
    if dt is _BTIMES:
        if len(_BTIMES) >= 4096:
            _BTIMES.clear()
        dt = _BTIMES[key] = _bcd_time(v[7].hex(), tz_offset)
    status = v[1]
    lat = v[2] / 1e6
    lng = v[3] / 1e6
    return LocationRow(phone, dt, received_at, v[0], status,  # type: ignore[arg-type]
                       -lat if status & 4 else lat, -lng if status & 8 else lng, v[4], v[5] / 10, v[6],
                       0x0200, msg_sn, False, dict(zip(entry[1], vals, strict=False)), fmt % vals)  # type: ignore[arg-type]


def _values_plan(lv: LocationValues, version: Any) -> tuple[tuple[Any, ...], tuple[str, ...] | None, str | None]:
    """(layout, keys, JSON format) of a remembered layout, from its first report (see :func:`_layout_plan`)."""
    loc = lv.report()
    tbl = _TABLES.get(version if version is not None else V2013)
    keys, fmt = None, None
    if loc.extras and tbl is not None:
        ids = tuple(i for i, _ in loc.extras)
        plan = _LAYOUT_PLANS.get((id(tbl), ids))
        if plan is None or plan[2] is not tbl:
            plan = _layout_plan(tbl, ids, loc, version)
        keys, fmt = plan[0], plan[1]
    entry = (lv.layout, keys, fmt)
    if len(_VALUE_PLANS) >= _MAX_PLANS:
        _VALUE_PLANS.clear()
    _VALUE_PLANS[id(lv.layout)] = entry
    return entry


def _extras_map(loc: LocationReport, version: Any) -> dict[str, Any]:
    """The seed-004 "extra" map of a report (plus ``bad_tail`` when items ran past the body)."""
    j = location_to_json(loc, version)
    extras = j.get("extra") or {}
    if "bad_tail" in j:
        extras = {**extras, "bad_tail": j["bad_tail"]}
    return extras


# -- extras by layout --------------------------------------------------------------------------------
# Terminals repeat one item layout in every report. When every item of a layout is a plain integer under
# its own key (no render function, no duplicate id or key), the "extra" map is ``dict(zip(keys, values))``
# and its JSON text one ``%`` format: both are kept per (extras table, ids) and checked against the
# general rendering (location_to_json + the storage JSON encoder) when first built.
_TABLES = DEFAULT_PROFILE.extra_tables
_LAYOUT_PLANS: dict[tuple[int, tuple[int, ...]], tuple[tuple[str, ...] | None, str | None, Any]] = {}
_MAX_PLANS = 1024


def _layout_plan(tbl: dict[int, Any] | None, ids: tuple[int, ...], loc: LocationReport,
                 version: Any) -> tuple[tuple[str, ...] | None, str | None, Any]:
    """(keys, JSON format, table) of a layout; (None, None, table) when it has no fast rendering."""
    plan: tuple[tuple[str, ...] | None, str | None, Any] = (None, None, tbl)
    if tbl is None:  # the version's table is built by the first decode; nothing to remember yet
        return plan
    codecs = [tbl.get(eid) for eid in ids]
    renders = _plan(tbl)
    hits = [renders.get(eid) for eid in ids]
    # plain unsigned integers only (their values are ints, or bytes when the length is unexpected),
    # each id once, rendered as is under a key of its own
    if len(set(ids)) == len(ids) and all(c is not None and c.uint for c in codecs) \
            and all(h is not None and h[1] is None for h in hits) and all(type(v) is int for _, v in loc.extras):
        keys = tuple(h[0] for h in hits)  # type: ignore[index]
        if len(set(keys)) == len(keys):
            fmt = "{" + ",".join(dumps(k).replace("%", "%%") + ":%d" for k in keys) + "}"
            vals = tuple(v for _, v in loc.extras)
            general = _extras_map(loc, version)
            if general == dict(zip(keys, vals, strict=True)) and list(general) == list(keys) \
                    and dumps(general) == fmt % vals:
                plan = (keys, fmt, tbl)
    if len(_LAYOUT_PLANS) >= _MAX_PLANS:
        _LAYOUT_PLANS.clear()
    _LAYOUT_PLANS[(id(tbl), ids)] = plan
    return plan


class StorageSink:
    def __init__(self, writer: BatchWriter, *, save_events: bool = True, tz_offset: float = 8) -> None:
        self.writer = writer
        self.save_events = save_events
        self.tz_offset = tz_offset
        self.locations = 0
        self.events = 0
        self.failed_acks = 0

    def collect(self, packet: Packet, received_at: datetime, locs: list[LocationRow],
                events: list[EventRow]) -> None:
        """Rows of one message appended to ``locs`` / ``events``."""
        h = packet.header
        mid = h.msg_id
        body: Any = packet.body
        tz = self.tz_offset
        if mid == 0x0200:
            if type(body) is LocationValues:
                locs.append(values_row(h.phone, body, h.msg_sn, received_at, tz, h.version))
            elif type(body) is LocationReport:
                locs.append(location_row(h.phone, body, mid, h.msg_sn, received_at, tz, False, h.version))
            return
        if mid == 0x0704:
            for loc in getattr(body, "locations", ()):
                locs.append(location_row(h.phone, loc, mid, h.msg_sn, received_at, tz, True, h.version))
            return
        loc = getattr(body, "location", None)
        if type(loc) is LocationReport:  # 0x0201, 0x0500
            locs.append(location_row(h.phone, loc, mid, h.msg_sn, received_at, tz, False, h.version))
        if self.save_events and mid not in NOT_STORED_AS_EVENTS:
            try:
                j = body.to_json(h.version)
            except Exception as e:  # a body that cannot render still leaves a trace
                j = {"error": f"{type(e).__name__}: {e}"}
            events.append(EventRow(h.phone, mid, received_at, j, h.msg_sn))

    def submit(self, locs: list[LocationRow], events: list[EventRow],
               on_durable: Callable[[asyncio.Future[None]], None] | None, context: Any = None) -> None:
        """One submission per read; ``on_durable`` is called with the locations' future. ``context`` (the
        read's session events) lets the writer find the frame of a row it has to quarantine (:func:`frame_of`)."""
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
    """The frame (flags, escaping, check code) of the message a row came from, found in the read's session
    events by message id and serial number (the writer keeps it with a quarantined row)."""
    for ev in context:
        if type(ev) is MessageReceived:
            h = ev.packet.header
            if h.msg_sn == row.msg_sn and h.msg_id == row.msg_id and ev.packet.raw_body is not None:
                return encode(Packet(h, RawBody(ev.packet.raw_body)))
    return None
