"""Areas and routes 0x8600-0x8608 and 0x0608: layouts per version and attribute bits, JSON, malformed bodies."""

from __future__ import annotations

import base64
import itertools
import json
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
from jt808.protocol.messages.area import (
    AreaAttr,
    AreasQueryReply,
    CircleArea,
    DeleteCircleAreas,
    DeletePolygonAreas,
    DeleteRectangleAreas,
    DeleteRoutes,
    PolygonPoint,
    QueryAreas,
    RectangleArea,
    RoutePoint,
    SegmentAttr,
    SetCircleAreas,
    SetPolygonArea,
    SetRectangleAreas,
    SetRoute,
)
from jt808.protocol.packet import RawBody

ALL = (V2011, V2013, V2019)
FLAGS = (0, 1, 2, 3, 0xC0FC, 0xC0FF)  # times / speed combinations, with and without the other bits


def roundtrip(body: Any, version: Any) -> tuple[Any, bytes]:
    """Encode, decode, re-encode: the bytes must survive and nothing may be left over."""
    data = encode_body(body, version)
    problems: list[str] = []
    back, tail, ver = decode_body(body.msg_id, version, data, problems=problems)
    assert type(back) is type(body)
    assert tail == b"" and problems == [] and ver is version
    assert encode_body(back, version) == data
    return back, data


def canon(body: Any, version: Any = V2019) -> Any:
    """The body as the wire carries it (fields the attribute bits leave out back to defaults)."""
    return decode_body(body.msg_id, version, encode_body(body, version))[0]


def json_roundtrip(body: Any, version: Any) -> dict[str, Any]:
    j = body.to_json(version)
    again = type(body).from_json(j, version)
    assert encode_body(again, version) == encode_body(body, version)
    assert again.to_json(version) == j
    return j


def circle(flag: int, **kw: Any) -> CircleArea:
    return CircleArea(id=kw.get("id", 1), flag=flag, center_latitude=30000000, center_longitude=120000000,
                      radius=500, start_time="240101000000", end_time="241231235959", max_speed=80,
                      overspeed_duration=10, night_max_speed=60, name=kw.get("name", "测试"))


def rectangle(flag: int) -> RectangleArea:
    return RectangleArea(id=10, flag=flag, lt_lat=31000000, lt_lng=121000000, rb_lat=30500000, rb_lng=121500000,
                         start_time="240601080000", end_time="240601200000", max_speed=60, overspeed_duration=5,
                         night_max_speed=40, name="区")


def polygon(flag: int) -> SetPolygonArea:
    return SetPolygonArea(id=7, flag=flag, start_time="240101000000", end_time="240201000000", max_speed=100,
                          overspeed_duration=20,
                          points=[PolygonPoint(39900000, 116400000), PolygonPoint(39910000, 116410000),
                                  PolygonPoint(39920000, 116420000)],
                          night_max_speed=70, name="北京")


def route(flag: int, attribs: tuple[int, ...] = (0, 1, 2, 3)) -> SetRoute:
    pts = [RoutePoint(point_id=i + 1, path_id=100 + i, point_lat=22540000 + i, point_lng=114050000 + i, width=20,
                      attrib=a, too_long_threshold=600, too_short_threshold=60, max_speed=80, overspeed_duration=10,
                      night_max_speed=50) for i, a in enumerate(attribs)]
    return SetRoute(id=9, flag=flag, start_time="240101060000", end_time="240101220000", points=pts, name="路线")


def area_size(flag: int, version: Any, name: str, base: int) -> int:
    n = base + (12 if flag & 1 else 0) + (3 if flag & 2 else 0)
    if version is V2019:
        n += (2 if flag & 2 else 0) + 2 + len(name.encode("gbk"))
    return n


# ------------------------------------------------------------------------------------------------
# 0x8600 circle areas
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ALL, ids=str)
@pytest.mark.parametrize("flag", FLAGS, ids=hex)
def test_circle_layout_by_flag(version: Any, flag: int) -> None:
    body = SetCircleAreas(type=1, areas=[circle(flag), circle(flag ^ 3, id=2, name="")])
    back, data = roundtrip(body, version)
    sizes = [area_size(flag, version, "测试", 18), area_size(flag ^ 3, version, "", 18)]
    assert len(data) == 2 + sum(sizes)
    a = back.areas[0]
    assert (a.id, a.flag, a.radius) == (1, flag, 500)
    assert (a.start_time, a.end_time) == (("240101000000", "241231235959") if flag & 1 else ("0" * 12, "0" * 12))
    assert (a.max_speed, a.overspeed_duration) == ((80, 10) if flag & 2 else (0, 0))
    assert a.night_max_speed == (60 if flag & 2 and version is V2019 else 0)
    assert a.name == ("测试" if version is V2019 else "")
    if version is V2019 and flag & 3 == 3:
        assert back.areas[0] == body.areas[0]


def test_circle_exact_bytes_2013_and_2019() -> None:
    body = SetCircleAreas(type=0, areas=[circle(AreaAttr.TIMES | AreaAttr.SPEED_LIMIT)])
    common = ("00" "01"                       # type update, 1 area
              "00000001" "0003"               # id, flag (times + speed)
              "01c9c380" "07270e00"           # 30.000000 N, 120.000000 E
              "000001f4"                      # radius 500 m
              "240101000000" "241231235959"   # start, end
              "0050" "0a")                    # 80 km/h for 10 s
    assert encode_body(body, V2013).hex() == common
    assert encode_body(body, V2011).hex() == common
    assert encode_body(body, V2019).hex() == common + "003c" "0004" "b2e2cad4"  # night 60, name 测试 (GBK)


def test_circle_json_keys_per_version() -> None:
    body = SetCircleAreas(type=0, areas=[circle(3), circle(0, id=2, name="")])
    j13 = json_roundtrip(body, V2013)
    assert j13 == {"type": 0, "length": 2, "areas": [
        {"id": 1, "flag": 3, "center_latitude": 30000000, "center_longitude": 120000000, "radius": 500,
         "start_time": "240101000000", "end_time": "241231235959", "max_speed": 80, "overspeed_duration": 10},
        {"id": 2, "flag": 0, "center_latitude": 30000000, "center_longitude": 120000000, "radius": 500}]}
    j19 = json_roundtrip(body, V2019)
    assert j19["areas"][0] == {**j13["areas"][0], "night_max_speed": 60, "name_len": 4, "name": "测试"}
    assert j19["areas"][1] == {**j13["areas"][1], "name_len": 0, "name": ""}


# ------------------------------------------------------------------------------------------------
# 0x8602 rectangle areas
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ALL, ids=str)
@pytest.mark.parametrize("flag", FLAGS, ids=hex)
def test_rectangle_layout_by_flag(version: Any, flag: int) -> None:
    body = SetRectangleAreas(type=2, areas=[rectangle(flag)])
    back, data = roundtrip(body, version)
    assert len(data) == 2 + area_size(flag, version, "区", 22)
    r = back.areas[0]
    assert (r.lt_lat, r.lt_lng, r.rb_lat, r.rb_lng) == (31000000, 121000000, 30500000, 121500000)
    assert r.max_speed == (60 if flag & 2 else 0)
    json_roundtrip(body, version)


def test_rectangle_exact_bytes_2019() -> None:
    body = SetRectangleAreas(type=1, areas=[rectangle(AreaAttr.SPEED_LIMIT | AreaAttr.ENTER_ALARM_PLATFORM)])
    assert encode_body(body, V2019).hex() == (
        "01" "01" "0000000a" "000a"           # append, 1 area, id 10, flag speed + platform alarm on entry
        "01d905c0" "07365040" "01d164a0" "073df160"  # top-left 31/121, bottom-right 30.5/121.5
        "003c" "05" "0028"                    # 60 km/h, 5 s, night 40 km/h (no times: bit 0 clear)
        "0002" "c7f8")                        # name 区


# ------------------------------------------------------------------------------------------------
# 0x8604 polygon
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ALL, ids=str)
@pytest.mark.parametrize("flag", FLAGS, ids=hex)
def test_polygon_layout_by_flag(version: Any, flag: int) -> None:
    body = polygon(flag)
    back, data = roundtrip(body, version)
    assert len(data) == area_size(flag, version, "北京", 6 + 2 + 3 * 8)
    assert back.points == body.points
    if version is V2019 and flag & 2:
        # the 2019 night speed sits after the vertex list, then the name
        assert data[-8:-6] == (70).to_bytes(2, "big") and data[-6:] == bytes.fromhex("0004b1b1bea9")
    json_roundtrip(body, version)


def test_polygon_exact_bytes_2019_and_json() -> None:
    body = polygon(3)
    assert encode_body(body, V2019).hex() == (
        "00000007" "0003" "240101000000" "240201000000" "0064" "14"  # id 7, times, 100 km/h 20 s
        "0003" "0260d360" "06f01f80" "0260fa70" "06f04690" "02612180" "06f06da0"  # 3 vertices
        "0046" "0004" "b1b1bea9")                                     # night 70, name 北京
    assert body.to_json(V2013) == {
        "id": 7, "flag": 3, "start_time": "240101000000", "end_time": "240201000000", "max_speed": 100,
        "overspeed_duration": 20, "length": 3,
        "points": [{"lat": 39900000, "lng": 116400000}, {"lat": 39910000, "lng": 116410000},
                   {"lat": 39920000, "lng": 116420000}]}
    j = body.to_json(V2019)
    assert (j["night_max_speed"], j["name_len"], j["name"]) == (70, 4, "北京")


# ------------------------------------------------------------------------------------------------
# 0x8606 route
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ALL, ids=str)
@pytest.mark.parametrize("flag", (0, 1, 0x3C, 0x3D), ids=hex)
def test_route_layout_by_route_and_segment_bits(version: Any, flag: int) -> None:
    attribs = tuple(a | extra for a, extra in itertools.product((0, 1, 2, 3), (0, 0x0C)))
    body = route(flag, attribs)
    back, data = roundtrip(body, version)
    point_sizes = [18 + (4 if a & 1 else 0) + (3 if a & 2 else 0) + (2 if a & 2 and version is V2019 else 0)
                   for a in attribs]
    name = 2 + 4 if version is V2019 else 0
    assert len(data) == 6 + (12 if flag & 1 else 0) + 2 + sum(point_sizes) + name
    for p, a in zip(back.points, attribs, strict=True):
        assert p.attrib == a
        assert (p.too_long_threshold, p.too_short_threshold) == ((600, 60) if a & 1 else (0, 0))
        assert (p.max_speed, p.overspeed_duration) == ((80, 10) if a & 2 else (0, 0))
        assert p.night_max_speed == (50 if a & 2 and version is V2019 else 0)
    json_roundtrip(body, version)


def test_route_exact_bytes_and_json_2019() -> None:
    body = route(1, (SegmentAttr.TIME_LIMITS | SegmentAttr.SPEED_LIMIT,))
    assert encode_body(body, V2019).hex() == (
        "00000009" "0001" "240101060000" "240101220000"       # id 9, flag times, start, end
        "0001"                                                # 1 point
        "00000001" "00000064" "0157eee0" "06cc43d0" "14" "03"  # point 1, segment 100, 22.54/114.05, 20 m, attrib 3
        "0258" "003c"                                         # too long 600 s, too short 60 s
        "0050" "0a" "0032"                                    # 80 km/h, 10 s, night 50 km/h
        "0004" "c2b7cfdf")                                    # name 路线
    j = body.to_json(V2019)
    assert j == {"id": 9, "flag": 1, "start_time": "240101060000", "end_time": "240101220000", "length": 1,
                 "points": [{"point_id": 1, "path_id": 100, "point_lat": 22540000, "point_lng": 114050000,
                             "width": 20, "attrib": 3, "passed": 600, "uncovered": 60, "max_speed": 80,
                             "overspeed_duration": 10, "night_max_speed": 50}],
                 "name_len": 4, "name": "路线"}
    assert SetRoute.from_json(j, V2019) == body
    j13 = route(0, (0,)).to_json(V2013)
    assert j13["points"][0].keys() == {"point_id", "path_id", "point_lat", "point_lng", "width", "attrib"}
    assert "start_time" not in j13 and "name" not in j13


# ------------------------------------------------------------------------------------------------
# deletes, 0x8608
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ALL, ids=str)
@pytest.mark.parametrize("cls", (DeleteCircleAreas, DeleteRectangleAreas, DeletePolygonAreas, DeleteRoutes),
                         ids=lambda c: c.__name__)
def test_delete_messages(version: Any, cls: Any) -> None:
    back, data = roundtrip(cls(ids=[1, 0x7E7D, 0xFFFFFFFF]), version)
    assert data.hex() == "03" "00000001" "00007e7d" "ffffffff"
    assert back.ids == [1, 0x7E7D, 0xFFFFFFFF]
    assert roundtrip(cls(), version)[1] == b"\x00"  # empty = delete all of that kind
    assert json_roundtrip(cls(ids=[5, 6]), version) == {"length": 2, "ids": [5, 6]}
    with pytest.raises(BodyError) as e:
        cls.from_json({"length": 3, "ids": [5, 6]}, version)
    assert e.value.field == "length"
    with pytest.raises(EncodeError) as ee:
        encode_body(cls(ids=list(range(256))), version)
    assert ee.value.field == "ids.length"
    with pytest.raises(TruncatedError) as te:
        decode_body(cls.msg_id, version, bytes.fromhex("02" "00000001" "0000"))
    assert (te.value.field, te.value.offset) == ("ids[1]", 5)


def test_query_areas_2019_only() -> None:
    body = QueryAreas(type=4, ids=[3, 4])
    _, data = roundtrip(body, V2019)
    assert data.hex() == "04" "00000002" "00000003" "00000004"
    assert json_roundtrip(body, V2019) == {"type": 4, "count": 2, "ids": [3, 4]}
    assert roundtrip(QueryAreas(type=1), V2019)[1].hex() == "01" "00000000"  # all circle areas
    # EMQX omits ids when count is 0; seed 004 names the count `length`
    assert QueryAreas.from_json({"type": 1, "count": 0}, V2019) == QueryAreas(type=1)
    assert QueryAreas.from_json({"type": 2, "length": 1, "ids": [9]}, V2019) == QueryAreas(type=2, ids=[9])
    with pytest.raises(BodyError) as e:
        QueryAreas.from_json({"type": 1, "count": 1}, V2019)
    assert e.value.field == "ids"
    # not a 2013 message: kept raw there
    assert isinstance(decode_body(0x8608, V2013, data)[0], RawBody)


# ------------------------------------------------------------------------------------------------
# 0x0608 answer
# ------------------------------------------------------------------------------------------------
def _answer_cases() -> list[tuple[int, list[Any]]]:
    return [
        (1, [SetCircleAreas(type=0, areas=[circle(3), circle(0, id=2, name="")]),
             SetCircleAreas(type=1, areas=[circle(1, id=3)])]),
        (2, [SetRectangleAreas(type=0, areas=[rectangle(2)])]),
        (3, [polygon(3), polygon(0)]),
        (4, [route(1), route(0, (0,))]),
    ]


@pytest.mark.parametrize(("qtype", "items"), _answer_cases(), ids=lambda x: str(x) if isinstance(x, int) else "")
def test_areas_query_reply_parses_inner_bodies(qtype: int, items: list[Any]) -> None:
    data = b"".join(encode_body(b, V2019) for b in items)
    body_bytes = bytes([qtype]) + len(items).to_bytes(4, "big") + data
    problems: list[str] = []
    back, tail, _ = decode_body(0x0608, V2019, body_bytes, problems=problems)
    assert isinstance(back, AreasQueryReply)
    items = [canon(b) for b in items]
    assert (back.type, back.count, back.items, back.undecoded, tail, problems) == (qtype, len(items), items, b"",
                                                                                    b"", [])
    assert encode_body(back, V2019) == body_bytes
    j = back.to_json(V2019)
    assert j == {"type": qtype, "count": len(items), "data": base64.b64encode(data).decode()}
    assert AreasQueryReply.from_json(j, V2019) == back
    # a freshly built answer derives its count
    assert encode_body(AreasQueryReply(type=qtype, items=items), V2019) == body_bytes


def test_areas_query_reply_areas_helper_and_empty() -> None:
    _, items = _answer_cases()[0]
    reply = AreasQueryReply(type=1, items=items)
    assert [a.id for a in reply.areas()] == [1, 2, 3]
    assert roundtrip(AreasQueryReply(type=3), V2019)[1].hex() == "03" "00000000"


def test_areas_query_reply_unparsable_inner_body_kept_raw() -> None:
    good = encode_body(polygon(3), V2019)
    bad = bytes.fromhex("00000008" "0001" "2401")  # flag bit 0 promises 12 bytes of times, 2 follow
    body_bytes = bytes([3]) + (2).to_bytes(4, "big") + good + bad
    problems: list[str] = []
    back, tail, _ = decode_body(0x0608, V2019, body_bytes, problems=problems)
    assert back.items == [canon(polygon(3))]
    assert back.undecoded == bad and tail == b""
    assert len(problems) == 1
    assert "body 2 of 2" in problems[0] and "start_time" in problems[0] and f"offset {5 + len(good)}" in problems[0]
    assert encode_body(back, V2019) == body_bytes
    j = back.to_json(V2019)
    assert base64.b64decode(j["data"]) == good + bad
    again = AreasQueryReply.from_json(j, V2019)
    assert again.items == back.items and again.undecoded == bad
    # the whole frame survives lenient and strict decoding
    frame = jt808.encode(jt808.build(back, "00000000013912345678", 5, V2019))
    p = jt808.decode(frame)
    assert p.body.undecoded == bad and any("kept raw" in x for x in p.problems)
    assert jt808.encode(p) == frame


def test_areas_query_reply_count_and_type_mismatches() -> None:
    one = encode_body(route(0, (0,)), V2019)
    # count says 3, data holds 1 body
    problems: list[str] = []
    back, _, _ = decode_body(0x0608, V2019, b"\x04" + (3).to_bytes(4, "big") + one, problems=problems)
    assert len(back.items) == 1 and back.count == 3 and "count says 3" in problems[0]
    assert encode_body(back, V2019) == b"\x04" + (3).to_bytes(4, "big") + one
    # trailing bytes after the counted bodies
    problems = []
    back, _, _ = decode_body(0x0608, V2019, b"\x04" + (1).to_bytes(4, "big") + one + b"\xAA", problems=problems)
    assert back.undecoded == b"\xAA" and "after the 1" in problems[0]
    # unknown query type: data raw
    problems = []
    back, _, _ = decode_body(0x0608, V2019, b"\x09" + (1).to_bytes(4, "big") + one, problems=problems)
    assert back.items == [] and back.undecoded == one and "not 1-4" in problems[0]
    assert encode_body(back, V2019) == b"\x09" + (1).to_bytes(4, "big") + one
    # strict encoding: items must match the type; a raw rest needs an explicit count
    with pytest.raises(EncodeError) as e:
        encode_body(AreasQueryReply(type=1, items=[polygon(0)]), V2019)
    assert e.value.field == "items[0]"
    with pytest.raises(EncodeError) as e:
        encode_body(AreasQueryReply(type=1, undecoded=b"\x01"), V2019)
    assert e.value.field == "count"
    # JSON: seed-004 keys accepted on input, bad base64 refused
    assert AreasQueryReply.from_json({"type": 4, "length": 1, "items": base64.b64encode(one).decode()},
                                     V2019).items == [canon(route(0, (0,)))]
    with pytest.raises(BodyError) as be:
        AreasQueryReply.from_json({"type": 4, "count": 1, "data": "not base64!"}, V2019)
    assert be.value.field == "data"
    with pytest.raises(BodyError) as be:
        AreasQueryReply.from_json({"type": 4, "data": ""}, V2019)
    assert be.value.field == "count"


# ------------------------------------------------------------------------------------------------
# malformed bodies and strict encoding
# ------------------------------------------------------------------------------------------------
def test_truncated_area_list_names_item_and_offset() -> None:
    data = encode_body(SetCircleAreas(type=0, areas=[circle(0), circle(0, id=2)]), V2013)
    bad = data[:1] + b"\x03" + data[2:]  # count says 3
    with pytest.raises(TruncatedError) as e:
        decode_body(0x8600, V2013, bad)
    assert (e.value.field, e.value.offset, e.value.msg_id) == ("areas[2].id", 2 + 2 * 18, 0x8600)
    assert "0x8600" in str(e.value) and "areas[2].id" in str(e.value)
    frame = jt808.encode(Packet(Header(0x8600, "013912345678", 1, V2013), RawBody(bad)))
    p = jt808.decode(frame, strict=False)
    assert isinstance(p.body, RawBody) and p.body.reason == "error" and "areas[2].id" in p.problems[0]


@pytest.mark.parametrize(("version", "flag", "field"), [
    (V2013, 1, "areas[0].start_time"),
    (V2013, 2, "areas[0].max_speed"),
    (V2019, 2, "areas[0].night_max_speed"),
])
def test_flag_bit_promising_missing_fields(version: Any, flag: int, field: str) -> None:
    data = bytes.fromhex("00" "01" "00000001") + flag.to_bytes(2, "big") + bytes(12)
    if field.endswith("night_max_speed"):
        data += bytes.fromhex("0050" "0a")
    with pytest.raises(TruncatedError) as e:
        decode_body(0x8600, version, data)
    assert e.value.field == field
    assert e.value.offset == len(data)


def test_polygon_and_route_missing_conditional_fields() -> None:
    poly = encode_body(polygon(2), V2019)
    with pytest.raises(TruncatedError) as e:
        decode_body(0x8604, V2019, poly[:-8])  # vertex list complete, night speed and name missing
    assert (e.value.field, e.value.offset) == ("night_max_speed", len(poly) - 8)
    with pytest.raises(TruncatedError) as e:
        decode_body(0x8604, V2013, encode_body(polygon(0), V2013)[:-3])
    assert e.value.field == "points[2].lng"
    r = encode_body(route(0, (1,)), V2013)
    with pytest.raises(TruncatedError) as e:
        decode_body(0x8606, V2013, r[:-2])  # segment bit 0 promises both thresholds
    assert e.value.field == "points[0].too_short_threshold"
    with pytest.raises(TruncatedError) as e:
        decode_body(0x8606, V2019, encode_body(route(0, (0,)), V2019)[:-3])
    assert e.value.field == "name"


def test_strict_encoding_names_the_field() -> None:
    with pytest.raises(EncodeError) as e:
        encode_body(SetCircleAreas(areas=[CircleArea(flag=2, max_speed=70000)]), V2013)
    assert e.value.field == "max_speed"
    with pytest.raises(EncodeError) as e:
        encode_body(SetPolygonArea(flag=1, start_time="2401"), V2013)
    assert e.value.field == "start_time"
    with pytest.raises(EncodeError) as e:
        encode_body(SetRoute(points=["x"]), V2013)
    assert e.value.field == "points"
    with pytest.raises(EncodeError) as e:
        encode_body(SetRoute(name="\U0001F600"), V2019)
    assert e.value.field == "name"
    # fields the flag does not announce are not written, whatever they hold
    assert encode_body(SetPolygonArea(flag=0, max_speed=70000, start_time="x"), V2013).hex() == "00" * 8


def test_json_errors_name_the_item() -> None:
    j = SetCircleAreas(areas=[circle(0), circle(3)]).to_json(V2013)
    del j["areas"][1]["end_time"]
    with pytest.raises(BodyError) as e:
        SetCircleAreas.from_json(j, V2013)
    assert e.value.field == "areas[1].end_time"
    j = route(0, (2,)).to_json(V2019)
    j["points"][0]["max_speed"] = "80"
    with pytest.raises(BodyError) as e:
        SetRoute.from_json(j, V2019)
    assert e.value.field == "points[0].max_speed"
    j = polygon(0).to_json(V2019)
    j["name_len"] = "4"
    with pytest.raises(BodyError) as e:
        SetPolygonArea.from_json(j, V2019)
    assert e.value.field == "name_len"
    with pytest.raises(BodyError):
        SetPolygonArea.from_json([], V2019)


def test_packet_level_json_roundtrip() -> None:
    for body, version, phone in ((SetCircleAreas(type=0, areas=[circle(3)]), V2019, "00000000013912345678"),
                                 (route(1), V2013, "013912345678")):
        frame = jt808.encode(jt808.build(body, phone, 0x7E, version))
        p = jt808.decode(frame)
        j = jt808.to_json(p)
        assert j["body"] == body.to_json(version)
        assert jt808.encode(jt808.from_json(j)) == frame


def test_2011_uses_2013_layout_under_2011_profile() -> None:
    body = route(1)
    frame = jt808.encode(jt808.build(body, "013912345678", 3, V2011))
    p = jt808.decode(frame, Profile("old", default_version=V2011))
    assert p.version is V2011 and p.body == SetRoute.from_json(body.to_json(V2011), V2011)
    assert jt808.encode(p) == frame


# ------------------------------------------------------------------------------------------------
# golden frames (tests/vectors/<id>/<version>-<source>.hex + body JSON)
# ------------------------------------------------------------------------------------------------
VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def vectors(ids: tuple[str, ...]) -> list[Path]:
    found = sorted(p for i in ids for p in (VECTORS / i).glob("*.hex"))
    assert {p.parent.name for p in found} == set(ids)
    return found


VECTOR_IDS = ("8600", "8601", "8602", "8603", "8604", "8605", "8606", "8607", "8608", "0608")


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
