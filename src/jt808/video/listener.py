"""The media port: JT/T 1078 packets over TCP (a connection per camera channel, usually) and UDP
(datagrams, one or more packets each), parsed with :mod:`jt808.protocol.media1078` and handed to the
:class:`~jt808.video.streams.VideoHub` frame by frame."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any

from jt808.protocol.media1078 import FrameAssembler, MediaPacket, MediaParser
from jt808.video.streams import VideoHub

__all__ = ["MediaServer"]

log = logging.getLogger("jt808.video")

_UDP_PEERS = 4096  # remembered UDP senders (each has its own reassembly state)
_UDP_IDLE = 60.0


class _Feed:
    """Parser + assembler for one TCP connection or one UDP sender."""

    __slots__ = ("asm", "last", "parser", "peer", "server")

    def __init__(self, server: MediaServer, peer: str) -> None:
        self.server = server
        self.peer = peer
        self.parser = MediaParser()
        self.asm = FrameAssembler()
        self.last = time.monotonic()

    def packets(self, pkts: list[MediaPacket]) -> None:
        hub = self.server.hub
        asm = self.asm
        now = time.monotonic()
        self.last = now
        counts: dict[tuple[str, int], list[int]] = {}
        for p in pkts:
            lost, dropped = asm.lost, asm.frames_dropped
            f = asm.add(p)
            c = counts.get((p.sim, p.channel))
            if c is None:
                c = counts[(p.sim, p.channel)] = [0, 0, 0]
            c[0] += 1
            c[1] += asm.lost - lost
            c[2] += asm.frames_dropped - dropped
            if f is not None:
                hub.on_frame(f, now)
        for (sim, ch), (n, lost, dropped) in counts.items():
            hub.on_packets(sim, ch, n, lost, dropped)


class _TcpMedia(asyncio.Protocol):
    def __init__(self, server: MediaServer) -> None:
        self.server = server
        self.feed: _Feed | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.feed = _Feed(self.server, f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer))
        self.server.connections.add(self)
        log.info("media connect tcp %s", self.feed.peer)

    def data_received(self, data: bytes) -> None:
        feed = self.feed
        assert feed is not None
        try:
            pkts = feed.parser.feed(data)
            if pkts:
                feed.packets(pkts)
        except Exception:  # a bug must not take the listener down; the connection goes
            log.exception("media %s: unexpected error", feed.peer)
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self.feed is not None:
            self.server.account(self.feed)
            p = self.feed.parser
            log.info("media disconnect tcp %s: %d packets, %d bytes skipped as garbage, %d lost", self.feed.peer,
                     p.packets, p.garbage_bytes, self.feed.asm.lost)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _UdpMedia(asyncio.DatagramProtocol):
    def __init__(self, server: MediaServer) -> None:
        self.server = server
        self.feeds: dict[Any, _Feed] = {}

    def datagram_received(self, data: bytes, addr: Any) -> None:
        feed = self.feeds.get(addr)
        if feed is None:
            if len(self.feeds) >= _UDP_PEERS:
                self._expire()
            feed = self.feeds[addr] = _Feed(self.server, f"{addr[0]}:{addr[1]}")
        try:
            pkts = feed.parser.feed(data, final=True)
            feed.parser.end_datagram()
            if pkts:
                feed.packets(pkts)
        except Exception:
            log.exception("media %s: unexpected error", feed.peer)

    def _expire(self) -> None:
        now = time.monotonic()
        for addr, feed in list(self.feeds.items()):
            if now - feed.last > _UDP_IDLE:
                self.server.account(self.feeds.pop(addr))
        while len(self.feeds) >= _UDP_PEERS:
            self.server.account(self.feeds.pop(next(iter(self.feeds))))


class MediaServer:
    """TCP and UDP listeners on the media port."""

    def __init__(self, hub: VideoHub, host: str, port: int, udp: bool = True, idle: float = 60.0) -> None:
        self.hub = hub
        self.host = host
        self.port = port
        self.udp = udp
        self.connections: set[_TcpMedia] = set()
        self.tcp_port = self.udp_port = 0
        self._server: asyncio.base_events.Server | None = None
        self._udp: tuple[asyncio.DatagramTransport, _UdpMedia] | None = None
        self.closed_totals = {"packets": 0, "bytes": 0, "garbage_bytes": 0, "lost": 0, "frames": 0}
        self.idle = idle  # a TCP connection that brings no packet for this long is closed
        self._sweeper: asyncio.Task[None] | None = None
        self.idle_closed = 0

    async def bind(self) -> None:
        """Bind the TCP and UDP sockets (OSError when the port is taken); nothing is accepted yet."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _TcpMedia(self), self.host, self.port, reuse_address=True,
                                                start_serving=False)
        self.tcp_port = self._server.sockets[0].getsockname()[1]
        if self.udp:
            try:
                transport, proto = await loop.create_datagram_endpoint(
                    lambda: _UdpMedia(self), local_addr=(self.host, self.tcp_port),
                    family=socket.AF_INET6 if ":" in self.host else socket.AF_INET)
            except OSError:
                self._server.close()
                raise
            self._udp = (transport, proto)
            self.udp_port = transport.get_extra_info("sockname")[1]
        self.hub.media_tcp_port = self.tcp_port
        self.hub.media_udp_port = self.udp_port

    async def serve(self) -> None:
        assert self._server is not None
        await self._server.start_serving()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="jt808-media-sweep")
        log.info("media listening: tcp %s:%d udp %s", self.host, self.tcp_port,
                 f"{self.host}:{self.udp_port}" if self.udp_port else "-")

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self.idle / 4))
            now = time.monotonic()
            for c in list(self.connections):
                if c.feed is not None and now - c.feed.last > self.idle:
                    self.idle_closed += 1
                    log.info("media %s: no packet for %.0f s, closed", c.feed.peer, self.idle)
                    c.close()

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        if self._udp is not None:
            self._udp[0].close()
        for c in list(self.connections):
            c.close()
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 2)
            except TimeoutError:
                pass

    def account(self, feed: _Feed) -> None:
        t = self.closed_totals
        t["packets"] += feed.parser.packets
        t["bytes"] += feed.parser.bytes
        t["garbage_bytes"] += feed.parser.garbage_bytes
        t["lost"] += feed.asm.lost
        t["frames"] += feed.asm.frames

    def stats(self) -> dict[str, Any]:
        t = dict(self.closed_totals)
        feeds = [c.feed for c in self.connections if c.feed is not None]
        if self._udp is not None:
            feeds += list(self._udp[1].feeds.values())
        for f in feeds:
            t["packets"] += f.parser.packets
            t["bytes"] += f.parser.bytes
            t["garbage_bytes"] += f.parser.garbage_bytes
            t["lost"] += f.asm.lost
            t["frames"] += f.asm.frames
        t["connections"] = len(self.connections)
        return t
