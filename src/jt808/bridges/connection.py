"""One MQTT 5 connection on asyncio, its packets written and read by :mod:`mqtt5` (a sans-I/O codec in
Rust by aiomqtt's maintainer).

Why not a complete client library: the bridge keeps its own bounded buffer, in-flight window,
reconnection and resubscription (:mod:`jt808.bridges.mqtt`), so what it needs from a client is one
connection that writes many PUBLISH packets at once and hands every PUBACK back cheaply. Through
aiomqtt (paho underneath) each uplink cost ≈ 40 µs of the gateway's CPU (a message object, a lock,
properties, logging and one ``send`` per PUBLISH; three ``recv`` calls, a properties object and two
reason-code objects per PUBACK): a ceiling of ≈ 7,000 uplinks/s per process. Here the packets of a
burst go out in one write and the PUBACKs of one read are decoded from one buffer; the two packets of
every uplink — a PUBLISH without properties, its PUBACK — are written and read here without packet
objects (:func:`publish_bytes` and :meth:`MqttConnection.data_received`, each pinned to ``mqtt5`` by a
property test), everything else by ``mqtt5`` (BENCHMARKS.md, "MQTT bridge").

What this connection does itself: CONNECT / CONNACK (clean start, will, credentials, TLS through
asyncio), packet identifiers, SUBSCRIBE / UNSUBSCRIBE awaiting their acknowledgements, answering
incoming QoS 1 / 2 PUBLISH packets, keep-alive (PINGREQ; a silent broker closes the connection),
DISCONNECT. Outgoing QoS 1 messages are tracked in the ``inflight`` table its owner passes in.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import Callable
from typing import Any, cast

import mqtt5

__all__ = ["MqttConnection", "MqttError"]

_QOS = (mqtt5.QoS.AT_MOST_ONCE, mqtt5.QoS.AT_LEAST_ONCE, mqtt5.QoS.EXACTLY_ONCE)
_PINGREQ = mqtt5.PingReqPacket().write()
_PubAck = mqtt5.PubAckPacket
_Publish = mqtt5.PublishPacket


def _reason(e: OSError) -> str:
    """``connection refused`` rather than ``[Errno 111] Connect call failed ('127.0.0.1', 1)``."""
    if not isinstance(e, ssl.SSLError) and e.errno is not None and e.errno > 0:
        return os.strerror(e.errno).lower()
    return e.strerror or str(e) or type(e).__name__


_TOPICS_KEPT = 200_000  # topics whose bytes are kept (one per terminal's up topic)
_MAX_REMAINING = 268_435_455  # the largest remaining length MQTT can say (4 bytes of varint)


def _topic_bytes(topic: str) -> bytes:
    """A PUBLISH's topic name field: length (2 bytes) and UTF-8."""
    b = topic.encode()
    return len(b).to_bytes(2, "big") + b


def publish_bytes(topic: bytes, payload: bytes, qos: int, retain: bool, packet_id: int | None) -> tuple[bytes, ...]:
    """An MQTT 5 PUBLISH without properties, in pieces to be joined: fixed header, ``topic`` (as
    :func:`_topic_bytes` gives it), packet id (QoS 1 / 2) and an empty property length, payload. The same
    bytes as ``mqtt5.PublishPacket(...).write()`` (tests/bridges/test_codec_fast.py)."""
    var = b"\x00" if packet_id is None else packet_id.to_bytes(2, "big") + b"\x00"
    n = len(topic) + len(var) + len(payload)
    first = 0x30 | qos << 1 | retain
    if n < 0x80:
        fixed = bytes((first, n))
    elif n < 0x4000:
        fixed = bytes((first, n & 0x7F | 0x80, n >> 7))
    elif n <= _MAX_REMAINING:
        out = bytearray((first,))
        while n:
            out.append(n & 0x7F | (0x80 if n > 0x7F else 0))
            n >>= 7
        fixed = bytes(out)
    else:
        raise ValueError(f"a PUBLISH of {n} bytes is larger than MQTT allows")
    return fixed, topic, var, payload


class MqttError(ConnectionError):
    """The connection to the broker failed, was refused or was lost."""


class MqttConnection(asyncio.Protocol):
    """An open MQTT 5 connection; make it with :meth:`open`.

    ``on_message(packet)`` gets every incoming :class:`mqtt5.PublishPacket` (called from the event loop,
    must not block; the PUBACK is sent after it returns). ``on_ack(item, reason)`` gets the
    ``inflight`` entry of every acknowledged QoS 1 PUBLISH with its reason code (≥ 0x80: refused).
    ``closed`` is a future that gets an :class:`MqttError` when the connection ends for any reason."""

    def __init__(self, inflight: dict[int, Any], on_message: Callable[[mqtt5.PublishPacket], None],
                 on_ack: Callable[[Any, int], None], keepalive: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.inflight = inflight
        self.on_message = on_message
        self.on_ack = on_ack
        self.keepalive = keepalive
        self.timeout = timeout
        self.closed: asyncio.Future[None] = loop.create_future()
        self.connack: asyncio.Future[mqtt5.ConnAckPacket] = loop.create_future()
        self.receive_max = 65535
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._out: list[bytes] = []  # packets of the current burst (flush() writes them at once)
        self._topics: dict[str, bytes] = {}  # topic -> its PUBLISH topic field (validated once)
        self._mid = 0
        self._waiters: dict[int, asyncio.Future[Any]] = {}  # SUBACK / UNSUBACK by packet id
        self._last_in = loop.time()
        self._ping: asyncio.TimerHandle | None = None
        self._disconnecting = False
        self.disconnect_reason: int | None = None  # the reason code of the broker's DISCONNECT

    # -- opening and closing ----------------------------------------------------------------------
    @classmethod
    async def open(cls, host: str, port: int, connect: mqtt5.ConnectPacket, *, tls: ssl.SSLContext | None,
                   inflight: dict[int, Any], on_message: Callable[[mqtt5.PublishPacket], None],
                   on_ack: Callable[[Any, int], None], timeout: float = 10.0) -> MqttConnection:
        """Connect, send ``connect``, wait for a successful CONNACK (else :class:`MqttError`)."""
        loop = asyncio.get_running_loop()
        conn = cls(inflight, on_message, on_ack, connect.keep_alive, timeout)
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(lambda: conn, host, port, ssl=tls,
                                             server_hostname=host if tls is not None else None)
                assert conn.transport is not None
                conn.transport.write(connect.write())
                ack = await asyncio.shield(conn.connack)
        except TimeoutError:
            conn.abort()
            raise MqttError(f"no CONNACK from {host}:{port} within {timeout:g} s") from None
        except (OSError, ssl.SSLError) as e:
            conn.abort()
            raise MqttError(_reason(e)) from e
        if ack.reason_code != mqtt5.ConnAckReasonCode.SUCCESS:
            conn.abort()
            why = f": {ack.reason_str}" if ack.reason_str else ""
            raise MqttError(f"the broker refused the connection ({ack.reason_code.name.lower()}{why})")
        conn.receive_max = ack.receive_max
        if ack.server_keep_alive is not None:
            conn.keepalive = ack.server_keep_alive
        conn._schedule_ping()
        return conn

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    async def disconnect(self) -> None:
        """Send DISCONNECT (the broker then discards the will) after what is queued, and close."""
        if self.transport is None or self.transport.is_closing():
            return
        self._disconnecting = True
        self.flush()
        self.transport.write(mqtt5.DisconnectPacket().write())
        self.transport.close()
        with contextlib.suppress(MqttError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.closed), self.timeout)

    # -- asyncio.Protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream protocol's transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self._ping is not None:
            self._ping.cancel()
        why = MqttError("disconnected" if self._disconnecting else f"connection lost: {exc or 'closed by the broker'}")
        futures: list[asyncio.Future[Any]] = [self.closed, self.connack, *self._waiters.values()]
        for fut in futures:
            if not fut.done():
                fut.set_exception(why)
                fut.exception()  # retrieved: nobody may be waiting
        self._waiters.clear()

    def data_received(self, data: bytes) -> None:
        self._last_in = self._loop.time()
        buf = self._buf
        buf += data
        view = memoryview(buf)
        off = 0
        end = len(buf)
        read = mqtt5.read
        inflight, on_ack = self.inflight, self.on_ack
        try:
            while off < end:
                # fast path: a PUBACK without properties (40 02 id, or 40 03 id reason), the broker's
                # answer to each uplink; pinned to mqtt5.read by tests/bridges/test_codec_fast.py
                if buf[off] == 0x40 and off + 4 <= end and 2 <= buf[off + 1] <= 3:
                    n = 2 + buf[off + 1]
                    if off + n > end:
                        break
                    item = inflight.pop((buf[off + 2] << 8) | buf[off + 3], None)
                    if item is not None:
                        on_ack(item, buf[off + 4] if n == 5 else 0)
                    off += n
                    continue
                try:
                    packet, n = read(view[off:])
                except IndexError:  # incomplete
                    break
                off += n
                if type(packet) is _PubAck:
                    item = inflight.pop(packet.packet_id, None)
                    if item is not None:
                        on_ack(item, int(packet.reason_code))
                else:
                    self._handle(packet)
        except ValueError as e:  # malformed
            self._fail(f"malformed packet from the broker: {e}")
        finally:
            view.release()
            del buf[:off]

    def _fail(self, why: str) -> None:
        if not self.closed.done():
            self.closed.set_exception(MqttError(why))
            self.closed.exception()
        self.abort()

    def _handle(self, packet: Any) -> None:
        if isinstance(packet, _Publish):
            try:
                self.on_message(packet)
            finally:
                if packet.qos == _QOS[1] and packet.packet_id is not None:
                    self.write(_PubAck(packet.packet_id).write())
                elif packet.qos == _QOS[2] and packet.packet_id is not None:
                    self.write(mqtt5.PubRecPacket(packet.packet_id).write())
        elif isinstance(packet, (mqtt5.SubAckPacket, mqtt5.UnsubAckPacket)):
            fut = self._waiters.pop(packet.packet_id, None)
            if fut is not None and not fut.done():
                fut.set_result(packet.reason_codes)
        elif isinstance(packet, mqtt5.PubRelPacket):
            self.write(mqtt5.PubCompPacket(packet.packet_id).write())
        elif isinstance(packet, mqtt5.ConnAckPacket):
            if not self.connack.done():
                self.connack.set_result(packet)
        elif isinstance(packet, mqtt5.DisconnectPacket):
            self.disconnect_reason = int(packet.reason_code)
            why = f": {packet.reason_str}" if packet.reason_str else ""
            self._fail(f"the broker disconnected ({packet.reason_code.name.lower()}{why})")
        # PINGRESP: its arrival was noted by data_received; PUBREC/PUBCOMP: the bridge publishes QoS ≤ 1

    # -- keep-alive ---------------------------------------------------------------------------------
    def _schedule_ping(self) -> None:
        if self.keepalive > 0:
            self._ping = self._loop.call_later(self.keepalive / 2, self._keep_alive)

    def _keep_alive(self) -> None:
        if self._loop.time() - self._last_in > self.keepalive * 1.5:
            self._fail(f"the broker has been silent for {self.keepalive * 1.5:g} s")
            return
        self.write(_PINGREQ)
        self._schedule_ping()

    # -- writing ------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self._out:
            self.flush()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def flush(self) -> None:
        """Write the packets queued by :meth:`publish` in one go."""
        out = self._out
        if out:
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(b"".join(out))
            out.clear()

    def _next_id(self) -> int:
        mid = self._mid
        inflight, waiters = self.inflight, self._waiters
        while True:
            mid = mid % 65535 + 1
            if mid not in inflight and mid not in waiters:
                self._mid = mid
                return mid

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool, item: Any,
                extra: dict[str, Any] | None = None) -> None:
        """Queue a PUBLISH (written by :meth:`flush`); a QoS 1 / 2 one is put in ``inflight`` as
        ``item`` until its acknowledgement. ``extra``: further :class:`mqtt5.PublishPacket` fields
        (response_topic, correlation_data, user_properties). Raises ValueError for what MQTT cannot carry.

        Without ``extra`` (every uplink) the packet is laid out here from the topic's bytes, validated and
        kept once per topic (:func:`publish_bytes`, pinned to ``mqtt5.PublishPacket.write`` by
        tests/bridges/test_codec_fast.py): ≈ 1 µs less per uplink than building a PublishPacket."""
        if extra is None:
            head = self._topics.get(topic)
            if head is None:
                _Publish(topic, b"")  # raises ValueError for a topic MQTT cannot carry
                if len(self._topics) >= _TOPICS_KEPT:
                    self._topics.clear()
                head = self._topics[topic] = _topic_bytes(topic)
            if qos:
                mid = self._next_id()
                self._out.extend(publish_bytes(head, payload, qos, retain, mid))
                self.inflight[mid] = item
            else:
                self._out.extend(publish_bytes(head, payload, 0, retain, None))
            return
        if qos:
            mid = self._next_id()
            packet = _Publish(topic, payload, qos=_QOS[qos], retain=retain, packet_id=mid, **extra)
            self._out.append(packet.write())
            self.inflight[mid] = item
        else:
            self._out.append(_Publish(topic, payload, retain=retain, **extra).write())

    async def _request(self, build: Callable[[int], Any]) -> list[Any]:
        mid = self._next_id()
        fut: asyncio.Future[list[Any]] = self._loop.create_future()
        self._waiters[mid] = fut
        self.write(build(mid).write())
        try:
            return await asyncio.wait_for(fut, self.timeout)
        except TimeoutError:
            self._fail(f"no acknowledgement from the broker within {self.timeout:g} s")
            raise MqttError(f"no acknowledgement from the broker within {self.timeout:g} s") from None
        finally:
            self._waiters.pop(mid, None)

    async def subscribe(self, filters: list[mqtt5.TopicFilter]) -> list[Any]:
        """SUBSCRIBE; returns the SUBACK's reason codes (one per filter)."""
        return await self._request(lambda mid: mqtt5.SubscribePacket(mid, filters))

    async def unsubscribe(self, patterns: list[str]) -> list[Any]:
        return await self._request(lambda mid: mqtt5.UnsubscribePacket(mid, patterns))
