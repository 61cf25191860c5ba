"""End to end over loopback TCP: terminals written with the codec against a running gateway."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

import jt808
from jt808 import V2019
from jt808.gateway import Gateway
from jt808.protocol.messages.general import HeartBeat, QueryServerTime, TerminalLogout
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.register import TerminalAuth
from jt808.protocol.messages.tracking import BatchLocations
from jt808.storage.base import TerminalRecord

from .helpers import PHONE, Terminal, location, make_config


async def test_register_authenticate_heartbeat_locations(gateway: Gateway, terminal: Terminal) -> None:
    code = await terminal.register()
    assert code and len(code) >= 16  # never empty, unguessable
    rec = await gateway.storage.get_terminal(PHONE)
    assert rec is not None and rec.auth_code == code and rec.license_number == "京A12345"

    reply = await terminal.authenticate(code)
    assert (reply.header.msg_id, reply.body.seq, reply.body.id, reply.body.result) == (0x8001, 1, 0x0102, 0)
    assert gateway.is_online(PHONE)

    hb = await terminal.heartbeat()
    assert (hb.header.msg_id, hb.body.id, hb.body.result) == (0x8001, 0x0002, 0)

    sn = terminal.sn
    ack = await terminal.request(location(1))
    assert (ack.body.seq, ack.body.id, ack.body.result) == (sn, 0x0200, 0)

    sn = terminal.sn
    ack = await terminal.request(BatchLocations(type=0, locations=[location(i) for i in range(5)]))
    assert (ack.body.seq, ack.body.id, ack.body.result) == (sn, 0x0704, 0)

    rows = await gateway.storage.query_locations(PHONE)
    assert len(rows) == 6  # acked only after durable: all there
    single = next(r for r in rows if r.msg_id == 0x0200)
    assert single.latitude == pytest.approx(31.230001) and single.speed == pytest.approx(60.1)
    assert single.extras == {"mileage": 1001, "rssi": 20}
    assert sum(r.batch for r in rows) == 5
    assert single.time is not None and single.time.isoformat().startswith("2024-03-11T04:00:00")


async def test_every_frame_of_one_read_is_answered_in_order(gateway: Gateway, terminal: Terminal) -> None:
    await terminal.login()
    first = terminal.sn
    await terminal.send_raw(b"".join(terminal.frame(location(i)) for i in range(20)))
    seqs = [(await terminal.recv()).body.seq for _ in range(20)]
    assert seqs == list(range(first, first + 20))


async def test_unauthenticated_terminal_gets_no_service(gateway: Gateway, terminal: Terminal) -> None:
    await terminal.send(HeartBeat())
    await terminal.send(location())
    await terminal.expect_nothing()
    assert not gateway.is_online(PHONE)
    assert await gateway.storage.query_locations(PHONE) == []
    # registering alone is not enough either
    await terminal.register()
    await terminal.send(location())
    await terminal.expect_nothing()


async def test_unauthenticated_fail_reply_when_configured(tmp_path: Path) -> None:
    async with Gateway(make_config(tmp_path, auth={"unauth_reply": "fail"})) as gw:
        t = await Terminal().connect(gw.tcp_port)
        reply = await t.heartbeat()
        assert (reply.body.id, reply.body.result) == (0x0002, 1)
        await t.close()


async def test_wrong_auth_code_is_refused(gateway: Gateway, terminal: Terminal, caplog: Any) -> None:
    caplog.set_level(logging.INFO, "jt808.gateway")
    code = await terminal.register()
    reply = await terminal.authenticate(code + "x")
    assert (reply.body.id, reply.body.result) == (0x0102, 1)
    assert not gateway.is_online(PHONE)
    await terminal.send(location())
    await terminal.expect_nothing()
    assert "auth phone=013912345678" in caplog.text and "refused" in caplog.text
    # the right code still works on the same connection
    assert (await terminal.authenticate(code)).body.result == 0
    assert (await terminal.heartbeat()).body.result == 0


async def test_auth_of_unknown_phone_and_code_bound_to_phone(gateway: Gateway) -> None:
    a = await Terminal("013900000001").connect(gateway.tcp_port)
    b = await Terminal("013900000002").connect(gateway.tcp_port)
    code_a = await a.register()
    # another phone presenting a's code is refused: codes are bound to the registered phone
    assert (await b.authenticate(code_a)).body.result == 1
    assert (await a.authenticate(code_a)).body.result == 0
    await a.close()
    await b.close()


async def test_repeated_auth_failures_close_the_connection(tmp_path: Path) -> None:
    async with Gateway(make_config(tmp_path, auth={"max_auth_failures": 2})) as gw:
        t = await Terminal().connect(gw.tcp_port)
        await t.register()
        assert (await t.authenticate("bad")).body.result == 1
        assert (await t.authenticate("bad")).body.result == 1
        with pytest.raises(ConnectionError):
            await t.recv(2)
        await t.close()


async def test_bad_frames_are_logged_and_the_next_good_frame_is_served(gateway: Gateway, terminal: Terminal,
                                                                       caplog: Any) -> None:
    caplog.set_level(logging.INFO, "jt808.gateway")
    await terminal.login()
    good = terminal.frame(HeartBeat())
    bad_check = bytearray(terminal.frame(HeartBeat()))
    bad_check[-2] ^= 0x55
    bad_escape = b"\x7e\x00\x02\x00\x00\x01\x39\x12\x34\x56\x78\x00\x09\x7d\x05\x7e"
    from jt808 import Header, Packet, RawBody

    short_body = jt808.encode(Packet(Header(0x0200, PHONE, 999), RawBody(b"\x00" * 10)))
    await terminal.send_raw(bytes(bad_check) + bad_escape + b"junk!" + short_body + good)
    reply = await terminal.recv()
    # the heartbeat with the wrong check code has a plausible header: "message error", retransmit now
    assert (reply.body.id, reply.body.result) == (0x0002, 2)
    reply = await terminal.recv()
    # the location with a 10-byte body is answered "message error"
    assert (reply.body.seq, reply.body.id, reply.body.result) == (999, 0x0200, 2)
    reply = await terminal.recv()
    assert (reply.body.id, reply.body.result) == (0x0002, 0)
    await asyncio.sleep(0.05)
    text = caplog.text
    assert "bad frame" in text and "check code" in text
    assert bytes(bad_check).hex() in text  # the hex for the operator
    assert "7d05" in text


async def test_server_time_2019(gateway: Gateway) -> None:
    t = await Terminal("00000000013912345678", V2019).connect(gateway.tcp_port)
    await t.login()
    reply = await t.request(QueryServerTime())
    assert reply.header.msg_id == 0x8004 and reply.version is V2019
    from datetime import UTC, datetime

    sent = datetime.strptime(reply.body.time, "%y%m%d%H%M%S").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - sent).total_seconds()) < 5
    await t.close()


async def test_2019_auth_records_imei(gateway: Gateway) -> None:
    t = await Terminal("00000000013912345678", V2019).connect(gateway.tcp_port)
    code = await t.register()
    reply = await t.request(TerminalAuth(code=code, imei="861234567890123", software_version="V2.1"))
    assert reply.body.result == 0 and reply.version is V2019
    rec = await gateway.storage.get_terminal("013912345678")  # stored under the canonical phone (docs/api.md)
    assert (rec.imei, rec.software_version, rec.version) == ("861234567890123", "V2.1", 2019)
    await t.close()


async def test_second_connection_replaces_the_first(gateway: Gateway) -> None:
    a = await Terminal().connect(gateway.tcp_port)
    code = await a.register()
    assert (await a.authenticate(code)).body.result == 0
    b = await Terminal().connect(gateway.tcp_port)
    assert (await b.authenticate(code)).body.result == 0
    with pytest.raises(ConnectionError):
        await a.recv(2)
    assert gateway.connection(PHONE).peer.endswith(str(b.writer.get_extra_info("sockname")[1]))
    assert (await b.heartbeat()).body.result == 0
    await a.close()
    await b.close()


async def test_logout_releases_the_code(gateway: Gateway, terminal: Terminal) -> None:
    code = await terminal.register()
    await terminal.authenticate(code)
    reply = await terminal.request(TerminalLogout())
    assert (reply.body.id, reply.body.result) == (0x0003, 0)
    with pytest.raises(ConnectionError):
        await terminal.recv(2)
    for _ in range(50):
        if not (await gateway.storage.get_terminal(PHONE)).auth_code:
            break
        await asyncio.sleep(0.02)
    rec = await gateway.storage.get_terminal(PHONE)
    assert rec.auth_code == "" and rec.license_number == "京A12345"  # released; the record stays
    t2 = await Terminal().connect(gateway.tcp_port)
    assert (await t2.authenticate(code)).body.result == 1  # the old code is gone
    new = await t2.register()  # released: the phone registers again, with a new code
    assert new != code and (await t2.authenticate(new)).body.result == 0
    await t2.close()


async def test_anonymous_mode_serves_without_authentication(tmp_path: Path) -> None:
    async with Gateway(make_config(tmp_path, auth={"mode": "anonymous"})) as gw:
        t = await Terminal().connect(gw.tcp_port)
        reply = await t.request(location())
        assert (reply.body.id, reply.body.result) == (0x0200, 0)
        assert gw.is_online(PHONE)
        assert len(await gw.storage.query_locations(PHONE)) == 1
        assert (await t.authenticate("anything")).body.result == 0
        await t.close()


async def test_no_auto_registration(tmp_path: Path) -> None:
    async with Gateway(make_config(tmp_path, auth={"auto_register": False})) as gw:
        t = await Terminal().connect(gw.tcp_port)
        reply = await t.request(jt808.protocol.messages.register.TerminalRegister(
            province=1, city=2, manufacturer="M", model="X", dev_id="1", color=1, license_number="A1"))
        assert (reply.header.msg_id, reply.body.result) == (0x8100, 4)  # terminal not in database
        # an operator provisions the phone: now it registers
        await gw.storage.save_terminal(TerminalRecord(PHONE))
        code = await t.register()
        assert code
        assert (await t.authenticate(code)).body.result == 0
        # the same connection asking again gets the same answer (its 0x8100 may have been lost) …
        assert await t.register() == code
        await t.close()
        # … another connection is refused: "terminal already registered", the code is not revealed
        t2 = await Terminal().connect(gw.tcp_port)
        reply = await t2.request(jt808.protocol.messages.register.TerminalRegister(
            province=1, city=2, manufacturer="M", model="X", dev_id="1", color=1, license_number="A1"))
        assert (reply.header.msg_id, reply.body.result, reply.body.auth_code) == (0x8100, 3, "")
        await t2.close()


async def test_idle_timeout_from_heartbeat_interval(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG, "jt808.gateway")  # per-connection lines are DEBUG (INFO: a summary a minute)
    cfg = make_config(tmp_path, session={"heartbeat_interval": 0.2, "idle_factor": 2})
    async with Gateway(cfg) as gw:
        loop = asyncio.get_running_loop()
        t = await Terminal().connect(gw.tcp_port)
        await t.login()
        assert (await t.heartbeat()).body.result == 0  # activity: the idle clock starts again from here
        last = loop.time()
        with pytest.raises(ConnectionError):
            await t.recv(10)  # the gateway closes the connection (awaited, not slept for)
        # never before heartbeat_interval x idle_factor = 0.4 s of silence (however slow the machine)
        assert loop.time() - last >= 0.4 - 0.01
        assert not gw.is_online(PHONE)
        assert "idle for" in caplog.text
        await t.close()


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []

    def on_connected(self, phone: str, info: Any) -> None:
        self.calls.append(("connected", phone, info["transport"]))

    def on_disconnected(self, phone: str, reason: str) -> None:
        self.calls.append(("disconnected", phone, reason))

    def on_uplink(self, phone: str, packet: Any) -> None:
        self.calls.append(("uplink", phone, packet.header.msg_id))


async def test_listeners_see_connects_uplinks_disconnects(gateway: Gateway) -> None:
    rec = Recorder()
    gateway.add_listener(rec)
    t = await Terminal().connect(gateway.tcp_port)
    await t.login()
    await t.heartbeat()
    await t.request(location())
    await t.close()
    for _ in range(50):
        if rec.calls and rec.calls[-1][0] == "disconnected":
            break
        await asyncio.sleep(0.02)
    assert rec.calls[0] == ("connected", PHONE, "tcp")
    assert ("uplink", PHONE, 0x0002) in rec.calls and ("uplink", PHONE, 0x0200) in rec.calls
    assert rec.calls[-1][:2] == ("disconnected", PHONE)


class FailingWrites:
    """Wraps a storage; location writes fail."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def add_batch(self, locations: Any, events: Any) -> None:
        raise jt808.storage.StorageUnavailable("disk full")


async def test_location_not_acked_ok_when_the_write_fails(tmp_path: Path) -> None:
    from jt808.storage.memory import MemoryStorage

    inner = MemoryStorage()
    await inner.open()
    gw = Gateway(make_config(tmp_path), storage=FailingWrites(inner))
    async with gw:
        t = await Terminal().connect(gw.tcp_port)
        await t.login()
        reply = await t.request(location())
        assert (reply.body.id, reply.body.result) == (0x0200, 1)  # failure: the terminal sends it again
        await t.close()


async def test_graceful_shutdown_flushes_pending_writes(tmp_path: Path) -> None:
    from jt808.storage.memory import MemoryStorage

    storage = MemoryStorage()
    await storage.open()
    cfg = make_config(tmp_path, storage={"ack_after_durable": False, "batch_max_delay": 30,
                                         "batch_max_rows": 100000})
    gw = Gateway(cfg, storage=storage)
    await gw.start()
    t = await Terminal().connect(gw.tcp_port)
    await t.login()
    for i in range(10):
        assert (await t.request(location(i))).body.result == 0  # acked at once, not yet written
    assert await storage.query_locations(PHONE) == []
    await gw.stop()
    assert len(await storage.query_locations(PHONE)) == 10
    await t.close()


async def test_unknown_id_is_answered_unsupported_and_still_delivered(gateway: Gateway, terminal: Terminal) -> None:
    from jt808 import RawBody

    rec = Recorder()
    gateway.add_listener(rec)
    await terminal.login()
    sn = terminal.sn
    await terminal.send_raw(jt808.encode(jt808.Packet(jt808.Header(0x0F01, PHONE, sn), RawBody(b"\x01\x02"))))
    reply = await terminal.recv()
    assert (reply.body.seq, reply.body.id, reply.body.result) == (sn, 0x0F01, 3)
    assert ("uplink", PHONE, 0x0F01) in rec.calls


async def test_session_info_has_address_version_last_seen_counters(gateway: Gateway, terminal: Terminal) -> None:
    import time

    await terminal.login()
    await terminal.heartbeat()
    info = gateway.connection(PHONE).info()
    assert info["peer"].startswith("127.0.0.1:") and info["version"] == 2013 and info["authenticated"]
    assert abs(info["last_seen"] - time.time()) < 5 and info["rx_frames"] == 3 and info["tx_frames"] == 3


async def test_unconsumed_ids_are_answered_from_the_header_unless_validating(tmp_path: Path) -> None:
    for validate, quiet in ((False, {0x0002: 0, 0x0200: 28}), (True, {})):
        async with Gateway(make_config(tmp_path, storage={"db": "none"},
                                       session={"validate_bodies": validate})) as gw:
            t = await Terminal().connect(gw.tcp_port)
            await t.login()
            assert gw.connection(PHONE).session.quiet == quiet
            assert (await t.request(location())).body.result == 0
            rec = Recorder()
            gw.add_listener(rec)  # a listener needs every message: nothing is quiet any more
            assert gw.connection(PHONE).session.quiet == {}
            await t.request(location())
            assert ("uplink", PHONE, 0x0200) in rec.calls
            await t.close()


async def test_a_flood_of_bad_frames_does_not_flood_the_log(gateway: Gateway, terminal: Terminal,
                                                           caplog: Any) -> None:
    caplog.set_level(logging.INFO, "jt808.gateway")
    await terminal.login()
    bad = bytearray(terminal.frame(HeartBeat()))
    bad[-2] ^= 0x55
    await terminal.send_raw(bytes(bad) * 150 + terminal.frame(HeartBeat()))
    # each bad frame has a plausible header and is answered "message error"; then the good one is acked
    assert [(await terminal.recv()).body.result for _ in range(151)] == [2] * 150 + [0]
    lines = [r for r in caplog.records if "bad frame" in r.getMessage()]
    assert len(lines) == 11  # the first 10, then the 100th
    assert "[100 bad frames on this connection]" in lines[-1].getMessage()


async def test_connections_and_logins_summed_up_once_a_minute_at_info(tmp_path: Path, caplog: Any) -> None:
    """A fleet logging in writes no line per terminal at INFO: one summary per SUMMARY_INTERVAL."""
    caplog.set_level(logging.INFO, "jt808.gateway")
    async with Gateway(make_config(tmp_path)) as gw:
        terms = [await Terminal(f"0135000000{i:02d}").connect(gw.tcp_port) for i in range(5)]
        for t in terms:
            await t.login()
        await terms[0].close()
        for _ in range(300):  # the gateway sees the close on its next read
            if gw.counters["disconnections"] == 1:
                break
            await asyncio.sleep(0.01)
        per_terminal = [r.getMessage() for r in caplog.records if "0135000000" in r.getMessage()]
        assert per_terminal == []
        gw._log_summary(gw.loop.time())  # what the sweeper does every SUMMARY_INTERVAL seconds
        summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("last 60 s")]
        assert summary == ["last 60 s: 5 connections, 1 closed, 5 registered (0 refused), 5 authenticated "
                           "(0 refused), 0 refused at the door; now 4 connections, 4 terminals online"]
        gw._log_summary(gw.loop.time())  # nothing happened since: no line
        assert len([r for r in caplog.records if r.getMessage().startswith("last 60 s")]) == 1
        for t in terms[1:]:
            await t.close()


async def test_reports_waiting_for_their_commit_keep_only_headers_and_body_bytes(tmp_path: Path) -> None:
    """Until a read's rows are durable the gateway keeps what the acks and a quarantine need (headers, body
    bytes, rows), not the packets, reports and events: with thousands of reports in flight those kept the
    collector's young generation over its threshold (a collection per commit window)."""
    import gc

    from jt808.storage.memory import MemoryStorage

    release = asyncio.Event()
    submitted = asyncio.Event()

    class Held(MemoryStorage):
        async def add_batch(self, locations: list[Any], events: list[Any]) -> None:
            submitted.set()
            await release.wait()
            await super().add_batch(locations, events)

    storage = Held()
    await storage.open()
    gw = Gateway(make_config(tmp_path, storage={"batch_max_delay": 0}), storage=storage)
    await gw.start()
    t = await Terminal().connect(gw.tcp_port)
    try:
        await t.login()
        reads = b"".join(t.frame(location(i)) for i in range(8))
        gc.collect()
        before = sum(type(o) is LocationReport for o in gc.get_objects())
        await t.send_raw(reads)
        await asyncio.wait_for(submitted.wait(), 3)
        gc.collect()
        assert sum(type(o) is LocationReport for o in gc.get_objects()) == before  # decoded, stored, let go
        release.set()
        acks = [await t.recv() for _ in range(8)]
        assert [(a.body.id, a.body.result) for a in acks] == [(0x0200, 0)] * 8
        assert len(await storage.query_locations(PHONE)) == 8
    finally:
        release.set()
        await t.close()
        await gw.stop()
