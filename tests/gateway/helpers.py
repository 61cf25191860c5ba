"""Test terminals written with the codec (TCP and UDP) and a gateway configuration for loopback tests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import jt808
from jt808 import V2013, Header, Packet
from jt808.config import Config
from jt808.protocol.framing import FrameSplitter
from jt808.protocol.messages.general import HeartBeat, TerminalGeneralReply
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.register import TerminalAuth, TerminalRegister
from jt808.protocol.spec import Body

PHONE = "013912345678"


def location(i: int = 0, **kw: Any) -> LocationReport:
    loc = LocationReport(alarm=0, status=0x000C0003, latitude=31_230_000 + i, longitude=121_470_000 + i,
                         altitude=12, speed=600 + i, direction=90, time=f"2403{10 + i % 18:02d}120000",
                         extras=[(0x01, 1000 + i), (0x30, 20)])
    for k, v in kw.items():
        setattr(loc, k, v)
    return loc


def make_config(tmp_path: Path, **sections: dict[str, Any]) -> Config:
    cfg = Config()
    cfg.data_dir = tmp_path / "data"
    cfg.server.host = "127.0.0.1"
    cfg.server.port = 0
    cfg.video.port = 0
    cfg.http.enabled = False
    cfg.storage.db = "memory"
    cfg.storage.batch_max_delay = 0.002
    for section, values in sections.items():
        for k, v in values.items():
            cfg.set(section, k, v)
    return cfg


class Terminal:
    """A terminal over TCP: sends bodies, reads decoded packets."""

    def __init__(self, phone: str = PHONE, version: jt808.Version = V2013) -> None:
        self.phone = phone
        self.version = version
        self.sn = 0
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.splitter = FrameSplitter()
        self.frames: list[bytes] = []

    async def connect(self, port: int, source: str | None = None) -> Terminal:
        """``source``: the local address to connect from (127.0.0.0/8 offers many; 127.0.0.1 is exempt from
        the per-address limits by default)."""
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port,
                                                                 local_addr=(source, 0) if source else None)
        return self

    def frame(self, body: Body, **header: Any) -> bytes:
        sn = header.pop("msg_sn", None)
        if sn is None:
            sn = self.sn
            self.sn = (self.sn + 1) & 0xFFFF
        return jt808.encode(Packet(Header(body.msg_id, self.phone, sn, self.version, **header), body))

    async def send_raw(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)
        await self.writer.drain()

    async def send(self, body: Body, **header: Any) -> int:
        sn = header.get("msg_sn", self.sn)
        await self.send_raw(self.frame(body, **header))
        return sn

    async def recv(self, timeout: float = 3.0) -> Packet:
        assert self.reader is not None
        while not self.frames:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("server closed the connection")
            self.frames.extend(self.splitter.feed(data))
        return jt808.decode(self.frames.pop(0))

    async def expect_nothing(self, within: float = 0.3) -> None:
        with pytest.raises(TimeoutError):
            p = await self.recv(within)
            raise AssertionError(f"expected no message, got {p!r}")

    async def request(self, body: Body, **header: Any) -> Packet:
        await self.send(body, **header)
        return await self.recv()

    async def register(self, plate: str = "京A12345") -> str:
        reply = await self.request(TerminalRegister(province=11, city=100, manufacturer="ACME1", model="T808",
                                                    dev_id="0000001", color=1, license_number=plate))
        assert reply.header.msg_id == 0x8100, reply
        assert reply.body.result == 0, reply
        return reply.body.auth_code

    async def authenticate(self, code: str) -> Packet:
        kw: dict[str, Any] = {"code": code}
        if self.version is jt808.V2019:
            kw.update(imei="123456789012345", software_version="1.0")
        return await self.request(TerminalAuth(**kw))

    async def login(self) -> None:
        code = await self.register()
        reply = await self.authenticate(code)
        assert reply.body.result == 0, reply

    async def heartbeat(self) -> Packet:
        return await self.request(HeartBeat())

    async def answer(self, packet: Packet, result: int = 0) -> None:
        await self.send(TerminalGeneralReply(seq=packet.header.msg_sn, id=packet.header.msg_id, result=result))

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (ConnectionError, OSError):
                pass


class UdpTerminal(Terminal):
    """The same terminal over UDP: one datagram per frame."""

    async def connect(self, port: int, source: str | None = None) -> UdpTerminal:
        loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        outer = self

        class _P(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                outer.queue.put_nowait(data)

        self.transport, _ = await loop.create_datagram_endpoint(_P, remote_addr=("127.0.0.1", port),
                                                                local_addr=(source, 0) if source else None)
        return self

    async def send_raw(self, data: bytes) -> None:
        self.transport.sendto(data)

    async def recv(self, timeout: float = 3.0) -> Packet:
        while not self.frames:
            data = await asyncio.wait_for(self.queue.get(), timeout)
            self.frames.extend(self.splitter.feed(data))
        return jt808.decode(self.frames.pop(0))

    async def close(self) -> None:
        self.transport.close()
