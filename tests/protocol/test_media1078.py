"""JT/T 1078 media packets: golden packets (SmallChi/JT1078, see tests/protocol/media1078_vectors/SOURCE.md),
stream splitting in any chunking, garbage, SIM width, reassembly and loss counting."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jt808.errors import DecodeError, EncodeError
from jt808.protocol.media1078 import (
    MAX_BODY,
    DataType,
    FrameAssembler,
    MediaPacket,
    MediaParser,
    SubPackage,
    decode_packet,
    encode_packet,
    header_length,
    packetize,
)

VECTORS = sorted((Path(__file__).parent / "media1078_vectors").glob("*.hex"))


def _load(path: Path) -> tuple[bytes, dict]:
    return bytes.fromhex(path.read_text().strip()), json.loads(path.with_suffix(".json").read_text())


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_golden_packet(path: Path) -> None:
    raw, exp = _load(path)
    p = decode_packet(raw)
    got = {"sim": p.sim, "channel": p.channel, "payload_type": p.payload_type, "marker": p.marker, "seq": p.seq,
           "data_type": int(p.data_type), "subpackage": int(p.subpackage), "timestamp": p.timestamp,
           "last_i_interval": p.last_i_interval, "last_interval": p.last_interval, "body_length": len(p.body)}
    assert got == exp
    assert p.problems == []
    assert encode_packet(p) == raw  # strict encoding gives the same bytes back
    # the stream parser finds the same packet, whatever the SIM-width setting
    for width in (None, 6):
        assert MediaParser(width).feed(raw) == [p]


def test_vectors_present() -> None:
    assert len(VECTORS) >= 5


def _stream() -> tuple[bytes, list[MediaPacket]]:
    pkts = [decode_packet(_load(v)[0]) for v in VECTORS]
    return b"".join(encode_packet(p) for p in pkts), pkts


def test_stream_in_any_chunking() -> None:
    data, pkts = _stream()
    for cut in (1, 2, 3, 7, 31, 500, len(data)):
        parser = MediaParser()
        out = []
        for i in range(0, len(data), cut):
            out += parser.feed(data[i:i + cut])
        assert out == pkts, cut
        assert parser.garbage_bytes == 0 and parser.pending == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2000), max_size=12), st.binary(max_size=200))
# found by Hypothesis: the chunk ends exactly where the half packet cut by the junk claims to end (its body
# swallowed the junk and the next packets' start); it was taken, with the packets inside it lost
@example([1290], b"\x00\x00\x00\x00")
def test_random_cuts_and_garbage(cuts: list[int], junk: bytes) -> None:
    data, pkts = _stream()
    junk = junk.replace(b"01cd", b"01cx")
    stream = junk + data[:len(data) // 2] + junk + data + junk
    parser = MediaParser(6)
    out: list[MediaPacket] = []
    pos = 0
    for c in sorted(set(cuts)):
        out += parser.feed(stream[pos:c])
        pos = max(pos, c)
    out += parser.feed(stream[pos:])
    # the half packet cut by junk is lost, everything whole is found, in order
    assert [(p.seq, p.body) for p in out[-len(pkts):]] == [(p.seq, p.body) for p in pkts]
    assert parser.pending < 4
    assert parser.garbage_bytes >= 2 * len(junk)


def test_packet_holding_a_header_at_the_end_of_the_data() -> None:
    """A packet whose body holds "01cd" and which ends exactly where the data ends: over TCP it waits for
    the next bytes (a header there confirms it), in a datagram (``final``) it is taken at once."""
    [pkt] = packetize("013912345678", 1, 98, DataType.P_FRAME, 1000, b"\x00\x00\x00\x0101cd\x81\x62" + bytes(40), 5)
    raw = encode_packet(pkt)
    [nxt] = packetize("013912345678", 1, 98, DataType.P_FRAME, 1040, bytes(30), 6)
    tcp = MediaParser(6)
    assert tcp.feed(raw) == [] and tcp.pending == len(raw)
    assert tcp.feed(encode_packet(nxt)) == [pkt, nxt] and tcp.pending == 0 and tcp.garbage_bytes == 0
    udp = MediaParser(6)
    assert udp.feed(raw, final=True) == [pkt]
    udp.end_datagram()
    assert udp.pending == 0 and udp.garbage_bytes == 0


def test_garbage_that_looks_like_a_header() -> None:
    data, pkts = _stream()
    fake = b"01cd\x00\x00"  # RTP version 0: not a packet
    fake2 = b"01cd\x81\xe2\x00\x01" + b"\x01" * 6 + b"\x01\xff"  # data type 0xF: not a packet
    parser = MediaParser()
    assert parser.feed(fake + data[:100]) == []
    out = parser.feed(data[100:] + fake2 + data)
    assert out == pkts + pkts
    assert parser.resyncs >= 2


def test_sim_width_10_detected() -> None:
    frame = bytes(range(256)) * 8
    pkts = packetize("12345678901234567890", 2, 98, DataType.I_FRAME, 1000, frame, 7, sim_len=10)
    data = b"".join(encode_packet(p) for p in pkts)
    parser = MediaParser()
    out = parser.feed(data)
    assert parser.sim_len == 10
    assert [p.sim for p in out] == ["12345678901234567890"] * len(pkts)
    assert len(data) == sum(header_length(0, 10) + len(p.body) for p in pkts)
    asm = FrameAssembler()
    frames = [f for p in out if (f := asm.add(p))]
    assert len(frames) == 1 and frames[0].payload == frame and frames[0].channel == 2


def test_transparent_and_audio_layouts() -> None:
    for dt, hlen in ((DataType.TRANSPARENT, 18), (DataType.AUDIO, 26), (DataType.I_FRAME, 30)):
        (p,) = packetize("13912345678", 1, 91 if dt == 4 else 6, dt, 5, b"abc", 1)
        raw = encode_packet(p)
        assert len(raw) == hlen + 3 == header_length(dt) + 3
        back = decode_packet(raw)
        assert back.body == b"abc" and back.data_type == dt
        assert (back.timestamp is None) == (dt == DataType.TRANSPARENT)
        assert (back.last_i_interval is None) == (dt >= DataType.AUDIO)


def test_strict_encoding() -> None:
    (p,) = packetize("13912345678", 1, 98, 0, 0, b"x", 0)
    p.body = b"x" * (MAX_BODY + 1)
    with pytest.raises(EncodeError, match="exceeds 950"):
        encode_packet(p)
    p.body, p.sim = b"x", "12ab"
    with pytest.raises(EncodeError, match="decimal"):
        encode_packet(p)


def test_lenient_decoding_lists_problems() -> None:
    (p,) = packetize("13912345678", 1, 98, 0, 0, b"x", 0)
    raw = bytearray(encode_packet(p))
    raw[4] = 0x80  # CC = 0
    body = b"y" * 1200  # longer than the standard allows, as some devices send
    raw[28:30] = len(body).to_bytes(2, "big")
    raw = bytes(raw[:30]) + body
    q = decode_packet(raw)
    assert q.body == body
    assert any("0x80" in s for s in q.problems) and any("exceeds the standard" in s for s in q.problems)
    with pytest.raises(DecodeError, match="truncated"):
        decode_packet(raw[:-1])
    with pytest.raises(DecodeError, match="0x30316364"):
        decode_packet(b"xx" + raw)


def _frames(n: int, sim: str = "13912345678") -> list[MediaPacket]:
    rnd = random.Random(n)
    out: list[MediaPacket] = []
    seq = 65530  # wraps
    for k in range(n):
        dt = DataType.I_FRAME if k % 10 == 0 else DataType.P_FRAME
        size = rnd.randrange(1, 4000)
        pk = packetize(sim, 1, 98, dt, k * 40, bytes([k % 256]) * size, seq)
        seq = (seq + len(pk)) & 0xFFFF
        out += pk
        ap = packetize(sim, 1, 6, DataType.AUDIO, k * 40, b"\xd5" * 320, seq)
        seq = (seq + 1) & 0xFFFF
        out += ap
    return out


def test_reassembly_and_wrapping_sequence() -> None:
    asm = FrameAssembler()
    frames = [f for p in _frames(30) if (f := asm.add(p))]
    video = [f for f in frames if f.is_video]
    assert len(video) == 30 and len(frames) == 60
    assert [f.timestamp for f in video] == [k * 40 for k in range(30)]
    assert all(f.payload == bytes([k % 256]) * len(f.payload) for k, f in enumerate(video))
    assert sum(f.is_key for f in video) == 3
    assert asm.lost == 0 and asm.frames_dropped == 0


def test_losses_counted_and_damaged_frames_dropped() -> None:
    pkts = _frames(30)
    multi = [i for i, p in enumerate(pkts) if p.subpackage == SubPackage.MIDDLE]
    drop = {multi[0], multi[5], 3}
    asm = FrameAssembler()
    frames = [f for i, p in enumerate(pkts) if i not in drop and (f := asm.add(p))]
    assert asm.lost == len(drop)
    assert 57 <= len(frames) <= 58  # the frames that lost a packet are dropped, the rest come out whole
    assert asm.frames_dropped >= 2
    assert 0 < asm.loss_rate < 0.05


def test_per_kind_numbering_is_not_loss() -> None:
    """A terminal numbering audio and video apart: in-order packets of each kind are no loss."""
    asm = FrameAssembler()
    vseq = 0
    for k in range(20):
        for p in packetize("1", 1, 98, 1, k * 40, b"v" * 2000, vseq):
            asm.add(p)
        vseq += 3
        (a,) = packetize("1", 1, 6, 3, k * 40, b"a" * 160, k)
        asm.add(a)
    assert asm.lost == 0 and asm.frames == 40


def test_parser_memory_is_bounded() -> None:
    parser = MediaParser()
    for _ in range(100):
        parser.feed(bytes(random.Random(1).randbytes(5000)).replace(b"01cd", b"...."))
        assert parser.pending <= 3
    # a header claiming a huge body is garbage, not something to wait for
    (p,) = packetize("1", 1, 98, 1, 0, b"x", 0)
    raw = bytearray(encode_packet(p))
    raw[28:30] = b"\xff\xff"
    parser.feed(bytes(raw) + b"z" * 100)
    assert parser.pending <= 3
