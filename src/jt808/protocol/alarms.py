"""Alarms out of location reports, sans-I/O: what a 0x0200 (or a 0x0704 item) raises.

- **standard**: a 0x0200 alarm bit that rises (0 → 1 against the terminal's previous report; the
  first report of a terminal counts every set bit). Titles from :mod:`jt808.protocol.bits`.
- **video**: a JT/T 1078 video-alarm bit (item 0x14) that rises (:class:`~jt808.protocol.messages.jt1078.VideoAlarm`).
- **adas / dsm / tpms / bsd**: every active-safety item 0x64–0x67 that is not an "end" flag, with its
  alarm identification (``alarm_id`` = ``AlarmSign.key()``) and attachment count. SuBiao (16-byte
  identification) and YueBiao (40-byte) layouts are told apart by the item's length, which cannot be
  ambiguous (the two differ by 24 bytes and a TPMS tyre is 9), so no profile is needed; an item that fits
  neither is skipped and reported in :attr:`AlarmTracker.problems`.

:class:`AlarmTracker` keeps the previous alarm words per terminal (one small dict entry per phone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jt808.protocol.bits import ALARMS
from jt808.protocol.header import V2013, Version
from jt808.protocol.messages import subiao
from jt808.protocol.messages.jt1078 import VideoAlarm
from jt808.protocol.messages.safety_items import decode_safety_item

__all__ = ["ATTACHMENT_KINDS", "AlarmInfo", "AlarmTracker", "decode_safety_item"]

#: Active-safety kinds whose alarms come with evidence files the platform asks for (0x9208).
ATTACHMENT_KINDS = frozenset({"adas", "dsm", "bsd"})

_KINDS = {0x64: "adas", 0x65: "dsm", 0x66: "tpms", 0x67: "bsd"}
_TITLES: dict[int, Any] = {0x64: subiao.AdasEvent, 0x65: subiao.DsmEvent, 0x67: subiao.BsdEvent}


@dataclass(slots=True)
class AlarmInfo:
    """One alarm raised by a report (see the module docstring)."""

    kind: str
    code: int
    name: str
    level: int = 0
    latitude: float = 0.0
    longitude: float = 0.0
    speed: float = 0.0
    time: str = ""  # BCD YYMMDDhhmmss of the report / item
    alarm_id: str | None = None
    attachments: int = 0
    sign: Any = None  # the AlarmSign record (active safety)
    detail: dict[str, Any] = field(default_factory=dict)


def _title(kind: type, code: int) -> str:
    try:
        return kind(code).title  # type: ignore[no-any-return]  # kind: one of the titled enums of _TITLES
    except ValueError:
        return f"自定义 0x{code:02X}"


class AlarmTracker:
    """Turns reports into :class:`AlarmInfo` (rising standard / video bits, active-safety items)."""

    __slots__ = ("problems", "standard", "words")

    def __init__(self, *, standard: bool = True) -> None:
        self.standard = standard
        #: phone -> (alarm word, video alarm word) of its last report, for the phones where one is not zero
        self.words: dict[str, tuple[int, int]] = {}
        self.problems: list[str] = []

    def forget(self, phone: str) -> None:
        self.words.pop(phone, None)

    def feed(self, phone: str, report: Any, version: Version = V2013) -> list[AlarmInfo]:
        """Alarms raised by one location report (a ``LocationReport``)."""
        lat, lon = report.latitude / 1e6, report.longitude / 1e6
        if report.status & 0x4:
            lat = -lat
        if report.status & 0x8:
            lon = -lon
        speed = report.speed / 10
        out: list[AlarmInfo] = []
        video = 0
        items = []
        for item_id, value in report.extras:
            if item_id == 0x14 and isinstance(value, int):
                video = value
            elif item_id == 0x14 and isinstance(value, bytes | bytearray) and len(value) == 4:
                video = int.from_bytes(value, "big")
            elif item_id in _KINDS:
                items.append((item_id, value))
        prev_alarm, prev_video = self.words.get(phone, (0, 0))
        if report.alarm or video:
            self.words[phone] = (report.alarm, video)
        else:
            self.words.pop(phone, None)
        if self.standard:
            rising = report.alarm & ~prev_alarm
            table = ALARMS.get(version, ALARMS[V2013])
            for bit in range(32):
                if rising >> bit & 1:
                    b = table.get(bit)
                    out.append(AlarmInfo("standard", bit, b.zh if b else f"bit{bit}", 0, lat, lon, speed,
                                         report.time, detail={"bit": bit, "name": b.name if b else f"bit{bit}"}))
            rising = video & ~prev_video
            for bit in range(32):
                if rising >> bit & 1:
                    try:
                        name = VideoAlarm(bit).title
                    except ValueError:
                        name = f"视频报警 bit{bit}"
                    out.append(AlarmInfo("video", bit, name, 0, lat, lon, speed, report.time, detail={"bit": bit}))
        for item_id, value in items:
            rec: Any = decode_safety_item(item_id, value)
            if rec is None:
                size = len(value) if isinstance(value, bytes | bytearray) else "?"
                self.problems.append(f"phone={phone}: item 0x{item_id:02X} of {size} bytes fits neither the "
                                     "SuBiao nor the YueBiao layout: not an alarm")
                continue
            if rec.flag == 2:  # the end of an alarm already reported
                continue
            kind = _KINDS[item_id]
            if item_id == 0x66:
                code = next((t.alarm for t in rec.tires if t.alarm), 0)
                name = "胎压监测系统报警"
                for t in rec.tires:
                    bits = [b.title for b in subiao.TpmsAlarm if t.alarm >> int(b) & 1]
                    if bits:
                        name = bits[0]
                        break
            else:
                code = rec.type
                name = _title(_TITLES[item_id], code)
            pos = rec.position
            sign = rec.alarm_sign
            out.append(AlarmInfo(kind, code, name, getattr(rec, "level", 0), pos.latitude / 1e6, pos.longitude / 1e6,
                                 float(pos.speed), pos.time, sign.key(), sign.attachments, sign, rec.to_json()))
        return out
