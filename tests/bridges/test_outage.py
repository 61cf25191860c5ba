"""Broker outages, simulated with a TCP proxy in front of Mosquitto that is cut and restored: the node
keeps serving terminals, buffers uplinks (bounded, counting drops), reconnects, resubscribes and
publishes the buffer in order."""

from __future__ import annotations

import pytest

from jt808.protocol.messages.general import HeartBeat

from .helpers import CutProxy, Terminal, Watcher, location, random_phone, until


async def send_locations(t: Terminal, first: int, n: int) -> list[int]:
    """Send ``n`` location reports and wait for every 0x8001 (the gateway serves on)."""
    sns = [await t.send(location(first + i)) for i in range(n)]
    acked = set()
    while len(acked) < n:
        p = await t.recv_id(0x8001)
        assert p.body.result == 0
        acked.add(p.body.seq)
    assert acked == set(sns)
    return sns


async def collect_sns(w: Watcher, phone: str, want: set[int], timeout: float = 15.0) -> list[int]:
    """msg_sn of the 0x0200 messages seen, in arrival order, until every one of ``want`` arrived."""
    seen: list[int] = []
    while not want <= set(seen):
        _, msg = await w.next(timeout=timeout, where=lambda tp, p: isinstance(p, dict)
                              and p.get("header", {}).get("msg_id") == 0x0200)
        seen.append(msg["header"]["msg_sn"])
    return seen


def first_occurrences(seq: list[int]) -> list[int]:
    out, seen = [], set()
    for x in seq:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


async def test_outage_loses_nothing_within_the_buffer(make_node, retained) -> None:
    proxy = await CutProxy().start()
    try:
        node = await make_node(mqtt_url=f"mqtt://127.0.0.1:{proxy.port}", mqtt={"buffer_size": 1000})
        proxy.follow(node.bridge)
        assert node.bridge.connected
        phone = random_phone()
        base = f"jt808/{phone}/{phone}"
        retained.add(f"{base}/status")
        async with Watcher(f"{base}/up") as w:
            t = await Terminal(phone).connect(node.port)
            await t.login()
            await until(lambda: node.bridge.subscribed(phone), what="dn subscription")
            before = await send_locations(t, 0, 30)
            assert first_occurrences(await collect_sns(w, phone, set(before))) == before

            await proxy.cut()
            await until(lambda: not node.bridge.connected, what="the bridge to notice the outage")
            during = await send_locations(t, 100, 400)  # acked while the broker is unreachable
            assert (await t.request(HeartBeat())).header.msg_id == 0x8001
            assert node.bridge.buffered >= 400 and node.bridge.dropped == 0

            await proxy.restore()
            await until(lambda: node.bridge.connected, timeout=15, what="reconnection")
            got = await collect_sns(w, phone, set(during))
            assert [sn for sn in first_occurrences(got) if sn in set(during)] == during  # all, in order
            assert node.bridge.dropped == 0
            assert await node.bridge.wait_idle(5)

            # resubscribed: a downlink published after the outage still reaches the terminal
            await until(lambda: node.bridge.subscribed(phone), what="resubscription")
            await w.publish(f"{base}/dn", {"header": {"msg_id": 0x8201}})
            cmd = await t.recv_id(0x8201)
            assert cmd.header.phone == phone
            await t.close()
    finally:
        await proxy.close()


async def test_outage_beyond_the_buffer_drops_the_oldest_and_counts(make_node, retained, caplog) -> None:
    proxy = await CutProxy().start()
    try:
        node = await make_node(mqtt_url=f"mqtt://127.0.0.1:{proxy.port}", mqtt={"buffer_size": 50})
        proxy.follow(node.bridge)
        phone = random_phone()
        base = f"jt808/{phone}/{phone}"
        retained.add(f"{base}/status")
        async with Watcher(f"{base}/up") as w:
            t = await Terminal(phone).connect(node.port)
            await t.login()
            assert await node.bridge.wait_idle(5)
            await proxy.cut()
            await until(lambda: not node.bridge.connected, what="the bridge to notice the outage")
            with caplog.at_level("WARNING", logger="jt808.mqtt"):
                sent = await send_locations(t, 0, 120)
            assert node.bridge.dropped == 70
            assert node.bridge.buffered == 50
            assert any("dropped" in r.getMessage() for r in caplog.records)

            await proxy.restore()
            await until(lambda: node.bridge.connected, timeout=15, what="reconnection")
            got = await collect_sns(w, phone, set(sent[-50:]))
            assert first_occurrences(got) == sent[-50:]  # the newest 50, in order
            with pytest.raises(TimeoutError):  # and nothing older
                await w.next(timeout=0.3, where=lambda tp, p: p.get("header", {}).get("msg_sn") in sent[:70])
            await t.close()
    finally:
        await proxy.close()


async def test_broker_unreachable_at_start(make_node, retained) -> None:
    proxy = await CutProxy().start()
    port = proxy.port
    await proxy.cut()
    try:
        node = await make_node(mqtt_url=f"mqtt://127.0.0.1:{port}", connect_timeout=0.3)  # does not fail
        proxy.follow(node.bridge)
        assert not node.bridge.connected
        phone = random_phone()
        base = f"jt808/{phone}/{phone}"
        retained.add(f"{base}/status")
        t = await Terminal(phone).connect(node.port)
        await t.login()
        sent = await send_locations(t, 0, 5)
        async with Watcher(f"{base}/up") as w:
            await proxy.restore()
            await until(lambda: node.bridge.connected, timeout=15, what="connection")
            assert first_occurrences(await collect_sns(w, phone, set(sent))) == sent
        await t.close()
    finally:
        await proxy.close()


async def test_cut_in_the_middle_of_traffic(make_node, retained) -> None:
    """Messages in flight when the connection breaks are published again after reconnecting."""
    import asyncio

    proxy = await CutProxy().start()
    try:
        node = await make_node(mqtt_url=f"mqtt://127.0.0.1:{proxy.port}", mqtt={"buffer_size": 5000})
        proxy.follow(node.bridge)
        phone = random_phone()
        base = f"jt808/{phone}/{phone}"
        retained.add(f"{base}/status")
        async with Watcher(f"{base}/up") as w:
            t = await Terminal(phone).connect(node.port)
            await t.login()

            async def traffic() -> list[int]:
                sns = []
                for i in range(0, 1500, 50):
                    sns += await send_locations(t, i, 50)
                    await asyncio.sleep(0.005)
                return sns

            sender = asyncio.create_task(traffic())
            await until(lambda: node.bridge.published > 300, what="traffic")
            await proxy.cut()
            await asyncio.sleep(0.3)
            await proxy.restore()
            sent = await sender
            got = await collect_sns(w, phone, set(sent), timeout=20)
            assert first_occurrences(got) == sent
            assert node.bridge.dropped == 0 and node.bridge.reconnects >= 1
            await t.close()
    finally:
        await proxy.close()
