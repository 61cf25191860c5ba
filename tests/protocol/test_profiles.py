"""Device profiles (issue 2 item 8; SmallChi README examples 4, 6, 10, 14, 17): per-device-type message
codecs, per-device-type additional-info codecs, a forced version, and inheritance with ``derive``.

The examples mirror docs/profiles.md: two device types of one vendor ("DT1", "DT2") use the same vendor
message id 0xE001 and the same custom extra id 0xE1 for different things; a SuBiao (JSATL12) device
reads the standard 0x0900 pass-through type 0xF7 as a peripheral status list.
"""

from __future__ import annotations

import json
from typing import ClassVar

import pytest

import jt808
from jt808 import V2011, V2013, V2019, Body, ExtraCodec, Profile, RawBody
from jt808.protocol.framing import frame
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.register import TerminalAuth, TerminalRegister
from jt808.protocol.messages.transport import UplinkPassThrough
from jt808.protocol.registry import DEFAULT_MESSAGES
from jt808.protocol.spec import BYTE, BYTES_REST, DWORD, INT16, LIST, STR_REST, WORD, Record, record, wire


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def frame13(msg_id: int, body: bytes, sn: int = 1) -> bytes:
    return frame(msg_id.to_bytes(2, "big") + len(body).to_bytes(2, "big") + h("013912345678")
                 + sn.to_bytes(2, "big") + body)


# -- two device types, one vendor id (examples 4 and 6) ------------------------------------------
DT1 = Profile("vendor-dt1")
DT2 = Profile("vendor-dt2")


@DT1.message(0xE001)
class Dt1Status(Body):
    """DT1's 0xE001: battery voltage (mV) and board temperature (0.1 °C, signed)."""

    voltage: int = wire(WORD)
    temperature: int = wire(INT16)

    msg_id: ClassVar[int]


@DT2.message(0xE001, versions=(V2013,))
class Dt2DoorEvent(Body):
    """DT2's 0xE001: door number and a free-text note (rest of the body)."""

    door: int = wire(BYTE)
    note: str = wire(STR_REST)

    msg_id: ClassVar[int]


E001_BODY = h("0C80 FF38")  # DT1: 3200 mV, -20.0 °C.  DT2: door 12, note "\x80\xff8" (garbage as text)


def test_vendor_id_decoded_per_device_type() -> None:
    f = frame13(0xE001, E001_BODY)
    p1 = jt808.decode(f, DT1)
    assert p1.body == Dt1Status(voltage=3200, temperature=-200)
    assert jt808.to_json(p1, DT1)["body"] == {"voltage": 3200, "temperature": -200}
    assert jt808.encode(p1, DT1) == f
    door = frame13(0xE001, b"\x02" + "后门".encode("gbk"))
    p2 = jt808.decode(door, DT2)
    assert p2.body == Dt2DoorEvent(door=2, note="后门")
    assert jt808.to_json(p2, DT2)["body"] == {"door": 2, "note": "后门"}
    assert jt808.encode(p2, DT2) == door
    # the standard profile knows nothing of 0xE001: raw bytes, re-encoded as they came
    p0 = jt808.decode(f)
    assert p0.body == RawBody(E001_BODY) and jt808.to_json(p0)["body"] == {"unknown_id": True, "data": "DID/OA=="}
    assert jt808.encode(p0) == f


def test_vendor_id_registration_stays_in_its_profile() -> None:
    assert (0xE001, V2013) not in DEFAULT_MESSAGES
    assert DT1.lookup(0xE001, V2019) is Dt1Status and DT1.lookup(0xE001, V2011) is Dt1Status
    assert DT2.lookup(0xE001, V2013) is Dt2DoorEvent
    assert DT2.lookup(0xE001, V2019) is None  # declared for 2013 only
    assert jt808.DEFAULT_PROFILE.lookup(0xE001, V2013) is None
    # DT2 gets raw bytes for a 2019 frame of its id
    f19 = jt808.encode(jt808.Packet(jt808.Header(0xE001, "13912345678", 1, V2019), RawBody(E001_BODY)))
    assert jt808.decode(f19, DT2).body == RawBody(E001_BODY)
    assert jt808.decode(f19, DT1).body == Dt1Status(3200, -200)


def test_vendor_body_from_json_and_strict_encoding() -> None:
    doc = {"header": {"msg_id": 0xE001, "encrypt": 0, "phone": "013912345678", "msg_sn": 9},
           "body": {"voltage": 4100, "temperature": 215}}
    p = jt808.from_json(doc, DT1)
    assert p.body == Dt1Status(4100, 215)
    assert jt808.decode(jt808.encode(p, DT1), DT1).body == Dt1Status(4100, 215)
    with pytest.raises(jt808.DecodeError):  # the standard profile has no layout for it
        jt808.from_json(doc)
    with pytest.raises(jt808.EncodeError) as e:
        jt808.encode(jt808.build(Dt1Status(70000, 0), "13912345678"), DT1)
    assert e.value.field == "voltage"


def test_vendor_body_too_short_is_a_located_error_or_raw_when_lenient() -> None:
    f = frame13(0xE001, h("0C"))
    with pytest.raises(jt808.TruncatedError) as e:
        jt808.decode(f, DT1)
    assert e.value.msg_id == 0xE001 and e.value.field == "voltage"
    p = jt808.decode(f, DT1, strict=False)
    assert p.body == RawBody(h("0C")) and "0xE001" in p.problems[0]


# -- a standard id read differently by one device type (SuBiao 0x0900 type 0xF7) ------------------
SUBIAO = Profile("subiao")


@record
class Peripheral(Record):
    """JSATL12 peripheral status: id (0x64 ADAS, 0x65 DSM, 0x66 TPMS, 0x67 BSD), length, state, alarm bits."""

    id: int = wire(BYTE)
    length: int = wire(BYTE)
    state: int = wire(BYTE)
    alarm: int = wire(DWORD)


@SUBIAO.message(0x0900)
class SuBiaoPassThrough(Body):
    """0x0900 with type 0xF7 (peripheral status) decoded; any other type keeps its data raw."""

    type: int = wire(BYTE)
    peripherals: list[Peripheral] = wire(LIST(Peripheral, BYTE), when=lambda v: v["type"] == 0xF7)
    data: bytes = wire(BYTES_REST, when=lambda v: v["type"] != 0xF7)

    msg_id: ClassVar[int]


def test_standard_id_overridden_for_one_device_type() -> None:
    body = h("F7 02  64 05 01 00000000  65 05 02 00000003")
    f = frame13(0x0900, body)
    p = jt808.decode(f, SUBIAO)
    assert p.body == SuBiaoPassThrough(0xF7, [Peripheral(0x64, 5, 1, 0), Peripheral(0x65, 5, 2, 3)])
    assert jt808.to_json(p, SUBIAO)["body"]["peripherals"][1] == {"id": 0x65, "length": 5, "state": 2, "alarm": 3}
    assert jt808.encode(p, SUBIAO) == f
    std = jt808.decode(f)
    assert std.body == UplinkPassThrough(type=0xF7, data=body[1:])
    assert jt808.encode(std) == f
    # other pass-through types still work for the SuBiao device
    gnss = frame13(0x0900, b"\x00$GPRMC")
    assert jt808.decode(gnss, SUBIAO).body == SuBiaoPassThrough(0x00, [], b"$GPRMC")
    assert jt808.encode(jt808.decode(gnss, SUBIAO), SUBIAO) == gnss


# -- custom additional-info ids per device type (example 10 / 17) ---------------------------------
def _fuel_decode(b: bytes) -> float:
    return int.from_bytes(b, "big") / 10


def _fuel_encode(v: float) -> bytes:
    return round(v * 10).to_bytes(2, "big")


def _temp_decode(b: bytes) -> dict[str, int]:
    if len(b) % 2:
        raise ValueError("temperatures are WORDs")
    return {f"t{i}": int.from_bytes(b[i * 2:i * 2 + 2], "big", signed=True) for i in range(len(b) // 2)}


def _temp_encode(v: dict[str, int]) -> bytes:
    return b"".join(int(v[k]).to_bytes(2, "big", signed=True) for k in sorted(v))


DT1.register_extra(0xE1, ExtraCodec("fuel_percent", _fuel_decode, _fuel_encode, sizes=(2,)))
DT2.register_extra(0xE1, ExtraCodec("probe_temps", _temp_decode, _temp_encode))
# a vendor squatting a reserved id (example 17): 0x14 is DT2's trailer id, a 4-byte ASCII tag
DT2.register_extra(0x14, ExtraCodec("trailer", lambda b: b.decode("ascii"), lambda v: v.encode("ascii"),
                                    sizes=(4,)))

BASIC = "00000000 000C0003 01D5C86A 0732C261 0010 0258 005A 250101120000"


def location(extras_hex: str) -> bytes:
    return frame13(0x0200, h(BASIC + extras_hex))


def test_same_extra_id_read_differently_per_device_type() -> None:
    f = location("01 04 00000064  E1 02 0172")
    p1, p2, p0 = (jt808.decode(f, prof) for prof in (DT1, DT2, jt808.DEFAULT_PROFILE))
    assert p1.body.extras == [(0x01, 100), (0xE1, 37.0)]
    assert p2.body.extras == [(0x01, 100), (0xE1, {"t0": 370})]
    assert p0.body.extras == [(0x01, 100), (0xE1, h("0172"))]
    assert jt808.to_json(p1, DT1)["body"]["extra"] == {"mileage": 100, "fuel_percent": 37.0}
    assert jt808.to_json(p2, DT2)["body"]["extra"] == {"mileage": 100, "probe_temps": {"t0": 370}}
    assert jt808.to_json(p0)["body"]["extra"] == {"mileage": 100, "custome": {"225": "AXI="}}
    for p, prof in ((p1, DT1), (p2, DT2), (p0, jt808.DEFAULT_PROFILE)):
        assert jt808.encode(p, prof) == f
        doc = json.loads(json.dumps(jt808.to_json(p, prof)))
        assert jt808.encode(jt808.from_json(doc, prof), prof) == f


def test_profile_extra_that_does_not_fit_is_kept_raw() -> None:
    f = location("E1 03 010203  14 04 54523031")
    p = jt808.decode(f, DT2)
    assert p.body.extras == [(0xE1, h("010203")), (0x14, "TR01")]
    assert p.problems == ["0x0200: additional-info 0xE1 (probe_temps) not decodable (temperatures are WORDs); "
                          "kept raw"]
    assert jt808.encode(p, DT2) == f
    assert jt808.decode(f, DT1).body.extras == [(0xE1, h("010203")), (0x14, h("54523031"))]


def test_registering_an_extra_after_decoding_takes_effect() -> None:
    late = Profile("late")
    f = location("01 04 00000064  E3 02 0102")
    for _ in range(2):  # the second decode goes through the remembered-layout fast path
        assert jt808.decode(f, late).body.extras == [(0x01, 100), (0xE3, h("0102"))]
    late.register_extra(0xE3, ExtraCodec("counter", lambda b: int.from_bytes(b, "big"),
                                         lambda v: v.to_bytes(2, "big"), sizes=(2,)))
    for _ in range(2):
        assert jt808.decode(f, late).body.extras == [(0x01, 100), (0xE3, 0x0102)]


# -- forced version (example 14) ----------------------------------------------------------------------
DEMO14 = h("7e0102400c01003000068109024a3130303330303030363831857e")
FORCE_2013 = Profile("says-2019-is-2013", force_version=V2013)


def test_forced_version_for_a_mislabelling_device() -> None:
    # Demo14's length field says 13 here (the device also miscounts): the length check cannot rescue it
    c = jt808.protocol.unescape(DEMO14[1:-2])
    miscounted = frame(c[:3] + b"\x0d" + c[4:])
    with pytest.raises(jt808.JT808Error):
        jt808.decode(miscounted)  # read as 2019: the body-length field disagrees
    p = jt808.decode(miscounted, FORCE_2013, strict=False)
    assert p.version is V2013 and p.header.phone == "010030000681"
    assert p.body == TerminalAuth(code="J10030000681")
    assert "version forced to 2013 by the device profile" in p.problems
    # "force 2013, then correct the version flag and re-serialise for downstream services"
    p.header.reserved &= ~0x4000
    clean = jt808.encode(p, FORCE_2013)
    assert clean == frame(h("0102 000c") + c[4:])
    assert jt808.decode(clean).problems == []


def test_forced_version_on_a_well_formed_frame() -> None:
    p = jt808.decode(DEMO14, FORCE_2013)
    assert p.version is V2013 and p.body == TerminalAuth(code="J10030000681")
    assert jt808.encode(p, FORCE_2013) == DEMO14


def test_forced_2011_device() -> None:
    body = h("002c 0133") + b"70960" + b"T7-T808\0" + b"0329170" + b"\x01" + "粤B12345".encode("gbk")
    f = frame13(0x0100, body)
    old = Profile("2011-terminal", force_version=V2011)
    p = jt808.decode(f, old)
    assert p.version is V2011 and p.problems == []
    assert p.body == TerminalRegister(44, 307, "70960", "T7-T808", "0329170", 1, "粤B12345")
    assert jt808.encode(p, old) == f
    # the same as a default version: default_version applies to every frame without bit 14
    assert jt808.decode(f, Profile("2011-default", default_version=V2011)).body == p.body


# -- inheritance --------------------------------------------------------------------------------------
def test_derived_profile_inherits_and_overrides() -> None:
    base = Profile("vendor-x", encoding="utf-8")

    @base.message(0xE002)
    class Ping(Body):
        seq: int = wire(WORD)

        msg_id: ClassVar[int]

    base.register_extra(0xE5, ExtraCodec("lock", lambda b: b[0], lambda v: bytes((v,)), sizes=(1,)))
    model_b = base.derive("vendor-x-model-b", tz_offset=0, accept_bad_check=True)
    assert model_b.encoding == "utf-8" and model_b.tz_offset == 0 and model_b.accept_bad_check
    assert model_b.parent is base and base.tz_offset == 8

    # inherited: the message and the extra
    assert jt808.decode(frame13(0xE002, h("0102")), model_b).body == Ping(0x0102)
    f = location("E5 01 01  E6 02 0003")
    assert jt808.decode(f, model_b).body.extras == [(0xE5, 1), (0xE6, h("0003"))]
    # registered on the parent after deriving: seen by the child too
    base.register_extra(0xE6, ExtraCodec("doors", lambda b: int.from_bytes(b, "big"), lambda v: v.to_bytes(2, "big"),
                                         sizes=(2,)))
    assert jt808.decode(f, model_b).body.extras == [(0xE5, 1), (0xE6, 3)]

    # overridden in the child only
    @model_b.message(0xE002)
    class PingB(Body):
        seq: int = wire(WORD)
        flags: int = wire(BYTE)

        msg_id: ClassVar[int]

    model_b.register_extra(0xE5, ExtraCodec("lock_state", lambda b: "locked" if b[0] else "open",
                                            lambda v: b"\x01" if v == "locked" else b"\x00", sizes=(1,)))
    assert jt808.decode(frame13(0xE002, h("010203")), model_b).body == PingB(0x0102, 3)
    assert jt808.decode(frame13(0xE002, h("0102")), base).body == Ping(0x0102)
    assert jt808.decode(f, model_b).body.extras == [(0xE5, "locked"), (0xE6, 3)]
    assert jt808.decode(f, base).body.extras == [(0xE5, 1), (0xE6, 3)]
    # the parent's later change to an id the child overrides does not leak into the child
    base.register_extra(0xE5, ExtraCodec("lock2", lambda b: -b[0], lambda v: bytes((-v,)), sizes=(1,)))
    assert jt808.decode(f, model_b).body.extras[0] == (0xE5, "locked")
    assert jt808.decode(f, base).body.extras[0] == (0xE5, -1)
    # settings of the child: a bad check code is accepted and flagged, a UTC clock
    bad = f[:-2] + bytes((f[-2] ^ 1,)) + b"\x7e"
    q = jt808.decode(bad, model_b)
    assert q.problems == ["bad check code (accepted and flagged)"]
    assert isinstance(q.body, LocationReport) and q.body.datetime(model_b.tz_offset).utcoffset().total_seconds() == 0
    with pytest.raises(jt808.BadCheckCode):
        jt808.decode(bad, base)


def test_vendor_extra_layout_profile_with_codecs() -> None:
    # example 10: 2-byte ids; the profile's codecs apply to those ids
    wide = Profile("wide-ids", extra_id_size=2, extra_len_size=2)
    wide.register_extra(0x0101, ExtraCodec("door_count", lambda b: int.from_bytes(b, "big"),
                                           lambda v: v.to_bytes(2, "big"), sizes=(2,)))
    f = location("0101 0002 0007  0202 0001 FF")
    p = jt808.decode(f, wide)
    assert p.body.extras == [(0x0101, 7), (0x0202, b"\xff")]
    assert jt808.encode(p, wide) == f
    derived = wide.derive("wide-ids-utc", tz_offset=0)
    assert derived.extra_id_size == 2 and jt808.decode(f, derived).body.extras == p.body.extras
    # a value that does not fit the profile's codec is kept raw and noted, as in the standard layout
    g = location("0101 0001 07  0202 0001 FF")
    q = jt808.decode(g, wide)
    assert q.body.extras == [(0x0101, b"\x07"), (0x0202, b"\xff")]
    assert q.problems == ["0x0200: additional-info 0x101 (door_count) has 1 bytes, expected 2; kept raw"]
    assert jt808.encode(q, wide) == g
    wide.register_extra(0x0303, ExtraCodec("strict", lambda b: {"x": b[5]}, lambda v: b"", sizes=None))
    q = jt808.decode(location("0303 0001 01"), wide)
    assert q.body.extras == [(0x0303, b"\x01")] and "not decodable" in q.problems[0]


def test_profile_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        Profile("bad", extra_id_size=3)
    with pytest.raises(ValueError):
        Profile("bad", extra_len_size=3)
    with pytest.raises(ValueError):
        Profile("bad", default_version=V2019)
    assert Profile("p", force_version="2019").force_version is V2019


def test_re_registering_an_extra_updates_its_json_key() -> None:
    prof = Profile("rekeyed")
    prof.register_extra(0xE7, ExtraCodec("level", lambda b: b[0], lambda v: bytes((v,)), sizes=(1,)))
    f = location("E7 01 05")
    p = jt808.decode(f, prof)
    assert jt808.to_json(p, prof)["body"]["extra"] == {"level": 5}
    assert jt808.encode(jt808.from_json(jt808.to_json(p, prof), prof), prof) == f
    prof.register_extra(0xE7, ExtraCodec("tank_level", lambda b: b[0], lambda v: bytes((v,)), sizes=(1,)))
    doc = jt808.to_json(jt808.decode(f, prof), prof)
    assert doc["body"]["extra"] == {"tank_level": 5}
    assert jt808.encode(jt808.from_json(doc, prof), prof) == f


@pytest.mark.parametrize(("msg_id", "prefix", "path"), [
    (0x0200, "", ("extra",)),
    (0x0201, "0005", ("params", "extra")),
    (0x0500, "0005", ("location", "extra")),
    (0x0704, "0001 00 0028", ("location", 0, "extra")),
])
def test_profile_items_in_every_body_holding_a_location(msg_id: int, prefix: str, path: tuple[object, ...]) -> None:
    """An extension item (JT/T 1078's 0x14 video alarm) is named by the profile's row wherever a 0x0200 body
    sits: alone, or inside 0x0201 / 0x0500 / 0x0704 (their JSON used the standard table: ``"20": 5``), both
    ways; and ``jt808 encode``'s JSON check accepts the name (it said "unknown key 'video_alarm'")."""
    from jt808.protocol.jsoncheck import json_problems
    from jt808.protocol.profiles import builtin_profile

    prof = builtin_profile("jt1078")
    location = h("00000000 00000002 01BA7F0E 07E4F11C 0028 003C 0000 181116202020 010400000064 140400000005")
    data = frame13(msg_id, h(prefix) + location)
    packet = jt808.decode(data, prof)
    doc = jt808.to_json(packet, prof)
    extra: object = doc["body"]
    for key in path:
        extra = extra[key]  # type: ignore[index]  # the JSON path of this message's location items
    assert extra == {"mileage": 100, "video_alarm": 5}
    again = jt808.from_json(json.loads(json.dumps(doc)), prof)
    assert jt808.encode(again, prof) == data
    assert json_problems(doc, again, profile=prof) == []
