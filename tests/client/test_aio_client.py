"""The asyncio client against a real gateway: heartbeat, reconnection with re-authentication,
store-and-forward across a gateway restart, re-transmission, UDP."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from jt808.client import AsyncTerminal, ReportStore
from jt808.client.aio import Status
from jt808.client.store import batch_body
from jt808.errors import ReplyTimeout
from jt808.protocol.messages.location import LocationReport

PHONE = "13912345678"


def report(i: int) -> LocationReport:
    return LocationReport(status=3, latitude=31_000_000 + i, longitude=117_000_000 + i, speed=i,
                          time="220617082544", extras=[(0x01, i)])


async def wait_for(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def login(t: AsyncTerminal) -> str:
    await t.connect()
    reg = await t.register(34, 100, "QUEC", "EC200U", "T0001", 1, "皖A88888")
    assert reg.result == 0
    auth = await t.authenticate(reg.auth_code, "865306057798238", "1.0.0")
    assert auth.result == 0 and t.authenticated
    return reg.auth_code


@pytest.mark.parametrize("transport", ["tcp", "udp"])
@pytest.mark.parametrize("version", ["2013", "2019"])
async def test_basic_flow_and_heartbeat(gateway: Any, transport: str, version: str) -> None:
    t = AsyncTerminal("127.0.0.1", gateway.port, PHONE, version=version, transport=transport, timeout=2,
                      heartbeat_interval=0.1)
    try:
        await login(t)
        assert (await t.report_location(report(1))).result == 0
        # heartbeats start by themselves after authentication, at the configured interval
        await wait_for(lambda: len(gateway.recorder.of(0x0002)) >= 3, 5)
        assert t.status == Status.CONNECTED
    finally:
        await t.close()
    assert t.status == Status.DISCONNECTED


async def test_reconnects_and_reauthenticates(gateway: Any) -> None:
    t = AsyncTerminal("127.0.0.1", gateway.port, PHONE, version="2019", timeout=2, heartbeat_interval=0,
                      backoff_initial=0.05)
    try:
        code = await login(t)
        t.drop()  # the network fails
        await wait_for(lambda: t.reconnects == 1 and t.authenticated)
        assert t.auth_code == code
        assert (await t.report_location(report(2))).result == 0
        assert gateway.recorder.last(0x0200).body.latitude == 31_000_002
    finally:
        await t.close()


async def test_unanswered_request_is_retransmitted_then_times_out(gateway: Any) -> None:
    """A request to a port where nothing answers (UDP into the void) is sent 1 + retries times."""
    import socket

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setblocking(False)
    t = AsyncTerminal("127.0.0.1", sink.getsockname()[1], PHONE, transport="udp", timeout=0.05, retries=2,
                      reconnect=False)
    try:
        await t.connect()
        with pytest.raises(ReplyTimeout):
            await t.heartbeat()
        got = []
        while True:
            try:
                got.append(sink.recv(100))
            except BlockingIOError:
                break
        assert len(got) == 3 and len(set(got)) == 1  # the same frame (same serial) three times
    finally:
        await t.close()
        sink.close()


async def test_store_and_forward_across_a_gateway_restart(make_gateway: Any, tmp_path: Path) -> None:
    gw = make_gateway("gw")
    port = gw.port
    store = ReportStore(tmp_path / "store.db", limit=1000)
    t = AsyncTerminal("127.0.0.1", port, PHONE, version="2013", timeout=0.5, retries=1, heartbeat_interval=0,
                      backoff_initial=0.1, backoff_max=0.5, store=store)
    try:
        await login(t)
        assert (await t.report_location(report(0))).result == 0
        gw.stop()  # the platform goes away
        await wait_for(lambda: not t.connected)
        for i in range(1, 31):
            assert await t.report_location(report(i)) is None  # undeliverable: kept on disk
        assert store.count(PHONE.rjust(12, "0")) == 30 and t.stored == 30
        gw2 = make_gateway("gw", port=port)  # same data dir: the auth code is still known
        await wait_for(lambda: t.authenticated and store.count() == 0, 15)
        batches = gw2.recorder.of(0x0704)
        assert batches and all(b.body.type == 1 for b in batches)  # blind-area backfill
        got = [loc.latitude - 31_000_000 for b in batches for loc in b.body.locations]
        assert got == list(range(1, 31))  # all of them, oldest first, once
        assert t.forwarded == 30 and t.reconnects >= 1
        assert (await t.report_location(report(99))).result == 0  # live again
    finally:
        await t.close()
        store.close()


async def test_store_survives_a_client_restart(gateway: Any, tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = ReportStore(path)
    first.put("013912345678", b"x" * 10)
    first.close()
    again = ReportStore(path)
    assert again.peek("013912345678") and again.count() == 1
    again.close()


def test_store_is_bounded_and_batches_fit_one_frame(tmp_path: Path) -> None:
    s = ReportStore(tmp_path / "b.db", limit=5)
    for i in range(8):
        s.put("p", bytes([i]) * 100)
    assert s.count("p") == 5 and s.dropped == 3
    rows = s.peek("p", 100)
    assert [b[0] for _, b in rows] == [3, 4, 5, 6, 7]  # the oldest went first
    fit = s.peek("p", 100, max_bytes=3 + 2 * 102)
    assert len(fit) == 2
    body = batch_body([b for _, b in fit])
    assert body[:3] == b"\x00\x02\x01" and len(body) == 3 + 2 * 102
    s.delete([i for i, _ in fit])
    assert s.count("p") == 3
    s.close()


async def test_on_message_and_answer(gateway: Any) -> None:
    from jt808.protocol.messages.text import TextMessage

    got: list[Any] = []

    async def handler(packet: Any) -> None:
        got.append(packet)
        await t.answer(packet)

    t = AsyncTerminal("127.0.0.1", gateway.port, PHONE, version="2019", timeout=2, heartbeat_interval=0,
                      on_message=handler)
    try:
        await login(t)
        reply = await gateway.acall(gateway.gw.send(PHONE.rjust(20, "0"), TextMessage(flag=0, text="hi"), timeout=5))
        assert reply.header.msg_id == 0x0001 and got[0].body.text == "hi"
    finally:
        await t.close()


async def test_rsa_terminal_key_report(gateway: Any) -> None:
    t = AsyncTerminal("127.0.0.1", gateway.port, PHONE, version="2019", timeout=2, heartbeat_interval=0)
    try:
        await login(t)
        e, n = t.generate_key()
        assert (await t.report_public_key(e, n)).result == 0
        body = gateway.recorder.last(0x0A00).body
        assert (body.e, bytes(body.n)) == (e, n)
    finally:
        await t.close()
