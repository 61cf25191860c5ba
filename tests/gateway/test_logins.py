"""Logins answered from memory (a code registered a moment ago is in the TerminalCache): the same decisions
as through storage — a wrong code refused, the remembered 2011 version applied, a new 2019 identity written."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jt808
from hypothesis_profiles import examples
from jt808 import V2011, V2013, V2019, Header, Packet, Profile, Version
from jt808.errors import EncodeError
from jt808.gateway import Gateway
from jt808.gateway.limits import Admission
from jt808.gateway.server import _mid_login
from jt808.protocol.messages.register import RegisterReply, TerminalAuth, TerminalRegister
from jt808.session import PlatformSession, RegisterRequested

from .helpers import Terminal, make_config


async def test_auth_from_memory_refuses_a_wrong_code_and_accepts_the_right_one(gateway: Gateway) -> None:
    t = await Terminal("013900000001").connect(gateway.tcp_port)
    try:
        code = await t.register()
        hits = gateway.terminals.hits  # type: ignore[union-attr]  # a TerminalCache (set by open())
        bad = await t.authenticate(code[::-1] if code[::-1] != code else code + "x")
        assert (bad.header.msg_id, bad.body.result) == (0x8001, 1)
        ok = await t.authenticate(code)
        assert (ok.header.msg_id, ok.body.result) == (0x8001, 0)
        assert gateway.terminals.hits > hits  # type: ignore[union-attr]  # the record came from memory
        assert gateway.is_online("013900000001")
    finally:
        await t.close()


async def test_auth_from_memory_applies_the_remembered_2011_version(gateway: Gateway) -> None:
    phone = "013900000002"
    t = await Terminal(phone, V2011).connect(gateway.tcp_port)
    try:
        reply = await t.request(TerminalRegister(11, 100, "ACME1", "T808", "0000001", 1, "京A12345"))
        assert reply.body.result == 0
        # a new connection (the 2011 header says nothing of the version): the stored registration does
        t2 = await Terminal(phone, V2011).connect(gateway.tcp_port)
        try:
            ok = await t2.request(TerminalAuth(code=reply.body.auth_code))
            assert ok.body.result == 0
            conn = gateway.connection(phone)
            assert conn is not None and conn.session.version is V2011
        finally:
            await t2.close()
    finally:
        await t.close()


async def test_a_new_2019_identity_is_written_not_answered_from_memory(gateway: Gateway) -> None:
    phone = "01390000000300000000"
    t = await Terminal(phone, V2019).connect(gateway.tcp_port)
    try:
        code = await t.register()
        ok = await t.request(TerminalAuth(code=code, imei="860000000000001", software_version="2.5"))
        assert ok.body.result == 0
        rec = await gateway.storage.get_terminal(ok.header.phone)  # type: ignore[union-attr]  # opened
        assert rec is not None and (rec.imei, rec.software_version) == ("860000000000001", "2.5")
    finally:
        await t.close()


# -- the 0x8100 of a 2011/2013 terminal with an ASCII code, packed directly: pinned to the general encoder --
@settings(max_examples=examples(300), deadline=None)
@given(phone=st.from_regex(r"\A[0-9]{12}\Z"), sn=st.integers(0, 0xFFFF), serial=st.integers(0, 0xFFFF),
       code=st.text(st.characters(max_codepoint=0x7F), min_size=1, max_size=40) | st.text(min_size=1, max_size=8),
       version=st.sampled_from([V2011, V2013, V2019]), encoding=st.sampled_from(["gbk", "utf-8", "utf-16-le"]))
def test_register_reply_fast_path_encodes_like_the_general_path(phone: str, sn: int, serial: int, code: str,
                                                                 version: Version, encoding: str) -> None:
    profile = Profile(f"p-{encoding}", encoding=encoding)
    sessions = [PlatformSession(profile), PlatformSession(profile)]
    frame = jt808.encode(Packet(Header(0x0100, phone, sn, V2013 if version is V2011 else version),
                                TerminalRegister(11, 100, "ACME", "T808", "000001", 1, "B1")))  # even: UTF-16 too
    events = [s.receive_data(frame, 1.0)[0] for s in sessions]
    for s in sessions:
        s._sn = serial
    assert isinstance(events[0], RegisterRequested) and isinstance(events[1], RegisterRequested)
    try:
        sessions[0].accept_register(events[0], code)
    except EncodeError:
        with pytest.raises(EncodeError):
            h = events[1].packet.header
            sessions[1]._reply(RegisterReply(sn, 0, code), h.version, h.phone)
        return
    h = events[1].packet.header
    sessions[1]._reply(RegisterReply(h.msg_sn, 0, code), h.version, h.phone)
    assert sessions[0].data_to_send() == sessions[1].data_to_send()


# -- a reconnect storm: the accepts run ahead of the reads, the cap does not close terminals mid-login ------
class _Conn:
    def __init__(self, deciding: int = 0, sock: socket.socket | None = None) -> None:
        self.deciding = deciding
        self.transport = None if sock is None else _Transport(sock)


class _Transport:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None


def test_mid_login_is_a_decision_in_flight_or_bytes_waiting_in_the_socket() -> None:
    a, b = socket.socketpair()
    try:
        assert not _mid_login(_Conn(sock=a))  # type: ignore[arg-type]  # the attributes _mid_login reads
        b.send(b"\x7e\x01\x00")
        assert _mid_login(_Conn(sock=a))
        assert _mid_login(_Conn(deciding=1))
        assert not _mid_login(_Conn())  # type: ignore[arg-type]  # a UDP session: no socket of its own
    finally:
        a.close()
        b.close()


def test_the_cap_evicts_the_oldest_idle_connection_and_refuses_when_all_are_mid_login() -> None:
    busy: set[str] = set()
    adm = Admission(max_total=3, busy=lambda c: c in busy)
    for c in ("a", "b", "c"):
        assert adm.admit(c, "10.0.0.1", 1.0) == (None, [])
    busy.add("a")  # its 0x0100 waits to be read: the next oldest makes room
    assert adm.admit("d", "10.0.0.2", 2.0) == (None, ["b"])
    busy.update({"c", "d"})
    refusal, evicted = adm.admit("e", "10.0.0.3", 3.0)
    assert refusal is not None and "middle of their login" in refusal and evicted == []
    assert (adm.full, adm.evicted, len(adm)) == (1, 1, 3)
    busy.clear()  # read and answered: a flood of silent connections is evicted oldest first again
    assert adm.admit("f", "10.0.0.4", 4.0) == (None, ["a"])


async def test_a_burst_over_the_cap_keeps_the_terminals_already_in(tmp_path: Path) -> None:
    """More connections than ``limits.max_unauthenticated`` arrive before the gateway reads any (a restart's
    storm): the first ones, whose 0x0100 waits in their sockets, are answered; the ones beyond the cap are
    refused at once (they come back), not the other way round."""
    cfg = make_config(tmp_path, limits={"max_unauthenticated": 4})
    async with Gateway(cfg) as gw:
        socks = []
        for i in range(8):  # connected and sent while the loop is held: accepted together afterwards
            s = socket.create_connection(("127.0.0.1", gw.tcp_port))
            s.sendall(Terminal(f"0137000000{i:02d}").frame(
                TerminalRegister(11, 100, "ACME1", "T808", "0000001", 1, f"B{i}")))
            socks.append(s)
        try:
            loop = asyncio.get_running_loop()
            answered = []
            for s in socks:
                s.setblocking(False)
                try:
                    data = await asyncio.wait_for(loop.sock_recv(s, 4096), 3)
                except (TimeoutError, ConnectionError):
                    data = b""
                answered.append(data[1:3] == b"\x81\x00")
            assert answered == [True] * 4 + [False] * 4
            assert gw.guard.admission.full == 4 and gw.guard.admission.evicted == 0
        finally:
            for s in socks:
                s.close()
