"""The live push channel: gateway events to the console's browsers (``GET /api/v1/events``, SSE).

:class:`EventHub` is a :class:`~jt808.gateway.listeners.GatewayListener`, ``CommandObserver``,
``MediaObserver`` and ``FrameObserver`` (the typed seams of :mod:`jt808.gateway.listeners`), and takes
the gateway's derived events (``on_event(phone, kind, data)``: alarms …). It listens only while someone
watches: the first subscriber attaches it to the gateway, the last one leaving detaches it, so a
gateway nobody looks at keeps its quiet paths (heartbeats answered from the header, locations
stored straight from their values). While attached it keeps

- the last position of every terminal it has seen report (merged with storage's latest positions
  for the map's first picture, see :meth:`EventHub.positions`),
- a bounded buffer of the last :data:`FRAMES_PER_TERMINAL` frames of each of the last
  :data:`TERMINALS_WITH_FRAMES` terminals that sent any (header and body references, rendered to
  hex and JSON only when asked), and the frames that could not be used.

Each subscriber has its own queue. Positions are coalesced per terminal (a browser gets the newest
position of each terminal once per flush, however fast the terminal reports); other events are kept
in order up to :data:`QUEUE_LIMIT` (past that the oldest are dropped and the next message says how
many, so the page can reload what it shows). A subscriber's events leave as one SSE message per
flush, at most every :data:`FLUSH_INTERVAL` seconds.

Event objects (``"type"`` first):

==============  ==============================================================================
``location``    ``phone, lat, lng, speed, dir, alt, time, alarm, status, msg_id`` (km/h, degrees)
``online``      ``phone, info`` — authenticated or served anonymously
``offline``     ``phone, reason``
``frame``       ``phone, time, dir ("up"), msg_id, hex, json | error`` — only to subscribers that
                asked for that terminal's frames (``?frames=PHONE``)
``command``     ``phone, msg_id, status, reply`` — a downlink ended (replied, failed, timeout, offline)
``media``       ``phone, media_id, type, format, event, channel, size, name, received_at`` | ``error``
``alarm``       the alarms API's object of one alarm (any other derived event: ``phone`` + its data)
``stats``       ``online, connections, rx_frames, messages_per_second, storage, mqtt`` every 2 s
==============  ==============================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jt808.gateway.sink import location_row
from jt808.protocol.framing import frame
from jt808.protocol.header import MAX_BODY, Header, pack_header
from jt808.protocol.messages.location import LocationReport

if TYPE_CHECKING:
    from jt808.gateway.server import Gateway
    from jt808.protocol.packet import Packet
    from jt808.storage.base import LocationRow, MediaRow

__all__ = ["FLUSH_INTERVAL", "FRAMES_PER_TERMINAL", "QUEUE_LIMIT", "TERMINALS_WITH_FRAMES", "EventHub",
           "Subscriber", "decode_json", "render_frame"]

log = logging.getLogger("jt808.console")

FRAMES_PER_TERMINAL = 100
TERMINALS_WITH_FRAMES = 2000
QUEUE_LIMIT = 2000
FLUSH_INTERVAL = 0.2
STATS_INTERVAL = 2.0
KEEPALIVE = 15.0

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode

#: the kinds a subscriber gets unless it names others (``?kinds=``); ``frame`` needs ``?frames=PHONE``
KINDS = frozenset({"location", "online", "offline", "command", "media", "alarm", "stats", "frame"})


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def location_json(row: LocationRow) -> dict[str, Any]:
    """The ``location`` event of a storage row (also the map's snapshot entry)."""
    return {"type": "location", "phone": row.phone, "lat": row.latitude, "lng": row.longitude,
            "speed": row.speed, "dir": row.direction, "alt": row.altitude, "time": _iso(row.time),
            "received_at": _iso(row.received_at), "alarm": row.alarm, "status": row.status, "msg_id": row.msg_id,
            "extras": row.extras}


def render_frame(entry: tuple[Any, ...], gw: Gateway) -> dict[str, Any]:
    """One buffered frame as ``{"time", "dir", "msg_id", "hex", "json" | "error"}``.

    Uplinks are buffered as (time, header, body as received): the frame is the header re-packed with
    that body (check code and escaping recomputed; a reassembled multi-package message is shown as one
    frame), decoded again with the gateway's profile. Rejected frames are shown as they arrived."""
    t, what, body, error = entry
    out: dict[str, Any] = {"time": datetime.fromtimestamp(t, UTC).isoformat(), "dir": "up"}
    if isinstance(what, Header):
        h = what.copy(frag_total=0, frag_sn=0) if what.fragmented else what
        out["msg_id"] = h.msg_id
        if len(body) > MAX_BODY:
            out["hex"] = body.hex()
            out["error"] = f"body of {len(body)} bytes (reassembled): shown without header"
            return out
        raw = frame(pack_header(h, len(body)) + body)
    else:
        raw = what
    out["hex"] = raw.hex()
    if error:
        out["error"] = error
        return out
    out.update(decode_json(raw, gw.profile)[1])
    return out


def decode_json(raw: bytes, profile: Any) -> tuple[Any, dict[str, Any]]:
    """``(packet or None, {"json": …} or {"error": …})`` of one frame, decoded leniently (repairs listed
    under ``problems`` in the JSON); a codec's slip becomes an ``internal error`` line, not an exception."""
    from jt808 import decode
    from jt808.errors import JT808Error
    from jt808.protocol.exchange import to_json

    try:
        p = decode(raw, profile, strict=False)
        j = to_json(p, profile)
    except JT808Error as e:
        return None, {"error": str(e)}
    except Exception as e:
        return None, {"error": f"internal error: {type(e).__name__}: {e}"}
    if p.problems:
        j["problems"] = p.problems
    return p, {"json": j}


class Subscriber:
    """One browser's queue (see the module docstring)."""

    __slots__ = ("dropped", "frames_phone", "items", "kinds", "locs", "wake")

    def __init__(self, kinds: frozenset[str] = KINDS, frames_phone: str | None = None) -> None:
        self.kinds = kinds
        self.frames_phone = frames_phone
        self.locs: dict[str, dict[str, Any]] = {}
        self.items: deque[dict[str, Any]] = deque()
        self.dropped = 0
        self.wake = asyncio.Event()

    def put(self, event: dict[str, Any]) -> None:
        if len(self.items) >= QUEUE_LIMIT:
            self.items.popleft()
            self.dropped += 1
        self.items.append(event)
        self.wake.set()

    def put_location(self, phone: str, event: dict[str, Any]) -> None:
        self.locs[phone] = event
        self.wake.set()

    def drain(self) -> dict[str, Any]:
        events = list(self.items)
        events.extend(self.locs.values())
        self.items.clear()
        self.locs = {}
        out: dict[str, Any] = {"events": events}
        if self.dropped:
            out["dropped"] = self.dropped
            self.dropped = 0
        self.wake.clear()
        return out


class EventHub:
    """See the module docstring."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.subscribers: set[Subscriber] = set()
        self.last: dict[str, LocationRow] = {}
        self.frames: OrderedDict[str, deque[tuple[Any, ...]]] = OrderedDict()
        self.attached = False
        self._stats_task: asyncio.Task[None] | None = None
        self._rx_prev: tuple[float, int] | None = None

    # -- subscriptions ---------------------------------------------------------------------------
    def subscribe(self, kinds: frozenset[str] = KINDS, frames_phone: str | None = None) -> Subscriber:
        sub = Subscriber(kinds, frames_phone)
        self.subscribers.add(sub)
        if not self.attached:
            self.attached = True
            gw = self.gw
            gw.add_listener(self)
            gw.add_media_observer(self)
            gw.add_frame_observer(self)
            gw.commands.add_observer(self)
            self._stats_task = asyncio.get_running_loop().create_task(self._stats(), name="jt808-console-stats")
            log.info("console watching: live events on")
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        if not self.subscribers and self.attached:
            self.attached = False
            gw = self.gw
            gw.remove_listener(self)
            gw.remove_media_observer(self)
            gw.remove_frame_observer(self)
            gw.commands.remove_observer(self)
            if self._stats_task is not None:
                self._stats_task.cancel()
                self._stats_task = None
            self.last.clear()  # not kept current any more: the next snapshot reads storage again
            log.info("console closed: live events off")

    async def stream(self, sub: Subscriber) -> AsyncIterator[str]:
        """SSE text for ``sub`` until the client goes away (the caller unsubscribes)."""
        yield "retry: 2000\n\n"
        while True:
            try:
                await asyncio.wait_for(sub.wake.wait(), KEEPALIVE)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            yield f"data: {_dumps(sub.drain())}\n\n"
            await asyncio.sleep(FLUSH_INTERVAL)  # coalesce: at most one message per interval

    def publish(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        for sub in self.subscribers:
            if kind in sub.kinds:
                sub.put(event)

    # -- the listener ----------------------------------------------------------------------------
    def on_connected(self, phone: str, info: dict[str, Any]) -> None:
        self.publish({"type": "online", "phone": phone, "info": info})

    def on_disconnected(self, phone: str, reason: str) -> None:
        self.publish({"type": "offline", "phone": phone, "reason": reason})

    def on_uplink(self, phone: str, packet: Packet) -> None:
        now = time.time()
        h = packet.header
        entry = (now, h, packet.raw_body or b"", None)
        self._keep_frame(phone, entry)
        body = packet.body
        loc: Any = None
        if isinstance(body, LocationReport):
            loc = body
        else:  # 0x0201 / 0x0500 embed one report, 0x0704 a batch (its last one is the newest)
            loc = getattr(body, "location", None)
            batch = getattr(body, "locations", None)
            if loc is None and batch:
                loc = batch[-1]
        if isinstance(loc, LocationReport):
            row = location_row(phone, loc, h.msg_id, h.msg_sn, datetime.fromtimestamp(now, UTC),
                               self.gw.profile.tz_offset, False, h.version, self.gw.profile)
            self.last[phone] = row
            if self.subscribers:
                ev = location_json(row)
                for sub in self.subscribers:
                    if "location" in sub.kinds:
                        sub.put_location(phone, ev)
        self._watched(phone, entry)

    def on_frame_rejected(self, phone: str, raw: bytes, reason: str) -> None:
        entry = (time.time(), bytes(raw), None, reason)
        self._keep_frame(phone or "?", entry)
        self._watched(phone or "?", entry)

    def on_command_result(self, phone: str, msg_id: int, status: str, reply: Packet | None) -> None:
        from jt808.protocol.exchange import to_json

        rj = None
        if reply is not None:
            with contextlib.suppress(Exception):  # a reply that does not render is still an outcome
                rj = to_json(reply, self.gw.profile)
        self.publish({"type": "command", "phone": phone, "msg_id": msg_id, "status": status, "reply": rj})

    def on_media_saved(self, packet: Packet, row: MediaRow | None, error: BaseException | None) -> None:
        ev: dict[str, Any] = {"type": "media", "phone": packet.header.phone}
        if row is None:
            ev["error"] = str(error)
        else:
            ev.update(media_id=row.media_id, type_code=row.type, format=row.format, event=row.event,
                      channel=row.channel, size=row.size, name=row.path.rsplit("/", 1)[-1],
                      received_at=row.received_at.isoformat())
        self.publish(ev)

    def on_event(self, phone: str, kind: str, data: dict[str, Any]) -> None:
        """A derived event of the gateway (``alarm`` …): published as ``{"type": kind, "phone", **data}``."""
        if kind in KINDS and kind not in ("alarm",):
            kind = f"event_{kind}"  # never mistaken for one of the hub's own kinds
        self.publish({"type": kind, "phone": phone, **data})

    # -- frames ----------------------------------------------------------------------------------
    def _keep_frame(self, phone: str, entry: tuple[Any, ...]) -> None:
        q = self.frames.get(phone)
        if q is None:
            q = self.frames[phone] = deque(maxlen=FRAMES_PER_TERMINAL)
            if len(self.frames) > TERMINALS_WITH_FRAMES:
                self.frames.popitem(last=False)
        else:
            self.frames.move_to_end(phone)
        q.append(entry)

    def _watched(self, phone: str, entry: tuple[Any, ...]) -> None:
        for sub in self.subscribers:
            if sub.frames_phone == phone:
                sub.put({"type": "frame", "phone": phone, **render_frame(entry, self.gw)})

    def recent_frames(self, phone: str, limit: int = FRAMES_PER_TERMINAL) -> list[dict[str, Any]]:
        """The buffered frames of ``phone``, oldest first, rendered."""
        q = self.frames.get(phone)
        if not q:
            return []
        return [{"phone": phone, **render_frame(e, self.gw)} for e in list(q)[-limit:]]

    # -- positions -------------------------------------------------------------------------------
    async def positions(self) -> list[dict[str, Any]]:
        """The newest position of every terminal: storage's latest rows, overridden by newer live ones."""
        rows: dict[str, LocationRow] = {}
        storage = self.gw.storage
        if storage is not None and not self.gw.data_off:
            for row in await storage.latest_locations():
                rows[row.phone] = row
        for phone, row in self.last.items():
            old = rows.get(phone)
            if old is None or row.received_at >= old.received_at:
                rows[phone] = row
        return [location_json(r) for r in rows.values()]

    # -- dashboard figures -----------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        gw = self.gw
        st = gw.stats()
        now = time.monotonic()
        rx = st["rx_frames"]
        rate = 0.0
        if self._rx_prev is not None and now > self._rx_prev[0]:
            rate = max(0.0, (rx - self._rx_prev[1]) / (now - self._rx_prev[0]))
        self._rx_prev = (now, rx)
        out: dict[str, Any] = {"type": "stats", "online": st["online_terminals"],
                               "connections": st["connections_tcp"] + st["connections_udp"],
                               "rx_frames": rx, "tx_frames": st["tx_frames"], "rejected": st["rejected"],
                               "messages_per_second": round(rate, 1), "uptime": round(st["uptime"], 1),
                               "counters": st["counters"], "storage": st.get("storage"),
                               "storage_kind": "off" if gw.data_off else type(gw.storage).__name__,
                               "media_saved": st.get("media_saved", 0)}
        if st.get("storage"):  # ok / failing since T with the reason (jt808.storage.health)
            out["storage_health"] = st["storage"].get("health")
        mqtt = _mqtt_figures(gw.metrics_text())
        if mqtt:
            out["mqtt"] = mqtt
        return out

    async def _stats(self) -> None:
        while True:
            try:
                self.publish(self.stats())
            except Exception:
                log.exception("console stats failed")
            await asyncio.sleep(STATS_INTERVAL)


def _mqtt_figures(text: str) -> dict[str, Any]:
    """The MQTT bridge's figures from the Prometheus exposition (``jt808_mqtt_*``; empty without a bridge):
    ``connected``, ``published``, ``dropped``, ``buffered``, ``reconnects``, ``downlinks``, ``downlink_errors``."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("jt808_mqtt_"):
            continue
        key = family.name[len("jt808_mqtt_"):]
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            name = key
            if key == "downlinks" and sample.labels.get("result") == "error":
                name = "downlink_errors"
            out[name] = out.get(name, 0) + sample.value
    if "connected" in out:
        out["connected"] = bool(out["connected"])
    return out
