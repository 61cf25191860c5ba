"""Multimedia in sub-packages, the UDP flow, HTTP registry/auth hooks, PostgreSQL storage."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import jt808
from jt808 import Header, Packet
from jt808.gateway import Gateway
from jt808.node import Node
from jt808.protocol.messages.location import LocationBasic
from jt808.protocol.messages.media import MediaData
from jt808.protocol.messages.text import TextMessage
from jt808.protocol.subpackage import split

from .helpers import PHONE, Terminal, UdpTerminal, location, make_config

PHOTO = bytes((i * 7 + 3) & 0xFF for i in range(5000)) + b"\x7e\x7d" * 40  # escapes inside, 5 fragments


def photo_fragments(t: Terminal, media_id: int = 42, size: int = 1000) -> list[bytes]:
    body = MediaData(id=media_id, type=0, format=0, event=1, channel=1,
                     location=LocationBasic(0, 3, 31_230_000, 121_470_000, 5, 100, 0, "240311120000"),
                     multimedia=PHOTO)
    packet = Packet(Header(0x0801, t.phone, t.sn, t.version), body)
    parts = split(packet, size)
    t.sn = (t.sn + len(parts)) & 0xFFFF
    return [jt808.encode(p) for p in parts]


async def test_multi_fragment_photo_saved_equal_to_the_original(gateway: Gateway, terminal: Terminal) -> None:
    await terminal.login()
    frames = photo_fragments(terminal)
    assert len(frames) == 6
    for f in frames[:-1]:
        await terminal.send_raw(f)
        ack = await terminal.recv()
        assert (ack.header.msg_id, ack.body.id, ack.body.result) == (0x8001, 0x0801, 0)  # never 0x8800 early
    await terminal.send_raw(frames[-1])
    done = await terminal.recv()
    assert done.header.msg_id == 0x8800 and done.body.mm_id == 42 and done.body.retx_ids == []
    rows = await gateway.storage.query_media(PHONE)
    assert len(rows) == 1 and rows[0].size == len(PHOTO) and rows[0].media_id == 42
    assert Path(rows[0].path).read_bytes() == PHOTO
    assert rows[0].path.endswith(".jpg") and rows[0].location["latitude"] == 31_230_000


async def test_2011_terminal_photo_saved_whole(gateway: Gateway) -> None:
    """A 2011 terminal's 0x0801 has no location block: the photo starts right after the 8-byte prefix and is
    saved byte for byte (read with the 2013 layout, its first 28 bytes were taken for a location)."""
    t = await Terminal(version=jt808.V2011).connect(gateway.tcp_port)
    try:
        await t.login()
        jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + PHOTO[:2500] + b"\xff\xd9"
        parts = split(Packet(Header(0x0801, t.phone, t.sn, t.version),
                             MediaData(id=7, type=0, format=0, event=1, channel=1, location=None, multimedia=jpeg)),
                      1000)
        for part in parts[:-1]:
            await t.send_raw(jt808.encode(part))
            assert (await t.recv()).header.msg_id == 0x8001
        await t.send_raw(jt808.encode(parts[-1]))
        done = await t.recv()
        assert done.header.msg_id == 0x8800 and done.body.mm_id == 7 and done.body.retx_ids == []
        rows = await gateway.storage.query_media(PHONE)
        assert len(rows) == 1 and rows[0].size == len(jpeg) and Path(rows[0].path).read_bytes() == jpeg
        assert rows[0].path.endswith(".jpg") and not rows[0].location
    finally:
        await t.close()


async def test_missing_fragment_asked_after_timeout(tmp_path: Path) -> None:
    async with Gateway(make_config(tmp_path, session={"fragment_timeout": 0.3})) as gw:
        t = await Terminal().connect(gw.tcp_port)
        await t.login()
        frames = photo_fragments(t, media_id=7)
        for i, f in enumerate(frames):
            if i == 2:
                continue  # fragment 3 is lost
            await t.send_raw(f)
            assert (await t.recv()).header.msg_id == 0x8001
        ask = await t.recv(3)  # after the timeout, not before the last fragment
        assert ask.header.msg_id == 0x8800 and ask.body.mm_id == 7 and ask.body.retx_ids == [3]
        await t.send_raw(frames[2])
        done = await t.recv()
        assert done.header.msg_id == 0x8800 and done.body.retx_ids == []
        rows = await gw.storage.query_media(PHONE)
        assert Path(rows[0].path).read_bytes() == PHOTO
        await t.close()


async def test_missing_fragment_of_other_messages_asked_with_0x8003(tmp_path: Path) -> None:
    async with Gateway(make_config(tmp_path, session={"fragment_timeout": 0.3})) as gw:
        t = await Terminal().connect(gw.tcp_port)
        await t.login()
        from jt808.protocol.messages.tracking import BatchLocations

        batch = Packet(Header(0x0704, PHONE, 100, t.version), BatchLocations(0, [location(i) for i in range(40)]))
        parts = [jt808.encode(p) for p in split(batch, 500)]
        assert len(parts) >= 3
        await t.send_raw(parts[0])
        assert (await t.recv()).header.msg_id == 0x8001
        ask = await t.recv(3)
        assert ask.header.msg_id == 0x8003 and ask.body.seq == 100
        assert ask.body.ids == list(range(2, len(parts) + 1))
        for f in parts[1:]:
            await t.send_raw(f)
            assert (await t.recv()).body.result == 0
        for _ in range(50):
            rows = await gw.storage.query_locations(PHONE)
            if len(rows) == 40:
                break
            await asyncio.sleep(0.02)
        assert len(rows) == 40 and all(r.batch for r in rows)
        await t.close()


async def test_udp_flow(gateway: Gateway) -> None:
    t = await UdpTerminal().connect(gateway.udp_port)
    await t.send(location())
    await t.expect_nothing()  # no service before authentication, on UDP as well
    await t.login()
    assert gateway.is_online(PHONE) and gateway.connection(PHONE).kind == "udp"
    assert (await t.heartbeat()).body.result == 0
    sn = t.sn
    ack = await t.request(location(3))
    assert (ack.body.seq, ack.body.id, ack.body.result) == (sn, 0x0200, 0)
    assert len(await gateway.storage.query_locations(PHONE)) == 1
    # a downlink to a UDP terminal waits for its next uplink (NAT mappings expire)
    task = asyncio.create_task(gateway.send(PHONE, TextMessage(flag=0, text="udp")))
    await t.expect_nothing(0.3)
    await t.send(jt808.protocol.messages.general.HeartBeat())
    got = [await t.recv(), await t.recv()]
    cmd = next(p for p in got if p.header.msg_id == 0x8300)
    assert cmd.body.text == "udp"
    await t.answer(cmd)
    assert (await task).body.result == 0
    # batch locations and a multi-fragment photo, one datagram per frame
    from jt808.protocol.messages.tracking import BatchLocations

    assert (await t.request(BatchLocations(0, [location(10 + i) for i in range(3)]))).body.result == 0
    frames = photo_fragments(t, media_id=9)
    for f in frames[:-1]:
        await t.send_raw(f)
        assert (await t.recv()).header.msg_id == 0x8001
    await t.send_raw(frames[-1])
    done = await t.recv()
    assert done.header.msg_id == 0x8800 and done.body.retx_ids == []
    assert Path((await gateway.storage.query_media(PHONE))[0].path).read_bytes() == PHOTO
    assert len(await gateway.storage.query_locations(PHONE)) == 4
    # bad datagrams are rejected and the next one is served
    await t.send_raw(b"\x7e\x00\x02\x00\x7e")
    assert (await t.heartbeat()).body.result == 0
    await t.close()


async def test_udp_new_address_must_authenticate_then_takes_over(gateway: Gateway) -> None:
    t = await UdpTerminal().connect(gateway.udp_port)
    code = await t.register()
    assert (await t.authenticate(code)).body.result == 0
    t2 = await UdpTerminal().connect(gateway.udp_port)  # new source port: NAT rebinding (or a spoofer)
    t2.sn = 100
    await t2.send(jt808.protocol.messages.general.HeartBeat())
    await t2.expect_nothing()  # not served: this address has not authenticated
    assert (await t.heartbeat()).body.result == 0  # the session stays with the address that authenticated
    assert (await t2.authenticate(code)).body.result == 0  # the device re-authenticates from its new address
    assert (await t2.heartbeat()).body.result == 0
    assert gateway.connection(PHONE).peer.endswith(str(t2.transport.get_extra_info("sockname")[1]))
    await t.send(jt808.protocol.messages.general.HeartBeat())
    await t.expect_nothing()  # the old address lost the session, like a replaced TCP connection
    await t.close()
    await t2.close()


# -- HTTP hooks ----------------------------------------------------------------------------------
class HookService:
    """A tiny HTTP/1.1 server standing in for an external registry/auth service."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.codes: dict[str, str] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                path = lines[0].split()[1]
                length = next(int(x.split(":")[1]) for x in lines if x.lower().startswith("content-length"))
                body = json.loads(await reader.readexactly(length))
                self.requests.append((path, body))
                status, out = self.answer(path, body)
                data = json.dumps(out).encode()
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if path == "/registry":
            if body["license_number"] == "BANNED":
                return 200, {"code": 2}
            self.codes[body["phone"]] = code = "hook-" + body["phone"][-4:]
            return 200, {"code": 0, "authcode": code}  # EMQX's answer
        ok = self.codes.get(body["phone"]) == body["code"]  # EMQX's request keys
        return (200 if ok else 403), {}


@pytest.fixture
async def hooks() -> AsyncIterator[tuple[HookService, int]]:
    svc = HookService()
    server = await asyncio.start_server(svc.handle, "127.0.0.1", 0)
    yield svc, server.sockets[0].getsockname()[1]
    server.close()


async def test_http_hooks_decide_registration_and_auth(tmp_path: Path, hooks: tuple[HookService, int]) -> None:
    svc, port = hooks
    cfg = make_config(tmp_path, auth={"mode": "http", "registry_url": f"http://127.0.0.1:{port}/registry",
                                      "auth_url": f"http://127.0.0.1:{port}/auth"})
    async with Gateway(cfg) as gw:
        t = await Terminal().connect(gw.tcp_port)
        code = await t.register("浙A00001")
        assert code == "hook-5678"
        assert svc.requests[0] == ("/registry", {"phone": PHONE, "version": 2013, "province": 11, "city": 100,
                                                 "manufacturer": "ACME1", "model": "T808", "dev_id": "0000001",
                                                 "color": 1, "license_number": "浙A00001"})
        assert (await t.authenticate("wrong")).body.result == 1
        assert (await t.authenticate(code)).body.result == 0
        assert svc.requests[-1][0] == "/auth" and svc.requests[-1][1]["auth_code"] == code
        assert (await gw.storage.get_terminal(PHONE)).auth_code == code  # listed by the API too
        from jt808.protocol.messages.register import TerminalRegister

        t2 = await Terminal("013900000077").connect(gw.tcp_port)
        reply = await t2.request(TerminalRegister(1, 2, "M", "X", "1", 1, "BANNED"))
        assert reply.body.result == 2
        await t.close()
        await t2.close()


async def test_unreachable_hook_refuses(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, auth={"mode": "http", "registry_url": "http://127.0.0.1:9/registry",
                                      "auth_url": "http://127.0.0.1:9/auth", "hook_timeout": 1})
    async with Gateway(cfg) as gw:
        t = await Terminal().connect(gw.tcp_port)
        from jt808.protocol.messages.register import TerminalRegister

        reply = await t.request(TerminalRegister(1, 2, "M", "X", "1", 1, "A"))
        assert (reply.header.msg_id, reply.body.result) == (0x8100, 4)
        assert (await t.authenticate("x")).body.result == 1
        await t.close()


# -- PostgreSQL ----------------------------------------------------------------------------------
PG_URL = os.environ.get("JT808_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


async def test_storage_flow_on_postgresql(tmp_path: Path) -> None:
    schema = "gw_" + uuid.uuid4().hex[:8]
    cfg = make_config(tmp_path, storage={"db": f"{PG_URL}?schema={schema}"},
                      http={"enabled": True, "port": 0})
    try:
        async with Node(cfg) as node:
            gw = node.gateway
            assert type(gw.storage).__name__ == "PostgresStorage"
            t = await Terminal().connect(gw.tcp_port)
            code = await t.register()
            assert (await t.authenticate(code)).body.result == 0
            for i in range(3):
                assert (await t.request(location(i))).body.result == 0
            from jt808.protocol.messages.tracking import BatchLocations

            assert (await t.request(BatchLocations(0, [location(10 + i) for i in range(4)]))).body.result == 0
            frames = photo_fragments(t)
            for f in frames:
                await t.send_raw(f)
                await t.recv()
            rows = await gw.storage.query_locations(PHONE)
            assert len(rows) == 7
            assert (await gw.storage.get_terminal(PHONE)).auth_code == code
            media = await gw.storage.query_media(PHONE)
            assert Path(media[0].path).read_bytes() == PHOTO
            import httpx

            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}") as c:
                r = await c.get(f"/api/v1/terminals/{PHONE}/locations")
                assert (r.json()["count"], r.json()["total"]) == (7, 7)
            await t.close()
        # a new gateway on the same database: the code persisted
        async with Gateway(cfg) as gw2:
            t = await Terminal().connect(gw2.tcp_port)
            assert (await t.authenticate(code)).body.result == 0
            await t.close()
    finally:
        import asyncpg

        con = await asyncpg.connect(PG_URL)
        await con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await con.close()


async def test_sqlite_default_storage_persists_codes(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, storage={"db": ""})
    async with Gateway(cfg) as gw:
        assert type(gw.storage).__name__ == "SQLiteStorage"
        t = await Terminal().connect(gw.tcp_port)
        code = await t.register()
        await t.authenticate(code)
        assert (await t.request(location())).body.result == 0
        await t.close()
    assert (tmp_path / "data" / "jt808.db").exists()
    async with Gateway(cfg) as gw:
        t = await Terminal().connect(gw.tcp_port)
        assert (await t.authenticate(code)).body.result == 0
        assert len(await gw.storage.query_locations(PHONE)) == 1
        await t.close()


async def test_storage_off_still_authenticates(tmp_path: Path) -> None:
    async with Gateway(make_config(tmp_path, storage={"db": "none"})) as gw:
        assert gw.sink is None
        t = await Terminal().connect(gw.tcp_port)
        await t.login()
        assert (await t.request(location())).body.result == 0
        await t.close()

