"""Sub-packages: split / encode_many and the sans-I/O Reassembler (PROTOCOL.md §1.7)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jt808
from jt808 import V2013, V2019, Header, Packet, RawBody, Reassembler, encode_many, split
from jt808.protocol.framing import escape, unescape
from jt808.protocol.messages.general import PlatformGeneralReply, ResendRequest, TerminalResendRequest
from jt808.protocol.messages.location import LocationBasic
from jt808.protocol.messages.media import MediaData, MediaDataReply
from jt808.protocol.messages.params import Param, ParametersReply
from jt808.protocol.packet import decode_body, encode_body
from jt808.protocol.subpackage import Incomplete

PHONE = "013912345678"
PHONE19 = "00000000013912345678"
LOC = LocationBasic(0x100, 0x000C1001, 30787690, 120767073, 0, 0, 0, "190313153803")
LOC_HEX = "00000100000c100101d5c86a0732c261000000000000190313153803"


def jpeg(n: int, seed: int = 1) -> bytes:
    rnd = random.Random(seed)
    return b"\xff\xd8\xff\xe0" + bytes(rnd.getrandbits(8) for _ in range(n - 6)) + b"\xff\xd9"


def raw_packet(data: bytes, msg_id: int = 0x0F10, sn: int = 100, version=V2013) -> Packet:
    return Packet(Header(msg_id, PHONE if version is not V2019 else PHONE19, sn, version), RawBody(data))


def frames_to_packets(frames: list[bytes]) -> list[Packet]:
    return [jt808.decode(f) for f in frames]


# ---------------------------------------------------------------------------------------------
# split / encode_many
# ---------------------------------------------------------------------------------------------
def test_split_slices_consecutive_serials_and_fragment_fields() -> None:
    data = bytes(range(256)) * 12  # 3072 bytes
    parts = split(raw_packet(data, sn=100))
    assert [len(p.body.data) for p in parts] == [1023, 1023, 1023, 3]
    assert [p.header.msg_sn for p in parts] == [100, 101, 102, 103]
    assert [(p.header.frag_total, p.header.frag_sn) for p in parts] == [(4, 1), (4, 2), (4, 3), (4, 4)]
    assert all(isinstance(p.body, RawBody) and p.body.reason == "fragment" for p in parts)
    assert b"".join(p.body.data for p in parts) == data
    # custom slice size and first serial, wrapping at 0xFFFF
    parts = split(raw_packet(data), max_body=512, first_sn=0xFFFE)
    assert len(parts) == 6 and [p.header.msg_sn for p in parts] == [0xFFFE, 0xFFFF, 0, 1, 2, 3]


def test_split_leaves_a_fitting_packet_alone_and_encode_many() -> None:
    p = raw_packet(b"x" * 1023)
    assert split(p) == [p]
    assert [q.header.msg_sn for q in split(p, first_sn=9)] == [9] and p.header.msg_sn == 100
    frames = encode_many(p)
    assert frames == [jt808.encode(p)]
    frames = encode_many(raw_packet(b"y" * 1024))
    assert len(frames) == 2
    decoded = frames_to_packets(frames)
    assert [d.header.length for d in decoded] == [1023, 1]
    assert all(d.header.fragmented for d in decoded)


@pytest.mark.parametrize("bad", [0, 1024, -1, True, 1.5])
def test_split_refuses_bad_slice_sizes(bad) -> None:
    with pytest.raises(jt808.EncodeError):
        split(raw_packet(b"z" * 2000), max_body=bad)


def test_encode_refuses_oversize_body_without_split() -> None:
    with pytest.raises(jt808.EncodeError):
        jt808.encode(raw_packet(b"z" * 1024))


# ---------------------------------------------------------------------------------------------
# The S002 photo-upload flow: 0x0801 fragments, 0x8001 for each but the last, then 0x8800 length 0
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [V2013, V2019])
def test_photo_upload_flow(version) -> None:
    photo = jpeg(4000)
    media = MediaData(id=42, type=0, format=0, event=0, channel=1, location=LOC, multimedia=photo)
    phone = PHONE if version is V2013 else PHONE19
    frames = encode_many(jt808.build(media, phone, 0x1AC0, version))
    assert len(frames) == 4  # 36 + 4000 bytes in 1023-byte slices
    platform = Reassembler(timeout=10)
    replies: list[bytes] = []
    merged = None
    for i, frame in enumerate(frames):
        p = jt808.decode(frame)
        assert isinstance(p.body, RawBody) and p.body.reason == "fragment"
        if i == 0:  # only fragment 1 carries the 36-byte prefix
            assert p.body.data[:4] == (42).to_bytes(4, "big") and p.body.data[8:36].hex() == LOC_HEX
        merged = platform.add(p, now=float(i))
        if merged is None:
            ack = jt808.build(PlatformGeneralReply(seq=p.header.msg_sn, id=0x0801, result=0), phone, i, version)
            replies.append(jt808.encode(ack))
    assert len(replies) == 3
    assert merged is not None and merged.body == media
    assert merged.header.msg_sn == 0x1AC0 and not merged.header.fragmented and merged.header.length == 4036
    assert merged.raw_body == encode_body(media, version)
    assert len(platform) == 0 and platform.buffered_bytes == 0
    # then the platform's 0x8800 (mm_id + count 0), which the device accepts
    reply = jt808.encode(jt808.build(MediaDataReply(mm_id=merged.body.id, retx_ids=[]), phone, 9, version))
    back = jt808.decode(reply)
    assert back.body == MediaDataReply(42, []) and back.raw_body == bytes.fromhex("0000002a00")


# ---------------------------------------------------------------------------------------------
# Order, duplicates, serials
# ---------------------------------------------------------------------------------------------
def test_random_orders_and_duplicates() -> None:
    media = MediaData(id=7, location=LOC, multimedia=jpeg(6000, seed=3))
    frames = encode_many(jt808.build(media, PHONE, 500), max_body=700)
    packets = frames_to_packets(frames)
    for seed in range(10):
        rnd = random.Random(seed)
        order = packets + rnd.sample(packets, 3)  # three duplicates
        rnd.shuffle(order)
        r = Reassembler()
        results = [r.add(p, now=0.0) for p in order]
        done = [x for x in results if x is not None]
        assert len(done) == 1
        assert done[0].body == media and done[0].header.msg_sn == 500
        # copies arriving after completion are recognised: no new set, nothing merged twice
        assert all(x is None for x in results[results.index(done[0]) + 1:])
        assert len(r) == 0 and r.late_duplicates == len(results) - results.index(done[0]) - 1
        assert r.expire(1000.0) == []


def test_duplicates_are_noted_and_first_copy_kept() -> None:
    parts = split(raw_packet(bytes(3000)))
    r = Reassembler()
    assert r.add(parts[0], 0) is None
    assert r.add(parts[0], 1) is None
    assert r.add(parts[1], 2) is None
    merged = r.add(parts[2], 3)
    assert merged is not None and merged.raw_body == bytes(3000)
    assert any("duplicate fragment 1/3" in p for p in merged.problems)


def test_late_copy_after_window_or_of_another_message_opens_a_set() -> None:
    parts = split(raw_packet(bytes(3000), sn=1))
    r = Reassembler(window=60)
    for p in parts:
        out = r.add(p, 0)
    assert out is not None
    assert r.add(parts[1], 30) is None and len(r) == 0 and r.late_duplicates == 1
    assert r.add(parts[1], 100) is None and len(r) == 1  # beyond the window: a new message
    other = split(raw_packet(b"\x01" * 3000, sn=9))
    r = Reassembler()
    for p in parts:
        r.add(p, 0)
    assert r.add(other[0], 1) is None and r.missing(Reassembler.key_of(other[0])) == [2, 3]


def test_non_consecutive_and_repeated_serials_merge() -> None:
    data = bytes(range(200)) * 15
    parts = split(raw_packet(data))
    for sns in ([9, 4000, 17], [5, 5, 5]):  # arbitrary serials; yezhihao gives all fragments the same one
        r = Reassembler()
        out = None
        for p, sn in zip(parts, sns, strict=True):
            out = r.add(Packet(p.header.copy(msg_sn=sn), p.body), 0)
        assert out is not None and out.raw_body == data and out.header.msg_sn == sns[0]


def test_frag_total_one_completes_at_once_and_plain_frames_bypass() -> None:
    body = MediaData(id=1, location=LOC, multimedia=b"abc")
    frame = jt808.encode(jt808.build(body, PHONE, 3, frag_total=1, frag_sn=1))
    p = jt808.decode(frame)
    assert p.body == body  # decode already decodes a 1-fragment message
    r = Reassembler()
    out = r.add(p, 0)
    assert out is not None and out.body == body and out.header.frag_total == 0 and out.header.frag_sn == 0
    assert len(r) == 0
    plain = jt808.decode(jt808.encode(jt808.build(body, PHONE, 4)))
    assert r.add(plain, 0) is plain
    # a hand-made single fragment with its bytes still raw is decoded
    raw = Packet(Header(0x0801, PHONE, 5, frag_total=1, frag_sn=1), RawBody(encode_body(body, V2013), "fragment"))
    assert r.add(raw, 0).body == body


# ---------------------------------------------------------------------------------------------
# Loss, re-send, expiry (fake clock)
# ---------------------------------------------------------------------------------------------
def test_lost_fragment_reported_then_resent() -> None:
    media = MediaData(id=0x55, location=LOC, multimedia=jpeg(3500, seed=9))
    frames = encode_many(jt808.build(media, PHONE, 0x0100))
    packets = frames_to_packets(frames)
    assert len(packets) == 4
    r = Reassembler(timeout=5, retries=2)
    key = Reassembler.key_of(packets[0])
    assert key == (PHONE, 0x0801, 4)
    for t, p in enumerate([packets[0], packets[1], packets[3]]):  # fragment 3 lost
        assert r.add(p, now=100.0 + t) is None
    assert r.missing(key) == [3]
    # the last fragment came but one is missing: a platform answers 0x8800 with the missing index now
    inc = r.incomplete(key)
    assert inc is not None and inc.reply() == MediaDataReply(0x55, [3])
    assert r.expire(now=104.0) == []  # not idle long enough
    assert r.next_deadline() == 102.0 + 5
    reports = r.expire(now=107.5)
    assert len(reports) == 1
    rep = reports[0]
    assert (rep.phone, rep.msg_id, rep.frag_total, rep.first_sn, rep.first_sn_known) == (PHONE, 0x0801, 4, 0x0100, True)
    assert rep.missing == [3] and rep.received == 3 and rep.attempts == 1 and not rep.dropped
    assert rep.media_id == 0x55
    req = rep.resend_request()
    assert req == ResendRequest(seq=0x0100, ids=[3])
    assert encode_body(req, V2013).hex() == "0100" "01" "0003"  # BYTE count in 2013
    assert rep.resend_request(terminal=True) == TerminalResendRequest(seq=0x0100, ids=[3])
    assert r.expire(now=108.0) == []  # the idle clock restarted with the report
    # the terminal re-sends fragment 3 with the same frag_total/frag_sn and a fresh serial
    resent = jt808.decode(jt808.encode(Packet(packets[2].header.copy(msg_sn=0x0200), packets[2].body)))
    merged = r.add(resent, now=109.0)
    assert merged is not None and merged.body == media and merged.header.msg_sn == 0x0100
    assert r.missing(key) is None and len(r) == 0


def test_expiry_gives_up_after_retries() -> None:
    parts = split(raw_packet(bytes(5000), msg_id=0x0704, sn=10))
    r = Reassembler(timeout=30, retries=2)
    r.add(parts[1], 0)
    r.add(parts[4], 1)
    key = Reassembler.key_of(parts[1])
    reps = r.expire(31.5)
    assert [(x.attempts, x.dropped, x.missing) for x in reps] == [(1, False, [1, 3, 4])]
    # fragment 1 missing: its serial is estimated from fragment 2 (consecutive serials)
    assert reps[0].first_sn == 10 and not reps[0].first_sn_known and reps[0].media_id is None
    assert isinstance(reps[0].reply(), ResendRequest)
    assert [(x.attempts, x.dropped) for x in r.expire(62)] == [(2, False)]
    final = r.expire(93)
    assert [(x.attempts, x.dropped, x.reason) for x in final] == [(3, True, "timeout")]
    assert r.missing(key) is None and len(r) == 0 and r.buffered_bytes == 0
    assert r.expire(1000) == [] and r.next_deadline() is None


def test_media_reply_needs_fragment_one() -> None:
    parts = split(raw_packet(bytes(3000), msg_id=0x0801))
    r = Reassembler(timeout=1)
    r.add(parts[2], 0)
    rep = r.expire(5)[0]
    with pytest.raises(jt808.ReassemblyError):
        rep.media_reply()
    assert isinstance(rep.reply(), ResendRequest)
    assert rep.resend_request().seq == parts[0].header.msg_sn


def test_resend_request_2013_caps_at_255_ids() -> None:
    inc = Incomplete((PHONE, 0x0104, 400), 1, True, list(range(1, 400)), 1, V2013)
    assert len(inc.resend_request().ids) == 255
    inc19 = Incomplete((PHONE19, 0x0104, 400), 1, True, list(range(1, 400)), 1, V2019)
    assert len(inc19.resend_request().ids) == 399


# ---------------------------------------------------------------------------------------------
# New message with the same key, window, conflicts, bounds
# ---------------------------------------------------------------------------------------------
def test_new_message_with_same_key_starts_a_new_set() -> None:
    a = split(raw_packet(b"A" * 2500, sn=10))
    b = split(raw_packet(b"B" * 2500, sn=20))
    r = Reassembler()
    r.add(a[0], 0)
    r.add(a[2], 1)  # a[1] lost, never re-sent
    assert r.add(b[0], 2) is None  # index 1 again, other bytes, other serial: a new message
    assert r.add(b[1], 3) is None
    merged = r.add(b[2], 4)
    assert merged is not None and merged.raw_body == b"B" * 2500 and merged.header.msg_sn == 20
    reps = r.expire(5)
    assert [(x.reason, x.dropped, x.first_sn, x.missing) for x in reps] == [("superseded", True, 10, [2])]


def test_window_starts_a_new_set_after_silence() -> None:
    a = split(raw_packet(b"A" * 2500, sn=10))
    r = Reassembler(timeout=5, window=60)
    r.add(a[0], 0)
    r.add(a[1], 61)  # too late: a new set (the old one is reported as superseded)
    assert r.missing(Reassembler.key_of(a[0])) == [1, 3]
    assert [x.reason for x in r.expire(62)] == ["superseded"]


def test_conflicts_raise_reassembly_error() -> None:
    parts = split(raw_packet(bytes(3000), sn=50))
    r = Reassembler()
    with pytest.raises(jt808.ReassemblyError):
        r.add(Packet(parts[0].header.copy(frag_sn=0), parts[0].body), 0)
    with pytest.raises(jt808.ReassemblyError):
        r.add(Packet(parts[0].header.copy(frag_sn=4), parts[0].body), 0)
    r.add(parts[0], 0)
    # same serial and index, other bytes
    with pytest.raises(jt808.ReassemblyError):
        r.add(Packet(parts[0].header, RawBody(b"\x01" * 1023, "fragment")), 0)
    # the serial of a fragment of a 3-part message now claims a total of 5
    with pytest.raises(jt808.ReassemblyError):
        r.add(Packet(parts[0].header.copy(frag_total=5, frag_sn=2), RawBody(b"x", "fragment")), 0)
    assert isinstance(jt808.ReassemblyError("x"), jt808.JT808Error)


def test_bounded_sets_and_bytes() -> None:
    r = Reassembler(max_sets=2)
    sets = [split(raw_packet(bytes(2000), msg_id=0x0F00 + i, sn=i * 10)) for i in range(3)]
    for i, s in enumerate(sets):
        r.add(s[0], float(i))
    assert len(r) == 2
    assert Reassembler.key_of(sets[0][0]) not in r
    evicted = r.expire(3)
    assert [(x.msg_id, x.reason, x.dropped) for x in evicted] == [(0x0F00, "evicted", True)]
    # per-set byte limit
    r = Reassembler(max_bytes=1500)
    big = split(raw_packet(bytes(3000)))
    r.add(big[0], 0)
    with pytest.raises(jt808.ReassemblyError):
        r.add(big[1], 0)
    assert len(r) == 0 and r.buffered_bytes == 0
    # total byte limit evicts the least recently active set first
    r = Reassembler(max_total_bytes=2100)
    a = split(raw_packet(bytes(3000), msg_id=0x0F01))
    b = split(raw_packet(bytes(3000), msg_id=0x0F02))
    r.add(a[0], 0)
    r.add(b[0], 1)
    r.add(b[1], 2)  # 3069 bytes buffered > 2100: set a goes
    assert Reassembler.key_of(a[0]) not in r and r.buffered_bytes == 2046
    assert [x.reason for x in r.expire(3)] == ["evicted"]


def test_fragment_problems_are_carried_into_the_merged_packet() -> None:
    frames = encode_many(raw_packet(bytes(3000)))
    content = bytearray(unescape(frames[1][1:-1]))
    content[-1] ^= 0x01  # wrong check code
    bad = b"\x7e" + escape(bytes(content)) + b"\x7e"
    with pytest.raises(jt808.BadCheckCode):
        jt808.decode(bad)
    packets = [jt808.decode(frames[0]), jt808.decode(bad, strict=False), jt808.decode(frames[2])]
    r = Reassembler()
    outs = [r.add(p, 0) for p in packets]
    merged = outs[-1]
    assert merged is not None and merged.raw_body == bytes(3000)
    assert any("fragment 2: bad check code" in x for x in merged.problems)


def test_truncated_merged_body_is_a_decode_error_in_strict_mode() -> None:
    pk = Packet(Header(0x0801, PHONE, 1), RawBody(b"\x00" * 3))  # shorter than the 0x0801 prefix...
    frames = [Packet(pk.header.copy(frag_total=2, frag_sn=k), RawBody(b"\x00" * (2 if k == 1 else 1), "fragment"))
              for k in (1, 2)]
    r = Reassembler()
    r.add(frames[0], 0)
    with pytest.raises(jt808.DecodeError) as ei:
        r.add(frames[1], 0)
    assert ei.value.msg_id == 0x0801
    assert len(r) == 0
    r = Reassembler(strict=False)
    r.add(frames[0], 0)
    out = r.add(frames[1], 0)
    assert isinstance(out.body, RawBody) and out.problems


# ---------------------------------------------------------------------------------------------
# 0x0104 with 200 parameters
# ---------------------------------------------------------------------------------------------
def test_parameters_reply_with_200_items_split_and_merged() -> None:
    params = [Param(0x0013, f"server-{i:03d}.example.com") for i in range(100)]
    params += [Param(0x0001, i) for i in range(100)]
    body = ParametersReply(seq=0x1ABF, params=params)
    for version, phone in ((V2013, PHONE), (V2019, PHONE19)):
        frames = encode_many(jt808.build(body, phone, 77, version))
        assert len(frames) == 4  # 3 + 100 * 27 + 100 * 9 = 3603 bytes
        packets = frames_to_packets(frames)
        r = Reassembler()
        outs = [r.add(p, 0) for p in reversed(packets)]
        merged = outs[-1]
        assert outs[:-1] == [None, None, None]
        assert isinstance(merged.body, ParametersReply) and len(merged.body.params) == 200
        assert merged.body == body and merged.version is version and merged.header.msg_sn == 77
        assert merged.body.get(0x0013) == "server-000.example.com"


# ---------------------------------------------------------------------------------------------
# Property: split then reassemble in any permutation yields the original body
# ---------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(data=st.data(), body=st.binary(min_size=1, max_size=6000), max_body=st.integers(64, 1023),
       sn=st.integers(0, 0xFFFF), version=st.sampled_from([V2013, V2019]))
def test_split_reassemble_any_permutation(data, body: bytes, max_body: int, sn: int, version) -> None:
    pk = raw_packet(body, sn=sn, version=version)
    frames = encode_many(pk, max_body=max_body)
    packets = frames_to_packets(frames)
    order = data.draw(st.permutations(packets))
    r = Reassembler()
    outs = [r.add(p, float(i)) for i, p in enumerate(order)]
    merged = outs[-1]
    assert all(o is None for o in outs[:-1])
    assert merged is not None and merged.raw_body == body and merged.body == RawBody(body)
    assert merged.header.msg_sn == sn and merged.version is version
    assert len(r) == 0


def test_decode_body_matches_for_merged_location_batch() -> None:
    # a body that is not special at all: reassembly result equals decode_body of the joined bytes
    data = encode_body(MediaData(id=3, location=LOC, multimedia=bytes(2100)), V2013)
    parts = split(Packet(Header(0x0801, PHONE, 1), RawBody(data)))
    r = Reassembler()
    for p in parts:
        out = r.add(p, 0)
    assert out.body == decode_body(0x0801, V2013, data)[0]
