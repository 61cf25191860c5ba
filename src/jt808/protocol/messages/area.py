"""Areas and routes: 0x8600-0x8608, 0x0608.

0x8600 设置圆形区域, 0x8601 删除圆形区域, 0x8602 设置矩形区域, 0x8603 删除矩形区域, 0x8604 设置多边形区域,
0x8605 删除多边形区域, 0x8606 设置路线, 0x8607 删除路线, 0x8608 查询区域或线路数据 (2019) and its answer
0x0608 查询区域或线路数据应答 (2019).

The optional fields follow the attribute bits (PROTOCOL.md §6.7), as SmallChi and the standard do
(YueBiao/EMQX write them unconditionally; EMQX-JSON.md lists that as their bug):

- area attribute (WORD ``flag``) bit 0: ``start_time``/``end_time``; bit 1: ``max_speed``,
  ``overspeed_duration`` and, in 2019, ``night_max_speed``;
- route attribute bit 0: the route's ``start_time``/``end_time``;
- segment attribute (BYTE ``attrib`` of a route point) bit 0: the too-long / too-short driving-time
  thresholds (JSON ``passed`` / ``uncovered``); bit 1: ``max_speed``, ``overspeed_duration`` and, in
  2019, ``night_max_speed``.

2019 adds a ``name`` (WORD length + text) to every area and route; the JSON carries the seed-004
``name_len`` next to it (the length of the name in GBK, the standard's encoding; on input it is
accepted and ignored, the encoder derives the length from the text).

Coordinates stay unsigned 1e-6 degrees as on the wire; the hemisphere is in the attribute bits.
"""

from __future__ import annotations

import base64
from dataclasses import field
from enum import IntEnum, IntFlag
from typing import Any, ClassVar

from jt808.errors import BodyError, DecodeError, EncodeError
from jt808.protocol.buffer import Reader, Writer
from jt808.protocol.header import V2019, Version
from jt808.protocol.jsonutil import LengthKeys, json_field
from jt808.protocol.spec import (
    BCD,
    BYTE,
    DWORD,
    STR16,
    WORD,
    Body,
    Kind,
    Record,
    _List,
    message,
    record,
    wire,
)

__all__ = [
    "AREA_QUERY_TYPES",
    "AreaAttr",
    "AreasQueryReply",
    "CircleArea",
    "DeleteCircleAreas",
    "DeletePolygonAreas",
    "DeleteRectangleAreas",
    "DeleteRoutes",
    "PolygonPoint",
    "QueryAreas",
    "QueryType",
    "RectangleArea",
    "RouteAttr",
    "RoutePoint",
    "SegmentAttr",
    "SetCircleAreas",
    "SetPolygonArea",
    "SetRectangleAreas",
    "SetRoute",
    "SetType",
]


# ---------------------------------------------------------------------------------------------
# Enumerations (PROTOCOL.md §6.6, §6.7)
# ---------------------------------------------------------------------------------------------
class AreaAttr(IntFlag):
    """Area attribute (``flag``) of 0x8600 / 0x8602 / 0x8604."""

    TIMES = 1 << 0  #: start/end time present
    SPEED_LIMIT = 1 << 1  #: max speed + overspeed duration (+ 2019 night max speed) present
    ENTER_ALARM_DRIVER = 1 << 2
    ENTER_ALARM_PLATFORM = 1 << 3
    EXIT_ALARM_DRIVER = 1 << 4
    EXIT_ALARM_PLATFORM = 1 << 5
    SOUTH = 1 << 6
    WEST = 1 << 7
    NO_DOOR_OPEN = 1 << 8
    COMM_OFF = 1 << 14  #: switch the communication module off inside
    COLLECT_GNSS = 1 << 15  #: collect GNSS detail data inside


class RouteAttr(IntFlag):
    """Route attribute (``flag``) of 0x8606. Bit 1 is reserved."""

    TIMES = 1 << 0
    ENTER_ALARM_DRIVER = 1 << 2
    ENTER_ALARM_PLATFORM = 1 << 3
    EXIT_ALARM_DRIVER = 1 << 4
    EXIT_ALARM_PLATFORM = 1 << 5


class SegmentAttr(IntFlag):
    """Segment attribute (``attrib``) of a 0x8606 route point."""

    TIME_LIMITS = 1 << 0  #: too-long / too-short thresholds present
    SPEED_LIMIT = 1 << 1  #: max speed + overspeed duration (+ 2019 night max speed) present
    SOUTH = 1 << 2
    WEST = 1 << 3


class SetType(IntEnum):
    """Setting type (``type``) of 0x8600 / 0x8602."""

    UPDATE = 0
    APPEND = 1
    MODIFY = 2


class QueryType(IntEnum):
    """Query type of 0x8608 / 0x0608."""

    CIRCLE = 1
    RECTANGLE = 2
    POLYGON = 3
    ROUTE = 4


# ---------------------------------------------------------------------------------------------
# Shared machinery: conditions, lists that name the failing item, version-aware nested JSON
# ---------------------------------------------------------------------------------------------
def _times(v: Any) -> bool:
    return bool(v["flag"] & 1)


def _speed(v: Any) -> bool:
    return bool(v["flag"] & 2)


def _seg_times(v: Any) -> bool:
    return bool(v["attrib"] & 1)


def _seg_speed(v: Any) -> bool:
    return bool(v["attrib"] & 2)


def _relocate(e: DecodeError, path: str) -> None:
    e.field = path + (f".{e.field}" if e.field and e.field != path.split("[", 1)[0] else "")
    e.args = (e._text(),)


class _Items(_List):
    """A counted list whose decode and JSON errors name the item: ``areas[2].start_time``."""

    def read(self, r: Reader, field: str) -> list[Any]:
        assert self.count is not None
        n = self.count.read(r, self.count_key or field)
        item = self.item
        out: list[Any] = []
        for i in range(n):
            try:
                out.append(item.read(r, field) if isinstance(item, Kind) else item.decode(r))
            except DecodeError as e:
                _relocate(e, f"{field}[{i}]")
                raise
        return out

    def from_json(self, v: Any, field: str, version: Version | None = None) -> list[Any]:
        if self.item_is_kind or not isinstance(v, list):
            return super().from_json(v, field, version)
        out: list[Any] = []
        for i, x in enumerate(v):
            try:
                out.append(self.item.from_json(x, version))
            except BodyError as e:
                _relocate(e, f"{field}[{i}]")
                raise
        return out


def _items(item: Any, count: Kind, count_key: str) -> Kind:
    return _Items(item, count, count_key)  # type: ignore[arg-type]  # item: a Kind or a record class


class _VersionedJson(LengthKeys):
    """The JSON of :class:`Record` (the version reaches the items of record lists), with the seed-004
    ``name_len`` companion of a 2019 ``name`` (written before it; on input an integer, else ignored)."""

    __slots__ = ()
    _lengths: ClassVar[dict[str, str]] = {"name": "name_len"}

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> Any:
        body = super().from_json(obj, version)
        if (version is None or version is V2019) and "name_len" in obj and hasattr(body, "name") and (
                isinstance(obj["name_len"], bool) or not isinstance(obj["name_len"], int)):
            raise BodyError("expects an integer", field="name_len")
        return body


# ---------------------------------------------------------------------------------------------
# 0x8600 / 0x8601 circle areas
# ---------------------------------------------------------------------------------------------
@record
class CircleArea(_VersionedJson, Record):
    """One circle area of 0x8600 (and of a 0x0608 answer)."""

    id: int = wire(DWORD)
    flag: int = wire(WORD, doc="area attribute, AreaAttr")
    center_latitude: int = wire(DWORD, doc="1e-6 degrees")
    center_longitude: int = wire(DWORD, doc="1e-6 degrees")
    radius: int = wire(DWORD, doc="metres")
    start_time: str = wire(BCD(6), when=_times, doc="YYMMDDhhmmss, flag bit 0")
    end_time: str = wire(BCD(6), when=_times, doc="YYMMDDhhmmss, flag bit 0")
    max_speed: int = wire(WORD, when=_speed, doc="km/h, flag bit 1")
    overspeed_duration: int = wire(BYTE, when=_speed, doc="seconds, flag bit 1")
    night_max_speed: int = wire(WORD, since=V2019, when=_speed, doc="km/h, 2019, flag bit 1")
    name: str = wire(STR16, since=V2019)


@message(0x8600)
class SetCircleAreas(_VersionedJson, Body):
    """设置圆形区域 — set circle areas. ``type``: SetType (0 update, 1 append, 2 modify)."""

    type: int = wire(BYTE)
    areas: list[CircleArea] = wire(_items(CircleArea, BYTE, "length"))

    msg_id: ClassVar[int]


@message(0x8601)
class DeleteCircleAreas(Body):
    """删除圆形区域 — delete circle areas; an empty list deletes them all."""

    ids: list[int] = wire(_items(DWORD, BYTE, "length"))

    msg_id: ClassVar[int]


# ---------------------------------------------------------------------------------------------
# 0x8602 / 0x8603 rectangle areas
# ---------------------------------------------------------------------------------------------
@record
class RectangleArea(_VersionedJson, Record):
    """One rectangle area of 0x8602 (top-left and bottom-right corners)."""

    id: int = wire(DWORD)
    flag: int = wire(WORD, doc="area attribute, AreaAttr")
    lt_lat: int = wire(DWORD, doc="top-left latitude, 1e-6 degrees")
    lt_lng: int = wire(DWORD, doc="top-left longitude, 1e-6 degrees")
    rb_lat: int = wire(DWORD, doc="bottom-right latitude, 1e-6 degrees")
    rb_lng: int = wire(DWORD, doc="bottom-right longitude, 1e-6 degrees")
    start_time: str = wire(BCD(6), when=_times)
    end_time: str = wire(BCD(6), when=_times)
    max_speed: int = wire(WORD, when=_speed)
    overspeed_duration: int = wire(BYTE, when=_speed)
    night_max_speed: int = wire(WORD, since=V2019, when=_speed)
    name: str = wire(STR16, since=V2019)


@message(0x8602)
class SetRectangleAreas(_VersionedJson, Body):
    """设置矩形区域 — set rectangle areas. ``type``: SetType."""

    type: int = wire(BYTE)
    areas: list[RectangleArea] = wire(_items(RectangleArea, BYTE, "length"))

    msg_id: ClassVar[int]


@message(0x8603)
class DeleteRectangleAreas(Body):
    """删除矩形区域 — delete rectangle areas; an empty list deletes them all."""

    ids: list[int] = wire(_items(DWORD, BYTE, "length"))

    msg_id: ClassVar[int]


# ---------------------------------------------------------------------------------------------
# 0x8604 / 0x8605 polygon area
# ---------------------------------------------------------------------------------------------
@record
class PolygonPoint(Record):
    """A polygon vertex."""

    lat: int = wire(DWORD)
    lng: int = wire(DWORD)


@message(0x8604)
class SetPolygonArea(_VersionedJson, Body):
    """设置多边形区域 — set one polygon area.

    The 2019 night speed follows the vertex list (SC, YZ and EMQX agree on the position) and, like
    the other speed fields, is present only with flag bit 1.
    """

    id: int = wire(DWORD)
    flag: int = wire(WORD, doc="area attribute, AreaAttr")
    start_time: str = wire(BCD(6), when=_times)
    end_time: str = wire(BCD(6), when=_times)
    max_speed: int = wire(WORD, when=_speed)
    overspeed_duration: int = wire(BYTE, when=_speed)
    points: list[PolygonPoint] = wire(_items(PolygonPoint, WORD, "length"))
    night_max_speed: int = wire(WORD, since=V2019, when=_speed)
    name: str = wire(STR16, since=V2019)

    msg_id: ClassVar[int]


@message(0x8605)
class DeletePolygonAreas(Body):
    """删除多边形区域 — delete polygon areas; an empty list deletes them all."""

    ids: list[int] = wire(_items(DWORD, BYTE, "length"))

    msg_id: ClassVar[int]


# ---------------------------------------------------------------------------------------------
# 0x8606 / 0x8607 routes
# ---------------------------------------------------------------------------------------------
@record
class RoutePoint(_VersionedJson, Record):
    """A route turning point and the segment that starts there.

    ``too_long_threshold`` / ``too_short_threshold`` (seconds) are the segment's driving-time limits
    (seed-004 keys ``passed`` / ``uncovered``), present with ``attrib`` bit 0.
    """

    point_id: int = wire(DWORD)
    path_id: int = wire(DWORD, doc="segment id")
    point_lat: int = wire(DWORD)
    point_lng: int = wire(DWORD)
    width: int = wire(BYTE, doc="segment width, metres")
    attrib: int = wire(BYTE, doc="segment attribute, SegmentAttr")
    too_long_threshold: int = wire(WORD, json="passed", when=_seg_times)
    too_short_threshold: int = wire(WORD, json="uncovered", when=_seg_times)
    max_speed: int = wire(WORD, when=_seg_speed)
    overspeed_duration: int = wire(BYTE, when=_seg_speed)
    night_max_speed: int = wire(WORD, since=V2019, when=_seg_speed)


@message(0x8606)
class SetRoute(_VersionedJson, Body):
    """设置路线 — set one route. ``flag``: RouteAttr (bit 0: start/end time present)."""

    id: int = wire(DWORD)
    flag: int = wire(WORD, doc="route attribute, RouteAttr")
    start_time: str = wire(BCD(6), when=_times)
    end_time: str = wire(BCD(6), when=_times)
    points: list[RoutePoint] = wire(_items(RoutePoint, WORD, "length"))
    name: str = wire(STR16, since=V2019)

    msg_id: ClassVar[int]


@message(0x8607)
class DeleteRoutes(Body):
    """删除路线 — delete routes; an empty list deletes them all."""

    ids: list[int] = wire(_items(DWORD, BYTE, "length"))

    msg_id: ClassVar[int]


# ---------------------------------------------------------------------------------------------
# 0x8608 / 0x0608 query (2019)
# ---------------------------------------------------------------------------------------------
@message(0x8608, answered_by=(0x0608,), versions=(V2019,))
class QueryAreas(Body):
    """查询区域或线路数据 — query areas or routes (2019). ``type``: QueryType; an empty id list asks
    for every area (route) of that type. JSON key ``count`` (EMQX; seed 004 says ``length``, accepted
    on input too); ``ids`` may be left out when ``count`` is 0."""

    type: int = wire(BYTE)
    ids: list[int] = wire(_items(DWORD, DWORD, "count"))

    msg_id: ClassVar[int]

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> QueryAreas:
        if isinstance(obj, dict) and "count" not in obj and "length" in obj:
            obj = {**obj, "count": obj["length"]}
        if isinstance(obj, dict) and "ids" not in obj and obj.get("count") == 0:
            obj = {**obj, "ids": []}
        return Record.from_json.__func__(cls, obj, version)  # type: ignore[attr-defined,no-any-return]  # the generic Record.from_json


#: query type -> the set message whose complete bodies a 0x0608 answer carries
AREA_QUERY_TYPES: dict[int, type[Body]] = {
    QueryType.CIRCLE: SetCircleAreas,
    QueryType.RECTANGLE: SetRectangleAreas,
    QueryType.POLYGON: SetPolygonArea,
    QueryType.ROUTE: SetRoute,
}


def _read_query_data(r: Reader, type_: int, count: int) -> tuple[list[Body], bytes]:
    """Parse ``count`` complete set-message bodies; what does not parse stays raw (and is noted)."""
    item_cls = AREA_QUERY_TYPES.get(type_)
    if item_cls is None:
        if r.pos < r.end:
            r.note(f"0x0608: query type {type_} is not 1-4; {r.end - r.pos} byte(s) of data kept raw")
        return [], r.rest()
    items: list[Body] = []
    for i in range(count):
        p = r.pos
        if p >= r.end:
            r.note(f"0x0608: count says {count} but the data holds {i} {item_cls.__name__} bodies")
            return items, b""
        try:
            body = item_cls.decode(r)
            w = Writer(r.version, r.encoding, 0x0608, r.profile)
            body.encode(w)
            if w.out != r.data[p:r.pos]:
                raise DecodeError("does not re-encode to the same bytes", offset=p)
        except (DecodeError, EncodeError) as e:
            r.pos = p
            r.note(f"0x0608: body {i + 1} of {count} ({item_cls.__name__}) at offset {p} does not parse "
                   f"({e}); {r.end - p} byte(s) kept raw")
            return items, r.rest()
        items.append(body)
    if r.pos < r.end:
        r.note(f"0x0608: {r.end - r.pos} byte(s) after the {count} {item_cls.__name__} bodies kept raw")
    return items, r.rest()


@message(0x0608, quotes="", versions=(V2019,))
class AreasQueryReply(Body):
    """查询区域或线路数据应答 — answer to 0x8608 (2019): ``type``, ``count``, then ``count`` complete
    bodies of the matching set message (0x8600 / 0x8602 each with their own type and count prefix,
    0x8604, 0x8606), as SmallChi parses it and QuecPython builds it.

    ``items`` holds the bodies that parsed (each checked to re-encode byte for byte); from the first
    one that does not, the data stays in ``undecoded`` (noted in the packet's problems). ``count`` is
    kept as received; ``None`` (the default when building one) means ``len(items)``.
    JSON (EMQX): ``{"type", "count", "data": base64}``; seed 004's ``length`` / ``items`` are accepted
    on input. ``data`` in JSON is the items re-encoded in GBK (the standard's charset) plus the raw
    rest: for a device profile using another text encoding, names would differ from the wire bytes.
    """

    type: int = wire(BYTE, doc="QueryType")
    count: int | None = wire(DWORD, default=None)
    items: list[Body] = field(default_factory=list)
    undecoded: bytes = b""

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> AreasQueryReply:
        type_ = r.u8("type")
        count = r.u32("count")
        items, raw = _read_query_data(r, type_, count)
        return cls(type_, count, items, raw)

    def encode(self, w: Writer) -> None:
        w.u8(self.type, "type")
        count = self.count
        if count is None:
            if self.undecoded:
                raise EncodeError("needs an explicit value when part of the data is raw", field="count",
                                  msg_id=w.msg_id)
            count = len(self.items)
        w.u32(count, "count")
        self._write_data(w)

    def _write_data(self, w: Writer) -> None:
        item_cls = AREA_QUERY_TYPES.get(self.type)
        for i, it in enumerate(self.items):
            if item_cls is None or type(it) is not item_cls:
                want = item_cls.__name__ if item_cls else "no"
                raise EncodeError(f"query type {self.type} takes {want} items, got {type(it).__name__}",
                                  field=f"items[{i}]", msg_id=w.msg_id)
            it.encode(w)
        w.bytes(self.undecoded, "undecoded")

    @property
    def data(self) -> bytes:
        """The data part as on the wire (the bodies, then the raw rest)."""
        w = Writer(V2019, msg_id=0x0608)
        self._write_data(w)
        return w.getvalue()

    def areas(self) -> list[Any]:
        """Every area (route) in the answer: the area records of circle/rectangle bodies, the polygon
        and route bodies themselves."""
        out: list[Any] = []
        for it in self.items:
            out.extend(it.areas if isinstance(it, SetCircleAreas | SetRectangleAreas) else [it])
        return out

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        count = self.count if self.count is not None else len(self.items)
        return {"type": self.type, "count": count, "data": base64.b64encode(self.data).decode("ascii")}

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> AreasQueryReply:
        from jt808.protocol.registry import DEFAULT_PROFILE
        from jt808.protocol.spec import BYTES_REST

        if not isinstance(obj, dict):
            raise BodyError(f"AreasQueryReply expects a JSON object, got {type(obj).__name__}")
        ckey = "count" if "count" in obj or "length" not in obj else "length"
        dkey = "data" if "data" in obj or "items" not in obj else "items"
        type_ = json_field(obj, "type", 0, 0xFF)
        count = json_field(obj, ckey, 0, 0xFFFFFFFF)
        if dkey not in obj:
            raise BodyError("is missing", field=dkey)
        data = BYTES_REST.from_json(obj[dkey], dkey)
        items, raw = _read_query_data(Reader(data, V2019, DEFAULT_PROFILE, 0x0608), type_, count)
        return cls(type_, count, items, raw)
