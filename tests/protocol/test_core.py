"""Framing, header and top-level decode/encode on the frames of PROTOCOL.md §7 / seeds 002 and 003."""

from __future__ import annotations

import pytest

import jt808
from jt808 import V2013, V2019, Header, Packet
from jt808.protocol.framing import FrameSplitter, check_code, escape, unescape
from jt808.protocol.messages.general import HeartBeat, PlatformGeneralReply
from jt808.protocol.messages.location import LocationReport

HEARTBEAT_2013 = bytes.fromhex("7e000200000857502162890001c67e")
REPLY_2013 = bytes.fromhex("7e8001000508575021628900010001000200437e")
LOCATION_ESCAPED = bytes.fromhex(
    "7E02000026123456789012007D02000000010000000200BA7F0E07E4F11C0028003C00001810151010100104000000640202007D01137E"
)
BIT14_ON_2013 = bytes.fromhex("7e0102400c01003000068109024a3130303330303030363831857e")
HEARTBEAT_2019 = bytes.fromhex("7e0002400001000000000139123456780001727e")


def test_escape_roundtrip_and_order() -> None:
    data = bytes([0x30, 0x7E, 0x08, 0x7D, 0x55, 0x7D, 0x02])
    esc = escape(data)
    assert esc == bytes([0x30, 0x7D, 0x02, 0x08, 0x7D, 0x01, 0x55, 0x7D, 0x01, 0x02])
    assert unescape(esc) == data


@pytest.mark.parametrize("bad", [b"\x01\x7d\x03\x02", b"\x01\x02\x7d"])
def test_bad_escape(bad: bytes) -> None:
    with pytest.raises(jt808.BadEscape):
        unescape(bad)


def test_check_code_long_and_short() -> None:
    for n in (0, 1, 24, 25, 200, 1100):
        data = bytes((i * 37 + 11) & 0xFF for i in range(n))
        x = 0
        for b in data:
            x ^= b
        assert check_code(data) == x


def test_heartbeat_2013() -> None:
    p = jt808.decode(HEARTBEAT_2013)
    assert p.header.msg_id == 0x0002
    assert p.header.phone == "085750216289"
    assert p.header.msg_sn == 1
    assert p.version is V2013
    assert isinstance(p.body, HeartBeat)
    assert jt808.encode(p) == HEARTBEAT_2013


def test_platform_reply_2013() -> None:
    p = jt808.decode(REPLY_2013)
    assert p.body == PlatformGeneralReply(seq=1, id=2, result=0)
    assert jt808.encode(p) == REPLY_2013


def test_location_with_escapes() -> None:
    p = jt808.decode(LOCATION_ESCAPED)
    assert p.header.msg_sn == 0x7E
    body = p.body
    assert isinstance(body, LocationReport)
    assert (body.alarm, body.status, body.latitude, body.longitude) == (1, 2, 12222222, 132444444)
    assert (body.altitude, body.speed, body.direction, body.time) == (40, 60, 0, "181015101010")
    assert body.extras == [(0x01, 100), (0x02, 0x7D)]
    assert jt808.encode(p) == LOCATION_ESCAPED


def test_bit14_on_2013_frame_is_2013() -> None:
    p = jt808.decode(BIT14_ON_2013)
    assert p.version is V2013
    assert p.header.phone == "010030000681"
    assert any("bit 14" in x for x in p.problems)
    assert jt808.encode(p) == BIT14_ON_2013


def test_heartbeat_2019() -> None:
    p = jt808.decode(HEARTBEAT_2019)
    assert p.version is V2019
    assert p.header.phone == "00000000013912345678"
    assert p.header.proto_ver == 1
    assert jt808.encode(p) == HEARTBEAT_2019


def test_bad_check_code_strict_and_lenient() -> None:
    bad = HEARTBEAT_2013[:-2] + b"\x00\x7e"
    with pytest.raises(jt808.BadCheckCode) as ei:
        jt808.decode(bad)
    assert ei.value.expected == 0xC6 and ei.value.actual == 0
    p = jt808.decode(bad, strict=False)
    assert "bad check code" in p.problems[0]
    p = jt808.decode(bad, profile=jt808.Profile("sloppy", accept_bad_check=True))
    assert isinstance(p.body, HeartBeat)


def test_non_bcd_phone_decodes_as_hex() -> None:
    h = Header(0x0002, "0a1b2c3d4e5f", 3)
    frame = jt808.encode(Packet(h, HeartBeat()))
    assert jt808.decode(frame).header.phone == "0a1b2c3d4e5f"


def test_unknown_and_vendor_ids_roundtrip() -> None:
    for mid in (0x0F10, 0x8F22, 0xE001, 0xF0F0, 0x1234):
        p = Packet(Header(mid, "013912345678", 9, V2019), jt808.RawBody(b"\x01\x7e\x7d\xff"))
        frame = jt808.encode(p)
        q = jt808.decode(frame)
        assert isinstance(q.body, jt808.RawBody)
        assert q.body.data == b"\x01\x7e\x7d\xff"
        assert jt808.encode(q) == frame


def test_splitter_sticky_half_junk_doubled_flag() -> None:
    stream = b"GET / HTTP/1.1\r\n\r\n" + HEARTBEAT_2013 + HEARTBEAT_2013 + b"\x7e" + REPLY_2013 + b"junk"
    stream += LOCATION_ESCAPED
    expected = [HEARTBEAT_2013, HEARTBEAT_2013, REPLY_2013, LOCATION_ESCAPED]
    for step in (len(stream), 1, 7):
        s = FrameSplitter()
        out = []
        for i in range(0, len(stream), step):
            out += s.feed(stream[i:i + step])
        assert out == expected, step
        assert s.junk_bytes == len(b"GET / HTTP/1.1\r\n\r\n") + 4


def test_splitter_missing_start_flag() -> None:
    s = FrameSplitter()
    assert s.feed(HEARTBEAT_2013 + REPLY_2013[1:]) == [HEARTBEAT_2013, REPLY_2013]


def test_splitter_unescaped_7e_inside_body() -> None:
    good = LOCATION_ESCAPED
    # A device that forgot to escape the 0x7E serial number: 7D 02 -> 7E raw.
    broken = good.replace(bytes.fromhex("007D02"), bytes.fromhex("007E"), 1)
    s = FrameSplitter()
    out = s.feed(broken + HEARTBEAT_2013)
    assert out == [broken, HEARTBEAT_2013]
    p = jt808.decode(out[0])
    assert p.header.msg_sn == 0x7E


def test_splitter_max_frame() -> None:
    s = FrameSplitter(max_frame=64)
    out = s.feed(b"\x7e" + b"\x01" * 200)
    assert out == [] and s.oversize == 1
    assert s.feed(HEARTBEAT_2013) == [HEARTBEAT_2013]
    assert s.buffered == 0
