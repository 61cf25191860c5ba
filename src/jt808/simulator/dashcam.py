"""The dash-cam side of ``jt808 simulate --profile dashcam``: active-safety alarms and their evidence.

A dash-cam terminal reports, besides its positions, ADAS (0x64) and DSM (0x65) alarm items now and then
(``alarm_interval`` seconds on average per terminal), each with an alarm identification announcing three
attachments. When the platform answers with an 0x9208, the terminal connects to the attachment server it
names and uploads the evidence (:func:`jt808.client.attachments.upload_attachments`): two PNG snapshots of a
few KB (real images, drawn and compressed here) and a JSON text with the alarm's details.
"""

from __future__ import annotations

import json
import random
import struct
import zlib
from typing import Any

from jt808.protocol.messages.safety_items import encode_safety_item
from jt808.protocol.messages.subiao import AdasAlarm, AdasEvent, AlarmPosition, AlarmSign, DsmAlarm, DsmEvent

__all__ = ["alarm_item", "evidence_files", "png"]

_ADAS = (AdasEvent.FORWARD_COLLISION, AdasEvent.LANE_DEPARTURE, AdasEvent.HEADWAY_TOO_CLOSE,
         AdasEvent.PEDESTRIAN_COLLISION)
_DSM = (DsmEvent.FATIGUE, DsmEvent.PHONE, DsmEvent.SMOKING, DsmEvent.DISTRACTION)


def png(width: int, height: int, seed: int) -> bytes:
    """A real RGB PNG: a gradient with noise (a few KB at 64×48)."""
    rnd = random.Random(seed)
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows += bytes(((x * 4 + rnd.randrange(64)) & 0xFF, (y * 5 + rnd.randrange(64)) & 0xFF,
                           (seed * 37 + rnd.randrange(96)) & 0xFF))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 6)) + \
        chunk(b"IEND", b"")


def alarm_item(rnd: random.Random, alarm_id: int, sign: AlarmSign, lat: int, lng: int, speed_kmh: int,
               time_bcd: str) -> tuple[int, bytes, str]:
    """(item id, item bytes, alarm type code for file names) of a random ADAS or DSM alarm."""
    pos = AlarmPosition(speed=min(speed_kmh, 255), altitude=30, latitude=lat, longitude=lng, time=time_bcd,
                        vehicle_status=1)
    if rnd.random() < 0.5:
        ev = rnd.choice(_ADAS)
        rec: Any = AdasAlarm(id=alarm_id, flag=1, type=int(ev), level=rnd.choice((1, 2)), front_speed=rnd.randrange(80),
                             front_distance=rnd.randrange(1, 30), deviation=1 if ev is AdasEvent.LANE_DEPARTURE else 0,
                             road_sign=0, road_sign_value=0, position=pos, alarm_sign=sign)
        return 0x64, encode_safety_item(rec), f"64{int(ev):02d}"
    dsm = rnd.choice(_DSM)
    rec = DsmAlarm(id=alarm_id, flag=1, type=int(dsm), level=rnd.choice((1, 2)),
                   fatigue=rnd.randrange(1, 10) if dsm is DsmEvent.FATIGUE else 0, reserved=bytes(4), position=pos,
                   alarm_sign=sign)
    return 0x65, encode_safety_item(rec), f"65{int(dsm):02d}"


def evidence_files(request: Any, alarm_type: str, seed: int) -> list[Any]:
    """The three files of one alarm, named by the standard's rule ``<type>_<channel>_<alarm type>_<index>_
    <alarm no>.<ext>`` (channel 65 DSM / 64 ADAS)."""
    from jt808.client.attachments import AttachmentFile

    channel = alarm_type[:2]
    no = request.alarm_no
    sign = request.alarm_sign
    text = json.dumps({"alarm_id": sign.key(), "alarm_no": no, "type": alarm_type, "time": sign.time},
                      ensure_ascii=False).encode()
    return [AttachmentFile(f"00_{channel}_{alarm_type}_0_{no}.png", png(64, 48, seed)),
            AttachmentFile(f"00_{channel}_{alarm_type}_1_{no}.png", png(64, 48, seed + 1)),
            AttachmentFile(f"03_{channel}_{alarm_type}_2_{no}.txt", text)]
