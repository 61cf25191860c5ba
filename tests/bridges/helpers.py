"""Loopback helpers for the MQTT bridge tests: a codec-written TCP terminal, an MQTT watcher, a
cuttable TCP proxy in front of Mosquitto, gateway configurations."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import jt808
from jt808 import V2013, Header, Packet
from jt808.config import Config
from jt808.protocol.framing import FrameSplitter
from jt808.protocol.messages.general import TerminalGeneralReply
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.register import TerminalAuth, TerminalRegister
from jt808.protocol.spec import Body
from jt808.protocol.subpackage import encode_many

BROKER = ("127.0.0.1", 1883)


def random_phone(version: jt808.Version = V2013) -> str:
    digits = 20 if version is jt808.V2019 else 12
    return "0" + "".join(random.choice("0123456789") for _ in range(digits - 1))


def location(i: int = 0) -> LocationReport:
    return LocationReport(alarm=0, status=0x000C0003, latitude=31_230_000 + i, longitude=121_470_000 + i,
                          altitude=12, speed=600 + i % 100, direction=90, time="240310120000",
                          extras=[(0x01, 1000 + i), (0x30, 20)])


def make_config(tmp_path: Path, mqtt_url: str = "mqtt://127.0.0.1:1883", **sections: dict[str, Any]) -> Config:
    cfg = Config()
    cfg.data_dir = tmp_path / "data"
    cfg.server.host = "127.0.0.1"
    cfg.server.port = 0
    cfg.video.port = 0
    cfg.server.udp = False
    cfg.http.enabled = False
    cfg.storage.db = "memory"
    cfg.storage.batch_max_delay = 0.002
    cfg.mqtt.url = mqtt_url
    cfg.mqtt.client_id = "jt808-test-${random}"
    for section, values in sections.items():
        for k, v in values.items():
            cfg.set(section, k, v)
    return cfg


class Terminal:
    """A terminal over TCP written with the codec; it answers nothing by itself."""

    def __init__(self, phone: str, version: jt808.Version = V2013) -> None:
        self.phone = phone
        self.version = version
        self.sn = 0
        self.splitter = FrameSplitter()
        self.frames: list[bytes] = []
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, port: int) -> Terminal:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        return self

    def _next_sn(self) -> int:
        sn = self.sn
        self.sn = (self.sn + 1) & 0xFFFF
        return sn

    async def send(self, body: Body) -> int:
        sn = self._next_sn()
        assert self.writer is not None
        self.writer.write(jt808.encode(Packet(Header(body.msg_id, self.phone, sn, self.version), body)))
        await self.writer.drain()
        return sn

    async def send_split(self, body: Body, max_body: int) -> None:
        packet = Packet(Header(body.msg_id, self.phone, self.sn, self.version), body)
        frames = encode_many(packet, max_body=max_body)
        self.sn = (self.sn + len(frames)) & 0xFFFF
        assert self.writer is not None
        for f in frames:
            self.writer.write(f)
        await self.writer.drain()

    async def recv(self, timeout: float = 5.0) -> Packet:
        assert self.reader is not None
        while not self.frames:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("server closed the connection")
            self.frames.extend(self.splitter.feed(data))
        return jt808.decode(self.frames.pop(0))

    async def recv_id(self, msg_id: int, timeout: float = 5.0) -> Packet:
        """The next packet with ``msg_id`` (skipping others, e.g. 0x8001 acks)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            p = await self.recv(max(0.01, deadline - loop.time()))
            if p.header.msg_id == msg_id:
                return p

    async def request(self, body: Body) -> Packet:
        await self.send(body)
        return await self.recv()

    async def login(self, plate: str = "粤B12345") -> str:
        reply = await self.request(TerminalRegister(province=44, city=300, manufacturer="ACME1", model="T808",
                                                    dev_id="0000001", color=1, license_number=plate))
        assert reply.header.msg_id == 0x8100 and reply.body.result == 0, reply
        code = reply.body.auth_code
        await self.authenticate(code)
        return code

    async def authenticate(self, code: str, expect: int = 0) -> Packet:
        kw: dict[str, Any] = {"code": code}
        if self.version is jt808.V2019:
            kw.update(imei="123456789012345", software_version="1.0")
        reply = await self.request(TerminalAuth(**kw))
        assert reply.header.msg_id == 0x8001 and reply.body.result == expect, reply
        return reply

    async def answer(self, packet: Packet, result: int = 0) -> None:
        await self.send(TerminalGeneralReply(seq=packet.header.msg_sn, id=packet.header.msg_id, result=result))

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()


class Watcher:
    """An MQTT client connected straight to Mosquitto that collects messages of some topics."""

    def __init__(self, *topics: str) -> None:
        self.topics = topics
        self.messages: asyncio.Queue[tuple[str, Any, bool]] = asyncio.Queue()
        self.client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watcher:
        # a large receive maximum: Mosquitto queues at most 1000 QoS 1 messages per client behind its
        # in-flight window (20 by default) and drops the rest, which a burst after an outage exceeds
        props = Properties(PacketTypes.CONNECT)
        props.ReceiveMaximum = 65535
        self.client = aiomqtt.Client(*BROKER, identifier=f"jt808-watch-{random.randrange(1 << 30)}",
                                     protocol=aiomqtt.ProtocolVersion.V5, properties=props)
        await self.client.__aenter__()
        for t in self.topics:
            await self.client.subscribe(t, qos=1)
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.client is not None
        async for m in self.client.messages:
            payload: Any = m.payload
            try:
                payload = json.loads(m.payload)
            except (ValueError, TypeError):
                pass
            self.messages.put_nowait((m.topic.value, payload, bool(m.retain)))

    async def next(self, timeout: float = 5.0, *, where: Any = None) -> tuple[str, Any]:
        """The next (topic, payload) for which ``where(topic, payload)`` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            topic, payload, _ = await asyncio.wait_for(self.messages.get(), max(0.01, deadline - loop.time()))
            if where is None or where(topic, payload):
                return topic, payload

    async def publish(self, topic: str, payload: Any, retain: bool = False) -> None:
        assert self.client is not None
        data = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        await self.client.publish(topic, data, qos=1, retain=retain)

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.__aexit__(None, None, None)


async def until(predicate: Any, timeout: float = 5.0, what: str = "condition") -> None:
    """Poll ``predicate()`` until it holds (fails the test after ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def clear_retained(*topics: str) -> None:
    """Remove retained messages (Mosquitto here persists them): QoS 0 publishes, then one QoS 1
    publish, whose acknowledgement means the broker has handled the ones before it."""
    async with asyncio.timeout(20):
        async with aiomqtt.Client(*BROKER, identifier=f"jt808-clean-{random.randrange(1 << 30)}") as c:
            for t in topics:
                await c.publish(t, b"", qos=0, retain=True)
            await c.publish(topics[-1], b"", qos=1, retain=True)


class CutProxy:
    """A TCP proxy in front of the broker that can be cut (every connection dropped, new ones refused)
    and restored, to simulate a broker outage without touching the real broker."""

    def __init__(self, target: tuple[str, int] = BROKER) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._pairs: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.restored = asyncio.Event()  # set while the proxy is up

    def follow(self, bridge: Any) -> None:
        """The bridge's pause between two connection attempts ends as soon as this proxy is restored, so
        that a test waits for the reconnection itself, not for the backoff (which grows to seconds, more
        under load, while the test works through its outage)."""
        async def pause(delay: float) -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.restored.wait(), delay)

        bridge._before_reconnect = pause

    async def start(self, port: int = 0) -> CutProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port or self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.restored.set()
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._pairs.update((writer, uw))

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                w.close()

        for coro in (pipe(reader, uw), pipe(ur, writer)):
            task = asyncio.ensure_future(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def cut(self) -> None:
        """Drop every connection and stop listening."""
        self.restored.clear()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for w in list(self._pairs):
            w.transport.abort()
        self._pairs.clear()
        for t in list(self._tasks):
            t.cancel()
        if server is not None:
            await server.wait_closed()

    async def restore(self) -> None:
        await self.start(self.port)

    async def close(self) -> None:
        await self.cut()
