"""Two gateway nodes (separate Gateway instances on their own ports, each with its own PostgreSQL pool
and MQTT connection) sharing the real PostgreSQL and the real Mosquitto: register on one node,
authenticate on the other; downlinks and HTTP commands reach the terminal wherever it is held."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from jt808.errors import DecodeError, ReplyTimeout
from jt808.gateway.errors import TerminalOffline
from jt808.protocol.messages.params import ParametersReply, make_params
from jt808.protocol.messages.tracking import LocationQueryReply

from .helpers import Terminal, Watcher, location, random_phone, until

PG = os.environ.get("JT808_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    schema = f"jt808_cluster_{uuid.uuid4().hex[:10]}"
    try:
        con = await asyncpg.connect(PG)
    except OSError as e:
        pytest.fail(f"PostgreSQL is not running on 127.0.0.1:5432 ({e})")
    await con.close()
    yield f"{PG}?schema={schema}"
    con = await asyncpg.connect(PG)
    try:
        await con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await con.close()


@pytest.fixture
async def cluster(make_node, pg_url):
    a = await make_node("a", storage={"db": pg_url}, http={"enabled": True, "port": 0},
                        downlink={"retry_interval": 0.5, "max_retry_times": 1})
    b = await make_node("b", storage={"db": pg_url}, downlink={"retry_interval": 0.5, "max_retry_times": 1})
    assert a.bridge.node_id != b.bridge.node_id
    return a, b


async def on_b_registered_through_a(a, b, retained) -> Terminal:
    phone = random_phone()
    retained.add(f"jt808/{phone}/{phone}/status")
    t = await Terminal(phone).connect(a.port)
    code = await t.login()
    await t.close()
    t = await Terminal(phone).connect(b.port)
    await t.authenticate(code)
    await until(lambda: b.bridge.subscribed(phone), what="B's dn subscription")
    await until(lambda: a.bridge.holder(phone) == b.bridge.node_id, what="A to learn that B holds it")
    return t


async def test_register_on_one_node_authenticate_on_the_other(cluster, retained) -> None:
    a, b = cluster
    phone = random_phone()
    retained.add(f"jt808/{phone}/{phone}/status")
    t = await Terminal(phone).connect(a.port)
    code = await t.login()
    await t.close()
    # a wrong code is refused on B, the right one accepted
    t = await Terminal(phone).connect(b.port)
    await t.authenticate(code + "x", expect=1)
    await t.authenticate(code)
    assert b.gateway.is_online(phone) and not a.gateway.is_online(phone)
    rec = await a.gateway.storage.get_terminal(phone)
    assert rec is not None and rec.auth_code == code and rec.license_number == "粤B12345"
    await t.close()


async def test_downlink_reaches_the_terminal_on_the_other_node(cluster, retained) -> None:
    a, b = cluster
    t = await on_b_registered_through_a(a, b, retained)
    base = f"jt808/{t.phone}/{t.phone}"
    async with Watcher(f"{base}/up") as w:
        await w.publish(f"{base}/dn", {"header": {"msg_id": 0x8104}})
        cmd = await t.recv_id(0x8104)
        await t.send(ParametersReply(seq=cmd.header.msg_sn, params=make_params({0x0001: 45})))
        _, msg = await w.next(where=lambda tp, p: p.get("header", {}).get("msg_id") == 0x0104)
        assert msg["body"]["params"] == [{"id": 1, "value": 45}]
    assert b.bridge.downlinks == 1 and a.bridge.downlinks == 0
    await t.close()


async def test_http_command_on_a_reaches_terminal_on_b(cluster, retained) -> None:
    a, b = cluster
    t = await on_b_registered_through_a(a, b, retained)
    url = f"http://127.0.0.1:{a.http_port}/api/v1/terminals/{t.phone}/commands"

    async def terminal() -> None:
        cmd = await t.recv_id(0x8201)
        await t.send(LocationQueryReply(seq=cmd.header.msg_sn, location=location(9)))
        cmd = await t.recv_id(0x8103)
        await t.answer(cmd, result=1)  # failure

    answering = asyncio.create_task(terminal())
    async with httpx.AsyncClient(timeout=15) as http:
        r = await http.post(url, json={"header": {"msg_id": 0x8201}, "body": {}})
        assert r.status_code == 200, r.text
        assert r.json()["reply"]["header"]["msg_id"] == 0x0201
        assert r.json()["reply"]["body"]["params"]["latitude"] == 31_230_009

        r = await http.post(url, json={"header": {"msg_id": 0x8103},
                                       "body": {"length": 1, "params": [{"id": 1, "value": 30}]}})
        assert r.status_code == 409, r.text
        assert r.json()["detail"]["result"] == 1
        await answering

        r = await http.post(url + "?timeout=1", json={"header": {"msg_id": 0x8201}})  # nobody answers
        assert r.status_code == 504, r.text

        r = await http.post(f"http://127.0.0.1:{a.http_port}/api/v1/terminals/{random_phone()}/commands",
                            json={"header": {"msg_id": 0x8201}})
        assert r.status_code == 404, r.text

        r = await http.post(url, json={"header": {"msg_id": 0x8300}, "body": {"flag": 1, "text": 5}})
        assert r.status_code == 400, r.text  # refused by node B, which holds the terminal
        assert "text" in r.json()["message"]
    # a command the holding node refuses as invalid
    with pytest.raises(DecodeError, match="value"):
        await a.bridge.remote_send(t.phone, {"header": {"msg_id": 0x8103},
                                             "body": {"params": [{"id": 1, "value": "x"}]}}, 2)
    await t.close()


async def test_newer_connection_on_another_node_replaces_the_older(cluster, retained) -> None:
    a, b = cluster
    phone = random_phone()
    retained.add(f"jt808/{phone}/{phone}/status")
    old = await Terminal(phone).connect(a.port)
    code = await old.login()
    await until(lambda: b.bridge.holder(phone) == a.bridge.node_id, what="B to learn that A holds it")
    new = await Terminal(phone).connect(b.port)
    await new.authenticate(code)
    await until(lambda: not a.gateway.is_online(phone), what="A to close the older connection")
    with pytest.raises((ConnectionError, TimeoutError)):
        while True:
            await old.recv(timeout=2)
    assert a.bridge.holder(phone) == b.bridge.node_id
    assert b.gateway.is_online(phone)
    await new.close()
    await old.close()


async def test_node_gone_means_offline(cluster, retained) -> None:
    a, b = cluster
    t = await on_b_registered_through_a(a, b, retained)
    await b.bridge.stop()
    await until(lambda: a.bridge.holder(t.phone) is None, what="A to see B's terminals offline")
    with pytest.raises(TerminalOffline):
        await a.bridge.remote_send(t.phone, {"header": {"msg_id": 0x8201}}, 1)
    await t.close()


async def test_remote_send_times_out_when_the_holder_is_silent(cluster, retained) -> None:
    a, b = cluster
    t = await on_b_registered_through_a(a, b, retained)
    with pytest.raises(ReplyTimeout):
        await a.bridge.remote_send(t.phone, {"header": {"msg_id": 0x8201}}, 0.5)
    await t.close()


async def test_restarted_node_clears_its_stale_statuses(make_node, retained) -> None:
    """A node that died holding terminals and comes back with the same client id publishes them as
    disconnected, so that other nodes stop routing commands to it."""
    phone = random_phone()
    status = f"jt808/{phone}/{phone}/status"
    retained.add(status)
    node_id = f"jt808-fixed-{uuid.uuid4().hex[:6]}"
    retained.add(f"jt808/_nodes/{node_id}/state")
    async with Watcher(status) as w:
        await w.publish(status, {"event": "connected", "phone": phone, "node": node_id,
                                 "time": "2026-01-01T00:00:00.000Z"}, retain=True)
        await w.next(where=lambda tp, p: p.get("event") == "connected")
        a = await make_node("a", mqtt={"client_id": node_id})
        _, ev = await w.next(where=lambda tp, p: p.get("event") == "disconnected")
        assert ev["node"] == node_id and "restarted" in ev["reason"]
        assert a.bridge.holder(phone) is None


async def test_node_learns_a_whole_fleet_from_retained_statuses(make_node, retained) -> None:
    """More retained statuses than a broker queues for a slow client by default (1000): the node asks
    for a large receive maximum, so none is dropped."""
    node_id = f"jt808-other-{uuid.uuid4().hex[:6]}"
    phones = [random_phone() for _ in range(1500)]
    topics = [f"jt808/{p}/{p}/status" for p in phones]
    retained.update(topics)
    async with Watcher() as w:
        for p, t in zip(phones, topics, strict=True):
            await w.publish(t, {"event": "connected", "phone": p, "node": node_id,
                                "time": "2026-01-01T00:00:00.000Z"}, retain=True)
    a = await make_node("a")
    await until(lambda: sum(a.bridge.holder(p) == node_id for p in phones) == 1500, timeout=20,
                what="every retained status")
