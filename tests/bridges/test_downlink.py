"""Downlinks published on the dn topic reach the terminal; its reply comes back on the up topic;
invalid downlinks and timeouts publish error objects."""

from __future__ import annotations

import asyncio

import pytest

import jt808
from jt808 import V2013, V2019
from jt808.protocol.messages.params import ParametersReply, make_params
from jt808.protocol.messages.tracking import LocationQueryReply
from jt808.protocol.packet import decode_body

from .helpers import Terminal, Watcher, location, random_phone, until


def topics(phone: str) -> tuple[str, str, str]:
    base = f"jt808/{phone}/{phone}"
    return f"{base}/up", f"{base}/dn", f"{base}/status"


async def online(make_node, retained, version: jt808.Version = V2013, **sections):
    node = await make_node(**sections)
    phone = random_phone(version)
    up, dn, st = topics(phone)
    retained.add(st)
    t = await Terminal(phone, version).connect(node.port)
    await t.login()
    await until(lambda: node.bridge.subscribed(phone), what="the dn subscription")
    return node, t, up, dn


@pytest.mark.parametrize("version", [V2013, V2019], ids=["2013", "2019"])
async def test_set_parameters_8103(make_node, retained, version) -> None:
    _node, t, up, dn = await online(make_node, retained, version)
    async with Watcher(up) as w:
        await w.publish(dn, {"header": {"msg_id": 0x8103},
                             "body": {"length": 2, "params": [{"id": 0x0001, "value": 30},
                                                              {"id": 0x0013, "value": "10.0.0.1"}]}})
        cmd = await t.recv_id(0x8103)
        assert cmd.body.as_dict() == {0x0001: 30, 0x0013: "10.0.0.1"}
        assert cmd.header.phone == t.phone and cmd.header.version is version
        await t.answer(cmd)
        _, msg = await w.next(where=lambda tp, p: p.get("header", {}).get("msg_id") == 0x0001)
        assert msg["body"] == {"seq": cmd.header.msg_sn, "id": 0x8103, "result": 0}
    await t.close()


async def test_query_parameters_8104(make_node, retained) -> None:
    _node, t, up, dn = await online(make_node, retained)
    async with Watcher(up) as w:
        await w.publish(dn, {"header": {"msg_id": 0x8104}, "body": {}})
        cmd = await t.recv_id(0x8104)
        await t.send(ParametersReply(seq=cmd.header.msg_sn, params=make_params({0x0001: 60, 0x0029: 30})))
        _, msg = await w.next(where=lambda tp, p: p.get("header", {}).get("msg_id") == 0x0104)
        assert msg["body"]["seq"] == cmd.header.msg_sn
        assert {p["id"]: p["value"] for p in msg["body"]["params"]} == {0x0001: 60, 0x0029: 30}
    await t.close()


async def test_query_location_8201(make_node, retained) -> None:
    _node, t, up, dn = await online(make_node, retained)
    async with Watcher(up) as w:
        await w.publish(dn, {"header": {"msg_id": 0x8201}})
        cmd = await t.recv_id(0x8201)
        await t.send(LocationQueryReply(seq=cmd.header.msg_sn, location=location(3)))
        _, msg = await w.next(where=lambda tp, p: p.get("header", {}).get("msg_id") == 0x0201)
        assert msg["body"]["seq"] == cmd.header.msg_sn
        assert msg["body"]["params"]["latitude"] == 31_230_003
    await t.close()


async def test_long_downlink_is_sub_packaged(make_node, retained) -> None:
    _node, t, up, dn = await online(make_node, retained)
    text = "调度中心通知:" + "x" * 1500
    async with Watcher(up) as w:
        await w.publish(dn, {"header": {"msg_id": 0x8300}, "body": {"flag": 0x08, "text": text}})
        first = await t.recv_id(0x8300)
        frags = [first]
        while len(frags) < first.header.frag_total:
            frags.append(await t.recv_id(0x8300))
        assert first.header.frag_total == 2
        body, _, _ = decode_body(0x8300, V2013, b"".join(f.body.data for f in frags))
        assert body.text == text
        await t.answer(frags[-1])  # answering the last serial of the split counts too
        _, msg = await w.next(where=lambda tp, p: p.get("header", {}).get("msg_id") == 0x0001)
        assert msg["body"]["id"] == 0x8300 and msg["body"]["result"] == 0
    await t.close()


@pytest.mark.parametrize(("payload", "code", "words"), [
    (b"{not json", "bad_downlink", "not JSON"),
    ({"body": {}}, "bad_downlink", "header"),
    ({"header": {"msg_id": "0x8103"}}, "bad_downlink", "msg_id"),
    ({"header": {"msg_id": 0x0200}, "body": {}}, "bad_downlink", "not a platform message"),
    ({"header": {"msg_id": 0x8103}, "body": {"params": [{"id": 1, "value": "sixty"}]}}, "bad_downlink",
     "params[0].value"),
    ({"header": {"msg_id": 0x8300}, "body": {"flag": 999, "text": "hi"}}, "bad_downlink", "flag"),
], ids=["not-json", "no-header", "msg-id-string", "terminal-id", "bad-param", "byte-range"])
async def test_invalid_downlink_publishes_error(make_node, retained, payload, code, words) -> None:
    node, t, up, dn = await online(make_node, retained)
    async with Watcher(up) as w:
        await w.publish(dn, payload)
        _, msg = await w.next(where=lambda tp, p: "error" in p)
        assert msg["error"]["code"] == code
        assert words in msg["error"]["message"], msg
        assert msg["phone"] == t.phone and msg["node"] == node.bridge.node_id
        # the terminal got nothing and the node still serves it
        await t.send(location(1))
        _, msg = await w.next(where=lambda tp, p: p.get("header", {}).get("msg_id") == 0x0200)
    with pytest.raises(TimeoutError):
        await t.recv_id(0x8103, timeout=0.2)
    await t.close()


async def test_reply_timeout_publishes_error(make_node, retained) -> None:
    _node, t, up, dn = await online(make_node, retained, downlink={"retry_interval": 0.2, "max_retry_times": 1})
    async with Watcher(up) as w:
        await w.publish(dn, {"header": {"msg_id": 0x8201}})
        first = await t.recv_id(0x8201)
        again = await t.recv_id(0x8201)  # retried with the same serial
        assert again.header.msg_sn == first.header.msg_sn
        _, msg = await w.next(where=lambda tp, p: "error" in p)
        assert msg["error"]["code"] == "reply_timeout"
        assert msg["request"] == {"header": {"msg_id": 0x8201}}
    await t.close()


async def test_downlink_for_terminal_not_held_is_ignored(make_node, retained) -> None:
    node = await make_node()
    phone = random_phone()
    up, dn, _st = topics(phone)
    async with Watcher(up) as w:
        await w.publish(dn, {"header": {"msg_id": 0x8201}})
        with pytest.raises(TimeoutError):
            await w.next(timeout=0.4)
    assert node.bridge.downlinks == 0


async def test_unsubscribes_when_terminal_leaves(make_node, retained) -> None:
    node, t, up, dn = await online(make_node, retained)
    await t.close()
    await until(lambda: t.phone not in node.bridge._held and not node.bridge._unsub_todo, what="unsubscribe")
    await asyncio.sleep(0.1)  # the UNSUBSCRIBE reaches the broker
    async with Watcher(up) as w:
        await w.publish(dn, {"header": {"msg_id": 0x8201}})
        with pytest.raises(TimeoutError):
            await w.next(timeout=0.4)
    assert node.bridge.downlinks == 0


async def test_many_terminals_each_subscribed_and_published(make_node, retained) -> None:
    """250 terminals (more than one SUBSCRIBE packet's worth): every uplink lands on its own topic and a
    downlink reaches each terminal it is addressed to.

    It was flaky under load: it watched ``jt808/+/+/up`` on the shared broker, so any other gateway's
    uplinks (a benchmark, another test run) were decoded by the watcher first (and a payload that is not
    a JSON object failed the filter), and it waited 5 s per message. Now it watches its own 250 topics, waits
    for the SUBACKs and the messages as events, under one generous bound for the whole test."""
    node = await make_node()
    terms = []
    for _ in range(250):
        phone = random_phone()
        retained.add(f"jt808/{phone}/{phone}/status")
        terms.append(await Terminal(phone).connect(node.port))
    await asyncio.gather(*(t.login() for t in terms))
    await node.bridge.wait_subscribed([t.phone for t in terms], timeout=60)
    async with asyncio.timeout(120), Watcher(*(f"jt808/{t.phone}/{t.phone}/up" for t in terms)) as w:
        for t in terms:
            await t.send(location(1))
        seen: dict[str, int] = {}
        while len(seen) < 250:
            topic, msg = await w.next(timeout=120)
            assert topic == f"jt808/{msg['header']['phone']}/{msg['header']['phone']}/up"
            seen[msg["header"]["phone"]] = msg["header"]["msg_id"]
        assert set(seen) == {t.phone for t in terms} and set(seen.values()) == {0x0200}
        for t in terms[::25]:
            await w.publish(f"jt808/{t.phone}/{t.phone}/dn", {"header": {"msg_id": 0x8201}})
        for t in terms[::25]:
            assert (await t.recv_id(0x8201, timeout=120)).header.phone == t.phone
    await asyncio.gather(*(t.close() for t in terms))


async def test_downlink_on_the_topic_of_any_typed_phone_form(make_node, retained) -> None:
    """Issue 9 item 5: jt808/13912345678/…/dn and jt808/00000000013912345678/…/dn reach the terminal
    held as 0139…; the status and up topics use the canonical form."""
    node = await make_node()
    phone = "0" + "".join(random_phone()[1:])  # 12 digits, canonical
    short, long = phone.lstrip("0"), phone.rjust(20, "0")
    up, _dn, st = topics(phone)
    retained.add(st)
    t = await Terminal(long, V2019).connect(node.port)  # a 2019 terminal: 20 digits on the wire
    await t.login()
    await until(lambda: node.bridge.subscribed(phone), what="the dn subscription")
    async with Watcher(up) as w:
        for form in (short, long):
            await w.publish(f"jt808/{form}/{form}/dn", {"header": {"msg_id": 0x8201}})
            cmd = await t.recv_id(0x8201)
            await t.send(LocationQueryReply(seq=cmd.header.msg_sn, location=location(1)))
            _, msg = await w.next(where=lambda tp, p: p.get("header", {}).get("msg_id") == 0x0201)
            assert msg["body"]["seq"] == cmd.header.msg_sn
    await t.close()
