"""Alarms at the gateway: stored, announced, and (active safety) their evidence asked for.

:class:`AlarmService` observes location reports (0x0200 and the items of 0x0704) through the gateway's
location-observer protocol (:meth:`Gateway.add_location_observer`, which, unlike a listener, keeps the
gateway's no-decode fast paths for heartbeats): a :class:`~jt808.protocol.alarms.AlarmTracker` turns them
into alarms, which are queued (bounded) and written in batches by one task, then announced to the gateway
listeners as ``alarm`` events (:meth:`Gateway.emit`: the MQTT bridge publishes them, the console pushes them).

With ``attachments.auto_request``, an ADAS / DSM / BSD alarm whose identification says it has attachments
gets an 0x9208 naming the attachment server (``attachments.advertise_host``, else the address the terminal
reached the gateway on; the port bound, or ``advertise_port``).

:func:`alarm_json` is the one JSON form of an alarm (HTTP API, events).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jt808.protocol.alarms import ATTACHMENT_KINDS, AlarmInfo, AlarmTracker
from jt808.protocol.messages.location import LayoutValues, LocationReport, bcd_time
from jt808.protocol.messages.subiao import AlarmAttachmentRequest
from jt808.protocol.messages.yuebiao import YueBiaoAlarmAttachmentRequest, YueBiaoAlarmSign
from jt808.protocol.packet import Packet
from jt808.storage.base import AlarmRow, AttachmentRow

if TYPE_CHECKING:
    from jt808.gateway.server import Gateway

__all__ = ["AlarmService", "alarm_json", "attachment_json"]

log = logging.getLogger("jt808.alarms")

_SAFETY_IDS = frozenset({0x14, 0x64, 0x65, 0x66, 0x67})
QUEUE_MAX = 10_000


def _ts(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


def attachment_json(a: AttachmentRow) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "size": a.size, "type": a.type, "url": f"/api/v1/attachments/{a.id}",
            "received_at": _ts(a.received_at)}


def alarm_json(row: AlarmRow, attachments: list[AttachmentRow] | None = None) -> dict[str, Any]:
    """The alarm as the API and the events show it (NOTES.md contract)."""
    return {"id": row.id, "phone": row.phone, "time": _ts(row.time or row.received_at), "kind": row.kind,
            "code": row.code, "name": row.name, "level": row.level, "latitude": row.latitude,
            "longitude": row.longitude, "speed": row.speed, "alarm_id": row.alarm_id,
            "attachments": [attachment_json(a) for a in attachments or []],
            "acknowledged_at": _ts(row.acknowledged_at), "received_at": _ts(row.received_at),
            "msg_sn": row.msg_sn, "detail": row.detail}


class AlarmService:
    """See the module docstring. Started and stopped by the gateway."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        cfg = gateway.config.attachments
        self.auto_request = cfg.auto_request
        self.tracker = AlarmTracker(standard=cfg.keep_standard_alarms)
        self.queue: asyncio.Queue[tuple[str, AlarmRow, AlarmInfo]] = asyncio.Queue(QUEUE_MAX)
        self.task: asyncio.Task[None] | None = None
        self.stored = self.dropped = self.requested = 0
        self._problems_seen = 0

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._writer(), name="jt808-alarms")

    async def stop(self) -> None:
        if self.task is not None:
            await self._drain()
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None

    async def _drain(self, timeout: float = 5.0) -> None:
        """Wait (at most ``timeout``) until every queued alarm is written and announced."""
        try:
            await asyncio.wait_for(self.queue.join(), timeout)
        except TimeoutError:
            log.error("alarms: %d not written at stop", self.queue.qsize())

    # -- the observer protocol -------------------------------------------------------------------
    def on_location(self, phone: str, packet: Packet) -> None:
        """A 0x0200 / 0x0704 arrived (called on the gateway's hot path: cheap when nothing is raised)."""
        body: Any = packet.body
        if type(body) is LocationReport:
            if not body.alarm and phone not in self.tracker.words:
                for eid, _ in body.extras:  # a loop, not any(<generator>): half the cost per report
                    if eid in _SAFETY_IDS:
                        break
                else:
                    return
            reports = [body]
        elif packet.header.msg_id == 0x0704:
            reports = [r for r in getattr(body, "locations", ()) if isinstance(r, LocationReport)]
        else:
            return
        for report in reports:
            infos = self.tracker.feed(phone, report, packet.header.version)
            if self.tracker.problems:
                for p in self.tracker.problems:
                    self._problems_seen += 1
                    if self._problems_seen <= 20:
                        log.warning("%s", p)
                self.tracker.problems.clear()
            for info in infos:
                self._raise(phone, packet, info)

    def wants_report(self, phone: str, values: LayoutValues) -> bool:
        """What :meth:`on_location` would not return early for (an alarm word, a phone with a raised word, an
        active-safety item id)."""
        return bool(values.values[0]) or phone in self.tracker.words or not _SAFETY_IDS.isdisjoint(values.layout.ids)

    def forget(self, phone: str) -> None:
        self.tracker.forget(phone)

    def _raise(self, phone: str, packet: Packet, info: AlarmInfo) -> None:
        now = datetime.now(UTC)
        detail = dict(info.detail)
        if info.kind in ATTACHMENT_KINDS and info.attachments and self.auto_request:
            alarm_no = uuid.uuid4().hex
            detail["alarm_no"] = alarm_no
            self._request(phone, info, alarm_no)
        row = AlarmRow(phone=phone, time=bcd_time(info.time, self.gw.profile.tz_offset) if info.time else None,
                       received_at=now, kind=info.kind, code=info.code, name=info.name, level=info.level,
                       latitude=info.latitude, longitude=info.longitude, speed=info.speed, alarm_id=info.alarm_id,
                       msg_sn=packet.header.msg_sn, detail=detail)
        if row.time is not None:
            row.time = row.time.astimezone(UTC)
        try:
            self.queue.put_nowait((phone, row, info))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped <= 10 or self.dropped % 1000 == 0:
                log.error("alarm queue full (%d): alarm of phone=%s dropped (%d so far)", QUEUE_MAX, phone,
                          self.dropped)

    def _request(self, phone: str, info: AlarmInfo, alarm_no: str) -> None:
        conn = self.gw.connection(phone)
        server = self.gw.attachments
        if conn is None or server is None:
            return
        host, port = server.advertised(conn)
        cls = YueBiaoAlarmAttachmentRequest if isinstance(info.sign, YueBiaoAlarmSign) else AlarmAttachmentRequest
        body = cls(ip=host, tcp_port=port, udp_port=0, alarm_sign=info.sign, alarm_no=alarm_no, reserved=bytes(16))
        self.requested += 1
        self.gw.spawn(self._send(phone, body))

    async def _send(self, phone: str, body: Any) -> None:
        try:
            await self.gw.send(phone, body, wait=True)
            log.info("phone=%s: 0x9208 sent for alarm %s (%s)", phone, body.alarm_sign.key(), body.alarm_no)
        except Exception as e:
            log.warning("phone=%s: 0x9208 for alarm %s: %s", phone, body.alarm_sign.key(), e)

    async def _writer(self) -> None:
        storage = self.gw.storage
        while True:
            first = await self.queue.get()
            batch = [first]
            while not self.queue.empty() and len(batch) < 500:
                batch.append(self.queue.get_nowait())
            rows = [b[1] for b in batch]
            try:
                if storage is not None:
                    await storage.add_alarms(rows)
                self.stored += len(rows)
            except Exception as e:
                log.error("alarms: %d not stored: %s", len(rows), e)
            else:
                for phone, row, _info in batch:
                    self.gw.emit(phone, "alarm", alarm_json(row))
            finally:
                for _ in batch:
                    self.queue.task_done()
