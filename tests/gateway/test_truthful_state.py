"""State that tells the truth: last_seen is the last frame (without a write per frame), registered_at the
first registration, media files never overwritten, /healthz degraded while a dependency is down,
retryable answers while the registry cannot be read, replies addressed to the phone of their request."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

import jt808
from bridges.helpers import CutProxy
from jt808.gateway import lastseen
from jt808.gateway.media import MediaStore
from jt808.node import Node
from jt808.protocol.messages.general import HeartBeat
from jt808.protocol.messages.media import MediaData
from jt808.protocol.messages.register import TerminalRegister
from jt808.protocol.packet import Packet
from jt808.storage.memory import MemoryStorage

from .helpers import PHONE, Terminal, location, make_config

PG = "postgresql://postgres@127.0.0.1:5432/test"


async def until(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


class CountingStorage(MemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.touches = 0

    async def touch_terminal(self, phone: str, when: datetime) -> None:
        self.touches += 1
        await super().touch_terminal(phone, when)

    async def touch_terminals(self, seen: dict[str, datetime]) -> None:
        self.touches += 1
        await super().touch_terminals(seen)


async def test_last_seen_is_the_last_frame_without_a_write_per_frame(tmp_path: Path, monkeypatch) -> None:
    storage = CountingStorage()
    await storage.open()
    cfg = make_config(tmp_path, http={"enabled": True, "port": 0})
    async with Node(cfg, storage=storage) as node, httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{node.http_port}") as c:
        t = await Terminal().connect(node.tcp_port)
        await t.login()
        after_auth = storage.touches
        for _ in range(30):
            await t.heartbeat()
        sent_last = time.time()
        assert storage.touches == after_auth  # 30 frames, no write (flushed every lastseen.FLUSH s)
        shown = datetime.fromisoformat((await c.get(f"/api/v1/terminals/{PHONE}")).json()["last_seen"])
        assert abs(shown.timestamp() - sent_last) < 1.0  # the API shows the live value of a held terminal
        monkeypatch.setattr(lastseen, "FLUSH", 0.1)
        await until(lambda: _stored_seen_near(storage, sent_last), what="last_seen flushed")
        assert storage.touches <= after_auth + 2
        await t.close()
    await storage.close()


async def _stored_seen_near(storage: MemoryStorage, t: float) -> bool:
    rec = await storage.get_terminal(PHONE)
    return rec is not None and rec.last_seen is not None and abs(rec.last_seen.timestamp() - t) < 1.0


async def test_last_seen_of_a_terminal_that_left_reaches_storage_on_stop(tmp_path: Path) -> None:
    storage = MemoryStorage()
    await storage.open()
    cfg = make_config(tmp_path)
    node = Node(cfg, storage=storage)
    await node.start()
    t = await Terminal().connect(node.tcp_port)
    await t.login()
    await asyncio.sleep(1.2)  # the heartbeat must be measurably later than the authentication
    await t.heartbeat()
    sent = time.time()
    await t.close()
    await node.stop()  # flushes what the sweeper has not yet written
    rec = await storage.get_terminal(PHONE)
    assert abs(rec.last_seen.timestamp() - sent) < 0.5, (rec.last_seen, sent)
    await storage.close()


async def test_registered_at_is_the_first_registration(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, http={"enabled": True, "port": 0})
    async with Node(cfg) as node, httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}") as c:
        t = await Terminal().connect(node.tcp_port)
        await t.register()
        first = (await node.gateway.storage.get_terminal(PHONE)).registered_at
        await t.close()
        assert (await c.post(f"/api/v1/terminals/{PHONE}/reset", json={"reason": "device replaced"})).status_code \
            == 200
        t = await Terminal().connect(node.tcp_port)
        await t.register()
        rec = await node.gateway.storage.get_terminal(PHONE)
        assert rec.registered_at == first and rec.last_registered_at > first
        body = (await c.get(f"/api/v1/terminals/{PHONE}")).json()
        assert body["registered_at"] == first.isoformat()
        assert body["last_registered_at"] == rec.last_registered_at.isoformat()
        await t.close()


async def test_the_same_media_id_twice_in_one_second_keeps_both_files(tmp_path: Path) -> None:
    storage = MemoryStorage()
    await storage.open()
    store = MediaStore(tmp_path / "media", storage)
    p1 = Packet(jt808.Header(0x0801, PHONE, 3, jt808.V2013),
                MediaData(id=7, type=0, format=0, event=1, channel=1, multimedia=b"first"))
    p2 = Packet(jt808.Header(0x0801, PHONE, 3, jt808.V2013),
                MediaData(id=7, type=0, format=0, event=1, channel=1, multimedia=b"second"))
    rows = await asyncio.gather(store.save(p1), store.save(p2), store.save(p1))
    paths = [Path(r.path) for r in rows]
    assert len(set(paths)) == 3
    assert sorted(p.read_bytes() for p in paths) == [b"first", b"first", b"second"]
    assert not list((tmp_path / "media").rglob("*.part"))
    await storage.close()


async def test_replies_go_to_the_phone_of_their_request_when_a_read_mixes_versions(tmp_path: Path) -> None:
    """A 0x0100 (2013, 12 digits) and a 2019 frame (20 digits) in one read: the 0x8100 still encodes."""
    cfg = make_config(tmp_path)
    async with Node(cfg) as node:
        t = await Terminal().connect(node.tcp_port)
        reg = t.frame(TerminalRegister(province=11, city=100, manufacturer="ACME1", model="T808", dev_id="0000001",
                                        color=1, license_number="京A1"))
        t19 = Terminal("00000000013912345678", jt808.V2019)
        other = t19.frame(HeartBeat())
        await t.send_raw(reg + other)
        reply = await t.recv()
        if reply.header.msg_id != 0x8100:
            reply = await t.recv()
        assert reply.header.msg_id == 0x8100 and reply.header.phone == PHONE, reply
        assert reply.body.result == 0
        await t.close()


# -- outages --------------------------------------------------------------------------------------------
@pytest.fixture
async def pg_proxy() -> AsyncIterator[tuple[CutProxy, str]]:
    schema = "truth_" + uuid.uuid4().hex[:8]
    proxy = await CutProxy(("127.0.0.1", 5432)).start()
    yield proxy, f"postgresql://postgres@127.0.0.1:{proxy.port}/test?schema={schema}&pool_min=0"
    await proxy.close()
    con = await asyncpg.connect(PG)
    await con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    await con.close()


async def test_storage_outage_degrades_healthz_and_gives_retryable_answers(tmp_path: Path, pg_proxy) -> None:
    proxy, url = pg_proxy
    cfg = make_config(tmp_path, storage={"db": url}, http={"enabled": True, "port": 0})
    async with Node(cfg) as node, httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}") as c:
        t = await Terminal().connect(node.tcp_port)
        await t.login()
        assert (await c.get("/healthz")).status_code == 200
        await proxy.cut()
        ack = await t.request(location(1))  # the write fails: the store is unavailable
        assert ack.body.result != 0
        r = await c.get("/healthz")
        assert r.status_code == 503 and r.json()["status"] == "degraded", r.text
        assert "storage" in r.json()["problems"]
        r = await c.get(f"/api/v1/terminals/{PHONE}/locations")
        assert r.status_code == 503 and r.json()["error"] == "storage_unavailable", r.text
        newcomer = await Terminal("013900000042").connect(node.tcp_port)
        await newcomer.send(TerminalRegister(province=1, city=1, manufacturer="A", model="B", dev_id="C", color=1,
                                             license_number="D"))
        await newcomer.expect_nothing(1.0)  # not "terminal unknown" (result 4): no answer, it will retry
        await proxy.restore()

        async def healthy() -> bool:
            await t.request(location(2))
            return (await c.get("/healthz")).status_code == 200

        await until(healthy, timeout=20, what="healthz ok again")
        await newcomer.send(TerminalRegister(province=1, city=1, manufacturer="A", model="B", dev_id="C", color=1,
                                             license_number="D"))
        reply = await newcomer.recv(10)
        assert reply.header.msg_id == 0x8100 and reply.body.result == 0
        await newcomer.close()
        await t.close()


async def test_required_broker_down_degrades_healthz(tmp_path: Path) -> None:
    proxy = await CutProxy().start()
    cfg = make_config(tmp_path, http={"enabled": True, "port": 0}, mqtt={"url": f"mqtt://127.0.0.1:{proxy.port}",
                                                                         "client_id": f"truth-{uuid.uuid4().hex[:8]}"})
    try:
        async with Node(cfg) as node, httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}") as c:
            assert (await c.get("/healthz")).status_code == 200
            await proxy.cut()

            async def degraded() -> bool:
                r = await c.get("/healthz")
                return r.status_code == 503 and "mqtt" in r.json()["problems"]

            await until(degraded, what="healthz degraded by the broker")
            await proxy.restore()

            async def ok() -> bool:
                return (await c.get("/healthz")).status_code == 200

            await until(ok, timeout=30, what="healthz ok after the broker came back")
    finally:
        await proxy.close()


async def test_junk_from_one_peer_is_logged_a_few_times_then_counted(tmp_path: Path, caplog) -> None:
    import logging
    import socket

    cfg = make_config(tmp_path, server={"udp": True}, limits={"log_lines_per_peer": 5})
    caplog.set_level(logging.INFO, logger="jt808.gateway")
    async with Node(cfg) as node:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(200):
                s.sendto(b"junk %d" % i, ("127.0.0.1", node.udp_port))
        endpoint = node.gateway._udp[0][1]

        async def arrived() -> bool:  # loopback UDP may drop a few under load: most is enough
            return endpoint.junk >= 100

        await until(arrived, what="junk datagrams")
        lines = [r for r in caplog.records if "UDP junk" in r.getMessage()]
        assert len(lines) == 5, [r.getMessage() for r in lines]
        text = node.gateway.metrics_text()
        suppressed = next(float(x.split()[-1]) for x in text.splitlines()
                          if x.startswith("jt808_log_lines_suppressed_total"))
        assert suppressed >= endpoint.junk - 5 >= 95
