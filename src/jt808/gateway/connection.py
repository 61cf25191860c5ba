"""Thin asyncio adapters over :class:`~jt808.session.platform.PlatformSession`.

TCP: one :class:`TcpConnection` (an ``asyncio.Protocol``) per socket. Each read goes to the session
in one call (every frame of the read in one pass), the events go to the gateway, and whatever the
session queued is written once. No timer per connection: the gateway's sweeper calls
``session.handle_timer`` when ``session.get_timer()`` is due.

UDP: one :class:`UdpEndpoint` per listening socket; a terminal's "connection" is a
:class:`UdpConnection` bound to the phone **and** the source address that registered or authenticated
it. Only a successful 0x0100 or 0x0102 makes one (capped by ``limits.udp_sessions``): a datagram from
an address without a session is served like an unauthenticated terminal — only 0x0100/0x0102, decided
on a short-lived pending session (at most ``limits.udp_pending`` at once) — whatever phone it names.
When another address authenticates for a phone, its session takes over (the old one is closed, as a
TCP reconnect replaces the older connection); a refused attempt changes nothing of the existing session.
Replies go back at once; downlink commands are held and sent right after the terminal's next uplink
datagram, when its NAT mapping is certainly open.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, cast

from jt808.protocol.framing import unescape
from jt808.protocol.header import phone_of
from jt808.session.platform import PlatformSession

if TYPE_CHECKING:
    from jt808.gateway.downlink import Downlink
    from jt808.gateway.server import Gateway

__all__ = ["Connection", "TcpConnection", "UdpConnection", "UdpEndpoint"]

log = logging.getLogger("jt808.gateway")


class Connection(abc.ABC):
    """What the gateway needs of a terminal connection, whatever the transport."""

    if not TYPE_CHECKING:  # slotted at run time (subclasses list the slots); the annotations below are the contract
        __slots__ = ()
    kind = "?"
    gateway: Gateway
    session: PlatformSession
    peer: str
    connected_at: float
    downlink: Downlink | None
    closed: bool
    auth_failures: int
    bad_frames: int
    attempts: int  # 0x0100 + 0x0102 seen (limits.attempts_per_connection)
    deciding: int  # registration/authentication decisions in flight
    issued: tuple[str, str] | None  # (phone, code) a registration on this connection was given

    def _open(self, gateway: Gateway, peer: str) -> None:
        """The state every connection starts with (a new session, nothing decided yet)."""
        self.gateway = gateway
        self.session = gateway.new_session()
        self.peer = peer
        self.connected_at = time.time()
        self.downlink = None
        self.closed = False
        self.auth_failures = 0
        self.bad_frames = 0
        self.attempts = self.deciding = 0
        self.issued = None

    @property
    def phone(self) -> str:
        return self.session.phone

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Send bytes to the terminal."""

    def send_downlink(self, data: bytes) -> None:
        """Frames of a downlink command (TCP: now; UDP: after the next uplink)."""
        self.write(data)

    def flush(self) -> None:
        s = self.session
        if s._out:
            self.write(s.data_to_send())

    def settle(self, accepted: bool) -> None:
        """A registration or authentication was decided (``accepted``) or not taken up (UDP: a pending
        session becomes a real one, or is forgotten). Nothing to do for a TCP connection."""
        return None

    @abc.abstractmethod
    def close(self, reason: str) -> None:
        """Close the connection (the reason is logged)."""

    def info(self) -> dict[str, Any]:
        s = self.session
        return {"phone": s.phone, "transport": self.kind, "peer": self.peer, "version": int(s.version),
                "authenticated": s.authenticated, "connected_at": self.connected_at,
                "last_seen": s.last_seen + s.wall_offset,
                "rx_frames": s.rx_frames, "tx_frames": s.tx_frames, "rx_bytes": s.rx_bytes,
                "rejected": s.rejected}


class TcpConnection(asyncio.Protocol, Connection):
    __slots__ = ("_time", "attempts", "auth_failures", "bad_frames", "close_reason", "closed", "connected_at",
                 "deciding", "downlink", "gateway", "issued", "partial_since", "peer", "session", "transport")
    kind = "tcp"

    def __init__(self, gateway: Gateway) -> None:
        self._open(gateway, "?")
        self._time = gateway.loop.time
        self.transport: asyncio.Transport | None = None
        self.close_reason = ""
        self.partial_since: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream protocol's transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.gateway.connection_made(self)

    def data_received(self, data: bytes) -> None:
        s = self.session
        now = self._time()
        frames = s.rx_frames
        try:
            events = s.receive_data(data, now)
            if events:
                self.gateway.handle_events(self, events)
        except Exception:  # a bug must not take the connection down with it: log it with the bytes
            log.exception("phone=%s %s: unexpected error serving %d bytes: %s", s.phone or "?", self.peer,
                          len(data), data[:512].hex())
        if s._out and not self.closed:
            self.transport.write(s.data_to_send())  # type: ignore[union-attr]  # set by connection_made
        # read progress (slowloris): a started frame must be finished within limits.frame_timeout
        sp = s._splitter
        if sp is not None and sp.buffered:
            if self.partial_since is None or s.rx_frames != frames:
                self.partial_since = now
                self.gateway.guard.admission.partial(self, None)
                self.gateway.guard.admission.partial(self, now)
        elif self.partial_since is not None:
            self.partial_since = None
            self.gateway.guard.admission.partial(self, None)

    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def close(self, reason: str) -> None:
        if not self.close_reason:
            self.close_reason = reason
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reason = self.close_reason or (f"socket error: {exc}" if exc else "closed by the terminal")
        self.gateway.connection_lost(self, reason)

    def pause_writing(self) -> None:
        # the terminal does not read its answers: stop reading its uplinks until it does
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def eof_received(self) -> bool | None:
        if not self.close_reason:
            self.close_reason = "closed by the terminal"
        return None


class UdpConnection(Connection):
    """A terminal that talks UDP from one address; lives in the endpoint's tables until idle.

    ``pending``: made for a datagram from an address without a session, to decide its 0x0100 / 0x0102;
    it becomes a session (:meth:`settle` with ``accepted``) or is forgotten.
    """

    __slots__ = ("addr", "attempts", "auth_failures", "bad_frames", "closed", "connected_at", "deciding", "downlink",
                 "endpoint", "gateway", "held", "issued", "peer", "pending", "session")
    kind = "udp"

    def __init__(self, endpoint: UdpEndpoint, addr: Any, pending: bool = False) -> None:
        self._open(endpoint.gateway, f"{addr[0]}:{addr[1]}")
        self.endpoint = endpoint
        self.addr = addr
        self.pending = pending
        self.held: list[bytes] = []

    def write(self, data: bytes) -> None:
        t = self.endpoint.transport
        if not self.closed and t is not None:
            t.sendto(data, self.addr)

    def send_downlink(self, data: bytes) -> None:
        if data not in self.held:  # a retry of a command still held is not queued twice
            self.held.append(data)

    def datagram(self, data: bytes) -> None:
        s = self.session
        try:
            events = s.receive_datagram(data, self.gateway.loop.time())
            if events:
                self.gateway.handle_events(self, events)
        except Exception:
            log.exception("phone=%s %s: unexpected error serving a datagram of %d bytes: %s", s.phone or "?",
                          self.peer, len(data), data[:512].hex())
        out = s.data_to_send()
        if self.held and s.authenticated:
            out += b"".join(self.held)
            self.held.clear()
        if out and not self.closed:
            self.write(out)

    def settle(self, accepted: bool) -> None:
        if self.closed:
            return
        if not self.pending:  # a session made by a registration has now authenticated
            if accepted and self.session.authenticated:
                self.endpoint.by_phone[self.phone] = self
            return
        if accepted:
            self.endpoint.promote(self)
        elif not self.deciding:
            self.endpoint.discard(self)

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self.pending:
            self.endpoint.discard(self)
            return
        self.endpoint.forget(self)
        self.gateway.connection_lost(self, reason)


def peek_phone(data: bytes) -> str | None:
    """The phone of the first frame of a datagram (without decoding it), or ``None``: the header codec's
    :func:`~jt808.protocol.header.phone_of` on the unescaped start of the frame."""
    start = data.find(b"\x7e")
    if start < 0:
        return None
    head = data[start + 1:start + 1 + 48]
    end = head.find(b"\x7e")
    if end >= 0:
        head = head[:end]
    if b"\x7d" in head:
        try:
            head = unescape(head.rstrip(b"\x7d"))
        except ValueError:
            return None
    return phone_of(head)


class UdpEndpoint(asyncio.DatagramProtocol):
    """One UDP listening socket: sessions by source address (and by phone once authenticated), pending
    decisions by source address."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.transport: asyncio.DatagramTransport | None = None
        self.by_addr: dict[Any, UdpConnection] = {}
        self.by_phone: dict[str, UdpConnection] = {}
        self.pending: dict[Any, UdpConnection] = {}
        self.junk = 0
        limits = gateway.config.limits
        self.max_sessions = limits.udp_sessions
        self.max_pending = limits.udp_pending

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # a datagram protocol's transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        conn = self.by_addr.get(addr)
        if conn is not None:
            conn.datagram(data)
            return
        conn = self.pending.get(addr)
        if conn is None:
            phone = peek_phone(data)
            if phone is None:  # no frame header in it: nothing is made for junk
                self.junk += 1
                gw = self.gateway
                gw.guard.peer_log.log(logging.INFO, str(addr[0]), gw.loop.time(),
                                      "UDP junk from %s:%s: %d bytes without a JT/T 808 frame (%d so far)",
                                      addr[0], addr[1], len(data), self.junk)
                return
            counters = self.gateway.guard.counters
            if self.max_sessions and len(self.by_addr) >= self.max_sessions and phone not in self.by_phone:
                counters["udp_sessions_full"] += 1
                return
            if len(self.pending) >= self.max_pending:
                counters["udp_pending_full"] += 1
                return
            counters["udp_unbound"] += 1
            conn = UdpConnection(self, addr, pending=True)
            conn.datagram(data)
            if conn.deciding and not conn.closed:  # a registration/authentication is being decided
                self.pending[addr] = conn
            return
        conn.datagram(data)

    def promote(self, conn: UdpConnection) -> None:
        """A pending session was registered or authenticated: it is the address's session from now on."""
        if self.pending.get(conn.addr) is conn:
            del self.pending[conn.addr]
        conn.pending = False
        old = self.by_addr.get(conn.addr)
        if old is not None and old is not conn:
            old.close("replaced by a new session from the same address")
        self.by_addr[conn.addr] = conn
        if conn.session.authenticated:
            self.by_phone[conn.phone] = conn
        self.gateway.connection_made(conn, authenticating=conn.session.authenticated)

    def discard(self, conn: UdpConnection) -> None:
        if self.pending.get(conn.addr) is conn:
            del self.pending[conn.addr]
        conn.closed = True

    def forget(self, conn: UdpConnection) -> None:
        if self.by_addr.get(conn.addr) is conn:
            del self.by_addr[conn.addr]
        phone = conn.session.phone
        if phone and self.by_phone.get(phone) is conn:
            del self.by_phone[phone]

    def error_received(self, exc: Exception) -> None:
        log.warning("UDP socket error: %s", exc)

    def connections(self) -> list[UdpConnection]:
        return list(self.by_addr.values())
