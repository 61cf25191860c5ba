"""Downlink commands through the HTTP API and gateway.send: replies, failures, timeouts, retries,
split commands, the in-flight window; plus the API's other routes, token and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jt808.errors import ReplyTimeout
from jt808.gateway import CommandFailed, DownlinkQueueFull, Gateway, TerminalOffline
from jt808.node import Node
from jt808.protocol.messages.general import QueryParameters
from jt808.protocol.messages.params import Param, ParametersReply
from jt808.protocol.messages.text import TextMessage

from .helpers import PHONE, Terminal, location, make_config


@pytest.fixture
async def api_node(tmp_path: Path) -> AsyncIterator[Node]:
    cfg = make_config(tmp_path, http={"enabled": True, "host": "127.0.0.1", "port": 0},
                      downlink={"retry_interval": 0.3, "max_retry_times": 1})
    async with Node(cfg) as node:
        yield node


@pytest.fixture
async def api_gateway(api_node: Node) -> Gateway:
    return api_node.gateway


@pytest.fixture
async def client(api_node: Node) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_node.http_port}", timeout=10) as c:
        yield c


async def online(gw: Gateway, phone: str = PHONE) -> Terminal:
    t = await Terminal(phone).connect(gw.tcp_port)
    await t.login()
    return t


async def test_command_through_http_answered_by_the_terminal(api_gateway: Gateway, client: httpx.AsyncClient) -> None:
    t = await online(api_gateway)

    async def terminal_side() -> None:
        cmd = await t.recv()
        assert cmd.header.msg_id == 0x8104
        await t.send(ParametersReply(seq=cmd.header.msg_sn, params=[Param(0x0001, 30), Param(0x0013, "gw.example")]))
        ack = await t.recv()
        assert (ack.body.id, ack.body.result) == (0x0104, 0)

    task = asyncio.create_task(terminal_side())
    r = await client.post(f"/api/v1/terminals/{PHONE}/commands", json={"header": {"msg_id": 0x8104}, "body": {}})
    await task
    assert r.status_code == 200, r.text
    reply = r.json()["reply"]
    assert reply["header"]["msg_id"] == 0x0104
    assert reply["body"]["length"] == 2
    # the command log has it
    for _ in range(50):
        cmds = await api_gateway.storage.query_commands(PHONE)
        if cmds and cmds[-1].status == "replied":
            break
        await asyncio.sleep(0.02)
    assert cmds[-1].msg_id == 0x8104 and cmds[-1].status == "replied" and cmds[-1].reply is not None
    await t.close()


async def test_general_reply_and_failure_and_timeout_and_offline(api_gateway: Gateway,
                                                                 client: httpx.AsyncClient) -> None:
    t = await online(api_gateway)
    url = f"/api/v1/terminals/{PHONE}/commands"
    text = {"header": {"msg_id": 0x8300}, "body": {"flag": 8, "text": "hello"}}

    async def answer(result: int) -> None:
        cmd = await t.recv()
        assert cmd.header.msg_id == 0x8300 and cmd.body.text == "hello"
        await t.answer(cmd, result)

    task = asyncio.create_task(answer(0))
    r = await client.post(url, json=text)
    await task
    assert r.status_code == 200 and r.json()["reply"]["body"] == {"seq": r.json()["reply"]["body"]["seq"],
                                                                 "id": 0x8300, "result": 0}
    task = asyncio.create_task(answer(1))
    r = await client.post(url, json=text)
    await task
    assert r.status_code == 409 and r.json()["error"] == "command_failed" and r.json()["detail"]["result"] == 1
    # no answer: sent, retried once 0.3 s later, then 504
    r = await client.post(url, json=text)
    assert r.status_code == 504 and r.json()["error"] == "reply_timeout"
    first, again = await t.recv(), await t.recv()
    assert first.header.msg_sn == again.header.msg_sn  # the retry is the same message
    r = await client.post("/api/v1/terminals/013999999999/commands", json=text)
    assert r.status_code == 404 and r.json()["error"] == "terminal_offline"
    r = await client.post(url, json={"header": {"msg_id": 0x8300}, "body": {"flag": "x"}})
    assert r.status_code == 400 and r.json()["error"] == "bad_command"
    await t.close()


async def test_retry_then_answer(api_gateway: Gateway) -> None:
    t = await online(api_gateway)
    send = asyncio.create_task(api_gateway.send(PHONE, TextMessage(flag=0, text="retry me")))
    first = await t.recv()
    again = await t.recv(2)  # ignored once: sent again after retry_interval
    assert again.header.msg_sn == first.header.msg_sn
    await t.answer(again)
    reply = await send
    assert reply is not None and reply.body.result == 0
    await t.close()


async def test_distinct_errors_from_send(api_gateway: Gateway) -> None:
    with pytest.raises(TerminalOffline):
        await api_gateway.send(PHONE, QueryParameters())
    t = await online(api_gateway)
    with pytest.raises(ReplyTimeout):
        await api_gateway.send(PHONE, QueryParameters(), timeout=0.2)
    task = asyncio.create_task(api_gateway.send(PHONE, TextMessage(flag=0, text="no")))
    cmd = await t.recv()
    while cmd.header.msg_id != 0x8300:
        cmd = await t.recv()
    await t.answer(cmd, 3)
    with pytest.raises(CommandFailed) as ei:
        await task
    assert ei.value.result == 3 and ei.value.reply.header.msg_id == 0x0001
    await t.close()


async def test_split_command_matched_on_any_serial(api_gateway: Gateway) -> None:
    t = await online(api_gateway)
    long_text = "长" * 1200  # 2400 GBK bytes: three fragments
    task = asyncio.create_task(api_gateway.send(PHONE, TextMessage(flag=0, text=long_text)))
    frags = [await t.recv() for _ in range(3)]
    assert [f.header.frag_sn for f in frags] == [1, 2, 3]
    assert [f.header.msg_sn for f in frags] == [frags[0].header.msg_sn + i for i in range(3)]
    # this terminal quotes the LAST fragment's serial (go-jt808 issue #13)
    await t.answer(frags[2])
    reply = await task
    assert reply.body.seq == frags[2].header.msg_sn
    await t.close()


async def test_window_and_bounded_queue(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, downlink={"max_inflight": 2, "queue_len": 1, "retry_interval": 5})
    async with Gateway(cfg) as gw:
        t = await online(gw)
        tasks = [asyncio.create_task(gw.send(PHONE, TextMessage(flag=0, text=str(i)))) for i in range(3)]
        await asyncio.sleep(0.05)
        with pytest.raises(DownlinkQueueFull):
            await gw.send(PHONE, TextMessage(flag=0, text="too many"))
        got = [await t.recv(), await t.recv()]
        assert [p.body.text for p in got] == ["0", "1"]
        await t.expect_nothing(0.2)  # the third waits for the window
        await t.answer(got[0])
        third = await t.recv()
        assert third.body.text == "2"
        await t.answer(got[1])
        await t.answer(third)
        assert [r.body.result for r in await asyncio.gather(*tasks)] == [0, 0, 0]
        await t.close()


async def test_disconnect_fails_pending_commands(api_gateway: Gateway) -> None:
    t = await online(api_gateway)
    task = asyncio.create_task(api_gateway.send(PHONE, TextMessage(flag=0, text="bye")))
    await t.recv()
    await t.close()
    with pytest.raises(TerminalOffline):
        await task


async def test_terminal_routes(api_gateway: Gateway, client: httpx.AsyncClient) -> None:
    t = await online(api_gateway)
    for i in range(3):
        await t.request(location(i))
    r = await client.get("/api/v1/terminals")
    assert r.status_code == 200
    items = r.json()["terminals"]
    assert [(x["phone"], x["online"], x["license_number"]) for x in items] == [(PHONE, True, "京A12345")]
    r = await client.get(f"/api/v1/terminals/{PHONE}")
    assert r.json()["online"] is True and r.json()["session"]["transport"] == "tcp"
    assert (await client.get("/api/v1/terminals/013000000000")).status_code == 404
    r = await client.get(f"/api/v1/terminals/{PHONE}/locations", params={"limit": 2})
    locs = r.json()["locations"]
    assert len(locs) == 2 and locs[0]["time"] < locs[1]["time"]  # newest two, oldest first
    r = await client.get(f"/api/v1/terminals/{PHONE}/locations",
                         params={"start": "2024-03-11T00:00:00+08:00", "end": "2024-03-11T23:59:59+08:00"})
    assert [x["latitude"] for x in r.json()["locations"]] == [pytest.approx(31.230001)]
    r = await client.get(f"/api/v1/terminals/{PHONE}/locations?start=&end=&limit=")
    assert r.status_code == 400 and r.json()["error"] == "bad_request"  # limit must be a number
    assert r.json()["detail"][0]["field"] == "limit"
    r = await client.get(f"/api/v1/terminals/{PHONE}/locations?start=&end=")
    assert r.json()["count"] == 3
    r = await client.get(f"/api/v1/terminals/{PHONE}/locations", params={"start": "1710086400", "end": "1710172799"})
    assert r.json()["count"] == 1  # 2024-03-10T16:00Z .. 2024-03-11T15:59:59Z = March 11 in GMT+8
    assert (await client.get(f"/api/v1/terminals/{PHONE}/locations", params={"start": "soon"})).status_code == 400
    await t.close()
    for _ in range(50):
        if not api_gateway.is_online(PHONE):
            break
        await asyncio.sleep(0.02)
    assert (await client.get(f"/api/v1/terminals/{PHONE}")).json()["online"] is False


async def test_metrics_healthz_openapi(api_gateway: Gateway, client: httpx.AsyncClient) -> None:
    t = await online(api_gateway)
    await t.heartbeat()
    assert (await client.get("/healthz")).json()["status"] == "ok"
    text = (await client.get("/metrics")).text
    assert 'jt808_connections{transport="tcp"} 1' in text
    assert "jt808_online_terminals 1" in text
    assert 'jt808_authentications_total{result="ok"} 1' in text
    assert "# TYPE jt808_frames_received_total counter" in text
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/terminals/{phone}/commands" in spec["paths"]
    await t.close()


async def test_token_protects_the_api(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, http={"enabled": True, "port": 0, "token": "s3cret"})
    async with Node(cfg) as node, httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}") as c:
        assert (await c.get("/api/v1/terminals")).status_code == 401
        assert (await c.get("/api/v1/terminals", headers={"Authorization": "Bearer nope"})).status_code == 401
        assert (await c.get("/api/v1/terminals", headers={"Authorization": "Bearer s3cret"})).status_code == 200
        assert (await c.get("/healthz")).status_code == 200


async def test_command_routes_used_for_terminals_of_other_nodes(api_gateway: Gateway,
                                                                client: httpx.AsyncClient) -> None:
    seen: list[Any] = []

    class Route:
        async def remote_send(self, phone: str, obj: Any, timeout: Any) -> Any:
            seen.append((phone, obj["header"]["msg_id"]))
            return {"header": {"msg_id": 1}, "body": {"seq": 0, "id": 0x8300, "result": 0}}

        async def remote_online(self) -> set[str]:
            return {"013900000009"}

    api_gateway.commands.add_route(Route())
    r = await client.post("/api/v1/terminals/013900000009/commands",
                          json={"header": {"msg_id": 0x8300}, "body": {"flag": 0, "text": "x"}})
    assert r.status_code == 200 and r.json()["reply"]["body"]["id"] == 0x8300
    assert seen == [("013900000009", 0x8300)]


async def test_command_to_a_2019_terminal(api_gateway: Gateway, client: httpx.AsyncClient) -> None:
    from jt808 import V2019

    phone = "00000000013912345678"
    t = await Terminal(phone, V2019).connect(api_gateway.tcp_port)
    await t.login()

    async def terminal_side() -> None:
        cmd = await t.recv()
        assert cmd.header.msg_id == 0x8300 and cmd.version is V2019 and cmd.body.text == "二〇一九"
        await t.answer(cmd)

    task = asyncio.create_task(terminal_side())
    r = await client.post(f"/api/v1/terminals/{phone}/commands",
                          json={"header": {"msg_id": 0x8300}, "body": {"flag": 8, "text_type": 1, "text": "二〇一九"}})
    await task
    assert r.status_code == 200, r.text
    assert r.json()["reply"]["header"]["proto_ver"] == 1 and r.json()["reply"]["body"]["result"] == 0
    await t.close()


async def test_quarantine_route(api_gateway: Gateway, client: httpx.AsyncClient) -> None:
    from datetime import UTC, datetime

    from jt808.storage import QuarantineRow

    when = datetime(2024, 5, 1, tzinfo=UTC)
    await api_gateway.storage.add_quarantine([
        QuarantineRow(PHONE, "location", 0x0200, 7, when, "StorageError: alarm refused", {"alarm": 1},
                      b"\x7e\x02\x00\x7e"),
        QuarantineRow("013911112222", "event", 0x0702, 8, when, "e", {})])
    all_rows = (await client.get("/api/v1/quarantine")).json()
    assert all_rows["count"] == 2
    mine = (await client.get("/api/v1/quarantine", params={"phone": PHONE[1:], "limit": 5})).json()
    assert mine["count"] == 1
    [row] = mine["rows"]
    assert (row["phone"], row["kind"], row["msg_id"], row["msg_sn"], row["frame"], row["row"]) == (
        PHONE, "location", 0x0200, 7, "7e02007e", {"alarm": 1})
    assert row["received_at"].startswith("2024-05-01T00:00:00") and row["quarantined_at"]
    assert (await client.get("/api/v1/quarantine", params={"phone": "12ab"})).status_code == 400
