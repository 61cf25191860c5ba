"""EMQX JSON (seed 004 / EMQX-JSON.md): header keys, location extras, validation, and the frames of
PROTOCOL.md §7 / seeds 002 and 003 decoding to the JSON those documents imply."""

from __future__ import annotations

import base64
import json

import pytest

import jt808
from jt808 import V2011, V2013, V2019, Header, Packet
from jt808.protocol.exchange import from_json, location_from_json, location_to_json, to_json
from jt808.protocol.framing import frame
from jt808.protocol.header import pack_header
from jt808.protocol.messages.general import HeartBeat, TerminalGeneralReply
from jt808.protocol.messages.location import LocationReport, RawExtra

BASIC = bytes.fromhex("00000100000c100101d5c86a0732c261000000000000190313153803")  # S002 basic block
BASIC_JSON = {"alarm": 256, "status": 790529, "latitude": 30787690, "longitude": 120767073, "altitude": 0,
              "speed": 0, "direction": 0, "time": "190313153803"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def make_frame(msg_id: int, body: bytes, version: jt808.Version = V2013, phone: str = "013912345678",
               sn: int = 7) -> bytes:
    if version is V2019:
        phone = phone.rjust(20, "0")
    h = Header(msg_id, phone, sn, version)
    return frame(pack_header(h, len(body)) + body)


def roundtrip(frame_bytes: bytes, profile: jt808.Profile = jt808.DEFAULT_PROFILE) -> dict:
    """frame -> JSON (through json text) -> frame must be byte-exact; returns the JSON."""
    p = jt808.decode(frame_bytes, profile)
    j = json.loads(json.dumps(to_json(p, profile), ensure_ascii=False))
    q = from_json(j, profile)
    assert jt808.encode(q, profile).hex() == frame_bytes.hex()
    # and JSON -> frame -> JSON is stable
    assert to_json(jt808.decode(jt808.encode(q, profile), profile), profile) == j
    return j


# -- header ------------------------------------------------------------------------------------
def test_header_2013() -> None:
    j = to_json(jt808.decode(bytes.fromhex("7e000200000857502162890001c67e")))
    assert j == {"header": {"msg_id": 2, "encrypt": 0, "len": 0, "phone": "085750216289", "msg_sn": 1},
                 "body": {}}
    assert list(j["header"]) == ["msg_id", "encrypt", "len", "phone", "msg_sn"]


def test_header_2019_has_proto_ver_and_20_digit_phone() -> None:
    j = roundtrip(bytes.fromhex("7e0002400001000000000139123456780001727e"))
    assert j["header"] == {"msg_id": 2, "encrypt": 0, "len": 0, "proto_ver": 1, "phone": "00000000013912345678",
                           "msg_sn": 1}


@pytest.mark.parametrize("version", [V2013, V2019])
def test_header_fragment_keys(version: jt808.Version) -> None:
    phone = "013912345678".rjust(20 if version is V2019 else 12, "0")
    h = Header(0x0801, phone, 40, version, frag_total=3, frag_sn=2)
    f = jt808.encode(Packet(h, jt808.RawBody(b"\x7e\x7d\x00" * 10, "fragment")))
    j = roundtrip(f)
    assert j["header"]["frag_total"] == 3 and j["header"]["frag_sn"] == 2
    assert j["header"]["len"] == 30
    assert ("proto_ver" in j["header"]) is (version is V2019)
    assert j["body"] == {"unknown_id": True, "data": b64(b"\x7e\x7d\x00" * 10)}


def test_unfragmented_header_has_no_frag_keys() -> None:
    j = to_json(jt808.decode(make_frame(0x0001, bytes.fromhex("000102000000"[:10]))))
    assert "frag_total" not in j["header"] and "frag_sn" not in j["header"] and "proto_ver" not in j["header"]


def test_phone_integer_is_padded() -> None:
    p = from_json({"header": {"msg_id": 1, "encrypt": 0, "phone": 13900000000, "msg_sn": 0},
                   "body": {"seq": 1, "id": 1, "result": 0}})
    assert p.header.phone == "013900000000"
    p19 = from_json({"header": {"msg_id": 2, "encrypt": 0, "proto_ver": 1, "phone": 13900000000, "msg_sn": 0},
                     "body": {}})
    assert p19.header.phone == "00000000013900000000" and p19.version is V2019
    short = from_json({"header": {"msg_id": 2, "phone": "123", "msg_sn": 0}})
    assert short.header.phone == "000000000123"


def test_reserved_header_bits_survive() -> None:
    f = bytes.fromhex("7e0102400c01003000068109024a3130303330303030363831857e")  # SC Demo14: bit 14 on 2013
    j = roundtrip(f)
    assert j["header"]["reserved"] == 0x4000 and "proto_ver" not in j["header"]


def test_unknown_ids_are_base64() -> None:
    for mid, ver in ((0xE001, V2019), (0x0F10, V2013), (0x8F22, V2013), (0x1234, V2019)):
        f = make_frame(mid, b"\x01\x7e\x7d\xff", ver)
        j = roundtrip(f)
        assert j["body"] == {"unknown_id": True, "data": b64(b"\x01\x7e\x7d\xff")}


def test_tail_bytes_survive() -> None:
    f = make_frame(0x0002, b"\x01\x02")  # heartbeat carrying vendor bytes
    j = roundtrip(f)
    assert j["body"] == {} and j["tail"] == b64(b"\x01\x02")


def test_encrypted_body_without_key_stays_raw() -> None:
    h = Header(0x0200, "013912345678", 1, V2013, encrypt=1)
    f = frame(pack_header(h, 4) + b"\x00\x01\x02\x03")
    j = roundtrip(f)
    assert j["header"]["encrypt"] == 1 and j["body"]["unknown_id"] is True


def test_len_of_a_built_packet_is_computed() -> None:
    p = jt808.build(TerminalGeneralReply(seq=1, id=2, result=0), "013912345678", 5)
    assert to_json(p)["header"]["len"] == 5
    q = from_json(to_json(p))
    assert q.header.length == 5 and to_json(q)["header"]["len"] == 5


def test_version_forced_2011() -> None:
    p = from_json({"header": {"msg_id": 2, "phone": "1", "msg_sn": 3}}, version=2011)
    assert p.version is V2011
    with pytest.raises(jt808.HeaderError):
        from_json({"header": {"msg_id": 2, "phone": "1", "msg_sn": 3, "proto_ver": 1}}, version=2013)


# -- validation --------------------------------------------------------------------------------
GOOD = {"header": {"msg_id": 1, "encrypt": 0, "phone": "013912345678", "msg_sn": 0},
        "body": {"seq": 1, "id": 2, "result": 0}}


def _with(path: tuple[str, ...], value: object, drop: bool = False) -> dict:
    obj = json.loads(json.dumps(GOOD))
    d = obj
    for k in path[:-1]:
        d = d[k]
    if drop:
        del d[path[-1]]
    else:
        d[path[-1]] = value
    return obj


@pytest.mark.parametrize(("path", "value", "drop", "field", "err"), [
    (("header", "msg_id"), None, True, "msg_id", jt808.HeaderError),
    (("header", "phone"), None, True, "phone", jt808.HeaderError),
    (("header", "msg_sn"), None, True, "msg_sn", jt808.HeaderError),
    (("header", "msg_sn"), "0", False, "msg_sn", jt808.HeaderError),
    (("header", "msg_sn"), 70000, False, "msg_sn", jt808.HeaderError),
    (("header", "phone"), "0139123456789", False, "phone", jt808.HeaderError),
    (("header", "phone"), "01391234567x", False, "phone", jt808.HeaderError),
    (("header", "encrypt"), True, False, "encrypt", jt808.HeaderError),
    (("body", "result"), None, True, "result", jt808.BodyError),
    (("body", "seq"), "1", False, "seq", jt808.BodyError),
    (("body", "id"), 1.5, False, "id", jt808.BodyError),
    (("body", "result"), 256, False, "result", jt808.BodyError),
])
def test_from_json_names_field_and_message(path, value, drop, field, err) -> None:
    with pytest.raises(err) as ei:
        from_json(_with(path, value, drop))
    e = ei.value
    assert e.field == field
    if field != "msg_id":
        assert e.msg_id == 1
        assert "0x0001" in str(e)
    assert field in str(e)


def test_from_json_rejects_bad_shapes() -> None:
    with pytest.raises(jt808.DecodeError):
        from_json([1, 2])
    with pytest.raises(jt808.HeaderError):
        from_json({"body": {}})
    with pytest.raises(jt808.BodyError) as ei:
        from_json({**GOOD, "body": [1]})
    assert ei.value.msg_id == 1
    with pytest.raises(jt808.BodyError) as ei:  # id without a layout needs the unknown_id form
        from_json({"header": {"msg_id": 0xE001, "phone": "1", "msg_sn": 0}, "body": {"x": 1}})
    assert ei.value.msg_id == 0xE001
    with pytest.raises(jt808.BodyError) as ei:
        from_json({"header": {"msg_id": 0xE001, "phone": "1", "msg_sn": 0},
                   "body": {"unknown_id": True, "data": "not base64!"}})
    assert ei.value.field == "data"
    with pytest.raises(jt808.HeaderError) as ei:
        from_json({"header": {"msg_id": 2, "phone": "1", "msg_sn": 0, "frag_total": 2}})
    assert ei.value.field == "frag_sn"


def test_heartbeat_body_may_be_absent() -> None:
    p = from_json({"header": {"msg_id": 2, "encrypt": 0, "phone": "013912345678", "msg_sn": 9}})
    assert isinstance(p.body, HeartBeat)


# -- location ----------------------------------------------------------------------------------
def item(eid: int, value: bytes) -> bytes:
    return bytes((eid, len(value))) + value


def test_s002_location_extras() -> None:
    f = bytes.fromhex("7e020000386857502162891ac000000100000c100101d5c86a0732c2610000000000001903131538032b04"
                      "0000000030011e310100e10400000000e20804600036583a8e7a657e")
    j = roundtrip(f)
    assert j["header"] == {"msg_id": 512, "encrypt": 0, "len": 56, "phone": "685750216289", "msg_sn": 6848}
    assert j["body"] == {**BASIC_JSON, "extra": {
        "analog": {"ad0": 0, "ad1": 0}, "rssi": 30, "gnss_sat_num": 0,
        "custome": {"225": b64(bytes(4)), "226": b64(bytes.fromhex("04600036583a8e7a"))}}}


def test_all_standard_extras_2019() -> None:
    body = BASIC + b"".join([
        item(0x01, (1234567).to_bytes(4, "big")),
        item(0x02, (321).to_bytes(2, "big")),
        item(0x03, (655).to_bytes(2, "big")),
        item(0x04, (9).to_bytes(2, "big")),
        item(0x05, bytes(range(30))),
        item(0x06, (-25).to_bytes(2, "big", signed=True)),
        item(0x11, bytes.fromhex("0200000063")),
        item(0x12, bytes.fromhex("010000000501")),
        item(0x13, bytes.fromhex("000000070e1001")),
        item(0x25, (1 | 1 << 4 | 1 << 14).to_bytes(4, "big")),
        item(0x2A, (1).to_bytes(2, "big")),
        item(0x2B, bytes.fromhex("00020001")),
        item(0x30, b"\x1f"),
        item(0x31, b"\x0c"),
    ])
    j = roundtrip(make_frame(0x0200, body, V2019))
    extra = j["body"]["extra"]
    assert extra["mileage"] == 1234567 and extra["fuel_meter"] == 321 and extra["speed"] == 655
    assert extra["alarm_id"] == 9
    assert extra["tire_pressure"] == b64(bytes(range(30)))
    assert extra["carriage_temp"] == -25
    assert extra["overspeed_alarm"] == {"type": 2, "id": 99}
    assert extra["in_out_alarm"] == {"type": 1, "id": 5, "direction": 1}
    assert extra["path_time_alarm"] == {"id": 7, "time": 3600, "result": 1}
    sig = extra["signal"]
    assert list(sig) == ["low_beam", "high_beam", "right_turn", "left_turn", "brake", "reverse", "fog",
                         "side_marker", "horn", "air_conditioner", "neutral", "retarder", "abs", "heater", "cluth"]
    assert {k for k, v in sig.items() if v} == {"low_beam", "brake", "cluth"}  # bit 0 = low beam (standard)
    assert extra["io_status"] == {"deep_sleep": 1, "sleep": 0}  # bit 0 = deep sleep
    assert extra["analog"] == {"ad0": 1, "ad1": 2}  # ad0 = low word = last two bytes
    assert extra["rssi"] == 31 and extra["gnss_sat_num"] == 12
    assert "extra_order" not in j["body"] and "extra_dups" not in j["body"]


def test_overspeed_without_id() -> None:
    j = roundtrip(make_frame(0x0200, BASIC + item(0x11, b"\x00")))
    assert j["body"]["extra"]["overspeed_alarm"] == {"type": 0}


def test_2019_only_items_are_raw_in_2013() -> None:
    body = BASIC + item(0x05, bytes(30)) + item(0x06, b"\xff\xe7")
    j = roundtrip(make_frame(0x0200, body, V2013))
    assert j["body"]["extra"] == {"5": b64(bytes(30)), "6": b64(b"\xff\xe7")}


def test_no_extra_key_without_items() -> None:
    j = roundtrip(make_frame(0x0200, BASIC))
    assert j["body"] == BASIC_JSON


def test_signal_and_io_reserved_bits_survive() -> None:
    body = BASIC + item(0x25, (0x80000002).to_bytes(4, "big")) + item(0x2A, (0x8003).to_bytes(2, "big"))
    j = roundtrip(make_frame(0x0200, body))
    assert j["body"]["extra"]["signal"]["high_beam"] == 1
    assert j["body"]["extra"]["signal"]["reserved"] == 0x80000000 >> 15  # bits above the 15 named ones
    assert j["body"]["extra"]["io_status"] == {"deep_sleep": 1, "sleep": 1, "reserved": 0x8000 >> 2}


def test_duplicates_unknown_custom_bad_lengths_order_and_bad_tail() -> None:
    items = [
        item(0x30, b"\x10"),
        item(0x01, (100).to_bytes(4, "big")),
        item(0xE1, b"\x01\x02"),
        item(0x01, (200).to_bytes(4, "big")),  # duplicate
        item(0x40, b"\xaa\xbb"),  # reserved id
        item(0x02, b"\x01\x02\x03"),  # known id, bad length
        item(0xE0, b"\x03"),  # "length of the custom info that follows": kept as an ordinary item
        item(0xE2, b""),
        item(0xE1, b"\x09"),  # duplicate custom id
        item(0x14, (5).to_bytes(4, "big")),  # JT/T 1078 id, no standard codec
    ]
    body = BASIC + b"".join(items) + b"\x31\x05\x01"  # item claiming 5 bytes, 1 left
    f = make_frame(0x0200, body)
    p = jt808.decode(f)
    assert isinstance(p.body, LocationReport) and p.body.bad_tail == b"\x31\x05\x01"
    assert isinstance(p.body.extras[5][1], RawExtra)
    j = roundtrip(f)
    b = j["body"]
    assert b["extra"] == {"rssi": 16, "mileage": 100, "custome": {"225": b64(b"\x01\x02"), "226": ""},
                          "64": b64(b"\xaa\xbb"), "2": b64(b"\x01\x02\x03"), "224": b64(b"\x03"),
                          "20": b64((5).to_bytes(4, "big"))}
    assert b["extra_dups"] == [{"id": 1, "data": b64((200).to_bytes(4, "big"))}, {"id": 0xE1, "data": b64(b"\x09")}]
    assert b["extra_order"] == [0x30, 0x01, 0xE1, 0x01, 0x40, 0x02, 0xE0, 0xE2, 0xE1, 0x14]
    assert b["bad_tail"] == b64(b"\x31\x05\x01")


def test_custom_ids_interleaved_need_order() -> None:
    body = BASIC + item(0xE1, b"\x01") + item(0x30, b"\x02") + item(0xE5, b"\x03")
    j = roundtrip(make_frame(0x0200, body))
    assert j["body"]["extra_order"] == [0xE1, 0x30, 0xE5]
    body = BASIC + item(0xE1, b"\x01") + item(0xE5, b"\x03") + item(0x30, b"\x02")
    j = roundtrip(make_frame(0x0200, body))
    assert "extra_order" not in j["body"]


def test_tire_pressure_any_length_2019() -> None:
    j = roundtrip(make_frame(0x0200, BASIC + item(0x05, b"\x10\x20"), V2019))
    assert j["body"]["extra"] == {"tire_pressure": b64(b"\x10\x20")}


def test_location_json_validation() -> None:
    base = {**BASIC_JSON, "extra": {"mileage": 5}}
    assert location_from_json(base).extras == [(1, 5)]
    for bad, field in [
        ({**BASIC_JSON, "time": "1903131538"}, "time"),
        ({k: v for k, v in BASIC_JSON.items() if k != "alarm"}, "alarm"),
        ({**BASIC_JSON, "speed": -1}, "speed"),
        ({**BASIC_JSON, "extra": {"mileage": "5"}}, "extra.mileage"),
        ({**BASIC_JSON, "extra": {"fuel_meter": 70000}}, "extra.fuel_meter"),
        ({**BASIC_JSON, "extra": {"nonsense": 1}}, "extra.nonsense"),
        ({**BASIC_JSON, "extra": {"signal": {"low_beam": 1}}}, "extra.signal.high_beam"),
        ({**BASIC_JSON, "extra": {"io_status": {"deep_sleep": 2, "sleep": 0}}}, "extra.io_status.deep_sleep"),
        ({**BASIC_JSON, "extra": {"analog": {"ad0": 1}}}, "extra.analog.ad1"),
        ({**BASIC_JSON, "extra": {"in_out_alarm": {"type": 1, "id": 2}}}, "extra.in_out_alarm.direction"),
        ({**BASIC_JSON, "extra": {"custome": {"225": 5}}}, "extra.custome.225"),
        ({**BASIC_JSON, "extra": {"custome": {"0xE1": "AA=="}}}, "extra.custome.0xE1"),
        ({**BASIC_JSON, "extra": {"64": "@@"}}, "extra.64"),
        ({**BASIC_JSON, "extra": {"mileage": 1}, "extra_order": [1, 1]}, "extra_order"),
        ({**BASIC_JSON, "extra": {"mileage": 1, "rssi": 2}, "extra_order": [1]}, "extra_order"),
        ({**BASIC_JSON, "extra_dups": [{"id": 1}]}, "extra_dups[0].data"),
        ({**BASIC_JSON, "bad_tail": 5}, "bad_tail"),
    ]:
        with pytest.raises(jt808.BodyError) as ei:
            location_from_json(bad)
        assert ei.value.field == field, (bad, ei.value)
    # and through a packet the message id is named
    with pytest.raises(jt808.BodyError) as ei:
        from_json({"header": {"msg_id": 512, "phone": "1", "msg_sn": 0},
                   "body": {**BASIC_JSON, "extra": {"rssi": 300}}})
    assert ei.value.msg_id == 0x0200 and ei.value.field == "extra.rssi" and "0x0200" in str(ei.value)


def test_location_json_accepts_clutch_alias_and_integer_time() -> None:
    sig = {k: 0 for k in ("low_beam", "high_beam", "right_turn", "left_turn", "brake", "reverse", "fog",
                          "side_marker", "horn", "air_conditioner", "neutral", "retarder", "abs", "heater")}
    rep = location_from_json({**BASIC_JSON, "time": 190313153803, "extra": {"signal": {**sig, "clutch": 1}}})
    assert rep.extras == [(0x25, 1 << 14)] and rep.time == "190313153803"


def test_location_to_json_from_objects() -> None:
    rep = LocationReport(1, 2, 3, 4, 5, 6, 7, "250101000000", [(0x01, 10), (0x2B, 0x00050006)])
    j = location_to_json(rep, V2013)
    assert j["extra"] == {"mileage": 10, "analog": {"ad0": 6, "ad1": 5}}
    assert location_from_json(j, V2013) == rep
    assert rep.to_json(V2013) == j and LocationReport.from_json(j, V2013) == rep


def test_profile_extra_codec_key() -> None:
    prof = jt808.Profile("vendor")
    prof.register_extra(0x64, jt808.ExtraCodec("adas", lambda b: {"level": b[0]},
                                               lambda v: bytes((v["level"],)), (1,)))
    f = make_frame(0x0200, BASIC + item(0x64, b"\x03"))
    j = roundtrip(f, prof)
    assert j["body"]["extra"] == {"adas": {"level": 3}}
    assert to_json(jt808.decode(f))["body"]["extra"] == {"100": b64(b"\x03")}  # default profile: raw


# -- frames of PROTOCOL.md §7 and seeds 002/003 ------------------------------------------------
def test_s002_heartbeat_and_reply() -> None:
    j = roundtrip(bytes.fromhex("7e000200000857502162890001c67e"))
    assert j["body"] == {}
    j = roundtrip(bytes.fromhex("7e8001000508575021628900010001000200437e"))
    assert j == {"header": {"msg_id": 0x8001, "encrypt": 0, "len": 5, "phone": "085750216289", "msg_sn": 1},
                 "body": {"seq": 1, "id": 2, "result": 0}}
    j = roundtrip(bytes.fromhex("7e800100050857502162891ac01ac0020000437e"))
    assert j["body"] == {"seq": 0x1AC0, "id": 0x0200, "result": 0}


@pytest.mark.parametrize("hexframe", [
    # SC README example 1 (escaped serial 0x7E and fuel 0x7D), and example 2
    "7E02000026123456789012007D02000000010000000200BA7F0E07E4F11C0028003C00001810151010100104000000640202007D01137E",
    "7E0200002612345678901200010000000100000002" "00BA7F0E07E4F11C0028003C0000181015101010010400000064"
    "0202007D016C7E",
])
def test_s003_location(hexframe: str) -> None:
    j = roundtrip(bytes.fromhex(hexframe))
    assert j["header"]["phone"] == "123456789012" and j["header"]["len"] == 38
    assert j["header"]["msg_sn"] in (126, 1)
    assert j["body"] == {"alarm": 1, "status": 2, "latitude": 12222222, "longitude": 132444444, "altitude": 40,
                         "speed": 60, "direction": 0, "time": "181015101010",
                         "extra": {"mileage": 100, "fuel_meter": 125}}


def test_json_text_roundtrip_of_phone_string() -> None:
    p = from_json(json.loads('{"header": {"msg_id": 2, "encrypt": 0, "len": 0, "phone": "000123456789", '
                             '"msg_sn": 0}, "body": {}}'))
    assert jt808.encode(p) == make_frame(0x0002, b"", phone="000123456789", sn=0)


UTF8 = jt808.Profile("utf8-device", encoding="utf-8")  # S002's device sends its plate in UTF-8


@pytest.mark.parametrize(("hexframe", "body"), [
    # 2. registration: plate e6b599413636363636 is UTF-8 浙A66666; maker id raw 5 bytes "70960"
    ("7e0100002e0188554850150025002c0133373039363054372d54383038000000000000000000000000003033323931373001"
     "e6b599413636363636557e",
     {"province": 44, "city": 307, "manufacturer": "70960", "model": "T7-T808", "dev_id": "0329170", "color": 1,
      "license_number": "浙A66666"}),
    ("7e810000100188554850150025002500313535323935353938373437307f7e",
     {"seq": 37, "result": 0, "auth_code": "1552955987470"}),
    # 5. authentication and its reply
    ("7e010200060188554850150001323835313131db7e", {"code": "285111"}),
    ("7e8001000501885548501500010001010200567e", {"seq": 1, "id": 0x0102, "result": 0}),
    # 6./7. query parameters and the answer: DWORD/WORD/STRING by id, unknown ids base64
    ("7e810400000188554850150001557e", {}),
    ("7e0104009e0188554850151ac01abf100000000104000000b400000002040000001e0000000304000000080000001000000000"
     "1100000000120000000013147365727665722e6e6174617070667265652e636300000018040000802300000027040000000000"
     "000029040000000f0000005a04000000000000005d0200000000005e0200000000f0011000000000000000000000000000000000"
     "0000f002060000000000000000f0030100987e",
     {"seq": 0x1ABF, "length": 16, "params": [
         {"id": 0x01, "value": 180}, {"id": 0x02, "value": 30}, {"id": 0x03, "value": 8},
         {"id": 0x10, "value": ""}, {"id": 0x11, "value": ""}, {"id": 0x12, "value": ""},
         {"id": 0x13, "value": "server.natappfree.cc"}, {"id": 0x18, "value": 0x8023}, {"id": 0x27, "value": 0},
         {"id": 0x29, "value": 15}, {"id": 0x5A, "value": 0}, {"id": 0x5D, "value": 0}, {"id": 0x5E, "value": 0},
         {"id": 0xF001, "value": b64(bytes(16))}, {"id": 0xF002, "value": b64(bytes(6))},
         {"id": 0xF003, "value": b64(bytes(1))}]}),
    # 8. set parameters
    ("7e8103003001885548501500010700000001040000003c00000002040000000a00000003040000000a000000100000000011000000"
     "00120000000013005d7e",
     {"length": 7, "params": [{"id": 1, "value": 60}, {"id": 2, "value": 10}, {"id": 3, "value": 10},
                              {"id": 0x10, "value": ""}, {"id": 0x11, "value": ""}, {"id": 0x12, "value": ""},
                              {"id": 0x13, "value": ""}]}),
    # 9. terminal control: reset; 10. text "sat"
    ("7e81050001018855485015000104517e", {"command": 4, "param": ""}),
    ("7e83000004018855485015000100736174317e", {"flag": 0, "text": "sat"}),
])
def test_s002_frames(hexframe: str, body: dict) -> None:
    j = roundtrip(bytes.fromhex(hexframe), UTF8)
    assert j["header"]["phone"] == "018855485015"
    assert j["body"] == body


def test_basic_keys_are_the_basic_block_fields() -> None:
    """``location_to_json`` writes the eight keys out (one map literal): they are the basic block's fields, in
    wire order, for the 0x0200 body and the 28-byte block alike."""
    from jt808.protocol.messages.location import BASIC_NAMES, LocationBasic

    rep = LocationReport(1, 2, 3, 4, 5, 6, 7, "240311120000")
    assert list(location_to_json(rep).items()) == [(k, getattr(rep, k)) for k in BASIC_NAMES]
    assert list(LocationBasic(1, 2, 3, 4, 5, 6, 7, "240311120000").to_json()) == list(BASIC_NAMES)


def test_fast_bit_renderers_equal_the_shared_bit_maps() -> None:
    import random

    from jt808.protocol import bits
    from jt808.protocol.messages.location import _analog_json, _io_json, _signal_json

    rng = random.Random(25)
    for v in [*range(300), 0x7FFF, 0x8000, 0xFFFFFFFF, *(rng.getrandbits(32) for _ in range(3000))]:
        assert list(_signal_json(v).items()) == list(bits.signal_map(v).items())
        assert _analog_json(v) == bits.analog_map(v)
        assert list(_io_json(v & 0xFFFF).items()) == list(bits.io_status_map(v & 0xFFFF).items())
    for bad in (1 << 32, -1, True):
        with pytest.raises(jt808.BodyError):
            _signal_json(bad)


# -- property: any additional-info sequence survives frame -> JSON -> frame --------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_IDS = st.one_of(st.sampled_from([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x11, 0x12, 0x13, 0x25, 0x2A, 0x2B, 0x30,
                                  0x31, 0xE0, 0xE1, 0xE2, 0xFF, 0x14, 0x40]), st.integers(0, 255))
_SIZES = {0x01: 4, 0x02: 2, 0x03: 2, 0x04: 2, 0x05: 30, 0x06: 2, 0x11: 5, 0x12: 6, 0x13: 7, 0x25: 4, 0x2A: 2,
          0x2B: 4, 0x30: 1, 0x31: 1}


@st.composite
def _items(draw: st.DrawFn) -> bytes:
    out = b""
    for eid in draw(st.lists(_IDS, max_size=12)):
        good = _SIZES.get(eid)
        n = good if good is not None and draw(st.booleans()) else draw(st.integers(0, 9))
        if eid == 0x11 and draw(st.booleans()):
            n = 1
        out += item(eid, draw(st.binary(min_size=n, max_size=n)))
    return out + draw(st.one_of(st.just(b""), st.binary(min_size=1, max_size=1),
                                st.binary(min_size=2, max_size=6).map(lambda b: bytes((b[0], 40)) + b[2:])))


@settings(max_examples=300, deadline=None)
@given(_items(), st.sampled_from([V2013, V2019]))
def test_any_extras_roundtrip_exactly(items: bytes, version: jt808.Version) -> None:
    roundtrip(make_frame(0x0200, BASIC + items, version))


def test_big_body_len_roundtrips() -> None:
    doc = {"header": {"msg_id": 0x0900, "phone": "1", "msg_sn": 0}, "body": {"type": 1, "data": b64(bytes(3000))}}
    j = to_json(from_json(doc))
    assert j["header"]["len"] == 3001
    assert from_json(j).header.length == 3001
