"""The one frame decoder against real-device frames and each dialect of the field (issue 9 item 2).

Real-device frames: traccar's ``src/test/java/org/traccar/protocol/HuabaoProtocolDecoderTest.java``
(github.com/traccar/traccar, the JT/T 808 decoder's test frames; facts, cited per vector below).
Quirk frames: built by :mod:`tests.dialects.quec` the way the QuecPython client frames its messages.
"""

from __future__ import annotations

import pytest

import jt808
from jt808.errors import BadCheckCode, BadLength
from jt808.protocol.frame import decode_frame, read_frame
from jt808.protocol.framing import FrameSplitter, check_code, unescape
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.media import MediaData
from jt808.protocol.messages.tracking import BatchLocations
from jt808.protocol.problems import problem_kind

from .quec import QuecFramer

TRACCAR = "traccar HuabaoProtocolDecoderTest.java"

#: (source, hex, expected id, expected problem kinds in tolerant mode)
REAL = [
    # three vendor frames whose body-length field says one byte more than the frame holds
    (TRACCAR, "7e550104337401903111850622072002454206133574075359513a0000080100000001aa00005ded05e203000000000c06"
              "005affb5ffb40a0302dc65100100137e", 0x5501, {"length_mismatch", "encrypted"}),
    (TRACCAR, "7e55028436740190311185091607200239270613212607536108630000170a000000014600005ded05e203000000000b01"
              "0d0c06005b003e00ab0a0302dc65100100a37e", 0x5502, {"length_mismatch", "encrypted"}),
    (TRACCAR, "7E550100287001608180000127061008045322332880113555602E050031010000000608000010931435010002000300"
              "030100051B7E", 0x5501, {"length_mismatch"}),
    # ordinary frames: no repair
    (TRACCAR, "7E0102000E013511221122000661757468656E7469636174696F6E3F7E", 0x0102, set()),
    (TRACCAR, "7e0002000004304832546500b7ca7e", 0x0002, set()),
    (TRACCAR, "7E0200002A013833501744001900000000000000C201597FA806CC01580080000000081508180721210104000002F50202"
              "0000030200009F7E", 0x0200, set()),
    (TRACCAR, "7E0704014301356777777707F5000801002600000000000000030159741206CBFD5001720000000116052709062401040000"
              "001D03020000002600000000000000030159746606CBFD50016B0000000116052709065301040000001D030200000026000000"
              "00000000030159 75E406CBFE58013F0000000116052709072701040000001D0302000000260000000000000003015976DE06CB"
              "FF10012E0000000116052709075601040000001D0302000000260000000000000003015976BC06CBFED0012D00000001160527"
              "09083001040000001D0302000000260000000000000003015976FE06CBFEC001080000000116052709090001040000001D0302"
              "000000260000000000000003015976FE06CBFE7800FC0000000116052709093301040000001D03020000002600000000000000"
              "03015977A606CBFF3001080000000116052709100201040000001D030200001F7E", 0x0704, set()),
]


@pytest.mark.parametrize(("source", "hexframe", "msg_id", "kinds"), REAL)
def test_real_device_frames_tolerant(source: str, hexframe: str, msg_id: int, kinds: set[str]) -> None:
    frame = bytes.fromhex(hexframe.replace(" ", ""))
    p = jt808.decode(frame, mode="tolerant")
    assert p.header.msg_id == msg_id, source
    assert {problem_kind(x) for x in p.problems} == kinds
    if "length_mismatch" in kinds:
        with pytest.raises(BadLength):  # the strict codec stays strict
            jt808.decode(frame)
        field = p.header.length
        assert len(p.raw_body) == field - 1  # the body the frame holds was decoded
    else:
        assert jt808.decode(frame).body == p.body


def test_real_device_frame_with_wrong_check_code_is_refused_with_its_header() -> None:
    # traccar HuabaoProtocolDecoderTest: a 0x0200 whose check code byte is not the XOR and whose length
    # field (50) disagrees with the body (40): not repairable, but its header names a known id and a BCD phone
    frame = bytes.fromhex("7E02000032013511221122000700000000000C000301578CC006CA3A5C00470000000014072317201501040000"
                          "000030011631010BD07E")
    with pytest.raises(BadCheckCode) as ei:
        jt808.decode(frame, mode="tolerant")
    h = ei.value.header  # plausible header: the gateway answers 0x8001 result 2 quoting it
    assert (h.msg_id, h.msg_sn, h.phone) == (0x0200, 7, "013511221122")
    p = jt808.decode(frame, mode="lenient")
    assert isinstance(p.body, LocationReport)
    assert {problem_kind(x) for x in p.problems} == {"bad_check_code", "length_mismatch"}


def _missing_check_frames(version: int, make: str) -> tuple[bytes, bytes]:
    """A frame of the QuecPython client whose check code was lost (its XOR fitted one hex digit, 1..F),
    and one that kept its two-digit check code."""
    q = QuecFramer("13912345678", version)
    lost = kept = None
    for _ in range(400):
        f = getattr(q, make)()
        x = check_code(unescape(f[1:-1]))  # 0 when the check code is there and right
        if x == 0 and kept is None:
            kept = f
        elif 0 < x < 0x10 and lost is None:
            lost = f
        if lost is not None and kept is not None:
            return lost, kept
    raise AssertionError("no frame of each kind in 400 serials")


@pytest.mark.parametrize("version", [2011, 2013, 2019])
@pytest.mark.parametrize("make", ["heartbeat", "location"])
def test_one_digit_check_code_lost(version: int, make: str) -> None:
    lost, kept = _missing_check_frames(version, make)
    p = jt808.decode(lost, mode="tolerant")
    assert [problem_kind(x) for x in p.problems] == ["check_code_missing"]
    assert p.version is (jt808.V2019 if version == 2019 else jt808.V2013)
    assert p.header.msg_id == {"heartbeat": 0x0002, "location": 0x0200}[make]
    if make == "location":
        assert isinstance(p.body, LocationReport) and p.body.extra(0x01) == 123
    with pytest.raises(BadLength):
        jt808.decode(lost)
    assert jt808.decode(kept).problems == []  # frames with two-digit codes are plain frames


def _zero_lost_frame(version: int, make: str) -> bytes:
    """A frame of the QuecPython client whose check code was a zero XOR, written "0" and lost: its last
    byte, the body's, reads as a valid check code."""
    q = QuecFramer("13912345678", version)
    for _ in range(3000):
        zero = q.zero
        f = getattr(q, make)()
        if q.zero > zero:
            return f
    raise AssertionError("no zero-XOR frame in 3,000 serials")


@pytest.mark.parametrize("version", [2011, 2013, 2019])
def test_lost_zero_check_code_read_as_such_when_only_that_reading_decodes(version: int) -> None:
    """The location's last item is cut by the "length field one over" reading (its body one byte short), and
    whole when the last byte is the body's: that reading is taken, and flagged as the lost check code."""
    f = _zero_lost_frame(version, "location")
    assert check_code(unescape(f[1:-1])) == 0
    p = jt808.decode(f, mode="tolerant")
    assert [problem_kind(x) for x in p.problems] == ["check_code_missing"], p.problems
    assert isinstance(p.body, LocationReport) and p.body.extra(0x01) == 123 and p.tail == b""
    assert len(p.raw_body) == p.header.length
    for keep_bad_body in (False, True):
        assert decode_frame(unescape(f[1:-1]), keep_bad_body=keep_bad_body).body == p.body
    with pytest.raises(BadLength):
        jt808.decode(f)  # strict: no repair


def test_length_one_over_stays_so_when_both_readings_decode() -> None:
    """A vendor's length field one over (traccar's frames) is not taken for a lost check code: with the byte
    read as a check code the body decodes as well, and the reading of the frame as sent is kept."""
    body = jt808.encode_body(jt808.protocol.messages.general.TerminalGeneralReply(5, 0x8103, 0), jt808.V2013)
    header = bytes.fromhex("0001") + (len(body) + 1).to_bytes(2, "big") + bytes.fromhex("013912345678") + b"\x00\x07"
    content = header + body
    frame = jt808.protocol.framing.frame(content)
    p = jt808.decode(frame, mode="tolerant")
    assert [problem_kind(x) for x in p.problems] == ["length_mismatch"] and p.body.seq == 5


@pytest.mark.parametrize("version", [2011, 2013, 2019])
def test_overflowing_body_length_of_a_3k_media_frame(version: int) -> None:
    q = QuecFramer("13912345678", version)
    for size in (3000, 1024, 2047, 3500):
        f = q.media(42, size)
        content = unescape(f[1:-1])
        props = content[2] << 8 | content[3]
        assert props & 0x1C00  # the length spilled into the encryption bits
        p = jt808.decode(f, mode="tolerant")
        assert isinstance(p.body, MediaData) and p.body.id == 42 and len(p.body.multimedia) == size
        assert p.header.encrypt == 0 and p.header.length == len(p.raw_body)
        assert "length_overflow" in {problem_kind(x) for x in p.problems}
        with pytest.raises((BadLength, BadCheckCode)):
            jt808.decode(f)


def test_the_splitter_cuts_quirky_frames_at_once() -> None:
    """A stream splitter that waited for more bytes after a quirky frame would leave the device waiting."""
    q = QuecFramer("13912345678", 2013)
    frames = [q.media(1, 3000)] + [q.heartbeat() for _ in range(40)] + [q.location() for _ in range(40)]
    sp = FrameSplitter()
    for f in frames:
        assert sp.feed(f) == [f]  # each one comes out with its own read
    joined = b"".join(frames)
    sp = FrameSplitter()
    assert sp.feed(joined) == frames


def test_read_frame_and_decode_frame_agree_with_decode() -> None:
    q = QuecFramer("13912345678", 2019)
    for _ in range(50):
        f = q.location()
        c = unescape(f[1:-1])
        h, body, problems = read_frame(c)
        p = decode_frame(c)
        assert (p.header, p.raw_body, p.problems) == (h, body, problems)
        assert p == jt808.decode(f, mode="tolerant")


def test_unreadable_noise_raises_without_header() -> None:
    with pytest.raises(jt808.JT808Error) as ei:
        read_frame(b"\x01\x02\x03")
    assert ei.value.header is None


def test_batch_from_the_quec_client() -> None:
    q = QuecFramer("13912345678", 2013)
    p = jt808.decode(q.batch(3), mode="tolerant")
    assert isinstance(p.body, BatchLocations) and len(p.body.locations) == 3


def test_session_tolerant_by_default_strict_when_configured() -> None:
    from jt808.session.events import FrameRejected, RegisterRequested
    from jt808.session.platform import PlatformSession

    q = QuecFramer("13912345678", 2013)
    lost, _kept = _missing_check_frames(2013, "heartbeat")
    reg = q.register()
    s = PlatformSession()
    [ev] = s.receive_data(reg, 0.0)
    assert isinstance(ev, RegisterRequested)
    s.receive_data(lost, 0.0)  # not authenticated yet: refused, but the frame itself was read
    assert s.repairs.get("check_code_missing") == 1 and s.repairs.get("string_padding") == 2
    strict = PlatformSession(strict=True)
    [ev] = strict.receive_data(lost, 0.0)
    assert isinstance(ev, FrameRejected) and ev.replied  # answered "message error" (result 2)
    nack = jt808.decode(strict.data_to_send())
    assert (nack.body.id, nack.body.result) == (0x0002, 2)


def test_session_counts_the_reading_taken() -> None:
    """A location whose zero check code was lost: the session's repair counters (``/metrics``) name the
    repair the frame decoder settled on (``check_code_missing``), not the first reading's ``length_mismatch``."""
    from jt808.session.events import MessageReceived
    from jt808.session.platform import PlatformSession

    f = _zero_lost_frame(2013, "location")
    s = PlatformSession(anonymous=True)
    [*_, ev] = s.receive_data(f, 0.0)
    assert isinstance(ev, MessageReceived) and ev.packet.body.extra(0x01) == 123
    assert s.repairs == {"check_code_missing": 1}
