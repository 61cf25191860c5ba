"""Every registered (msg_id, version): a seed-004 JSON document -> frame -> JSON round trip.

The sample bodies are written from seed 004's field tables with the corrections of EMQX-JSON.md
(``manufacturer``, 0x0102 2019 ``software_version``, 0x8004 ``time``, 0x0005/0x0608/0x8608 ``count``,
0x8500 2019 ``count``/``controls``, 0x0705 ``time`` string …). A meta-test fails for any registered id
without a sample, and for a sample whose id is not registered. 2011 uses the 2013 sample unless it has
its own.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

import jt808
from jt808 import V2011, V2019
from jt808.protocol.registry import DEFAULT_MESSAGES


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


LOC_BASIC = {"alarm": 1, "status": 0x000C0003, "latitude": 30787690, "longitude": 120767073, "altitude": 12,
             "speed": 605, "direction": 90, "time": "250101120000"}
LOC = {**LOC_BASIC, "extra": {"mileage": 1234, "fuel_meter": 50, "speed": 600, "alarm_id": 2,
                              "overspeed_alarm": {"type": 1, "id": 7},
                              "in_out_alarm": {"type": 2, "id": 8, "direction": 1},
                              "path_time_alarm": {"id": 9, "time": 120, "result": 0},
                              "signal": {k: i % 2 for i, k in enumerate(
                                  ("low_beam", "high_beam", "right_turn", "left_turn", "brake", "reverse", "fog",
                                   "side_marker", "horn", "air_conditioner", "neutral", "retarder", "abs",
                                   "heater", "cluth"))},
                              "io_status": {"deep_sleep": 0, "sleep": 1}, "analog": {"ad0": 100, "ad1": 200},
                              "rssi": 25, "gnss_sat_num": 9, "custome": {"225": b64(b"\x01\x02\x03")}}}
LOC19 = {**LOC_BASIC, "extra": {**LOC["extra"], "tire_pressure": b64(bytes(range(30))), "carriage_temp": -12}}
LOC_SHORT = {**LOC_BASIC, "extra": {"mileage": 1}}
T0, T1 = "250101000000", "251231235959"

# (msg_id, version) -> list of sample bodies
SAMPLES: dict[tuple[int, int], list[dict]] = {}


def sample(msg_id: int, *bodies: dict, v13: bool = True, v19: bool = True, v11: bool = False) -> None:
    for v, on in ((2011, v11), (2013, v13), (2019, v19)):
        if on:
            SAMPLES[(msg_id, v)] = list(bodies)


def sample19(msg_id: int, *bodies: dict) -> None:
    sample(msg_id, *bodies, v13=False, v19=True)


def sample13(msg_id: int, *bodies: dict, v11: bool = False) -> None:
    sample(msg_id, *bodies, v13=True, v19=False, v11=v11)


# -- general, registration, parameters ---------------------------------------------------------
sample(0x0001, {"seq": 10, "id": 0x8103, "result": 0}, {"seq": 65535, "id": 0x8300, "result": 3})
sample(0x8001, {"seq": 10, "id": 0x0200, "result": 4})
for _mid in (0x0002, 0x0003, 0x8104, 0x8107, 0x8201, 0x8702):
    sample(_mid, {})
sample19(0x0004, {})
sample19(0x8204, {})
sample19(0x0005, {"seq": 10, "count": 2, "ids": [2, 5]})
sample(0x8003, {"seq": 10, "length": 2, "ids": [2, 5]}, {"seq": 11, "length": 0, "ids": []})
sample19(0x8004, {"time": "250101040000"})
sample13(0x0100, {"province": 44, "city": 307, "manufacturer": "70960", "model": "T7-T808", "dev_id": "0329170",
                  "color": 1, "license_number": "粤B12345"}, v11=True)
sample19(0x0100, {"province": 44, "city": 307, "manufacturer": "MAKER123456", "model": "MODEL-2019-XYZ",
                  "dev_id": "DEV000001", "color": 2, "license_number": "京A00001"})
sample(0x8100, {"seq": 37, "result": 0, "auth_code": "1552955987470"}, {"seq": 38, "result": 1})
sample13(0x0102, {"code": "285111"})
sample19(0x0102, {"code": "285111", "imei": "860000000000001", "software_version": "V1.0.0"})
_PARAMS = [{"id": 0x0001, "value": 60}, {"id": 0x0013, "value": "server.example.com"}, {"id": 0x0031, "value": 500},
           {"id": 0x0084, "value": 1}, {"id": 0x0110, "value": b64(bytes(range(8)))},
           {"id": 0xF001, "value": b64(b"\x01\x02\x03")}]
sample(0x8103, {"length": len(_PARAMS), "params": _PARAMS})
sample(0x0104, {"seq": 7, "length": 2, "params": _PARAMS[:2]})
sample(0x8105, {"command": 4, "param": ""},
       {"command": 1, "param": "http://example.com/fw.bin;cmnet;user;pwd;10.0.0.1;21;0;1;a;b;c;60"})
sample(0x8106, {"length": 2, "ids": [1, 0x13]})
sample(0x0107, {"type": 6, "manufacturer": "70960", "model": "T7-T808", "id": "0329170",
                "iccid": "89860012345678901234", "hardware_version": "HW1.0", "firmware_version": "FW2.0",
                "gnss_prop": 3, "comm_prop": 1})
sample(0x8108, {"type": 0, "manufacturer": "70960", "ver_len": 5, "version": "1.2.3", "fw_len": 4,
                "firmware": b64(b"\x01\x02\x03\x04")})
sample(0x0108, {"type": 0, "result": 0})

# -- location and tracking ---------------------------------------------------------------------
sample13(0x0200, LOC, LOC_BASIC, v11=True)
sample19(0x0200, LOC19, LOC_BASIC)
sample(0x0201, {"seq": 5, "params": LOC})
SAMPLES[(0x0201, 2019)] = [{"seq": 5, "params": LOC19}]
sample(0x8202, {"period": 30, "expiry": 3600})
sample(0x8203, {"seq": 0, "type": 1})
sample(0x0500, {"seq": 9, "location": LOC_SHORT})
sample(0x0704, {"type": 0, "length": 2, "location": [LOC, LOC_SHORT]}, {"type": 1, "length": 0, "location": []})
SAMPLES[(0x0704, 2019)] = [{"type": 1, "length": 2, "location": [LOC19, LOC_BASIC]}]
sample13(0x8500, {"flag": 1})
sample19(0x8500, {"count": 1, "controls": [{"id": 1, "param": 1}]})

# -- text, events, questions, menus, phone ----------------------------------------------------
sample13(0x8300, {"flag": 0x0D, "text": "你好 hello"})
sample19(0x8300, {"flag": 0x0D, "text_type": 1, "text": "你好 hello"})
sample(0x8301, {"type": 1, "length": 2, "events": [{"id": 1, "length": 4, "content": "事件"},
                                                    {"id": 2, "length": 3, "content": "abc"}]})
sample(0x0301, {"id": 3})
sample(0x8302, {"flag": 8, "length": 4, "question": "问题",
                "answers": [{"id": 1, "len": 2, "answer": "是"}, {"id": 2, "len": 2, "answer": "否"}]})
sample(0x0302, {"seq": 3, "id": 1})
sample(0x8303, {"type": 1, "length": 2, "menus": [{"type": 1, "length": 4, "info": "新闻"},
                                                   {"type": 2, "length": 4, "info": "天气"}]})
sample(0x0303, {"id": 1, "flag": 1})
sample(0x8304, {"type": 1, "length": 4, "info": "天气"})
sample(0x8400, {"type": 0, "phone": "13800138000"})
sample(0x8401, {"type": 1, "length": 1, "contacts": [{"type": 3, "phone_len": 11, "phone": "13800138000",
                                                      "name_len": 4, "name": "张三"}]})

# -- areas and routes --------------------------------------------------------------------------
_CIRCLE = {"id": 1, "flag": 3, "center_latitude": 30787690, "center_longitude": 120767073, "radius": 500,
           "start_time": T0, "end_time": T1, "max_speed": 80, "overspeed_duration": 10}
_RECT = {"id": 2, "flag": 3, "lt_lat": 30800000, "lt_lng": 120700000, "rb_lat": 30700000, "rb_lng": 120800000,
         "start_time": T0, "end_time": T1, "max_speed": 80, "overspeed_duration": 10}
_NIGHT = {"night_max_speed": 60, "name_len": 4, "name": "区域"}
_PTS = [{"lat": 30800000, "lng": 120700000}, {"lat": 30700000, "lng": 120800000}, {"lat": 30750000, "lng": 120750000}]
_SEG = {"point_id": 1, "path_id": 1, "point_lat": 30787690, "point_lng": 120767073, "width": 20, "attrib": 3,
        "passed": 600, "uncovered": 60, "max_speed": 80, "overspeed_duration": 10}
sample13(0x8600, {"type": 0, "length": 1, "areas": [_CIRCLE]},
         {"type": 1, "length": 1, "areas": [{k: v for k, v in _CIRCLE.items() if k in (
             "id", "center_latitude", "center_longitude", "radius")} | {"flag": 0}]})
sample19(0x8600, {"type": 0, "length": 1, "areas": [_CIRCLE | _NIGHT]})
sample13(0x8602, {"type": 0, "length": 1, "areas": [_RECT]})
sample19(0x8602, {"type": 0, "length": 1, "areas": [_RECT | _NIGHT]})
_POLY = {"id": 3, "flag": 3, "start_time": T0, "end_time": T1, "max_speed": 80, "overspeed_duration": 10,
         "length": 3, "points": _PTS}
sample13(0x8604, _POLY)
sample19(0x8604, _POLY | _NIGHT)
_ROUTE = {"id": 4, "flag": 1, "start_time": T0, "end_time": T1, "length": 1, "points": [_SEG]}
sample13(0x8606, _ROUTE)
sample19(0x8606, _ROUTE | {"points": [_SEG | {"night_max_speed": 60}], "name_len": 4, "name": "路线"})
for _mid in (0x8601, 0x8603, 0x8605, 0x8607):
    sample(_mid, {"length": 2, "ids": [1, 2]})
sample19(0x8608, {"type": 1, "count": 2, "ids": [1, 2]}, {"type": 4, "count": 0, "ids": []})
# one 0x8600 body (set type 0, 1 area; attribute 0: id, flag, centre, radius, 2019 name_len 0)
sample19(0x0608, {"type": 1, "count": 1, "data": b64(bytes.fromhex("00" "01" "00000001" "0000" "01d5c86a"
                                                                   "0732c261" "000001f4" "0000"))})

# -- tachograph, waybill, driver, CAN ----------------------------------------------------------
sample(0x8700, {"command": 8, "param": b64(b"\x25\x01\x01\x00\x00\x00\x25\x01\x02\x00\x00\x00\x00\x0a")})
sample(0x0700, {"seq": 1, "command": 8, "data": b64(b"\x55\x7a\x08\x00\x00\x00\x2f")})
sample(0x8701, {"command": 0x82, "param": b64(b"\x01\x02")})
sample(0x0701, {"length": 4, "data": b64(b"\x01\x02\x03\x04")})
_DRIVER = {"status": 1, "time": "250101080000", "ic_result": 0, "driver_name": "张三",
           "certificate": "12345678901234567890", "organization": "交通局", "cert_expiry": "20301231"}
sample13(0x0702, _DRIVER, {"status": 2, "time": "250101180000"}, {"status": 1, "time": "250101080000", "ic_result": 1})
sample19(0x0702, _DRIVER | {"id_card": "110101199001011234"}, {"status": 2, "time": "250101180000"})
SAMPLES[(0x0702, 2011)] = [{"driver_name": "张三", "id_card": "110101199001011234",
                            "certificate": "1234567890123456789012345678901234567890", "organization": "交通局"}]
sample(0x0705, {"length": 1, "time": "1203045000", "can_data": [
    {"channel": 1, "frame_type": 1, "data_method": 0, "id": 0x18FEF100, "data": b64(bytes(range(8)))}]})

# -- multimedia --------------------------------------------------------------------------------
sample(0x0800, {"id": 1, "type": 0, "format": 0, "event": 1, "channel": 1})
sample(0x0801, {"id": 1, "type": 0, "format": 0, "event": 1, "channel": 1, "location": LOC_BASIC,
                "multimedia": b64(b"\xff\xd8\xff\xe0jpeg\xff\xd9")})
sample(0x8800, {"mm_id": 1, "length": 2, "retx_ids": [3, 4]}, {"mm_id": 2, "length": 0, "retx_ids": []})
sample(0x8801, {"channel_id": 1, "command": 1, "period": 0, "save": 0, "resolution": 1, "quality": 5,
                "bright": 128, "contrast": 64, "saturate": 64, "chromaticity": 128})
sample(0x0805, {"seq": 3, "result": 0, "length": 2, "ids": [1, 2]}, {"seq": 3, "result": 1})
sample(0x8802, {"type": 0, "channel": 1, "event": 0, "start_time": T0, "end_time": T1})
sample(0x0802, {"seq": 3, "length": 1, "result": [{"id": 1, "type": 0, "channel": 1, "event": 0,
                                                    "location": LOC_BASIC}]})
# 2011's layouts: no location before the media, no media id in the search results
SAMPLES[(0x0801, 2011)] = [{"id": 1, "type": 0, "format": 0, "event": 1, "channel": 1,
                            "multimedia": b64(b"\xff\xd8\xff\xe0jpeg\xff\xd9")}]
SAMPLES[(0x0802, 2011)] = [{"seq": 3, "length": 1, "result": [{"type": 0, "channel": 1, "event": 0,
                                                               "location": LOC_BASIC}]}]
sample(0x8803, {"type": 0, "channel": 1, "event": 0, "start_time": T0, "end_time": T1, "delete": 0})
sample(0x8804, {"command": 1, "time": 30, "save": 0, "rate": 1})
sample(0x8805, {"id": 1, "flag": 0})

# -- pass-through, compression, RSA ------------------------------------------------------------
sample(0x8900, {"type": 0xF0, "data": b64(b"\x00\x7e\x7d\x01")})
sample(0x0900, {"type": 0x41, "data": b64(b"GNSS raw")})
sample(0x0901, {"length": 4, "data": b64(b"\x1f\x8b\x08\x00")})
sample(0x8A00, {"e": 65537, "n": b64(bytes(range(128)))})
sample(0x0A00, {"e": 65537, "n": b64(bytes(range(127, -1, -1)))})

# -- JT/T 1078 signalling (2013 and 2019 bases) -------------------------------------------------
_AV_ITEM = {"channel": 1, "start_time": T0, "end_time": T1, "alarm": (1 << 32) | 1, "media_type": 2, "stream_type": 1,
            "memory_type": 1, "size": 1048576}
sample(0x9003, {})
sample(0x1003, {"input_audio_encoding": 6, "input_audio_channels": 1, "input_audio_sample_rate": 0,
                "input_audio_sample_bits": 1, "audio_frame_length": 320, "audio_output": 1, "video_encoding": 98,
                "max_audio_channels": 1, "max_video_channels": 4})
sample(0x1005, {"start_time": T0, "end_time": T1, "boarding": 12, "alighting": 7})
sample(0x9101, {"ip": "media.example.com", "tcp_port": 6810, "udp_port": 0, "channel": 1, "data_type": 0,
                "stream_type": 1})
sample(0x9102, {"channel": 1, "command": 0, "close_type": 0, "stream_type": 0})
sample(0x9105, {"channel": 1, "loss_rate": 3})
sample(0x9205, {"channel": 0, "start_time": T0, "end_time": T1, "alarm": 0, "media_type": 0, "stream_type": 0,
                "memory_type": 0})
sample(0x1205, {"seq": 7, "count": 2, "items": [_AV_ITEM, {**_AV_ITEM, "channel": 2, "alarm": 0}]},
       {"seq": 8, "count": 0, "items": []})
sample(0x9201, {"ip": "10.0.0.1", "tcp_port": 6810, "udp_port": 6811, "channel": 2, "media_type": 2,
                "stream_type": 1, "memory_type": 1, "playback_mode": 1, "speed": 2, "start_time": T0,
                "end_time": "000000000000"})
sample(0x9202, {"channel": 2, "command": 5, "speed": 0, "time": "250101063000"})
sample(0x9206, {"ip": "ftp.example.com", "port": 21, "username": "u", "password": "p", "path": "/上传",
                "channel": 1, "start_time": T0, "end_time": T1, "alarm": 0, "media_type": 2, "stream_type": 1,
                "storage": 0, "condition": 7})
sample(0x1206, {"seq": 9, "result": 0})
sample(0x9207, {"seq": 9, "command": 2})
sample(0x9301, {"channel": 1, "direction": 3, "speed": 200})
for _mid, _key in ((0x9302, "direction"), (0x9303, "direction"), (0x9304, "command"), (0x9305, "command"),
                   (0x9306, "command")):
    sample(_mid, {"channel": 1, _key: 1})

# -- active safety (SuBiao layouts; YueBiao's are profile-only, tests/protocol/test_active_safety.py) ---------
_SIGN = {"terminal_id": "T000001", "time": "250101120000", "seq": 0, "attachments": 3, "reserved": 0}
sample(0x9208, {"ip": "10.0.0.9", "tcp_port": 6809, "udp_port": 0, "alarm_sign": _SIGN,
                "alarm_no": "0f2c9a7e5d3b41c8a6e4f2d0b9c7a5e3", "reserved": b64(bytes(16))})
sample(0x1210, {"terminal_id": "T000001", "alarm_sign": _SIGN, "alarm_no": "0f2c9a7e5d3b41c8a6e4f2d0b9c7a5e3",
                "info_type": 0, "count": 2, "attachments": [{"name": "00_65_6501_0_x.jpg", "size": 2048},
                                                            {"name": "02_65_6501_1_x.mp4", "size": 65536}]})
sample(0x1211, {"name": "00_65_6501_0_x.jpg", "type": 0, "size": 2048})
sample(0x1212, {"name": "02_65_6501_1_x.mp4", "type": 2, "size": 65536})
sample(0x9212, {"name": "02_65_6501_1_x.mp4", "type": 2, "result": 1, "count": 2,
                "retransmit": [{"offset": 0, "length": 1024}, {"offset": 8192, "length": 512}]},
       {"name": "00_65_6501_0_x.jpg", "type": 0, "result": 0, "count": 0, "retransmit": []})
sample(0x1FC4, {"seq": 5, "type": 0, "status": 3, "progress": 40, "error": 0})


def sample_for(msg_id: int, version: jt808.Version) -> list[dict] | None:
    s = SAMPLES.get((msg_id, int(version)))
    if s is None and version is V2011:
        s = SAMPLES.get((msg_id, 2013))
    return s


PROFILE_2011 = jt808.Profile("v2011", default_version=V2011)
CASES = [(mid, v, i, body) for (mid, v), _cls in DEFAULT_MESSAGES for i, body in enumerate(sample_for(mid, v) or [])]


def test_every_registered_message_has_a_sample() -> None:
    missing = [f"0x{mid:04X} v{int(v)}" for (mid, v), _ in DEFAULT_MESSAGES if not sample_for(mid, v)]
    assert not missing, f"registered without a JSON sample: {missing}"
    stale = [f"0x{mid:04X} v{v}" for (mid, v) in SAMPLES if (mid, jt808.Version(v)) not in DEFAULT_MESSAGES]
    assert not stale, f"samples for unregistered (msg_id, version): {stale}"


@pytest.mark.parametrize(("msg_id", "version", "i", "body"), CASES,
                         ids=[f"0x{m:04X}-{int(v)}-{i}" for m, v, i, _ in CASES])
def test_json_frame_json(msg_id: int, version: jt808.Version, i: int, body: dict) -> None:
    header: dict = {"msg_id": msg_id, "encrypt": 0, "phone": "013912345678", "msg_sn": 100 + i}
    if version is V2019:
        header["proto_ver"] = 1
    doc = json.loads(json.dumps({"header": header, "body": body}))
    packet = jt808.from_json(doc, version=version if version is V2011 else None)
    frame = jt808.encode(packet)
    back = jt808.decode(frame, PROFILE_2011 if version is V2011 else jt808.DEFAULT_PROFILE, strict=True)
    assert back.version is version
    assert not back.problems, back.problems
    out = jt808.to_json(back)
    assert out["body"] == body
    assert out["header"]["msg_id"] == msg_id and out["header"]["len"] == len(back.raw_body or b"")
    assert jt808.encode(jt808.from_json(json.loads(json.dumps(out)), version=version if version is V2011
                                        else None)) == frame


# -- every golden vector: frame -> JSON text -> frame, byte for byte ---------------------------
VECTOR_DIR = Path(__file__).resolve().parent.parent / "vectors"
VECTORS = sorted(VECTOR_DIR.glob("*/*.hex"))
PROFILE_UTF8 = jt808.Profile("utf8", encoding="utf-8")
PROFILE_INFER = jt808.Profile("infer-2011", infer_2011=True)


def _vector_profile(path: Path) -> jt808.Profile:
    """The device profile a vector's name calls for (as the vector's own test uses it)."""
    if path.name.startswith("2011-"):
        return PROFILE_2011
    if "infer2011" in path.name:
        return PROFILE_INFER
    return PROFILE_UTF8 if "utf8" in path.name else jt808.DEFAULT_PROFILE


#: vectors whose JSON cannot carry everything the frame holds (reported to the family's owner): the
#: JSON round trip then gives an equivalent frame that decodes to the same JSON, not the same bytes.
JSON_LOSSY = {
    "0107/2019-sc-issue52": "0x0107 AttributesReply.maker_size (the 11-byte vendor variant) has no JSON key",
}


def test_vectors_exist() -> None:
    assert len(VECTORS) > 100


@pytest.mark.parametrize("path", VECTORS, ids=[f"{p.parent.name}/{p.stem}" for p in VECTORS])
def test_vector_json_is_exact(path: Path) -> None:
    frame = bytes.fromhex(path.read_text().split()[0] if path.read_text().split() else "")
    prof = _vector_profile(path)
    packet = jt808.decode(frame, prof, strict=False)
    version = packet.version if packet.version is V2011 else None
    doc = json.loads(json.dumps(jt808.to_json(packet, prof), ensure_ascii=False))
    again = jt808.from_json(doc, prof, version=version)
    if f"{path.parent.name}/{path.stem}" in JSON_LOSSY:
        out = jt808.encode(again, prof)
        assert out != frame
        assert jt808.to_json(jt808.decode(out, prof), prof)["body"] == doc["body"]
    else:
        assert jt808.encode(again, prof).hex() == frame.hex()
    body_json = path.with_suffix(".json")
    if body_json.exists():
        expected = json.loads(body_json.read_text())
        if isinstance(expected, dict) and "body" in expected and "header" in expected:
            expected = expected["body"]
        assert doc["body"] == expected


def _wrong_type(v: object) -> object:
    if isinstance(v, bool | int):
        return "x"
    if isinstance(v, str):
        return [v]
    if isinstance(v, list):
        return {"a": 1}
    return [1]


def test_from_json_only_ever_raises_decode_errors() -> None:
    """Drop or mistype each key of every sample: from_json either builds a packet that encodes, or
    raises a DecodeError naming the message — never another exception."""
    for (mid, v), bodies in SAMPLES.items():
        version = jt808.Version(v)
        header: dict = {"msg_id": mid, "phone": "1", "msg_sn": 0}
        if version is V2019:
            header["proto_ver"] = 1
        for body in bodies:
            for k in body:
                for bad in ({kk: vv for kk, vv in body.items() if kk != k}, {**body, k: _wrong_type(body[k])}):
                    try:
                        p = jt808.from_json({"header": header, "body": bad},
                                            version=version if version is V2011 else None)
                    except jt808.DecodeError as e:
                        assert e.msg_id == mid, (mid, v, k, e)
                        continue
                    assert jt808.decode(jt808.encode(p), PROFILE_2011 if version is V2011 else jt808.DEFAULT_PROFILE,
                                        strict=False).header.msg_id == mid


def test_from_json_takes_the_profiles_default_version() -> None:
    """A document without ``proto_ver`` is what the profile says a frame without bit 14 is: 2011 for a 2011
    fleet's profile (no ``version=`` needed to round-trip its frames), 2013 otherwise; ``proto_ver`` stays 2019."""
    body = SAMPLES[(0x0801, 2011)][0]
    doc = {"header": {"msg_id": 0x0801, "phone": "013912345678", "msg_sn": 5}, "body": body}
    p = jt808.from_json(doc, PROFILE_2011)
    assert p.version is V2011 and p.body.location is None
    frame = jt808.encode(p, PROFILE_2011)
    back = jt808.decode(frame, PROFILE_2011)
    assert back.problems == [] and jt808.to_json(back, PROFILE_2011)["body"] == body
    assert jt808.encode(jt808.from_json(jt808.to_json(back, PROFILE_2011), PROFILE_2011), PROFILE_2011) == frame
    assert jt808.from_json(doc).version is jt808.V2013
    assert jt808.from_json(doc, PROFILE_2011, version=2013).version is jt808.V2013
    doc19 = {"header": {"msg_id": 0x0002, "phone": "013912345678", "msg_sn": 5, "proto_ver": 1}, "body": {}}
    assert jt808.from_json(doc19, PROFILE_2011).version is V2019
