"""The bridge's own MQTT fast paths against the ``mqtt5`` codec they stand in for: the bytes of a
PUBLISH without properties (:func:`jt808.bridges.connection.publish_bytes`) and the PUBACKs read
without building packet objects (:meth:`MqttConnection.data_received`)."""

from __future__ import annotations

import asyncio
from typing import Any

import mqtt5
from hypothesis import given, settings
from hypothesis import strategies as st

from jt808.bridges.connection import MqttConnection, _topic_bytes, publish_bytes

# topic names MQTT can carry: no wildcards, no NUL, not empty
topics = st.text(st.characters(blacklist_characters="+#\x00", blacklist_categories=("Cs",)), min_size=1,
                 max_size=60)
payloads = st.one_of(st.binary(max_size=300), st.binary(min_size=16_000, max_size=17_000))


@given(topic=topics, payload=payloads, qos=st.sampled_from([0, 1, 2]), retain=st.booleans(),
       packet_id=st.integers(1, 65535))
@settings(max_examples=300, deadline=None)
def test_publish_bytes_are_mqtt5s(topic: str, payload: bytes, qos: int, retain: bool, packet_id: int) -> None:
    pid = packet_id if qos else None
    want = mqtt5.PublishPacket(topic, payload, qos=mqtt5.QoS(qos), retain=retain, packet_id=pid).write()
    assert b"".join(publish_bytes(_topic_bytes(topic), payload, qos, retain, pid)) == want


def test_publish_bytes_lengths_at_the_varint_edges() -> None:
    for n in (0, 1, 127 - 8, 128 - 8, 16383 - 8, 16384 - 8, 2_097_151 - 8, 2_097_152 - 8):
        payload = b"x" * n
        want = mqtt5.PublishPacket("a/b", payload, qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=7).write()
        assert b"".join(publish_bytes(_topic_bytes("a/b"), payload, 1, False, 7)) == want


puback_reasons = st.sampled_from([getattr(mqtt5.PubAckReasonCode, name) for name in (
    "SUCCESS", "NO_MATCHING_SUBSCRIBERS", "UNSPECIFIED_ERROR", "IMPLEMENTATION_SPECIFIC_ERROR", "NOT_AUTHORIZED",
    "TOPIC_NAME_INVALID", "PACKET_ID_IN_USE", "QUOTA_EXCEEDED", "PAYLOAD_FORMAT_INVALID")])
pubacks = st.builds(lambda pid, reason, text: mqtt5.PubAckPacket(pid, reason_code=reason, reason_str=text),
                    st.integers(1, 40), puback_reasons, st.one_of(st.none(), st.text(max_size=8)))
others = st.sampled_from([mqtt5.PingRespPacket(),
                          mqtt5.SubAckPacket(60_000, [mqtt5.SubAckReasonCode.GRANTED_QOS_AT_LEAST_ONCE])])
streams = st.lists(st.one_of(pubacks, pubacks, pubacks, others), max_size=40)


def _connection(acks: list[tuple[Any, int]]) -> MqttConnection:
    async def make() -> MqttConnection:
        inflight = {pid: f"item{pid}" for pid in range(1, 41)}
        return MqttConnection(inflight, lambda p: None, lambda item, reason: acks.append((item, reason)), 0, 1.0)

    return asyncio.run(make())


@given(packets=streams, cuts=st.lists(st.integers(0, 2000), max_size=6))
@settings(max_examples=300, deadline=None)
def test_pubacks_read_as_mqtt5_reads_them(packets: list[Any], cuts: list[int]) -> None:
    data = b"".join(p.write() for p in packets)
    # what mqtt5.read says, packet by packet: each acknowledged id taken out of the in-flight table once
    want: list[tuple[Any, int]] = []
    pending = set(range(1, 41))
    off = 0
    while off < len(data):
        packet, n = mqtt5.read(data[off:])
        off += n
        if isinstance(packet, mqtt5.PubAckPacket) and packet.packet_id in pending:
            pending.discard(packet.packet_id)
            want.append((f"item{packet.packet_id}", int(packet.reason_code)))
    got: list[tuple[Any, int]] = []
    conn = _connection(got)
    points = sorted({c % (len(data) + 1) for c in cuts})
    for a, b in zip([0, *points], [*points, len(data)], strict=True):  # the stream cut into reads anywhere
        conn.data_received(data[a:b])
    assert got == want
    assert not conn._buf and not conn.closed.done()
