"""The bridge's MQTT connection against a strict broker: one that enforces its Receive Maximum
(DISCONNECT 0x93 when a client has more QoS 1 messages unacknowledged) and refuses some topics in its
PUBACKs. Mosquitto does neither for QoS 1, so this broker is a small MQTT 5 peer written with the same
``mqtt5`` codec, on its own loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import mqtt5
import pytest

import jt808
from jt808 import Header, Packet
from jt808.bridges.mqtt import MqttBridge
from jt808.config import MqttConfig
from jt808.protocol.registry import DEFAULT_PROFILE

from .helpers import location, until

pytestmark = pytest.mark.timeout(30)

RECEIVE_MAX = 5


class StrictBroker:
    """Acks every PUBLISH 5 ms after it came; disconnects a client that has more than RECEIVE_MAX
    unacknowledged (0x93); refuses topics containing ``deny`` (PUBACK 0x87)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []  # accepted PUBLISH packets, in order
        self.connections = 0
        self.max_outstanding: list[int] = []  # per connection
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        n = len(self.max_outstanding)
        self.max_outstanding.append(0)
        outstanding: set[int] = set()
        loop = asyncio.get_running_loop()
        buf = b""

        def ack(pid: int, reason: Any) -> None:
            if pid in outstanding and not writer.is_closing():
                outstanding.discard(pid)
                writer.write(mqtt5.PubAckPacket(pid, reason_code=reason).write())

        try:
            while data := await reader.read(1 << 16):
                buf += data
                while buf:
                    try:
                        packet, used = mqtt5.read(memoryview(buf))
                    except IndexError:
                        break
                    buf = buf[used:]
                    if isinstance(packet, mqtt5.ConnectPacket):
                        writer.write(mqtt5.ConnAckPacket(receive_max=RECEIVE_MAX).write())
                    elif isinstance(packet, mqtt5.SubscribePacket):
                        codes = [mqtt5.SubAckReasonCode.GRANTED_QOS_AT_LEAST_ONCE] * len(packet.topic_filters)
                        writer.write(mqtt5.SubAckPacket(packet.packet_id, codes).write())
                    elif isinstance(packet, mqtt5.PublishPacket) and packet.packet_id is not None:
                        outstanding.add(packet.packet_id)
                        self.max_outstanding[n] = max(self.max_outstanding[n], len(outstanding))
                        if len(outstanding) > RECEIVE_MAX:
                            writer.write(mqtt5.DisconnectPacket(
                                reason_code=mqtt5.DisconnectReasonCode.RECEIVE_MAX_EXCEEDED).write())
                            writer.close()
                            return
                        refused = "deny" in packet.topic
                        if not refused:
                            self.received.append((packet.topic, packet.payload))
                        reason = mqtt5.PubAckReasonCode.NOT_AUTHORIZED if refused else mqtt5.PubAckReasonCode.SUCCESS
                        loop.call_later(0.005, ack, packet.packet_id, reason)
                    elif isinstance(packet, mqtt5.PingReqPacket):
                        writer.write(mqtt5.PingRespPacket().write())
                    elif isinstance(packet, mqtt5.DisconnectPacket):
                        return
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)


class StubGateway:
    """What the bridge asks of a gateway when no terminal is connected."""

    sessions = ()
    profile = DEFAULT_PROFILE

    def is_online(self, phone: str) -> bool:
        return False


def _uplink(phone: str, sn: int) -> Packet:
    return jt808.decode(jt808.encode(Packet(Header(0x0200, phone, sn), location(sn))))


async def test_window_falls_back_to_an_enforced_receive_maximum_and_refusals_are_counted(caplog) -> None:
    broker = StrictBroker()
    port = await broker.start()
    cfg = MqttConfig()
    cfg.url = f"mqtt://127.0.0.1:{port}"
    cfg.client_id = "strict-${random}"
    bridge = MqttBridge(StubGateway(), cfg)
    try:
        await bridge.start()
        assert bridge.connected and not bridge.respect_receive_max
        phone = "013800000001"
        for sn in range(200):
            bridge.on_uplink(phone, _uplink(phone, sn))
        for sn in range(3):
            bridge._enqueue(f"jt808/deny/{sn}", b"{}", False)
        await until(lambda: bridge.published + bridge.refused >= 204 and not bridge.buffered, timeout=20,
                    what="every message acknowledged")
        # the first connection sent more than the broker allows, was cut (0x93), and the bridge went on
        # within the broker's limit, publishing what was unacknowledged again
        assert broker.connections == 2
        assert broker.max_outstanding[0] > RECEIVE_MAX
        assert broker.max_outstanding[1] <= RECEIVE_MAX
        assert bridge.respect_receive_max
        assert any("enforces its Receive Maximum" in r.getMessage() for r in caplog.records)
        # every uplink arrived (at least once), in order once the duplicates of the cut are removed
        sns = [json.loads(p)["header"]["msg_sn"] for t, p in broker.received if t == f"jt808/{phone}/{phone}/up"]
        firsts = list(dict.fromkeys(sns))
        assert firsts == list(range(200))
        # refused by the broker: counted, not retried
        assert bridge.refused == 3
        assert bridge.stats()["refused"] == 3
    finally:
        await bridge.stop(timeout=2)
        await broker.stop()
