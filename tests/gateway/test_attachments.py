"""The alarm path over real sockets: a DSM alarm in a 0x0200 -> stored alarm + ``alarm`` event -> automatic
0x9208 -> the terminal uploads three files to the attachment server with one data packet lost -> 0x9212 names
the missing range -> re-sent -> files stored intact, linked to the alarm, ``attachment`` events."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from jt808.client.attachments import AttachmentFile, upload_attachments
from jt808.gateway import Gateway
from jt808.node import Node
from jt808.protocol.attachments import file_packet
from jt808.protocol.buffer import Writer
from jt808.protocol.header import V2013
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.subiao import AlarmAttachmentRequest, AlarmPosition, AlarmSign, DsmAlarm

from .helpers import PHONE, Terminal, make_config


class Events:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, dict[str, Any]]] = []
        self.changed = asyncio.Event()

    def on_connected(self, phone: str, info: dict[str, Any]) -> None: ...

    def on_disconnected(self, phone: str, reason: str) -> None: ...

    def on_uplink(self, phone: str, packet: Any) -> None: ...

    def on_event(self, phone: str, kind: str, data: dict[str, Any]) -> None:
        self.items.append((phone, kind, data))
        self.changed.set()

    async def wait(self, kind: str, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        async def until() -> list[dict[str, Any]]:
            while True:
                got = [d for _, k, d in self.items if k == kind]
                if len(got) >= n:
                    return got
                self.changed.clear()
                await self.changed.wait()
        return await asyncio.wait_for(until(), timeout)


def dsm_item(sign: AlarmSign) -> bytes:
    w = Writer(V2013)
    DsmAlarm(id=7, flag=1, type=0x01, level=2, fatigue=6, reserved=bytes(4),
             position=AlarmPosition(speed=62, altitude=30, latitude=31_230_000, longitude=121_470_000,
                                    time="250101120000", vehicle_status=1), alarm_sign=sign).encode(w)
    return bytes(w.out)


def evidence(n: int, seed: int) -> bytes:
    return bytes((i * 31 + seed * 7 + (i >> 8)) & 0xFF for i in range(n))


@contextlib.asynccontextmanager
async def online_node(tmp_path: Path) -> AsyncIterator[tuple[Node, Events, Terminal]]:
    """A node with the HTTP API, an event listener, and a terminal logged in."""
    node = Node(make_config(tmp_path, http={"enabled": True, "host": "127.0.0.1", "port": 0}))
    await node.start()
    events = Events()
    node.gateway.add_listener(events)
    t = await Terminal().connect(node.gateway.tcp_port)
    try:
        await t.login()
        yield node, events, t
    finally:
        await t.close()
        await node.stop()


async def test_dsm_alarm_evidence_upload_with_a_lost_packet(tmp_path: Path) -> None:
    async with online_node(tmp_path) as (node, events, t):
        gw = node.gateway
        sign = AlarmSign(terminal_id="T000001", time="250101120000", seq=0, attachments=3, reserved=0)
        report = LocationReport(alarm=0, status=0x000C0003, latitude=31_230_000, longitude=121_470_000, altitude=30,
                                speed=620, direction=90, time="250101120000", extras=[(0x65, dsm_item(sign))])
        await t.send(report)
        got: dict[int, Any] = {}
        while len(got) < 2:
            p = await t.recv()
            got[p.header.msg_id] = p
        assert got[0x8001].body.result == 0
        req = got[0x9208]
        body: AlarmAttachmentRequest = req.body
        assert (body.ip, body.tcp_port) == ("127.0.0.1", gw.attachment_port)
        assert body.alarm_sign == sign and len(body.alarm_no) == 32
        await t.answer(req)

        [alarm] = await events.wait("alarm", 1)
        assert (alarm["kind"], alarm["code"], alarm["name"], alarm["level"]) == ("dsm", 1, "疲劳驾驶报警", 2)
        assert alarm["alarm_id"] == sign.key() == "T000001-250101120000-0" and alarm["speed"] == 62

        files = [AttachmentFile(f"00_65_6501_{i}_{body.alarm_no}.{ext}", evidence(n, i))
                 for i, (n, ext) in enumerate([(40_000, "jpg"), (5_000, "jpg"), (20_001, "mp4")])]
        files[2].type = 2
        lost = (files[0].name, 16384)
        result = await upload_attachments(body, PHONE, files, packet_size=16384,
                                          skip=lambda name, off: (name, off) == lost)
        assert result.completed == [f.name for f in files] and not result.failed
        assert result.retransmitted == {files[0].name: [(16384, 16384)]}

        stored = await events.wait("attachment", 3)
        assert [a["name"] for a in stored] == [f.name for f in files]
        assert all(a["alarm_id"] == sign.key() and a["alarm_no"] == body.alarm_no for a in stored)
        rows = await gw.storage.query_attachments(PHONE, [sign.key()])
        assert [(r.name, r.size, r.type) for r in rows] == [(f.name, len(f.data), f.file_type()) for f in files]
        for r, f in zip(rows, files, strict=True):
            assert Path(r.path).read_bytes() == f.data
            assert Path(r.path).is_relative_to(tmp_path)
        assert not list((tmp_path / "data").rglob("*.part"))
        [stored_alarm], total = await gw.storage.query_alarms(PHONE, kind="dsm")
        assert total == 1 and stored_alarm.alarm_id == sign.key() and stored_alarm.detail["alarm_no"] == body.alarm_no

        # the API lists the alarm with its files, and serves them
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}", timeout=10) as api:
            listed = (await api.get(f"/api/v1/terminals/{PHONE}/alarms")).json()
            assert listed["total"] == 1
            [item] = listed["items"]
            assert {k: item[k] for k in ("phone", "kind", "code", "name", "alarm_id", "acknowledged_at")} == {
                "phone": PHONE, "kind": "dsm", "code": 1, "name": "疲劳驾驶报警", "alarm_id": sign.key(),
                "acknowledged_at": None}
            assert item["time"] == "2025-01-01T04:00:00Z"  # 12:00 GMT+8
            assert [a["name"] for a in item["attachments"]] == [f.name for f in files]
            for a, f in zip(item["attachments"], files, strict=True):
                r = await api.get(a["url"])
                assert r.status_code == 200 and r.content == f.data and a["size"] == len(f.data)
            assert (await api.get("/api/v1/alarms", params={"kind": "dsm", "phone": PHONE})).json()["total"] == 1
            assert (await api.get("/api/v1/alarms", params={"kind": "adas"})).json() == {"items": [], "total": 0}
            metrics = (await api.get("/metrics")).text
            assert "jt808_attachment_files_total 3.0" in metrics
            assert 'jt808_alarms_total{outcome="stored"} 1.0' in metrics
            assert "jt808_alarm_attachment_requests_total 1.0" in metrics
            bad = await api.get("/api/v1/alarms", params={"kind": "nope"})
            assert bad.status_code == 400 and bad.json()["error"] == "bad_request"
            gone = await api.get("/api/v1/attachments/424242")
            assert gone.status_code == 404 and gone.json()["error"] == "unknown_attachment"
            for url in ("/api/v1/attachments/x", "/api/v1/alarms/x/ack"):  # the path's {id}, as documented
                r = await (api.get(url) if "attachments" in url else api.post(url))
                assert r.status_code == 400 and [d["field"] for d in r.json()["detail"]] == ["id"], r.text
            index = (await api.get(f"/api/v1/terminals/{PHONE}/attachments")).json()
            assert [a["name"] for a in index["attachments"]] == [f.name for f in files]
            assert {a["alarm_id"] for a in index["attachments"]} == {sign.key()}
            acked = (await api.post(f"/api/v1/alarms/{item['id']}/ack")).json()
            assert acked["acknowledged_at"] and acked["confirm"] is None  # nothing to confirm on the terminal
            assert (await api.get("/api/v1/alarms", params={"acknowledged": "false"})).json()["total"] == 0


async def test_standard_alarm_bits_and_their_confirmation(tmp_path: Path) -> None:
    async with online_node(tmp_path) as (node, events, t):
        base = {"status": 0x000C0003, "latitude": 31_230_000, "longitude": 121_470_000, "altitude": 1, "speed": 0,
                "direction": 0, "time": "250101120000"}
        for alarm in (0, 0b1, 0b1, 0b11):  # emergency rises once, overspeed rises later
            await t.send(LocationReport(alarm=alarm, **base))
            assert (await t.recv()).header.msg_id == 0x8001
        got = await events.wait("alarm", 2)
        assert [(a["kind"], a["code"], a["name"]) for a in got] == [("standard", 0, "紧急报警"),
                                                                     ("standard", 1, "超速报警")]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}", timeout=10) as api:
            ack = asyncio.create_task(api.post(f"/api/v1/alarms/{got[0]['id']}/ack"))
            confirm = await t.recv()
            assert confirm.header.msg_id == 0x8203
            assert (confirm.body.seq, confirm.body.type) == (got[0]["msg_sn"], 1)
            await t.answer(confirm)
            answer = (await ack).json()
            assert answer["confirm"] == {"msg_id": 0x8203, "sent": True, "replied": True}
            listed = (await api.get("/api/v1/alarms", params={"phone": PHONE, "acknowledged": "true"})).json()
            assert [i["code"] for i in listed["items"]] == [0]


async def test_limits_stalls_and_unannounced_data(tmp_path: Path) -> None:
    gw = Gateway(make_config(tmp_path, attachments={"max_file_size": 1000, "stall_timeout": 0.3}))
    await gw.start()
    try:
        sign = AlarmSign("T2", "250101120000", 1, 1, 0)
        req = AlarmAttachmentRequest("127.0.0.1", gw.attachment_port, 0, sign, "n" * 32, bytes(16))
        # a file over the size limit is refused at 0x1211
        result = await upload_attachments(req, PHONE, [AttachmentFile("00_65_6501_0_big.jpg", bytes(2000))])
        assert result.failed == ["00_65_6501_0_big.jpg"] and gw.attachments.refused == 1
        # data for a file nobody announced is counted, not written; a silent connection is closed, its
        # incomplete file removed
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.attachment_port)
        writer.write(file_packet("stray.bin", 0, b"x" * 100))
        t = Terminal()
        from jt808.protocol.messages.subiao import FileInfo

        writer.write(t.frame(FileInfo("00_65_6501_0_half.jpg", 0, 500)))
        writer.write(file_packet("00_65_6501_0_half.jpg", 0, b"y" * 200))
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) != b""  # the 0x8001, then EOF when stalled
        assert gw.attachments.stalled == 1
        assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file() and "half" in p.name]
        writer.close()
    finally:
        await gw.stop()
    assert os.path.isdir(tmp_path / "data" / "attachments")
