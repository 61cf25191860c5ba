"""A terminal framing like the QuecPython client (tests/dialects/quec.py: lost one-digit check codes,
lengths over 1023 OR-ed into the flag bits, left-padded 0x0100 strings and plate, 2011 / 2013 / 2019
widths) against a running ``jt808 serve``, over TCP and UDP: register, authenticate, heartbeat,
location, batch, a 3 KB multimedia upload in one frame, and a command round trip (issue 9)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from jt808.config import Config
from jt808.gateway import Gateway
from jt808.session import AuthRequested, PlatformSession
from jt808.storage.base import TerminalRecord

from .quec import QuecFramer, QuecTerminal, sent_serial, zero_xor_code
from .serve import serve


async def _ack(t: QuecTerminal, frame: bytes, reply_id: int = 0x8001) -> object:
    p = await t.request(frame)
    assert p.header.msg_id == reply_id, p
    if reply_id == 0x8001:
        assert (p.body.seq, p.body.result) == (sent_serial(frame), 0), p
    return p


@pytest.mark.parametrize("udp", [False, True], ids=["tcp", "udp"])
@pytest.mark.parametrize("version", [2011, 2013, 2019])
async def test_quecpython_terminal_end_to_end(tmp_path: Path, version: int, udp: bool) -> None:
    phone = f"1390{version}{int(udp)}66"
    with serve(tmp_path) as s:
        t = await QuecTerminal(phone, version, udp=udp).connect(s.port)
        q = t.framer
        try:
            reg = await t.request(q.register())
            assert reg.header.msg_id == 0x8100 and reg.body.result == 0 and reg.body.auth_code
            await _ack(t, q.auth(reg.body.auth_code))
            for n in range(400):  # 15 XORs in 256 fit one digit: heartbeats until two went without
                await _ack(t, q.heartbeat())
                if q.lost >= 2 and n >= 8:
                    break
            for _ in range(8):
                await _ack(t, q.location())
            await _ack(t, q.batch(3))
            media = q.media(7, 3000)  # 3 KB in one frame: the length overflows into the encryption bits
            assert len(media) > 3000
            reply = await t.request(media)
            assert reply.header.msg_id == 0x8800 and reply.body.mm_id == 7 and not reply.body.retx_ids

            async with httpx.AsyncClient(base_url=s.api, timeout=30) as c:
                post = asyncio.create_task(c.post(f"/api/v1/terminals/{phone}/commands",
                                                  json={"header": {"msg_id": 0x8201}}))
                while True:
                    if udp:  # a UDP downlink waits for the terminal's next datagram (its NAT mapping is open):
                        # heartbeat, as a terminal does, until the command has come (the POST may reach the
                        # gateway after any one of them)
                        await t.send(q.heartbeat())
                        try:
                            cmd = await t.recv(timeout=0.5)
                        except TimeoutError:
                            continue
                    else:
                        cmd = await t.recv()
                    if cmd.header.msg_id == 0x8201:
                        break
                body = f"{cmd.header.msg_sn:04x}" + q.location_body() + "01040000007b"
                await t.send(q.reply(0x0201, body))
                r = await post
            assert r.status_code == 200, r.text
            got = r.json()["reply"]
            assert got["header"]["msg_id"] == 0x0201 and got["body"]["seq"] == cmd.header.msg_sn

            term = httpx.get(f"{s.api}/api/v1/terminals/{phone}", timeout=10).json()
            assert term["version"] == {2011: 2011, 2013: 2013, 2019: 2019}[version]
            assert term["license_number"] == "粤B12345" and term["model"] == "EC200U"
            repairs = s.repairs()
            assert repairs["length_overflow"] >= 1 and repairs["string_padding"] >= 1
            # each lost check code repaired, said so; a lost zero check code is read as a length field one over
            # unless only the other reading decodes (a location whose last item it cuts: check_code_missing)
            assert q.lost >= 1 and repairs["check_code_missing"] >= q.lost
            assert repairs["check_code_missing"] + repairs.get("length_mismatch", 0) == q.lost + q.zero
            if version == 2011:
                assert repairs["version_inferred"] >= 1
        finally:
            await t.close()


# -- the check code the client loses when the XOR is zero ----------------------------------------
# QuecPython writes the check code as hex(xor)[2:]: a zero XOR is "0", one hex digit, dropped like 1..F.
# The frame then ends with its body, and its last byte (the code's last character) is a valid check code
# of the rest: read so (the body-length field one over, as vendor frames have it), the code loses its last
# character. About 3 % of the codes the gateway issues do that to the 2011 test terminal's 0x0102
# (13902011066 / 13902011166: the header's XOR leaves the high nibble to the code's hex digits); the
# end-to-end test above then failed at random. Here with such a code, chosen.
PHONE_2011 = "13902011066"


def test_session_reads_a_zero_xor_auth_code_both_ways() -> None:
    code = zero_xor_code(PHONE_2011, 2011, sn=1)
    q = QuecFramer(PHONE_2011, 2011)
    s = PlatformSession()
    [reg] = s.receive_data(q.register(), 1.0)
    s.accept_register(reg, code)
    [ev] = s.receive_data(q.auth(code), 1.0)
    assert q.zero == 1 and isinstance(ev, AuthRequested)
    # the reading kept (the last byte as check code), and the one with the check code lost
    assert (ev.code, ev.alt_code) == (code[:-1], code)
    # a frame with its check code: one reading only
    [ev] = s.receive_data(QuecFramer(PHONE_2011, 2011).auth("0123456789abcdef"), 1.0)
    assert (ev.code, ev.alt_code) == ("0123456789abcdef", "")


def _config(tmp_path: Path) -> Config:
    """A gateway in this process: memory storage, TCP and UDP on one free port, no HTTP."""
    cfg = Config()
    cfg.data_dir = tmp_path / "data"
    cfg.server.host = "127.0.0.1"
    cfg.server.port = cfg.video.port = 0
    cfg.http.enabled = False
    cfg.storage.db = "memory"
    return cfg


class _Registry:
    """An HTTP registry hook (auth.registry_url) that grants one chosen code."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
        length = int(head.split("content-length:", 1)[1].split("\r\n", 1)[0])
        await reader.readexactly(length)
        self.requests += 1
        data = json.dumps({"code": 0, "authcode": self.code}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
        await writer.drain()
        writer.close()


@pytest.mark.parametrize("udp", [False, True], ids=["tcp", "udp"])
@pytest.mark.parametrize("how", ["registered-now", "registered-before"])
async def test_auth_code_whose_zero_check_code_was_lost(tmp_path: Path, udp: bool, how: str) -> None:
    """Registered on this connection (the code from 0x8100, decided from memory) or earlier (the code in
    storage, the terminal's first frame is its 0x0102): either way the code is accepted, and a wrong code
    sent the same way is still refused."""
    code = zero_xor_code(PHONE_2011, 2011, sn=2)
    wrong = zero_xor_code(PHONE_2011, 2011, sn=1, nth=1)
    assert wrong != code
    registry = _Registry(code)
    hook = await asyncio.start_server(registry.handle, "127.0.0.1", 0)
    cfg = _config(tmp_path)
    if how == "registered-now":  # the hook grants the chosen code (the built-in registry draws one at random)
        cfg.set("auth", "mode", "http")
        cfg.set("auth", "registry_url", f"http://127.0.0.1:{hook.sockets[0].getsockname()[1]}/registry")
    try:
        async with Gateway(cfg) as gw:
            assert gw.storage is not None
            t = await QuecTerminal(PHONE_2011, 2011, udp=udp).connect(gw.udp_port if udp else gw.tcp_port)
            q = t.framer
            try:
                if how == "registered-now":
                    reg = await t.request(q.register())
                    assert (reg.body.result, reg.body.auth_code) == (0, code)
                else:
                    await gw.storage.save_terminal(TerminalRecord(f"0{PHONE_2011}", code, version=2011))
                    q.sn = 1
                frame = q.auth(wrong)  # a code never issued, its check code lost the same way
                refused = await t.request(frame)
                assert (refused.body.seq, refused.body.result) == (sent_serial(frame), 1)
                await _ack(t, q.auth(code))
                assert q.zero == 2  # both 0x0102 went without their check code
                await _ack(t, q.heartbeat())  # served: authenticated
                assert gw.counters["auth_ok"] == 1 and gw.counters["auth_refused"] == 1
            finally:
                await t.close()
    finally:
        hook.close()
        await hook.wait_closed()
    assert registry.requests == (1 if how == "registered-now" else 0)


@pytest.mark.parametrize("udp", [False, True], ids=["tcp", "udp"])
@pytest.mark.parametrize("cached", [True, False], ids=["registered-now", "registered-before"])
async def test_auth_code_that_is_not_text_is_refused(tmp_path: Path, udp: bool, cached: bool) -> None:
    """A 0x0102 whose code holds bytes that are no GBK text (kept as surrogates by the decoder) is refused
    with result 1 like any wrong code (it raised in the code comparison: unanswered from memory, "registry
    cannot be read" from storage), and the terminal then authenticates with its code."""
    async with Gateway(_config(tmp_path)) as gw:
        assert gw.storage is not None and gw.terminals is not None
        rec = TerminalRecord(f"0{PHONE_2011}", "0123456789abcdef", version=2011)
        await (gw.terminals if cached else gw.storage).save_terminal(rec)  # in the login cache, or the store only
        t = await QuecTerminal(PHONE_2011, 2011, udp=udp).connect(gw.udp_port if udp else gw.tcp_port)
        q = t.framer
        try:
            for body in ("0123456789abcdff", "ff" * 16, "0123456789abcd" + "c8"):  # 0xFF / a cut GBK pair
                frame = q.frame(0x0102, body)
                refused = await t.request(frame)
                assert (refused.header.msg_id, refused.body.seq, refused.body.result) == (0x8001, sent_serial(frame), 1)
            await _ack(t, q.auth("0123456789abcdef"))
            assert (gw.counters["auth_refused"], gw.counters["auth_retry"], gw.counters["auth_ok"]) == (3, 0, 1)
        finally:
            await t.close()
