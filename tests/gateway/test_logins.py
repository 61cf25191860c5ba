"""Logins answered from memory (a code registered a moment ago is in the TerminalCache): the same decisions
as through storage — a wrong code refused, the remembered 2011 version applied, a new 2019 identity written."""

from __future__ import annotations

from jt808 import V2011, V2019
from jt808.gateway import Gateway
from jt808.protocol.messages.register import TerminalAuth, TerminalRegister

from .helpers import Terminal


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
