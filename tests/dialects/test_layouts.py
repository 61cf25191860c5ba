"""Every layout the seeds describe, and the version a terminal speaks without configuration (issue 9
items 1 and 3). Real-device frames from traccar's ``HuabaoProtocolDecoderTest.java`` (cited per vector)."""

from __future__ import annotations

import pytest

import jt808
from jt808 import V2011, V2013, V2019, Profile
from jt808.protocol.messages.register import RegisterReply, TerminalAuth, TerminalRegister
from jt808.protocol.packet import decode_body, encode_body
from jt808.protocol.problems import problem_kind
from jt808.session.events import AuthRequested, RegisterRequested
from jt808.session.platform import PlatformSession

from .quec import QuecFramer

TRACCAR = "traccar HuabaoProtocolDecoderTest.java"


def kinds(p: jt808.Packet) -> set[str]:
    return {problem_kind(x) for x in p.problems}


@pytest.mark.parametrize(("source", "hexframe", "expected"), [
    (TRACCAR, "7E0100002101334567890600 0F002C012F373031313142534A2D4D3742203030303030303001D4C1423838383838B47E",
     TerminalRegister(44, 303, "70111", "BSJ-M7B ", "0000000", 1, "粤B88888")),
    (TRACCAR, "7e010000190940278494700012000000000000000000000000000000000000094027849470000a7e", None),
])
def test_real_2011_registrations_need_no_configuration(source: str, hexframe: str, expected: object) -> None:
    p = jt808.decode(bytes.fromhex(hexframe.replace(" ", "")))
    assert p.version is V2011 and "version_inferred" in kinds(p), source
    if expected is not None:
        assert p.body == expected


def test_real_2013_registrations_stay_2013() -> None:
    # traccar HuabaoProtocolDecoderTest: three 45-byte 0x0100 bodies (2013 widths)
    for hx in ("7e0100002d0141305678720024002c012f373031313142534a2d41362d424400000000000000000000003035363738"
               "373201d4c14238383838386d7e",
               "7E0100002D013511221122000500000000373031303748422D52303347424400000000000000000000003233363631"
               "303402CBD5424136383630387E"):
        p = jt808.decode(bytes.fromhex(hx))
        assert p.version is V2013 and p.problems == []


def test_a_2011_register_longer_than_the_2013_fixed_part() -> None:
    """A 2011 terminal without plate sends its VIN (17 bytes): 42 bytes, longer than 37. Read with the 2013
    widths its model would hold the 2011 padding and colour byte: the 2011 reading is the sensible one."""
    reg = TerminalRegister(44, 303, "70111", "M7", "D000001", 0, "LSVAM4187C2184847")
    data = encode_body(reg, V2011)
    assert len(data) == 42
    problems: list[str] = []
    body, tail, version = decode_body(0x0100, V2013, data, problems=problems)
    assert version is V2011 and body == reg and tail == b""
    assert [problem_kind(x) for x in problems] == ["version_inferred"]
    # a real 2013 body of the same length stays 2013
    reg13 = TerminalRegister(44, 303, "70111", "MODEL-2013", "D000001", 1, "粤B1")
    assert decode_body(0x0100, V2013, encode_body(reg13, V2013))[2] is V2013


@pytest.mark.parametrize("version", [2011, 2013, 2019])
def test_quecpython_registration_left_padded_strings_and_plate(version: int) -> None:
    q = QuecFramer("13912345678", version)
    p = jt808.decode(q.register(), mode="tolerant")
    assert p.body == TerminalRegister(44, 303, "QUEC", "EC200U", "T000001", 1, "粤B12345")
    assert p.version is {2011: V2011, 2013: V2013, 2019: V2019}[version]
    assert "string_padding" in kinds(p)
    assert ("version_inferred" in kinds(p)) is (version == 2011)


def test_nul_padding_either_side_of_a_plate_and_a_code() -> None:
    reg = encode_body(TerminalRegister(44, 303, "M", "X", "D", 1, ""), V2013) + b"\x00\x00\xd4\xc1B1\x00"
    problems: list[str] = []
    body, _, _ = decode_body(0x0100, V2013, reg, problems=problems)
    assert body.license_number == "粤B1" and [problem_kind(x) for x in problems] == ["string_padding"]
    problems = []
    body, _, _ = decode_body(0x0102, V2013, b"\x00code-1\x00\x00", problems=problems)
    assert body.code == "code-1" and [problem_kind(x) for x in problems] == ["string_padding"]


def test_auth_2019_standard_and_seed004_layouts() -> None:
    std = TerminalAuth("285111", "860000000000001", "V1.0")
    fixed = encode_body(std, V2019)
    assert fixed[-20:] == b"V1.0" + b"\x00" * 16
    problems: list[str] = []
    assert decode_body(0x0102, V2019, fixed, problems=problems)[0] == std and problems == []
    # seed 004: code_len, code, imei BYTE[15], sw_version_len, sw_version
    seed004 = b"\x06285111" + b"860000000000001" + b"\x04V1.0"
    body, tail, _ = decode_body(0x0102, V2019, seed004, problems=problems)
    assert body == std and tail == b"" and [problem_kind(x) for x in problems] == ["layout"]
    assert encode_body(body, V2019) == fixed  # encoding is strict: the standard's fixed field
    # a full-width seed-004 version (19 characters) is still told apart: its first byte counts the rest
    long = b"\x06285111" + b"860000000000001" + b"\x13" + b"V" * 19
    assert decode_body(0x0102, V2019, long)[0].software_version == "V" * 19


def test_2019_header_over_a_2013_auth_body() -> None:
    f = jt808.encode(jt808.build(TerminalAuth("J10030000681"), "13912345678", 3, V2013))
    c = jt808.protocol.unescape(f[1:-2])
    from jt808.protocol.framing import frame
    from jt808.protocol.header import Header, pack_header

    f19 = frame(pack_header(Header(0x0102, "00000000013912345678", 3, V2019), len(c) - 12) + c[12:])
    p = jt808.decode(f19, mode="tolerant")
    assert p.version is V2019 and p.body.code == "J10030000681" and kinds(p) == {"layout"}


def test_register_reply_keeps_a_code_sent_with_a_refusal() -> None:
    body, _, _ = decode_body(0x8100, V2013, b"\x00\x07\x03abc")
    assert body == RegisterReply(7, 3, "abc") and body.to_json(V2013)["auth_code"] == "abc"


def _frame(session: PlatformSession, data: bytes) -> list:
    return session.receive_data(data, 1.0)


def test_session_remembers_2011_from_the_registration() -> None:
    q = QuecFramer("13912345678", 2011)
    s = PlatformSession()
    [ev] = _frame(s, q.register())
    assert isinstance(ev, RegisterRequested) and ev.packet.version is V2011 and s.version is V2011
    s.accept_register(ev, "code-1")
    reply = jt808.decode(s.data_to_send(), Profile("r", default_version=V2011))
    assert reply.body == RegisterReply(ev.packet.header.msg_sn, 0, "code-1")
    [ev] = _frame(s, q.auth("code-1"))
    assert isinstance(ev, AuthRequested)
    s.accept_auth(ev, 1.0)
    assert s.version is V2011 and ev.packet.version is V2011
    assert jt808.decode(s.data_to_send()).body.result == 0


def test_session_takes_the_stored_version_on_reconnection() -> None:
    q = QuecFramer("13912345678", 2011)
    s = PlatformSession()
    [ev] = _frame(s, q.auth("code-1"))
    s.accept_auth(ev, 1.0, version=V2011)  # the gateway read 2011 from the stored registration
    assert s.version is V2011 and ev.packet.version is V2011
