"""Uplinks through the real Mosquitto: EMQX topic layout and JSON, 2013 and 2019, status events,
merged sub-packages, multimedia with the saved file, GBK strings."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

import jt808
from jt808 import V2013, V2019
from jt808.bridges.mqtt import MqttBridge, parse_url
from jt808.config import ConfigError, MqttConfig
from jt808.protocol.messages.general import HeartBeat
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.media import MediaData
from jt808.protocol.messages.records import DriverIdentity

from .helpers import Terminal, Watcher, location, random_phone


def up(phone: str) -> str:
    return f"jt808/{phone}/{phone}/up"


def status(phone: str) -> str:
    return f"jt808/{phone}/{phone}/status"


@pytest.mark.parametrize("version", [V2013, V2019], ids=["2013", "2019"])
async def test_uplinks_published_as_emqx_json(make_node, retained, version: jt808.Version) -> None:
    node = await make_node()
    phone = random_phone(version)
    retained.add(status(phone))
    async with Watcher(up(phone), status(phone)) as w:
        t = await Terminal(phone, version).connect(node.port)
        await t.login()
        topic, ev = await w.next(where=lambda tp, p: tp == status(phone))
        assert ev["event"] == "connected" and ev["phone"] == phone and ev["node"] == node.bridge.node_id
        assert ev["version"] == int(version) and ev["transport"] == "tcp"

        sn = await t.send(HeartBeat())
        topic, msg = await w.next(where=lambda tp, p: tp == up(phone))
        assert msg["header"]["msg_id"] == 0x0002 and msg["header"]["msg_sn"] == sn
        assert msg["header"]["phone"] == phone and msg["body"] == {}
        assert ("proto_ver" in msg["header"]) == (version is V2019)

        sn = await t.send(location(7))
        topic, msg = await w.next(where=lambda tp, p: tp == up(phone))
        assert topic == up(phone)
        assert msg["header"] == jt808.to_json(jt808.decode(jt808.encode(jt808.Packet(
            jt808.Header(0x0200, phone, sn, version), location(7)))))["header"]
        body = msg["body"]
        assert (body["latitude"], body["longitude"], body["speed"], body["time"]) == \
            (31_230_007, 121_470_007, 607, "240310120000")
        assert body["extra"]["mileage"] == 1007 and body["extra"]["rssi"] == 20

        await t.close()
        topic, ev = await w.next(where=lambda tp, p: tp == status(phone) and p.get("event") == "disconnected")
        assert ev["phone"] == phone and ev["reason"]


async def test_connected_status_is_retained(make_node, retained) -> None:
    node = await make_node()
    phone = random_phone()
    retained.add(status(phone))
    t = await Terminal(phone).connect(node.port)
    await t.login()
    assert await node.bridge.wait_idle(5)
    async with Watcher(status(phone)) as w:  # subscribes after the event: gets the retained copy
        _, ev = await w.next()
        assert ev["event"] == "connected" and ev["phone"] == phone
    await t.close()


async def test_gbk_strings_decoded(make_node, retained) -> None:
    node = await make_node()
    phone = random_phone()
    retained.add(status(phone))
    async with Watcher(up(phone)) as w:
        t = await Terminal(phone).connect(node.port)
        await t.login()
        await t.send(DriverIdentity(status=1, time="240310120000", ic_result=0, driver_name="张三",
                                    certificate="A1234567890", organization="上海市交通委", cert_expiry="20301231"))
        _, msg = await w.next(where=lambda tp, p: p["header"]["msg_id"] == 0x0702)
        assert msg["body"]["driver_name"] == "张三"
        assert msg["body"]["organization"] == "上海市交通委"
        await t.close()


async def test_sub_packaged_media_published_once_with_file(make_node, retained) -> None:
    node = await make_node(mqtt={"publish_media_max": 4096})
    phone = random_phone()
    retained.add(status(phone))
    small = os.urandom(3000)
    big = os.urandom(9000)
    async with Watcher(up(phone)) as w:
        t = await Terminal(phone).connect(node.port)
        await t.login()
        for media_id, data in ((1, small), (2, big)):
            body = MediaData(id=media_id, type=0, format=0, event=1, channel=1, multimedia=data)
            await t.send_split(body, max_body=1000)  # 4 and 10 fragments
        msgs = []
        for _ in range(2):
            _, msg = await w.next(where=lambda tp, p: p["header"]["msg_id"] == 0x0801)
            msgs.append(msg)
        msgs.sort(key=lambda m: m["body"]["id"])
        first, second = msgs
        # one message per upload, not one per fragment
        assert "frag_total" not in first["header"] and "frag_total" not in second["header"]
        assert base64.b64decode(first["body"]["multimedia"]) == small
        assert first["body"]["size"] == 3000 and Path(first["body"]["file"]).read_bytes() == small
        assert "multimedia" not in second["body"] and second["body"]["multimedia_omitted"] is True
        assert second["body"]["size"] == 9000 and Path(second["body"]["file"]).read_bytes() == big
        await t.close()
    with pytest.raises(TimeoutError):  # no stray fragment messages
        await w.next(timeout=0.3, where=lambda tp, p: p["header"]["msg_id"] == 0x0801)


async def test_terminal_general_reply_is_published(make_node, retained) -> None:
    node = await make_node()
    phone = random_phone()
    retained.add(status(phone))
    async with Watcher(up(phone)) as w:
        t = await Terminal(phone).connect(node.port)
        await t.login()
        from jt808.protocol.messages.general import TerminalGeneralReply

        await t.send(TerminalGeneralReply(seq=5, id=0x8300, result=0))
        _, msg = await w.next(where=lambda tp, p: p["header"]["msg_id"] == 0x0001)
        assert msg["body"] == {"seq": 5, "id": 0x8300, "result": 0}
        await t.close()


async def test_uplinks_before_authentication_are_not_published(make_node, retained) -> None:
    node = await make_node()
    phone = random_phone()
    retained.add(status(phone))
    async with Watcher(up(phone)) as w:
        t = await Terminal(phone).connect(node.port)
        await t.send(LocationReport(alarm=0, status=0, latitude=1, longitude=2, altitude=0, speed=0,
                                    direction=0, time="240310120000"))
        with pytest.raises(TimeoutError):
            await w.next(timeout=0.5)
        await t.close()


def test_parse_url() -> None:
    assert parse_url("mqtt://127.0.0.1:1883") == ("127.0.0.1", 1883, False, None, None)
    assert parse_url("mqtts://u%40x:p%2Fw@broker") == ("broker", 8883, True, "u@x", "p/w")
    assert parse_url("broker.local:1884") == ("broker.local", 1884, False, None, None)
    assert parse_url("tcp://h") == ("h", 1883, False, None, None)
    with pytest.raises(ConfigError):
        parse_url("ws://h")
    with pytest.raises(ConfigError):
        parse_url("mqtt://")


def test_bridge_needs_a_url() -> None:
    with pytest.raises(ConfigError):
        MqttBridge(object(), MqttConfig(url=""))
    b = MqttBridge(object(), MqttConfig(url="mqtt://h", client_id="node-${pid}"))
    assert b.node_id == f"node-{os.getpid()}"
    assert MqttBridge(object(), MqttConfig(url="mqtt://h")).node_id.startswith("jt808-gateway-")
    assert b.state_topic == f"jt808/_nodes/node-{os.getpid()}/state"


async def test_custom_topic_templates_and_qos0(make_node, retained) -> None:
    node = await make_node(mqtt={"up_topic": "fleet/${phone}/up", "dn_topic": "fleet/${phone}/down",
                                 "status_topic": "fleet/${phone}/status", "qos": 0})
    phone = random_phone()
    retained.add(f"fleet/{phone}/status")
    retained.add(f"fleet/_nodes/{node.bridge.node_id}/state")
    assert node.bridge.state_topic == f"fleet/_nodes/{node.bridge.node_id}/state"
    async with Watcher(f"fleet/{phone}/up", f"fleet/{phone}/status") as w:
        t = await Terminal(phone).connect(node.port)
        await t.login()
        _, ev = await w.next(where=lambda tp, p: tp.endswith("/status"))
        assert ev["event"] == "connected"
        sn = await t.send(HeartBeat())
        _, msg = await w.next(where=lambda tp, p: tp.endswith("/up"))
        assert msg["header"]["msg_sn"] == sn
        from .helpers import until

        await until(lambda: node.bridge.subscribed(phone), what="the down subscription")
        await w.publish(f"fleet/{phone}/down", {"header": {"msg_id": 0x8201}})
        cmd = await t.recv_id(0x8201)
        assert cmd.header.phone == phone
        await t.close()


async def test_bridge_counters_in_prometheus_metrics(make_node, retained) -> None:
    node = await make_node()
    phone = random_phone(V2013)
    retained.add(status(phone))
    async with Watcher(up(phone)) as w:
        t = await Terminal(phone, V2013).connect(node.port)
        await t.login()
        await t.send(HeartBeat())
        await w.next(where=lambda tp, p: tp == up(phone))
        assert await node.bridge.wait_idle()
        text = node.gateway.metrics_text()
        assert "jt808_mqtt_connected 1" in text
        published = next(float(line.split()[-1]) for line in text.splitlines()
                         if line.startswith("jt808_mqtt_published_total "))
        assert published >= 1
        assert "jt808_mqtt_dropped_total 0" in text
        await t.close()
