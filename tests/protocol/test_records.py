"""Tachograph 0x8700/0x0700/0x8701, e-waybill 0x0701, driver identity 0x0702, CAN bus 0x0705."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import jt808
from jt808 import (
    V2011,
    V2013,
    V2019,
    BodyError,
    EncodeError,
    Header,
    Packet,
    Profile,
    TruncatedError,
    decode_body,
    encode_body,
)
from jt808.protocol.messages.records import (
    CanData,
    CanItem,
    DriverIdentity,
    TachographCollect,
    TachographParams,
    TachographUpload,
    Waybill,
)
from jt808.protocol.packet import RawBody

ALL = (V2011, V2013, V2019)
PHONE = {V2011: "013912345678", V2013: "013912345678", V2019: "00000000013912345678"}


def roundtrip(body: Any, version: Any, profile: Profile | None = None) -> tuple[Any, bytes]:
    data = encode_body(body, version)
    problems: list[str] = []
    back, tail, _ = decode_body(body.msg_id, version, data, profile or jt808.DEFAULT_PROFILE, problems=problems)
    assert type(back) is type(body) and tail == b"" and problems == []
    assert encode_body(back, version) == data
    j = back.to_json(version)
    again = type(body).from_json(j, version)
    assert encode_body(again, version) == data and again.to_json(version) == j
    return back, data


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ------------------------------------------------------------------------------------------------
# tachograph and waybill
# ------------------------------------------------------------------------------------------------
GBT_FRAME = bytes.fromhex("aa75080000007e7d")  # opaque to JT/T 808; 7E/7D inside on purpose


@pytest.mark.parametrize("version", ALL, ids=str)
def test_tachograph_bodies(version: Any) -> None:
    back, data = roundtrip(TachographCollect(command=0x08, param=GBT_FRAME), version)
    assert data == b"\x08" + GBT_FRAME and back.command_name == "speed records"
    assert back.to_json(version) == {"command": 8, "param": b64(GBT_FRAME)}
    back, data = roundtrip(TachographCollect(command=0x02), version)
    assert data == b"\x02" and back.param == b""  # empty parameter block

    back, data = roundtrip(TachographUpload(seq=0x1234, command=0x01, data=GBT_FRAME), version)
    assert data == bytes.fromhex("1234" "01") + GBT_FRAME
    assert back.to_json(version) == {"seq": 0x1234, "command": 1, "data": b64(GBT_FRAME)}

    back, data = roundtrip(TachographParams(command=0xC2, param=b"\x24\x01\x01"), version)
    assert data.hex() == "c2" "240101" and back.command_name == "clock"
    assert back.to_json(version) == {"command": 0xC2, "param": "JAEB"}


def test_tachograph_truncated_and_json_errors() -> None:
    with pytest.raises(TruncatedError) as e:
        decode_body(0x0700, V2013, b"\x00")
    assert (e.value.field, e.value.offset) == ("seq", 0)
    with pytest.raises(BodyError) as be:
        TachographCollect.from_json({"command": 1, "param": "%%%"}, V2013)
    assert be.value.field == "param"
    with pytest.raises(EncodeError) as ee:
        encode_body(TachographCollect(command=256), V2013)
    assert ee.value.field == "command"


@pytest.mark.parametrize("version", ALL, ids=str)
def test_waybill(version: Any) -> None:
    back, data = roundtrip(Waybill(data="运单".encode("gbk") + b"\x7e"), version)
    assert data.hex() == "00000005" "d4cbb5a5" "7e"
    assert back.to_json(version) == {"length": 5, "data": b64(back.data)}
    assert roundtrip(Waybill(), version)[1] == bytes(4)
    with pytest.raises(BodyError) as e:
        Waybill.from_json({"length": 4, "data": "YWJj"}, version)
    assert e.value.field == "length"
    assert Waybill.from_json({"data": "YWJj"}, version) == Waybill(b"abc")


def test_waybill_length_disagreeing_with_body() -> None:
    with pytest.raises(TruncatedError) as e:
        decode_body(0x0701, V2013, bytes.fromhex("00000009" "616263"))
    assert (e.value.field, e.value.offset) == ("data", 4)
    problems: list[str] = []
    body, tail, _ = decode_body(0x0701, V2013, bytes.fromhex("00000002" "616263"), problems=problems)
    assert body == Waybill(b"ab") and tail == b"c" and "trailing" in problems[0]


# ------------------------------------------------------------------------------------------------
# 0x0702 driver identity
# ------------------------------------------------------------------------------------------------
def driver(status: int = 1, ic_result: int = 0) -> DriverIdentity:
    return DriverIdentity(status=status, time="240102030405", ic_result=ic_result, driver_name="张三",
                          certificate="1234567890", organization="org", cert_expiry="20301231",
                          id_card="110101199001011234")


BODY_2013 = ("01" "240102030405" "00"                  # card inserted at 24-01-02 03:04:05, read OK
             "04" "d5c5c8fd"                           # name 张三 (GBK)
             "31323334353637383930" + "00" * 10 +      # certificate, STRING[20] NUL-padded
             "03" "6f7267"                             # organization
             "20301231")                               # expiry YYYYMMDD
ID_CARD = "313130313031313939303031303131323334" "0000"  # STRING[20]


def test_driver_identity_exact_bytes_per_version() -> None:
    d = driver()
    assert encode_body(d, V2013).hex() == BODY_2013
    assert encode_body(d, V2019).hex() == BODY_2013 + ID_CARD
    assert encode_body(d, V2011).hex() == ("04" "d5c5c8fd" + ID_CARD +        # name, id card STRING[20]
                                          "31323334353637383930" + "00" * 30 +  # certificate STRING[40]
                                          "03" "6f7267")


@pytest.mark.parametrize(("status", "ic_result", "keys13"), [
    (1, 0, {"status", "time", "ic_result", "driver_name", "certificate", "organization", "cert_expiry"}),
    (1, 1, {"status", "time", "ic_result"}),
    (1, 4, {"status", "time", "ic_result"}),
    (2, 0, {"status", "time"}),
])
def test_driver_identity_conditions(status: int, ic_result: int, keys13: set[str]) -> None:
    for version in (V2013, V2019):
        back, data = roundtrip(driver(status, ic_result), version)
        j = back.to_json(version)
        keys = keys13 | ({"id_card"} if version is V2019 and "cert_expiry" in keys13 else set())
        assert set(j) == keys
        assert j["time"] == "240102030405" and j["status"] == status
        if status == 2:
            assert data.hex() == "02" "240102030405"
        elif ic_result:
            assert data.hex() == "01" "240102030405" + f"{ic_result:02x}"
            assert back.driver_name == ""
        else:
            assert j == {"status": 1, "time": "240102030405", "ic_result": 0, "driver_name": "张三",
                         "certificate": "1234567890", "organization": "org", "cert_expiry": "20301231",
                         **({"id_card": "110101199001011234"} if version is V2019 else {})}


def test_driver_identity_2011() -> None:
    back, _ = roundtrip(driver(), V2011)
    j = back.to_json(V2011)
    assert j == {"driver_name": "张三", "id_card": "110101199001011234", "certificate": "1234567890",
                 "organization": "org"}
    frame = jt808.encode(jt808.build(back, PHONE[V2011], 2, V2011))
    p = jt808.decode(frame, Profile("old", default_version=V2011))
    assert p.body.driver_name == "张三" and jt808.encode(p) == frame


def test_driver_identity_2011_inferred_from_first_byte() -> None:
    data = encode_body(driver(), V2011)
    prof = Profile("guess", infer_2011=True)
    problems: list[str] = []
    body, tail, _ = decode_body(0x0702, V2013, data, prof, problems=problems)
    assert (body.driver_name, body.certificate, body.id_card) == ("张三", "1234567890", "110101199001011234")
    assert tail == b"" and "2011 layout" in problems[0]
    assert encode_body(body, V2013) == data  # re-encodes as received
    j = body.to_json(V2013)
    assert set(j) == {"driver_name", "id_card", "certificate", "organization"}
    assert encode_body(DriverIdentity.from_json(j, V2013), V2013) == data
    # a real 2013 status byte is not touched by the guess
    assert decode_body(0x0702, V2013, bytes.fromhex(BODY_2013), prof)[0] == replace(driver(), id_card="")


def test_driver_identity_vendor_tail_kept_raw() -> None:
    vendor = b"\x01" + b"U123456789".ljust(20, b"\x00")  # SmallChi's face_match BYTE + uid STRING[20]
    body_bytes = bytes.fromhex(BODY_2013 + ID_CARD) + vendor
    frame = jt808.encode(Packet(Header(0x0702, PHONE[V2019], 9, V2019), RawBody(body_bytes)))
    p = jt808.decode(frame)
    assert p.body == driver()
    assert p.tail == vendor and any("trailing" in x for x in p.problems)
    assert jt808.encode(p) == frame
    j = jt808.to_json(p)
    assert j["tail"] == b64(vendor) and j["body"]["id_card"] == "110101199001011234"
    assert jt808.encode(jt808.from_json(j)) == frame


@pytest.mark.parametrize(("hexbody", "version", "field", "offset"), [
    ("01240102030405", V2013, "ic_result", 7),           # status 1 promises the read result
    ("0124010203040500", V2013, "driver_name", 8),       # result 0 promises the name …
    ("01240102030405000a" "d5c5", V2013, "driver_name", 9),  # … of 10 bytes, 2 follow
    (BODY_2013[:-8], V2013, "cert_expiry", len(BODY_2013) // 2 - 4),
    (BODY_2013 + "3131", V2019, "id_card", len(BODY_2013) // 2),
    ("02d5c5", V2011, "id_card", 3),
])
def test_driver_identity_truncated(hexbody: str, version: Any, field: str, offset: int) -> None:
    with pytest.raises(TruncatedError) as e:
        decode_body(0x0702, version, bytes.fromhex(hexbody))
    assert (e.value.field, e.value.offset, e.value.msg_id) == (field, offset, 0x0702)


def test_driver_identity_strict_encoding_and_json_errors() -> None:
    with pytest.raises(EncodeError) as e:
        encode_body(DriverIdentity(status=1, ic_result=0, cert_expiry="2030"), V2013)
    assert e.value.field == "cert_expiry"
    with pytest.raises(EncodeError) as e:
        encode_body(DriverIdentity(status=1, ic_result=0, certificate="x" * 21), V2013)
    assert e.value.field == "certificate"
    with pytest.raises(EncodeError) as e:
        encode_body(DriverIdentity(driver_name="x" * 256), V2011)
    assert e.value.field == "driver_name"
    assert encode_body(DriverIdentity(status=2, time="240102030405", certificate="x" * 99), V2013).hex() == \
        "02240102030405"  # fields the status leaves out are not written
    with pytest.raises(BodyError) as be:
        DriverIdentity.from_json({"status": 1, "time": "240102030405"}, V2013)
    assert be.value.field == "ic_result"
    with pytest.raises(BodyError) as be:
        DriverIdentity.from_json({"status": 1, "time": "240102030405", "ic_result": 0}, V2019)
    assert be.value.field == "driver_name"
    with pytest.raises(BodyError) as be:
        DriverIdentity.from_json({"driver_name": "a", "id_card": 5, "certificate": "", "organization": ""}, V2011)
    assert be.value.field == "id_card"


# ------------------------------------------------------------------------------------------------
# 0x0705 CAN bus data
# ------------------------------------------------------------------------------------------------
def can_body() -> CanData:
    return CanData(time="1234560789", can_data=[
        CanItem.make(0x123, bytes(range(1, 9)), channel=1, frame_type=1),
        CanItem.make(0x1FFFFFFF, b"\x7e\x7d\x00\x00\x00\x00\x00\xff", data_method=1),
    ])


def test_can_data_exact_bytes_and_bits() -> None:
    body = can_body()
    data = encode_body(body, V2013)
    assert data.hex() == ("0002" "1234560789"                    # 2 items, 12:34:56.0789
                          "c0000123" "0102030405060708"          # CAN2, extended, raw, id 0x123
                          "3fffffff" "7e7d0000000000ff")         # CAN1, standard, computed, id 0x1FFFFFFF
    a, b = body.can_data
    assert (a.channel, a.frame_type, a.data_method, a.id) == (1, 1, 0, 0x123)
    assert (b.channel, b.frame_type, b.data_method, b.id) == (0, 0, 1, 0x1FFFFFFF)


@pytest.mark.parametrize("version", (V2013, V2019), ids=str)
def test_can_data_roundtrip_and_json(version: Any) -> None:
    back, _ = roundtrip(can_body(), version)
    assert back == can_body()
    assert back.to_json(version) == {"length": 2, "time": "1234560789", "can_data": [
        {"channel": 1, "frame_type": 1, "data_method": 0, "id": 0x123, "data": "AQIDBAUGBwg="},
        {"channel": 0, "frame_type": 0, "data_method": 1, "id": 0x1FFFFFFF, "data": "fn0AAAAAAP8="}]}
    frame = jt808.encode(jt808.build(back, PHONE[version], 0x7D, version))
    p = jt808.decode(frame)
    assert p.body == back and jt808.encode(jt808.from_json(jt808.to_json(p))) == frame


def test_can_data_json_input_forms_and_errors() -> None:
    j = can_body().to_json(V2013)
    assert CanData.from_json({**j, "time": 1234560789}, V2013) == can_body()  # seed 004 types time as integer
    assert CanData.from_json({**j, "time": 123456789}, V2013).time == "0123456789"
    del j["length"]
    assert CanData.from_json(j, V2013) == can_body()
    with pytest.raises(BodyError) as e:
        CanData.from_json({**j, "length": 3}, V2013)
    assert e.value.field == "length"
    for key, bad in (("channel", 2), ("frame_type", -1), ("data_method", True), ("id", 1 << 29),
                     ("data", b64(bytes(9)))):
        item = {**j["can_data"][0], key: bad}
        with pytest.raises(BodyError) as e:
            CanData.from_json({**j, "can_data": [item]}, V2013)
        assert e.value.field == key
    with pytest.raises(BodyError) as e:
        CanItem.from_json({"channel": 0}, V2013)
    assert e.value.field == "frame_type"


def test_can_data_malformed() -> None:
    data = encode_body(can_body(), V2013)
    with pytest.raises(TruncatedError) as e:
        decode_body(0x0705, V2013, data[:-12])  # count says 2, one item
    assert (e.value.field, e.value.offset) == ("can_data[1].can_id", 19)
    with pytest.raises(TruncatedError) as e:
        decode_body(0x0705, V2013, data[:7 + 4 + 3])
    assert (e.value.field, e.value.offset) == ("can_data[0].data", 11)
    with pytest.raises(TruncatedError) as e:
        decode_body(0x0705, V2013, bytes.fromhex("000112"))
    assert (e.value.field, e.value.offset) == ("time", 2)
    problems: list[str] = []
    body, _, _ = decode_body(0x0705, V2013, bytes.fromhex("0000" "1234560789"), problems=problems)
    assert body.can_data == [] and "count is 0" in problems[0]
    assert encode_body(body, V2013).hex() == "0000" "1234560789"


def test_can_data_strict_encoding() -> None:
    with pytest.raises(EncodeError) as e:
        CanItem.make(1, bytes(8), channel=2)
    assert e.value.field == "channel"
    with pytest.raises(EncodeError) as e:
        CanItem.make(1 << 29, bytes(8))
    assert e.value.field == "id"
    with pytest.raises(EncodeError) as e:
        encode_body(CanData(time="12", can_data=[CanItem(1, bytes(8))]), V2013)
    assert e.value.field == "time"
    with pytest.raises(EncodeError) as e:
        encode_body(CanData(time="1234560789", can_data=[CanItem(1, bytes(9))]), V2013)
    assert e.value.field == "data"
    with pytest.raises(EncodeError) as e:
        encode_body(CanData(time="1234560789", can_data=[b"x"]), V2013)
    assert e.value.field == "can_data[0]"


# ------------------------------------------------------------------------------------------------
# golden frames (tests/vectors/<id>/<version>-<source>.hex + body JSON)
# ------------------------------------------------------------------------------------------------
VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def vectors(ids: tuple[str, ...]) -> list[Path]:
    found = sorted(p for i in ids for p in (VECTORS / i).glob("*.hex"))
    assert {p.parent.name for p in found} == set(ids)
    return found


VECTOR_IDS = ("8700", "0700", "8701", "0701", "0702", "0705")


@pytest.mark.parametrize("path", vectors(VECTOR_IDS), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_vector(path: Path) -> None:
    frame = bytes.fromhex(path.read_text().strip())
    version = int(path.stem[:4])
    prof = Profile(path.stem, default_version=V2011 if version == 2011 else V2013)
    p = jt808.decode(frame, prof)
    assert (int(p.version), p.msg_id, p.problems, p.tail) == (version, int(path.parent.name, 16), [], b"")
    expected = json.loads(path.with_suffix(".json").read_text())
    assert json.loads(json.dumps(p.body.to_json(p.version), ensure_ascii=False)) == expected
    assert jt808.encode(p, prof) == frame
    again = type(p.body).from_json(expected, p.version)
    assert encode_body(again, p.version, prof) == p.raw_body
