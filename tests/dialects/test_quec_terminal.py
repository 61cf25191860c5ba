"""A terminal framing like the QuecPython client (tests/dialects/quec.py: lost one-digit check codes,
lengths over 1023 OR-ed into the flag bits, left-padded 0x0100 strings and plate, 2011 / 2013 / 2019
widths) against a running ``jt808 serve``, over TCP and UDP: register, authenticate, heartbeat,
location, batch, a 3 KB multimedia upload in one frame, and a command round trip (issue 9)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from .quec import QuecTerminal, sent_serial
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
            assert q.lost >= 1 and repairs["check_code_missing"] == q.lost  # each lost check code repaired, said so
            if version == 2011:
                assert repairs["version_inferred"] >= 1
        finally:
            await t.close()
