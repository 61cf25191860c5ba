"""Issue 13 end to end over real sockets and the real Mosquitto: a terminal raises a DSM alarm with three
attachments; the gateway stores it, announces it on MQTT and sends 0x9208; the terminal uploads three files to
the attachment server with one data packet lost, gets 0x9212 naming the missing range and re-sends it; the
stored files equal the originals, are listed under the alarm in the HTTP API and announced on MQTT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from jt808.client.attachments import AttachmentFile, upload_attachments
from jt808.protocol.buffer import Writer
from jt808.protocol.header import V2013
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.subiao import AlarmPosition, AlarmSign, DsmAlarm

from .helpers import Terminal, Watcher, random_phone


def _dsm(sign: AlarmSign) -> bytes:
    w = Writer(V2013)
    DsmAlarm(id=1, flag=1, type=0x02, level=1, fatigue=0, reserved=bytes(4),
             position=AlarmPosition(speed=48, altitude=5, latitude=22_540_000, longitude=114_050_000,
                                    time="250601083000", vehicle_status=1), alarm_sign=sign).encode(w)
    return bytes(w.out)


async def test_dsm_alarm_with_evidence_end_to_end(make_node: Any, retained: set[str], tmp_path: Path) -> None:
    node = await make_node(http={"enabled": True, "host": "127.0.0.1", "port": 0})
    gw = node.gateway
    phone = random_phone()
    retained.add(node.bridge.status_template.replace("${clientid}", phone).replace("${phone}", phone))
    event_topic = node.bridge.event_template.replace("${clientid}", phone).replace("${phone}", phone)
    async with Watcher(event_topic) as mqtt:
        t = await Terminal(phone).connect(node.port)
        try:
            await t.login()
            sign = AlarmSign(terminal_id="DC00042", time="250601083000", seq=3, attachments=3, reserved=0)
            await t.send(LocationReport(alarm=0, status=0x000C0003, latitude=22_540_000, longitude=114_050_000,
                                        altitude=5, speed=480, direction=180, time="250601083000",
                                        extras=[(0x65, _dsm(sign))]))
            request = await t.recv_id(0x9208)
            await t.answer(request)
            body = request.body
            assert body.alarm_sign == sign and body.tcp_port == gw.attachment_port

            _, alarm = await mqtt.next(where=lambda _t, p: isinstance(p, dict) and p.get("event") == "alarm")
            assert (alarm["phone"], alarm["kind"], alarm["name"], alarm["alarm_id"]) == (
                phone, "dsm", "接打电话报警", sign.key())

            files = [AttachmentFile(f"00_65_6502_0_{body.alarm_no}.jpg", bytes(range(256)) * 40),
                     AttachmentFile(f"00_65_6502_1_{body.alarm_no}.jpg", b"\xff\xd8" + bytes(6000) + b"\xff\xd9"),
                     AttachmentFile(f"02_65_6502_2_{body.alarm_no}.mp4", bytes(i % 251 for i in range(30000)))]
            lost = (files[2].name, 8192)
            result = await upload_attachments(body, phone, files, packet_size=8192,
                                              skip=lambda name, off: (name, off) == lost)
            assert result.retransmitted == {files[2].name: [(8192, 8192)]}
            assert result.completed == [f.name for f in files]

            announced = []
            while len(announced) < 3:
                _, ev = await mqtt.next(where=lambda _t, p: isinstance(p, dict) and p.get("event") == "attachment")
                announced.append(ev)
            assert [(a["name"], a["size"], a["alarm_id"]) for a in announced] == [
                (f.name, len(f.data), sign.key()) for f in files]

            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}", timeout=10) as api:
                listed = (await api.get(f"/api/v1/terminals/{phone}/alarms", params={"kind": "dsm"})).json()
                [item] = listed["items"]
                assert item["alarm_id"] == sign.key() and len(item["attachments"]) == 3
                for a, f in zip(item["attachments"], files, strict=True):
                    assert a["name"] == f.name
                    assert (await api.get(a["url"])).content == f.data
        finally:
            await t.close()
