"""Real-device behaviour (issue 2, "Real devices"): one test per quirk, asserting exactly what the codec does.

Frames are built byte by byte here (header + body hex, check code and escaping by :func:`framing.frame`)
so that each test shows the wire form a device really sends, not what our encoder would produce.
Boundary vectors live in ``tests/vectors/devices/`` (``<issue>-<quirk>.hex`` + body ``.json``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import jt808
from jt808 import V2011, V2013, V2019, Profile
from jt808.protocol.framing import FrameSplitter, check_code, frame
from jt808.protocol.messages.general import HeartBeat
from jt808.protocol.messages.location import LocationReport, RawExtra
from jt808.protocol.messages.register import TerminalAuth, TerminalRegister
from jt808.protocol.messages.tracking import BatchLocations

DEVICES = Path(__file__).resolve().parent.parent / "vectors" / "devices"

# seed 003 example 1: alarm 1, status 2, lat 12222222, lng 132444444, alt 40, speed 60, dir 0, 2018-10-15 10:10:10
BASIC = "00000001 00000002 00BA7F0E 07E4F11C 0028 003C 0000 181015101010"
PHONE = "012345678901"


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def content13(msg_id: int, body: bytes, sn: int = 7, props_extra: int = 0, phone: str = PHONE) -> bytes:
    """2011/2013 header + body (unescaped, no check code)."""
    return (msg_id.to_bytes(2, "big") + (len(body) | props_extra).to_bytes(2, "big") + h(phone)
            + sn.to_bytes(2, "big") + body)


def frame13(msg_id: int, body: bytes, **kw: int | str) -> bytes:
    return frame(content13(msg_id, body, **kw))


def location_frame(extras_hex: str = "", profile: Profile | None = None) -> tuple[bytes, jt808.Packet]:
    f = frame13(0x0200, h(BASIC + extras_hex))
    return f, jt808.decode(f, profile or jt808.DEFAULT_PROFILE)


def vector(name: str) -> tuple[bytes, dict]:
    return (bytes.fromhex((DEVICES / f"{name}.hex").read_text().split()[0]),
            json.loads((DEVICES / f"{name}.json").read_text()))


# -- the 2019 bit on a 2013 frame ----------------------------------------------------------------
def test_bit14_on_2013_frame_trusted_only_when_lengths_agree() -> None:
    # SmallChi Demo14: 0x0102, bit 14 set, length 12, 2013 header (12 bytes) + 12-byte auth code.
    demo14 = h("7e0102400c01003000068109024a3130303330303030363831857e")
    p = jt808.decode(demo14)
    assert p.version is V2013 and p.header.phone == "010030000681" and p.header.msg_sn == 0x0902
    assert p.body == TerminalAuth(code="J10030000681")
    assert p.problems == ["bit 14 (2019) set but lengths only add up with the 2013 header: decoded as 2013"]
    assert p.header.reserved == 0x4000  # kept so the frame re-encodes as received
    assert jt808.encode(p) == demo14
    # a real 2019 0x0102: bit 14 and the lengths agree, so it is trusted
    auth19 = TerminalAuth(code="J10030000681", imei="860000000000001", software_version="V1")
    f19 = jt808.encode(jt808.build(auth19, "13912345678", 1, V2019))
    p19 = jt808.decode(f19)
    assert p19.version is V2019 and p19.problems == [] and p19.header.proto_ver == 1 and p19.body == auth19
    # lengths that agree with neither layout: bit 14 stands, and the length mismatch is the error
    c19 = jt808.protocol.unescape(f19[1:-2])
    bad = frame(c19[:3] + bytes((c19[3] + 1,)) + c19[4:])
    with pytest.raises(jt808.BadLength):
        jt808.decode(bad)
    lenient = jt808.decode(bad, strict=False)
    assert lenient.version is V2019 and lenient.body == auth19
    assert any(f"body-length field says {len(c19) - 16}" in x for x in lenient.problems)


# -- 2011 vs 2013 0x0100, told apart by length (on by default) ----------------------------------------
INFER = Profile("infer-2011", infer_2011=True)


def test_register_2011_inferred_from_length_36() -> None:
    f, body_json = vector("002-infer2011-len36")
    p = jt808.decode(f, INFER)
    assert len(p.raw_body or b"") == 36
    assert p.version is V2011 and p.header.version is V2011
    assert p.problems == ["version inferred: 0x0100 body of 36 bytes is shorter than the 2013 fixed part (37): "
                          "decoded as 2011"]
    assert p.body == TerminalRegister(44, 307, "70960", "T7-T808", "0329170", 1, "粤B12345678")
    assert jt808.to_json(p, INFER)["body"] == body_json
    assert jt808.encode(p, INFER) == f
    assert jt808.decode(f).body == p.body  # the rule is on by default (issue 9: no configuration needed)
    # without the rule the same frame is a 2013 body one byte short: a located error, not a guess
    no_rule = Profile("no-infer", infer_2011=False)
    with pytest.raises(jt808.TruncatedError) as e:
        jt808.decode(f, no_rule)
    assert e.value.msg_id == 0x0100 and e.value.field == "color" and e.value.offset == 36
    raw = jt808.decode(f, no_rule, strict=False)
    assert isinstance(raw.body, jt808.RawBody) and raw.version is V2013


def test_register_2013_at_length_37_is_not_inferred() -> None:
    f, body_json = vector("002-infer2011-len37")
    for prof in (INFER, jt808.DEFAULT_PROFILE):
        p = jt808.decode(f, prof)
        assert len(p.raw_body or b"") == 37
        assert p.version is V2013 and p.problems == []
        assert p.body == TerminalRegister(44, 307, "70960", "T7-T808-2013", "0329170", 0, "")
        assert jt808.to_json(p, prof)["body"] == body_json
        assert jt808.encode(p, prof) == f


def test_register_2011_rule_leaves_2019_alone() -> None:
    reg = TerminalRegister(44, 307, "M", "X", "D", 1, "")
    f = jt808.encode(jt808.build(reg, "013912345678", 1, V2019))
    p = jt808.decode(f, INFER)
    assert p.version is V2019 and p.problems == [] and p.body == reg


# -- additional-information items -----------------------------------------------------------------
def test_extras_duplicates_kept_in_order_and_unknown_ids_raw() -> None:
    f, p = location_frame("01 04 00000064  E1 02 AABB  01 04 000000C8  33 01 05  FE 00  02 02 007D")
    body = p.body
    assert isinstance(body, LocationReport)
    assert body.extras == [(0x01, 100), (0xE1, b"\xaa\xbb"), (0x01, 200), (0x33, b"\x05"), (0xFE, b""),
                           (0x02, 0x7D)]
    assert body.extra(0x01) == 100  # the first of the duplicates
    assert p.problems == []
    assert jt808.encode(p) == f
    j = jt808.to_json(p)["body"]
    assert j["extra"]["mileage"] == 100 and j["extra_dups"] == [{"id": 1, "data": "AAAAyA=="}]
    assert j["extra_order"] == [0x01, 0xE1, 0x01, 0x33, 0xFE, 0x02]
    assert jt808.encode(jt808.from_json(jt808.to_json(p))) == f


def test_extras_known_id_with_wrong_length_kept_raw() -> None:
    f, p = location_frame("03 01 05  30 01 17")
    assert p.body.extras == [(0x03, RawExtra(b"\x05")), (0x30, 0x17)]
    assert p.problems == ["0x0200: additional-info 0x03 (speed) has 1 bytes, expected 2; kept raw"]
    assert jt808.encode(p) == f


def test_extras_item_running_past_the_body_keeps_good_items_and_reports_tail_offset() -> None:
    f, p = location_frame("01 04 00000064  30 01 1F  02 05 0011")
    body = p.body
    assert body.extras == [(0x01, 100), (0x30, 0x1F)]
    assert body.bad_tail == h("02 05 0011")
    # body offset 28 + 6 + 3 = 37 is where the bad item starts
    assert p.problems == ["0x0200: additional-info item 0x02 at offset 37 claims 5 bytes, 2 left; tail kept raw"]
    assert jt808.encode(p) == f
    # a lone byte after the items is a tail too
    f, p = location_frame("30 01 1F  02")
    assert p.body.bad_tail == b"\x02" and "offset 31" in p.problems[0]
    assert jt808.encode(p) == f


@pytest.mark.parametrize(("id_size", "len_size", "items", "expect"), [
    (2, 1, "0001 04 00000064  F0A1 02 1234", [(0x0001, h("00000064")), (0xF0A1, h("1234"))]),
    (2, 2, "0001 0004 00000064  E0E0 0003 414243", [(0x0001, h("00000064")), (0xE0E0, b"ABC")]),
    (1, 4, "64 00000003 010203  E1 00000001 FF", [(0x64, h("010203")), (0xE1, b"\xff")]),
], ids=["2+1", "2+2", "1+4 (YueBiao)"])
def test_extras_vendor_layouts_per_profile(id_size: int, len_size: int, items: str, expect: list) -> None:
    prof = Profile(f"ids{id_size}-len{len_size}", extra_id_size=id_size, extra_len_size=len_size)
    f, p = location_frame(items, prof)
    assert p.body.extras == expect and p.problems == []
    assert jt808.encode(p, prof) == f
    # the standard 1+1 reading of the same bytes cannot make sense of them: a raw tail, never fatal
    std = jt808.decode(f)
    assert jt808.encode(std) == f
    assert std.body.bad_tail and any("tail kept raw" in x for x in std.problems)


def test_extras_vendor_layout_with_bad_tail() -> None:
    prof = Profile("yuebiao", extra_len_size=4)
    f, p = location_frame("01 00000004 00000064  65 00000009 12", prof)
    assert p.body.extras == [(0x01, h("00000064"))]
    assert p.body.bad_tail == h("65 00000009 12")
    assert p.problems == ["0x0200: additional-info item 0x65 at offset 37 claims 9 bytes, 1 left; tail kept raw"]
    assert jt808.encode(p, prof) == f


# -- 0x0704 with wrong item lengths -----------------------------------------------------------------
LOC_A = h(BASIC + "01 04 00000064 30 01 11")  # 37 bytes
LOC_B = h(BASIC.replace("181015101010", "181015101020") + "01 04 00000065")  # 34 bytes


def test_batch_wrong_item_lengths_decode_every_position() -> None:
    items = [(LOC_A, 0x0021), (LOC_B, len(LOC_B)), (LOC_A, len(LOC_A)), (LOC_B, 0x0090)]
    body = h("0004 01") + b"".join(n.to_bytes(2, "big") + b for b, n in items)
    f = frame13(0x0704, body)
    p = jt808.decode(f)
    batch = p.body
    assert isinstance(batch, BatchLocations)
    assert [loc.time for loc in batch.locations] == ["181015101010", "181015101020", "181015101010", "181015101020"]
    assert [loc.extra(0x01) for loc in batch.locations] == [100, 101, 100, 101]
    assert batch.bad_tail == b""
    assert len(p.problems) == 2
    assert "location 0 at offset 3 says 33 bytes but its items span 37" in p.problems[0]
    assert "location 3" in p.problems[1] and "says 144 bytes" in p.problems[1]
    # re-encoding writes the true lengths
    fixed = h("0004 01") + b"".join(len(b).to_bytes(2, "big") + b for b, _ in items)
    assert jt808.encode(p) == frame13(0x0704, fixed)


def test_batch_undecodable_tail_keeps_decoded_positions() -> None:
    body = h("0003 00") + len(LOC_A).to_bytes(2, "big") + LOC_A + h("0040") + LOC_B[:20]
    f = frame13(0x0704, body)
    p = jt808.decode(f)
    assert [loc.extra(0x01) for loc in p.body.locations] == [100]
    assert p.body.bad_tail == h("0040") + LOC_B[:20] and p.body.count == 3
    assert any("location 1 at offset 42 says 64 bytes, 20 left" in x for x in p.problems)
    assert jt808.encode(p) == f


# -- an unescaped 0x7E inside a body ---------------------------------------------------------------
def test_unescaped_7e_inside_body_is_joined_by_the_splitter() -> None:
    # latitude 0x01D57E6A: a device that forgot to escape its body sends the 0x7E raw
    c = content13(0x0200, h("00000000 00000003 01D57E6A 0732C261 0010 0258 005A 250101120000"), sn=1)
    broken = b"\x7e" + c + bytes((check_code(c),)) + b"\x7e"
    assert broken.count(b"\x7e") == 3
    hb = frame13(0x0002, b"", sn=2)
    stream = b"\x7e" + broken + hb + broken + broken
    for chunks in ([stream], [stream[i:i + 1] for i in range(len(stream))],
                   [stream[:20], stream[20:31], stream[31:]]):
        s = FrameSplitter()
        out = [fr for ch in chunks for fr in s.feed(ch)] + s.flush()
        assert out == [broken, hb, broken, broken]
        assert s.junk_bytes == 0 and s.frames == 4
    p = jt808.decode(broken)
    assert p.body.latitude == 0x01D57E6A and p.problems == []
    assert jt808.encode(p) == frame(c)  # our encoder escapes it


def test_piece_that_does_not_join_is_handed_to_the_decoder() -> None:
    hb = frame13(0x0002, b"", sn=2)
    cut = hb[:9] + b"\x7e"  # a frame cut short by a flag: nothing after it completes it
    s = FrameSplitter()
    out = s.feed(cut + hb)
    assert out == [cut, hb]
    with pytest.raises(jt808.JT808Error):
        jt808.decode(cut)


# -- junk and foreign traffic -------------------------------------------------------------------
def test_junk_http_probe_and_text_skipped_and_counted() -> None:
    hb = frame13(0x0002, b"", sn=5)
    probe = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: zgrab/0.x\r\n\r\n"
    text = b"hello\n"
    tls = h("16030100a5010000a10303")
    stream = probe + hb + text + hb + tls + hb
    for step in (len(stream), 1, 5):
        seen: list[tuple[bytes, str]] = []
        s = FrameSplitter(on_junk=lambda d, why, seen=seen: seen.append((d, why)))
        out = [fr for i in range(0, len(stream), step) for fr in s.feed(stream[i:i + step])]
        assert out == [hb, hb, hb]
        assert s.junk_bytes == len(probe) + len(text) + len(tls) and s.junk_runs == 3
        assert [d for d, _ in seen] == [probe, text, tls]
        assert s.buffered == 0


def test_junk_with_a_tilde_is_junk_up_to_the_tilde_then_a_rejected_piece() -> None:
    # '~' is 0x7E: from there the text looks like a frame start. The piece is handed out, the decoder
    # rejects it with a FrameError, and the real frame that follows is intact.
    hb = frame13(0x0002, b"", sn=5)
    s = FrameSplitter()
    out = s.feed(b"GET /~admin HTTP/1.1\r\n\r\n" + hb)
    assert out == [b"~admin HTTP/1.1\r\n\r\n~", hb]
    assert s.junk_bytes == len(b"GET /")
    with pytest.raises(jt808.FrameError):
        jt808.decode(out[0])
    assert isinstance(jt808.decode(out[1]).body, HeartBeat)


def test_junk_without_any_flag_is_bounded_by_max_frame() -> None:
    s = FrameSplitter(max_frame=256)
    for _ in range(100):
        assert s.feed(b"A" * 100) == []
        assert s.buffered <= 256 + 100
    assert s.junk_bytes >= 100 * 100 - 356
    hb = frame13(0x0002, b"")
    assert s.feed(hb) == [hb]


# -- check-code failures ----------------------------------------------------------------------------
def test_bad_check_code_rejected_by_default_accepted_and_flagged_per_profile() -> None:
    good, _ = location_frame("01 04 00000064")
    bad = good[:-2] + bytes((good[-2] ^ 0x5A,)) + b"\x7e"
    with pytest.raises(jt808.BadCheckCode) as e:
        jt808.decode(bad)
    assert e.value.expected == good[-2] and e.value.actual == good[-2] ^ 0x5A
    assert e.value.reply_result == 2
    sloppy = Profile("skip-crc", accept_bad_check=True)
    p = jt808.decode(bad, sloppy)
    assert p.problems == ["bad check code (accepted and flagged)"]
    assert p.body.extras == [(0x01, 100)]
    assert jt808.encode(p, sloppy) == good  # re-encoded with the right check code
    assert jt808.decode(bad, strict=False).problems == ["bad check code (accepted and flagged)"]


# -- terminal ids that are not BCD ------------------------------------------------------------------
@pytest.mark.parametrize(("phone", "version"), [("0a1b2c3d4e5f", V2013), ("ffffffffffff", V2013),
                                                ("00000000000abcdef012", V2019)])
def test_non_bcd_terminal_id_decodes_as_hex(phone: str, version: jt808.Version) -> None:
    c = h("0002 4000 01" if version is V2019 else "0002 0000") + h(phone) + h("0003")
    f = frame(c)
    p = jt808.decode(f)
    assert p.header.phone == phone and p.version is version
    assert jt808.encode(p) == f
    assert jt808.to_json(p)["header"]["phone"] == phone


def test_non_bcd_time_does_not_crash() -> None:
    _, p = location_frame()
    body = p.body
    body.time = "1810151010ff"
    again = jt808.decode(jt808.encode(p))
    assert again.body.time == "1810151010ff"
    assert again.body.datetime() is None


# -- BCD times: GMT+8 by default, per-profile zone -------------------------------------------------
def test_bcd_time_gmt8_by_default_and_per_profile() -> None:
    f, p = location_frame()
    dt = p.body.datetime()
    assert dt == datetime(2018, 10, 15, 10, 10, 10, tzinfo=timezone(timedelta(hours=8)))
    assert dt.astimezone(UTC) == datetime(2018, 10, 15, 2, 10, 10, tzinfo=UTC)
    assert jt808.DEFAULT_PROFILE.tz_offset == 8
    utc_device = Profile("utc-tracker", tz_offset=0)
    q = jt808.decode(f, utc_device)
    assert q.body.datetime(utc_device.tz_offset) == datetime(2018, 10, 15, 10, 10, 10, tzinfo=UTC)
    india = jt808.DEFAULT_PROFILE.derive("ist", tz_offset=5.5)
    assert q.body.datetime(india.tz_offset).utcoffset() == timedelta(hours=5, minutes=30)
    assert q.body.datetime(india.tz_offset).astimezone(UTC).hour == 4
