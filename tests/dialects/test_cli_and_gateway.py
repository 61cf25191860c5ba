"""Real-device frames and quirk frames through ``jt808 decode`` (tolerant by default, ``--strict``) and
through a running gateway, which answers each as the issue asks: decoded or repaired with the problem
listed, 0x8001 result 0; a plausible header with a wrong check code gets result 2; noise gets silence.
Frames: traccar ``HuabaoProtocolDecoderTest.java`` (github.com/traccar/traccar), cited per vector."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import jt808
from jt808.protocol.framing import FrameSplitter

from .quec import QuecFramer
from .serve import serve

# traccar HuabaoProtocolDecoderTest: 0x5502 whose length field says 54, the frame holds 53
LEN_MISMATCH = ("7e55028436740190311185091607200239270613212607536108630000170a000000014600005ded05e203000000000b010d0c"
                "06005b003e00ab0a0302dc65100100a37e")
# traccar HuabaoProtocolDecoderTest: a 2011 0x0100 (33-byte body)
REG_2011 = "7E0100002101334567890600 0F002C012F373031313142534A2D4D3742203030303030303001D4C1423838383838B47E"
# traccar HuabaoProtocolDecoderTest: a heartbeat
HEARTBEAT = "7e0002000004304832546500b7ca7e"


def cli(*args: str) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "jt808.cli", "decode", *args], capture_output=True, text=True,
                         timeout=60, check=False)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_cli_is_tolerant_by_default_and_strict_on_demand() -> None:
    q = QuecFramer("13912345678", 2013)
    media = q.media(9, 3000).hex()
    [tol, reg, med] = cli(LEN_MISMATCH, REG_2011.replace(" ", ""), media)
    assert tol["header"]["msg_id"] == 0x5502 and any("body-length field says 54" in p for p in tol["problems"])
    assert reg["header"]["msg_id"] == 0x0100 and reg["body"]["license_number"] == "粤B88888"
    assert any("decoded as 2011" in p for p in reg["problems"])
    assert med["body"]["id"] == 9 and any("overflowed" in p for p in med["problems"])
    [a, b] = cli("--strict", LEN_MISMATCH, media)
    assert "error" in a and "error" in b


def _exchange(port: int, frames: list[bytes], expect: int) -> list[tuple[int, int | None, int | None]]:
    """Send the frames on one TCP connection; the (id, answered id, result) of the ``expect`` answers."""
    got: list[jt808.Packet] = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(b"".join(frames))
        sp = FrameSplitter()
        while len(got) < expect:
            got += [jt808.decode(f) for f in sp.feed(c.recv(65536))]
        c.settimeout(0.5)  # nothing more comes (noise gets silence)
        try:
            extra = c.recv(65536)
        except TimeoutError:
            extra = b""
    assert extra == b"", extra
    return sorted((p.header.msg_id, getattr(p.body, "id", None), getattr(p.body, "result", None)) for p in got)


def test_running_gateway_answers_real_and_quirk_frames(tmp_path: Path) -> None:
    with serve(tmp_path, "--auth", "anonymous") as s:
        # traccar's own frames, one connection per device
        assert _exchange(s.port, [bytes.fromhex(HEARTBEAT)], 1) == [(0x8001, 0x0002, 0)]
        # a vendor id whose length field is one over (and whose bit 10 says RSA): the body the frame holds
        # is kept (no key), flagged, and acknowledged
        assert _exchange(s.port, [bytes.fromhex(LEN_MISMATCH)], 1) == [(0x8001, 0x5502, 0)]
        q = QuecFramer("13987654321", 2013)
        hb = q.heartbeat()
        cc = hb[-2]
        bad_check = hb[:-2] + bytes((cc ^ 0x01 if cc not in (0x7C, 0x7D, 0x7E, 0x7F) else 0x11,)) + b"\x7e"
        answers = _exchange(s.port, [q.location(), q.media(3, 2000), bad_check, b"\x7e\x01\x02\x7e"], 3)
        assert answers == [(0x8001, 0x0002, 2),  # wrong check code, plausible header: "message error"
                           (0x8001, 0x0200, 0),  # the QuecPython-framed location
                           (0x8800, None, None)]  # 2 KB media in one frame, its length overflowing
        repairs = s.repairs()
        assert repairs["length_mismatch"] >= 1 and repairs["length_overflow"] >= 1


def test_explain_reads_the_frame_as_the_decoder_does() -> None:
    from jt808.protocol.framing import check_code, unescape

    q = QuecFramer("13912345678", 2013)
    media = q.media(3, 1100)
    lost = next(f for f in (q.heartbeat() for _ in range(400)) if 0 < check_code(unescape(f[1:-1])) < 0x10)
    out = subprocess.run([sys.executable, "-m", "jt808.cli", "decode", "--explain", media.hex(), lost.hex()],
                         capture_output=True, text=True, timeout=60, check=False).stdout
    assert "a body length of 1136 overflowed into the flag bits" in out and "body (1136 bytes)" in out
    assert "check code: missing" in out
