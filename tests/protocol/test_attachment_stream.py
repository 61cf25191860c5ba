"""The "01cd" attachment stream parser and the received-ranges bookkeeping (sans-I/O)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jt808
from jt808.protocol.attachments import (
    FILE_HEADER,
    AttachmentStream,
    AttachmentStreamError,
    FileData,
    FrameReceived,
    RangeSet,
    file_packet,
    parse_file_name,
)

# SmallChi/JTActiveSafety src/JTActiveSafety.Protocol.Test/JTActiveSafetySerializerTest.cs: file "alarm.xlsx"
# (name NUL-padded on the left), offset 1, five data bytes.
SC_PACKET = bytes.fromhex("3031636400000000000000000000000000000000000000000000000000000000000000000000000000000000"
                          "616C61726D2E786C737800000001000000050102030405")
# go-jt808 protocol/model/parse_test.go: "T0x1211 终端-文件信息上传" (2019 header)
FRAME_1211 = bytes.fromhex("7e121140130112345678901234567890ffff0d7777772e6a74743830382e636e0100000400797e")


def merged(events: list[FrameReceived | FileData]) -> list[tuple]:
    """Events with consecutive pieces of one data packet joined (what any chunking must produce)."""
    out: list[tuple] = []
    for ev in events:
        if isinstance(ev, FrameReceived):
            out.append(("frame", ev.frame))
        elif out and out[-1][0] == "data" and not out[-1][4] and out[-1][1] == ev.name \
                and out[-1][2] + len(out[-1][3]) == ev.offset:
            _, name, off, data, _ = out[-1]
            out[-1] = ("data", name, off, data + ev.data, ev.end)
        else:
            out.append(("data", ev.name, ev.offset, ev.data, ev.end))
    return out


def test_smallchi_packet() -> None:
    s = AttachmentStream()
    assert s.feed(SC_PACKET) == [FileData("alarm.xlsx", 1, b"\x01\x02\x03\x04\x05", True)]
    assert (s.packets, s.junk, s.buffered, s.in_packet) == (1, 0, 0, False)


def test_frames_and_packets_interleaved() -> None:
    data = bytes(range(256)) * 3 + b"\x7e\x7d"  # data bytes that look like frame delimiters are data
    stream = FRAME_1211 + file_packet("www.jtt808.cn", 0, data) + SC_PACKET + FRAME_1211
    events = AttachmentStream().feed(stream)
    assert merged(events) == [("frame", FRAME_1211), ("data", "www.jtt808.cn", 0, data, True),
                              ("data", "alarm.xlsx", 1, b"\x01\x02\x03\x04\x05", True), ("frame", FRAME_1211)]
    assert jt808.decode(events[0].frame).body.name == "www.jtt808.cn"


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_chunking_gives_the_same_events(data: st.DataObject) -> None:
    payload = data.draw(st.binary(min_size=0, max_size=300))
    stream = FRAME_1211 + file_packet("a.jpg", 100, payload) + FRAME_1211 + SC_PACKET
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    s = AttachmentStream()
    events = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        events += s.feed(stream[a:b])
        # memory stays bounded: never more than a packet header or a frame is held, data flows through
        assert s.buffered <= max(FILE_HEADER, len(FRAME_1211))
    assert merged(events) == merged(AttachmentStream().feed(stream))
    assert s.buffered == 0 and not s.in_packet


def test_junk_is_skipped_and_counted() -> None:
    s = AttachmentStream()
    events = s.feed(b"\x00\x01garbage0x" + FRAME_1211 + b"zz" + SC_PACKET)
    assert merged(events)[0] == ("frame", FRAME_1211) and len(events) == 2
    assert s.junk == len(b"\x00\x01garbage0x") + 2


def test_limits() -> None:
    with pytest.raises(AttachmentStreamError):
        AttachmentStream(max_packet=4).feed(SC_PACKET)
    with pytest.raises(AttachmentStreamError):
        AttachmentStream(max_frame=10).feed(FRAME_1211)
    s = AttachmentStream(max_frame=64)
    with pytest.raises(AttachmentStreamError):
        s.feed(b"\x7e" + b"\x01" * 100)  # an unterminated frame cannot grow without bound


def test_file_packet_layout() -> None:
    p = file_packet("x.jpg", 7, b"ab")
    assert len(p) == FILE_HEADER + 2 and p[:4] == b"01cd" and p[4:9] == b"x.jpg" and p[-10:-2] == bytes.fromhex(
        "0000000700000002")
    with pytest.raises(ValueError):
        file_packet("n" * 51, 0, b"")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 200), st.lists(st.tuples(st.integers(0, 220), st.integers(0, 60)), max_size=10))
def test_rangeset_matches_a_bitmap(size: int, adds: list[tuple[int, int]]) -> None:
    r = RangeSet()
    have = [False] * 300
    for off, n in adds:
        r.add(off, n)
        for i in range(off, off + n):
            have[i] = True
    gaps = r.missing(size)
    want = [i for i in range(size) if not have[i]]
    assert [i for off, n in gaps for i in range(off, off + n)] == want
    assert all(n > 0 for _, n in gaps)
    assert all(a[0] + a[1] < b[0] for a, b in itertools.pairwise(gaps))  # gaps are maximal
    assert r.complete(size) == (not want)
    assert r.covered == sum(have)


def test_parse_file_name() -> None:
    assert parse_file_name("00_65_6501_0_0f2c9a7e5d3b41c8a6e4f2d0b9c7a5e3.jpg") == {
        "type": 0, "channel": 65, "alarm_type": "6501", "index": 0, "alarm_no": "0f2c9a7e5d3b41c8a6e4f2d0b9c7a5e3",
        "ext": "jpg"}
    assert parse_file_name("alarm.xlsx") is None
