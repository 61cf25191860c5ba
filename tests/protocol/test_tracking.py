"""0x0201, 0x8202, 0x8203, 0x0704, 0x8500 (2013 and 2019 layouts), 0x0500: layouts, JSON, device quirks."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jt808
from jt808 import V2011, V2013, V2019
from jt808.errors import BadCheckCode, BodyError, DecodeError, EncodeError, TruncatedError
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.tracking import (
    BatchLocations,
    ConfirmAlarm,
    Control,
    LocationQueryReply,
    TemporaryTracking,
    VehicleControl,
    VehicleControl2019,
    VehicleControlReply,
)
from jt808.protocol.packet import RawBody, decode_body, encode_body
from jt808.protocol.registry import DEFAULT_MESSAGES

# S002's basic block (PROTOCOL.md §4.1) + extras 0x01 mileage 100, 0x30 rssi 31: 37 bytes.
LOC_HEX = "00000100000c100101d5c86a0732c261000000000000190313153803" + "01040000006430011f"
LOC = LocationReport(0x100, 0x000C1001, 30787690, 120767073, 0, 0, 0, "190313153803", [(0x01, 100), (0x30, 31)])
LOC_JSON = {"alarm": 256, "status": 0x000C1001, "latitude": 30787690, "longitude": 120767073, "altitude": 0,
            "speed": 0, "direction": 0, "time": "190313153803", "extra": {"mileage": 100, "rssi": 31}}
PHONES = {V2011: "013912345678", V2013: "013912345678", V2019: "00000000013912345678"}


def roundtrip(body: jt808.Body, version=V2013, hex_body: str | None = None) -> bytes:
    """Body bytes (checked against ``hex_body``), decode back, and a whole frame through the packet codec."""
    data = encode_body(body, version)
    if hex_body is not None:
        assert data.hex() == hex_body.replace(" ", "")
    problems: list[str] = []
    back, tail, _ = decode_body(body.msg_id, version, data, problems=problems)
    assert back == body and tail == b"" and problems == []
    frame = jt808.encode(jt808.build(body, PHONES[version], 9, version))
    p = jt808.decode(frame)
    assert p.body == body and not p.problems
    assert jt808.encode(p) == frame
    return data


def json_roundtrip(body: jt808.Body, version, expected: dict) -> None:
    assert body.to_json(version) == expected
    assert type(body).from_json(expected, version) == body
    p = jt808.build(body, PHONES[version], 3, version)
    j = jt808.to_json(p)
    assert j["body"] == expected
    assert jt808.from_json(j).body == body


def test_registered_versions() -> None:
    for mid, versions in ((0x0201, (V2011, V2013, V2019)), (0x8202, (V2011, V2013, V2019)),
                          (0x8203, (V2013, V2019)), (0x0704, (V2013, V2019)), (0x0500, (V2011, V2013, V2019))):
        assert DEFAULT_MESSAGES.versions_of(mid) == list(versions)
    assert DEFAULT_MESSAGES.get(0x8500, V2011) is VehicleControl
    assert DEFAULT_MESSAGES.get(0x8500, V2013) is VehicleControl
    assert DEFAULT_MESSAGES.get(0x8500, V2019) is VehicleControl2019


# -- 0x0201 / 0x0500 ------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [V2011, V2013, V2019])
def test_location_query_reply_0201(version) -> None:
    b = LocationQueryReply(seq=7, location=LOC)
    roundtrip(b, version, "0007" + LOC_HEX)


def test_location_query_reply_json_key_params() -> None:
    json_roundtrip(LocationQueryReply(seq=7, location=LOC), V2013, {"seq": 7, "params": LOC_JSON})
    with pytest.raises(BodyError) as e:
        LocationQueryReply.from_json({"seq": 7}, V2013)
    assert e.value.field == "params"
    with pytest.raises(BodyError):
        LocationQueryReply.from_json({"params": LOC_JSON}, V2013)


@pytest.mark.parametrize("version", [V2011, V2013, V2019])
def test_vehicle_control_reply_0500(version) -> None:
    b = VehicleControlReply(seq=0x0102, location=LOC)
    roundtrip(b, version, "0102" + LOC_HEX)
    json_roundtrip(b, version, {"seq": 0x0102, "location": LOC_JSON})


def test_embedded_location_keeps_its_bad_tail_and_notes() -> None:
    # an extra item claiming more bytes than the body has: kept raw inside the embedded location
    data = bytes.fromhex("0007" + LOC_HEX + "0205007d")
    problems: list[str] = []
    body, tail, _ = decode_body(0x0201, V2013, data, problems=problems)
    assert body.location.extras == [(0x01, 100), (0x30, 31)]
    assert body.location.bad_tail == bytes.fromhex("0205007d") and tail == b""
    assert any("0x02" in p for p in problems)
    assert encode_body(body, V2013) == data


def test_location_query_reply_truncated_is_typed() -> None:
    with pytest.raises(TruncatedError) as e:
        decode_body(0x0201, V2013, bytes.fromhex("0007" + LOC_HEX[:40]))
    assert e.value.msg_id == 0x0201 and e.value.offset == 2


# -- 0x8202 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [V2011, V2013, V2019])
def test_temporary_tracking_8202(version) -> None:
    roundtrip(TemporaryTracking(period=30, expiry=3600), version, "001e 00000e10")
    roundtrip(TemporaryTracking(period=0), version, "0000")  # stop: no expiry (S001)


def test_temporary_tracking_two_and_six_byte_stop() -> None:
    assert decode_body(0x8202, V2013, bytes.fromhex("0000"))[0] == TemporaryTracking(0, 0)
    # SmallChi / EMQX / yezhihao always send the DWORD: accepted, encoded back as 2 bytes
    problems: list[str] = []
    body, tail, _ = decode_body(0x8202, V2013, bytes.fromhex("000000000000"), problems=problems)
    assert body == TemporaryTracking(0, 0) and tail == b"" and problems == []
    assert body.stops
    body, _, _ = decode_body(0x8202, V2013, bytes.fromhex("00000000003c"), problems=problems)
    assert body == TemporaryTracking(0, 60)
    assert any("period 0" in p for p in problems)
    assert encode_body(body, V2013) == b"\x00\x00"


def test_temporary_tracking_errors() -> None:
    with pytest.raises(TruncatedError) as e:
        decode_body(0x8202, V2013, bytes.fromhex("001e"))  # period > 0 needs the expiry
    assert e.value.field == "expiry" and e.value.offset == 2
    with pytest.raises(EncodeError) as ee:
        encode_body(TemporaryTracking(30, -1), V2013)
    assert ee.value.field == "expiry"
    with pytest.raises(EncodeError):
        encode_body(TemporaryTracking(0x10000, 1), V2013)


def test_temporary_tracking_json() -> None:
    json_roundtrip(TemporaryTracking(10, 600), V2013, {"period": 10, "expiry": 600})
    json_roundtrip(TemporaryTracking(0, 0), V2019, {"period": 0, "expiry": 0})


# -- 0x8203 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [V2013, V2019])
def test_confirm_alarm_8203(version) -> None:
    b = ConfirmAlarm(seq=0x1234, type=1 | 1 << 20 | 1 << 27)
    roundtrip(b, version, "1234 08100001")
    json_roundtrip(b, version, {"seq": 0x1234, "type": 0x08100001})
    assert b.alarm_names(version) == ["emergency", "area_in_out", "illegal_ignition"]
    assert b.reserved_bits == 0
    assert ConfirmAlarm(0, 1 << 1).reserved_bits == 2


# -- 0x0704 ---------------------------------------------------------------------------------------
def item(hex_body: str, length: int | None = None) -> str:
    n = len(hex_body) // 2 if length is None else length
    return f"{n:04x}" + hex_body


@pytest.mark.parametrize("version", [V2013, V2019])
def test_batch_locations_0704(version) -> None:
    b = BatchLocations(type=1, locations=[LOC, LOC])
    roundtrip(b, version, "0002 01" + item(LOC_HEX) + item(LOC_HEX))
    assert item(LOC_HEX).startswith("0025")
    roundtrip(BatchLocations(type=0, locations=[]), version, "0000 00")


def test_batch_locations_json() -> None:
    b = BatchLocations(type=1, locations=[LOC, LOC])
    json_roundtrip(b, V2013, {"type": 1, "length": 2, "location": [LOC_JSON, LOC_JSON]})


def decode_0704(hex_body: str) -> tuple[BatchLocations, list[str], bytes]:
    problems: list[str] = []
    body, tail, _ = decode_body(0x0704, V2013, bytes.fromhex(hex_body.replace(" ", "")), problems=problems)
    assert isinstance(body, BatchLocations)
    return body, problems, tail


@pytest.mark.parametrize("wrong", [0x21, 0x29, 0x1C, 0x00, 0xFFFF])
def test_batch_wrong_item_length_in_the_middle_is_re_measured(wrong) -> None:
    hexb = "0003 00" + item(LOC_HEX, wrong) + item(LOC_HEX) + item(LOC_HEX)
    body, problems, tail = decode_0704(hexb)
    assert body.locations == [LOC, LOC, LOC] and body.bad_tail == b"" and tail == b""
    assert body.count is None
    assert len(problems) == 1 and f"says {wrong} bytes" in problems[0] and "span 37" in problems[0]
    # re-encoding writes the true length
    assert encode_body(body, V2013).hex() == ("0003 00" + item(LOC_HEX) * 3).replace(" ", "")


def test_batch_wrong_length_at_the_end_with_intact_item_is_decoded() -> None:
    body, problems, _ = decode_0704("0002 01" + item(LOC_HEX) + item(LOC_HEX, 0x30))
    assert body.locations == [LOC, LOC] and body.bad_tail == b""
    assert len(problems) == 1 and "says 48 bytes" in problems[0]


def test_batch_truncated_last_item_is_kept_raw() -> None:
    cut = LOC_HEX[:-4]  # the rssi item lost its last bytes
    hexb = "0002 01" + item(LOC_HEX) + item(LOC_HEX, 0x25)[:4] + cut
    body, problems, tail = decode_0704(hexb)
    assert body.locations == [LOC] and tail == b""
    assert body.bad_tail == bytes.fromhex("0025" + cut)
    assert body.count == 2
    assert len(problems) == 1 and "location 1" in problems[0] and "kept raw" in problems[0]
    assert encode_body(body, V2013) == bytes.fromhex(hexb.replace(" ", ""))
    j = body.to_json(V2013)
    assert j["length"] == 2 and len(j["location"]) == 1
    assert base64.b64decode(j["bad_tail"]) == body.bad_tail
    assert BatchLocations.from_json(j, V2013) == body


def test_batch_undecodable_middle_item_keeps_the_rest_raw() -> None:
    # the first item is too short to be a location at all; lengths line up, so nothing to re-measure
    hexb = "0002 00" + item("00" * 16) + item(LOC_HEX)
    body, problems, _ = decode_0704(hexb)
    assert body.locations == [] and body.count == 2
    assert body.bad_tail == bytes.fromhex((item("00" * 16) + item(LOC_HEX)).replace(" ", ""))
    assert "location 0" in problems[0] and "does not decode" in problems[0]
    assert encode_body(body, V2013) == bytes.fromhex(hexb.replace(" ", ""))


def test_batch_count_larger_than_items() -> None:
    hexb = "0003 01" + item(LOC_HEX) + item(LOC_HEX)
    body, problems, _ = decode_0704(hexb)
    assert body.locations == [LOC, LOC] and body.count == 3
    assert any("count says 3" in p for p in problems)
    assert encode_body(body, V2013) == bytes.fromhex(hexb.replace(" ", ""))
    assert body.to_json(V2013)["length"] == 3


def test_batch_lone_byte_after_items() -> None:
    body, problems, _ = decode_0704("0002 01" + item(LOC_HEX) + "00")
    assert body.locations == [LOC] and body.bad_tail == b"\x00"
    assert "not an item" in problems[-1]


def test_batch_truncated_header_is_typed() -> None:
    with pytest.raises(TruncatedError) as e:
        decode_body(0x0704, V2013, b"\x00\x01")
    assert e.value.field == "type"


# SmallChi Demo11 (a real device, via SmallChi/JT808's tests): the frame lost 4 bytes of the second
# location (length field says 473, the frame holds 469; check code wrong). SmallChi decodes one position
# and reports the second as an error from position 1 on.
DEMO11 = (
    "7E070401D90111111111118D1F00020100E90000000000000003016550E2060E84A8056402B200642006031728330104000545"
    "76030202B2EA5A00030507020F226300040503012A9198000504002469400006040035FF1E0007040008522800100E000400FA"
    "00BC00A500B000A202B2001202011B00130100001401190015020000001601F000170203D20018010F0019020047EC6560C002"
    "04F760D001456050017860F0015150B002005C6330015564600151649001005001010050020100500301005101017D01510201"
    "835104020FA6510501725106026E685107023A80510802FFFF510A0103510C0155510D0400000000511101025112010000E900"
    "000003016550BA060E8620056302BC005E200603172835010400054577030202BCEA5A00030507020F22AE00040503012A9198"
    "000504002469420006040035FF1E0007040008522800100E000400FA00890083008A009602BC001202011B0013010000140119"
    "0015020000001601F000170203D20018010E0019020048EC6560C002050260D001466050017860F0015150B002005C63300155"
    "64600151649001005001010050020100500301005101017D01510201835104020FA65105017251060273185107023A60510802"
    "FFFF510A0103510C0155510D04000000005111010251120100807E"
)


def test_smallchi_demo11_real_device_batch() -> None:
    frame = bytes.fromhex(DEMO11)
    with pytest.raises(BadCheckCode):
        jt808.decode(frame)
    p = jt808.decode(frame, strict=False)
    body = p.body
    assert isinstance(body, BatchLocations)
    assert body.type == 1 and body.count == 2
    assert len(body.locations) == 1
    first = body.locations[0]
    assert (first.status, first.latitude, first.longitude, first.time) == (3, 23417058, 101614760, "200603172833")
    assert first.extra(0x01) == 345462 and first.extra(0x03) == 690
    assert len(body.bad_tail) == 231 and body.bad_tail[:2] == b"\x00\xe9"
    assert any("location 1" in x and "kept raw" in x for x in p.problems)
    # the body re-encodes byte for byte (the frame's wrong length and check code are not reproduced)
    assert encode_body(body, V2013) == p.raw_body
    j = jt808.to_json(p)["body"]
    assert j["length"] == 2 and len(j["location"]) == 1 and j["location"][0]["time"] == "200603172833"
    assert BatchLocations.from_json(j, V2013) == body


# -- 0x8500 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [V2011, V2013])
def test_vehicle_control_8500_2013(version) -> None:
    roundtrip(VehicleControl(flag=1), version, "01")
    json_roundtrip(VehicleControl(flag=0), version, {"flag": 0})


def test_vehicle_control_8500_2019() -> None:
    b = VehicleControl2019.door(open_doors=True)
    assert b == VehicleControl2019([Control(0x0001, 1)])
    roundtrip(b, V2019, "0001 0001 01")
    json_roundtrip(b, V2019, {"count": 1, "controls": [{"id": 1, "param": 1}]})
    roundtrip(VehicleControl2019([]), V2019, "0000")


def test_vehicle_control_2019_unknown_id_keeps_rest_raw() -> None:
    problems: list[str] = []
    data = bytes.fromhex("0002 0001 00 f001 aabb".replace(" ", ""))
    body, tail, _ = decode_body(0x8500, V2019, data, problems=problems)
    assert body == VehicleControl2019([Control(1, 0), Control(0xF001, b"\xaa\xbb")])
    assert tail == b"" and len(problems) == 1 and "0xF001" in problems[0]
    assert encode_body(body, V2019) == data
    j = {"count": 2, "controls": [{"id": 1, "param": 0}, {"id": 0xF001, "param": "qrs="}]}
    assert body.to_json(V2019) == j
    assert VehicleControl2019.from_json(j, V2019) == body


def test_vehicle_control_2019_unknown_id_first_keeps_count() -> None:
    data = bytes.fromhex("0002 0099 0102 0001 01".replace(" ", ""))
    body, _, _ = decode_body(0x8500, V2019, data)
    assert body.controls == [Control(0x99, bytes.fromhex("0102000101"))] and body.count == 2
    assert encode_body(body, V2019) == data
    assert body.to_json(V2019)["count"] == 2
    assert VehicleControl2019.from_json(body.to_json(V2019), V2019) == body


def test_vehicle_control_2019_errors() -> None:
    with pytest.raises(TruncatedError) as e:
        decode_body(0x8500, V2019, bytes.fromhex("0002 0001 01".replace(" ", "")))
    assert e.value.field == "controls[1].id"
    with pytest.raises(TruncatedError) as e:
        decode_body(0x8500, V2019, bytes.fromhex("00010001"))
    assert e.value.field == "controls[0].param"
    with pytest.raises(EncodeError) as ee:
        encode_body(VehicleControl2019([Control(0xF001, 5)]), V2019)
    assert ee.value.field == "controls[0].param"
    with pytest.raises(EncodeError):
        encode_body(VehicleControl2019([Control(1, 256)]), V2019)
    with pytest.raises(BodyError):
        VehicleControl2019.from_json({"controls": [{"id": 0xF001, "param": 3}]}, V2019)
    with pytest.raises(BodyError):
        VehicleControl2019.from_json({"controls": [{"param": 3}]}, V2019)
    with pytest.raises(BodyError):
        VehicleControl2019.from_json({"controls": [{"id": 1, "param": "not base64!"}]}, V2019)


def test_vehicle_control_seed004_param_as_base64_is_accepted() -> None:
    b = VehicleControl2019.from_json({"count": 1, "controls": [{"id": 1, "param": "AQ=="}]}, V2019)
    assert encode_body(b, V2019).hex() == "0001000101"


def test_lenient_packet_decode_of_a_bad_8500_keeps_it_raw() -> None:
    frame = jt808.encode(jt808.Packet(jt808.Header(0x8500, PHONES[V2019], 1, V2019),
                                      RawBody(bytes.fromhex("000200"))))
    with pytest.raises(TruncatedError):
        jt808.decode(frame)
    p = jt808.decode(frame, strict=False)
    assert isinstance(p.body, RawBody) and p.problems
    assert jt808.encode(p) == frame


# -- junk never escapes as anything but a JT808Error ------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200), version=st.sampled_from([V2011, V2013, V2019]),
       mid=st.sampled_from([0x0201, 0x8202, 0x8203, 0x0704, 0x8500, 0x0500]))
def test_junk_bodies_decode_or_raise_decode_errors(data, version, mid) -> None:
    try:
        body, tail, _ = decode_body(mid, version, data)
    except DecodeError:
        return
    if mid != 0x8202:  # 0x8202 drops an expiry sent with period 0, on purpose
        assert encode_body(body, version) + tail == data


@settings(max_examples=300, deadline=None)
@given(data=st.binary(min_size=3, max_size=300))
def test_batch_locations_never_fail_after_count_and_type(data) -> None:
    problems: list[str] = []
    body, tail, _ = decode_body(0x0704, V2013, data, problems=problems)
    if not any("decoded with" in p for p in problems):  # re-measured items get their true length back
        assert encode_body(body, V2013) + tail == data
