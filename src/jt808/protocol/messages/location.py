"""Location report 0x0200 (位置信息汇报): the 28-byte basic block and additional-information items.

The basic block (alarm, status, latitude, longitude, altitude, speed, direction, time) is followed by
TLV items ``id BYTE · len BYTE · value``. Items are kept as an ordered list of ``(id, value)`` pairs:
duplicates stay (in order), unknown ids keep their bytes, a known id with an unexpected length is kept
raw as :class:`RawExtra` (and noted in the packet's problems), and an item whose length runs past
the body leaves the good items decoded and the bad tail in ``bad_tail`` (noted with its offset).
Everything re-encodes byte for byte.

This body is embedded in 0x0201, 0x0500, 0x0704, 0x0801 (basic block only) and 0x0802 (basic block
only): use :meth:`LocationReport.decode` / :meth:`LocationReport.encode` there.

Each item id is declared once, as a row of :data:`ITEMS` (:class:`~jt808.protocol.registry.ExtraCodec`:
id, JSON key, wire type, versions, value codec, JSON rendering and parsing, description). The codec,
the EMQX JSON (:func:`location_to_json` / :func:`location_from_json`, here next to the message), the
CLI's ``--explain`` and the storage rows all read these rows. A device profile or an extension family
adds rows of its own (``profile.register_extras(rows)``): :func:`extras_table` merges them per profile
and version into an :class:`ItemTable`, which also derives from them, once, how each item is read (item
plans: one ``Struct`` unpack of id and value for a plain integer) and how it is rendered in JSON.
One route reads every report: the item plans. What is remembered between reports is derived from it and
pinned to it (``tests/gateway/test_fast_path.py``): an item table keeps, per body length, the first item layout
it read cleanly (replaced once 256 bodies of that length came with another; :class:`ItemLayout`: one ``Struct``
for the basic block and every plain-integer or unknown item), which :meth:`LocationReport.fast_decode` applies
when a body's id and length bytes are the same again. For a consumer that needs only a report's values (the
gateway's storage rows), :func:`read_layout_values` gives them without making the report
(:class:`LayoutValues`: the report, and the storage row's map and text, derived from the layout).
"""

from __future__ import annotations

import functools
import json
import operator
import struct
from collections.abc import Callable
from dataclasses import field
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Self

from jt808.errors import BodyError, EncodeError, TruncatedError
from jt808.protocol import bits
from jt808.protocol.buffer import Reader, Writer
from jt808.protocol.header import V2013, V2019, Version
from jt808.protocol.jsonutil import b64, json_int, json_obj, unb64
from jt808.protocol.registry import DEFAULT_PROFILE, ExtraCodec, Profile
from jt808.protocol.spec import BCD, DWORD, WORD, Body, Record, message, record, wire

__all__ = [
    "BASIC",
    "BASIC_NAMES",
    "ITEMS",
    "STANDARD_EXTRAS",
    "ItemLayout",
    "ItemTable",
    "LayoutValues",
    "LocationBasic",
    "LocationReport",
    "RawExtra",
    "extras_table",
    "location_extra",
    "location_from_json",
    "location_to_json",
    "read_layout_values",
]

_from_bytes = int.from_bytes


class RawExtra(bytes):
    """The value bytes of an additional-info item that was kept raw although its id is known
    (unexpected length or layout). Re-encodes as is."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"RawExtra({bytes(self).hex()})"


# =============================================================================================
# The basic block, declared once
# =============================================================================================
@record
class _BasicBlock(Record):
    """The eight fields every location starts with (28 bytes)."""

    alarm: int = wire(DWORD, doc="alarm flags (报警标志)")
    status: int = wire(DWORD, doc="status flags (状态)")
    latitude: int = wire(DWORD, doc="latitude, 1e-6 degrees, south when status bit 2 (纬度)")
    longitude: int = wire(DWORD, doc="longitude, 1e-6 degrees, west when status bit 3 (经度)")
    altitude: int = wire(WORD, doc="altitude, m (高程)")
    speed: int = wire(WORD, doc="speed, 0.1 km/h (速度)")
    direction: int = wire(WORD, doc="heading, degrees from north (方向)")
    time: str = wire(BCD(6), doc="time, BCD YYMMDDhhmmss, GMT+8 (时间)")


#: names of the basic fields, in wire order
BASIC_NAMES: tuple[str, ...] = tuple(s.name for s in _BasicBlock.__wire__)
#: the 28-byte basic block as one Struct (the BCD time as 6 raw bytes)
BASIC = struct.Struct(">" + "".join(str(s.kind_for(V2013).fmt) for s in _BasicBlock.__wire__))
_basic_values = operator.attrgetter(*BASIC_NAMES)
_BASIC_INTS = tuple((s.name, s.kind_for(V2013).size or 0) for s in _BasicBlock.__wire__[:-1])  # (name, size)


def _pack_basic(loc: Any, w: Writer) -> bytes:
    try:
        *ints, t = _basic_values(loc)
        return BASIC.pack(*ints, bytes.fromhex(t) if len(t) == 12 else b"?")
    except (struct.error, ValueError, TypeError):
        # find the culprit for a precise message
        for name, size in _BASIC_INTS:
            w.uint(getattr(loc, name), size, name)
        w.bcd(loc.time, 6, "time")
        raise EncodeError("invalid location block", msg_id=w.msg_id) from None


#: the basic values in wire order: alarm, status, latitude, longitude, altitude, speed, direction, time
BasicValues = tuple[int, int, int, int, int, int, int, str]


def _unpack_basic(r: Reader) -> BasicValues:
    p = r.pos
    if p + 28 > r.end:
        raise TruncatedError(f"location block needs 28 bytes, {r.end - p} left", offset=p, field="location")
    r.pos = p + 28
    a, s, la, lo, al, sp, d, t = BASIC.unpack_from(r.data, p)
    return a, s, la, lo, al, sp, d, t.hex()


def basic_from_json(obj: Any, prefix: str = "") -> BasicValues:
    """The eight basic values from their JSON keys, checked (fields named ``prefix + key``)."""
    if not isinstance(obj, dict):
        raise BodyError(f"location expects a JSON object, got {type(obj).__name__}", field=prefix.rstrip(".") or None)
    vals: list[int] = []
    for name, size in _BASIC_INTS:
        if name not in obj:
            raise BodyError("is missing", field=prefix + name)
        vals.append(json_int(obj[name], prefix + name, 0, (1 << (8 * size)) - 1))
    if "time" not in obj:
        raise BodyError("is missing", field=prefix + "time")
    t = obj["time"]
    if type(t) is int and 0 <= t < 10 ** 12:
        t = str(t).rjust(12, "0")
    if not isinstance(t, str) or len(t) != 12:
        raise BodyError("expects 12 BCD digits YYMMDDhhmmss", field=prefix + "time")
    try:
        bytes.fromhex(t)
    except ValueError:
        raise BodyError("expects 12 BCD digits YYMMDDhhmmss", field=prefix + "time") from None
    a, s, la, lo, al, sp, d = vals
    return a, s, la, lo, al, sp, d, t


@record
class LocationBasic(_BasicBlock):
    """The 28-byte basic block alone (0x0801, 0x0802 and 0x0805 carry it without additional items)."""

    extras: ClassVar[tuple[()]] = ()  # (for location_to_json)
    bad_tail: ClassVar[bytes] = b""

    @classmethod
    def decode(cls, r: Reader) -> LocationBasic:
        return cls(*_unpack_basic(r))

    def encode(self, w: Writer) -> None:
        w.out += _pack_basic(self, w)

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        return location_to_json(self)

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None, key: str = "location") -> LocationBasic:
        if isinstance(obj, dict) and "extra" in obj:
            raise BodyError("a 28-byte basic location block carries no additional items", field=f"{key}.extra")
        return cls(*basic_from_json(obj, f"{key}."))


# =============================================================================================
# The additional-information items (PROTOCOL.md §4.4): one row per id
# =============================================================================================
_WIRE = {1: "BYTE", 2: "WORD", 4: "DWORD"}


def _uint_row(eid: int, key: str, size: int, description: str) -> ExtraCodec:
    hi = (1 << (8 * size)) - 1
    return ExtraCodec(key, lambda b: _from_bytes(b, "big"), lambda v: int(v).to_bytes(size, "big"), (size,),
                      uint=size, id=eid, wire=_WIRE[size], description=description,
                      from_json=lambda v, f: json_int(v, f, 0, hi))


def _bits_row(eid: int, key: str, size: int, description: str, to_json: Any, from_map: Any,
              keys: tuple[str, ...], aliases: dict[str, str]) -> ExtraCodec:
    def parse(v: Any, field: str) -> int:
        obj = json_obj(v, field)
        present = {aliases.get(k, k) for k in obj}
        for k in keys:
            if k not in present:
                raise BodyError("is missing", field=f"{field}.{k}")
        try:
            return int(from_map(obj))
        except BodyError as e:  # name the key as it sits in the body
            raise BodyError(e.reason, field=f"extra.{e.field}" if e.field else field) from None

    row = _uint_row(eid, key, size, description)
    row.to_json, row.from_json = to_json, parse
    return row


def _map_row(eid: int, key: str, sizes: tuple[int, ...], description: str, wire: str,
             spec: tuple[tuple[str, int, bool], ...]) -> ExtraCodec:
    """An item whose value is a small map of unsigned integers (``spec``: key, size, required), packed
    in that order; an optional key may be left out at the end."""

    def decode(b: bytes) -> dict[str, int]:
        out: dict[str, int] = {}
        p = 0
        for k, size, _req in spec:
            if p + size > len(b):
                break
            out[k] = _from_bytes(b[p:p + size], "big")
            p += size
        return out

    def encode(v: dict[str, int]) -> bytes:
        return b"".join(int(v[k]).to_bytes(size, "big") for k, size, req in spec if req or k in v)

    def parse(v: Any, field: str) -> dict[str, int]:
        obj = json_obj(v, field)
        out = {}
        for k, size, required in spec:
            if k in obj:
                out[k] = json_int(obj[k], f"{field}.{k}", 0, (1 << (8 * size)) - 1)
            elif required:
                raise BodyError("is missing", field=f"{field}.{k}")
        return out

    return ExtraCodec(key, decode, encode, sizes, id=eid, wire=wire, description=description, to_json=dict,
                      from_json=parse)


def _signed16(b: bytes) -> int:
    return _from_bytes(b, "big", signed=True)


def _sign_magnitude16(b: bytes) -> int:
    raw = _from_bytes(b, "big")
    return -(raw & 0x7FFF) if raw & 0x8000 else raw


def _enc_sign_magnitude16(v: int) -> bytes:
    return ((0x8000 | -v) if v < 0 else v).to_bytes(2, "big")


def _temp_row(decode: Any, encode: Any) -> ExtraCodec:
    return ExtraCodec("carriage_temp", decode, encode, (2,), (V2019,), id=0x06, wire="WORD (signed)",
                      description="carriage temperature, °C (车厢温度)",
                      from_json=lambda v, f: json_int(v, f, -0x8000, 0x7FFF))


# Fast renderers of the bit maps, with the output of bits.signal_map / io_status_map / analog_map
# (tested equal): a copy of the 15-key signal map of the low byte (the high flags 0), updated with the
# high flags when any is set; IO status copied from a 4-entry table.
_SIG = bits.SIGNAL_KEYS
_NSIG, _NIO = len(_SIG), len(bits.IO_STATUS_KEYS)
_SIG_LO = [{k: (n >> i) & 1 if i < 8 else 0 for i, k in enumerate(_SIG)} for n in range(256)]
_SIG_HI = [{k: (n >> i) & 1 for i, k in enumerate(_SIG[8:])} for n in range(1 << (_NSIG - 8))]
_IO_T = [{k: (n >> i) & 1 for i, k in enumerate(bits.IO_STATUS_KEYS)} for n in range(1 << _NIO)]


def _signal_json(v: int) -> dict[str, int]:
    if type(v) is int and 0 <= v < 256:
        return _SIG_LO[v].copy()
    if type(v) is not int or v >> 32:  # (negative too)
        return bits.signal_map(v)  # raises the located error
    out = _SIG_LO[v & 0xFF].copy()
    if v >> 8:
        out.update(_SIG_HI[(v >> 8) & ((1 << (_NSIG - 8)) - 1)])
        if v >> _NSIG:
            out["reserved"] = v >> _NSIG
    return out


def _io_json(v: int) -> dict[str, int]:
    if type(v) is not int or v >> 16:
        return bits.io_status_map(v)
    out = _IO_T[v & ((1 << _NIO) - 1)].copy()
    if v >> _NIO:
        out["reserved"] = v >> _NIO
    return out


def _analog_json(v: int) -> dict[str, int]:
    if type(v) is not int or v >> 32:
        return bits.analog_map(v)
    return {"ad0": v & 0xFFFF, "ad1": v >> 16}


#: The standard items, one row each. 0x25 signal, 0x2A io_status and 0x2B analog are integers in
#: ``extras`` and bit maps in JSON (:mod:`jt808.protocol.bits`).
ITEMS: tuple[ExtraCodec, ...] = (
    _uint_row(0x01, "mileage", 4, "odometer, 0.1 km (里程)"),
    _uint_row(0x02, "fuel_meter", 2, "fuel gauge, 0.1 L (油量)"),
    _uint_row(0x03, "speed", 2, "speed from the tachograph, 0.1 km/h (行驶记录功能获取的速度)"),
    _uint_row(0x04, "alarm_id", 2, "id of the alarm event to confirm manually (需要人工确认报警事件的 ID)"),
    ExtraCodec("tire_pressure", bytes, bytes, (30,), (V2019,), id=0x05, wire="BYTE[30]",
               description="tyre pressures, one byte per wheel, base64 (胎压)", to_json=b64, from_json=unb64,
               bytes_value=True),
    _temp_row(_signed16, lambda v: int(v).to_bytes(2, "big", signed=True)),
    _map_row(0x11, "overspeed_alarm", (1, 5), "overspeed alarm: type 0 none, 1 circle, 2 rectangle, "
             "3 polygon, 4 segment; id (超速报警附加信息)", "BYTE + DWORD?", (("type", 1, True), ("id", 4, False))),
    _map_row(0x12, "in_out_alarm", (6,), "area/route alarm: type, id, direction 0 in / 1 out (进出区域/路线报警)",
             "BYTE + DWORD + BYTE", (("type", 1, True), ("id", 4, True), ("direction", 1, True))),
    _map_row(0x13, "path_time_alarm", (7,), "segment driving time: id, time s, result 0 too short / 1 too long "
             "(路段行驶时间不足/过长报警)", "DWORD + WORD + BYTE",
             (("id", 4, True), ("time", 2, True), ("result", 1, True))),
    _bits_row(0x25, "signal", 4, "extended vehicle signals (扩展车辆信号状态位)", _signal_json, bits.signal_value,
              bits.SIGNAL_KEYS, bits.SIGNAL_ALIASES),
    _bits_row(0x2A, "io_status", 2, "IO status (IO 状态位)", _io_json, bits.io_status_value,
              bits.IO_STATUS_KEYS, {}),
    _bits_row(0x2B, "analog", 4, "analog inputs AD0 (low word), AD1 (high word) (模拟量)", _analog_json,
              bits.analog_value, ("ad0", "ad1"), {}),
    _uint_row(0x30, "rssi", 1, "network signal strength (无线通信网络信号强度)"),
    _uint_row(0x31, "gnss_sat_num", 1, "GNSS satellites in use (GNSS 定位卫星数)"),
)
#: id -> row of the standard items (all versions)
STANDARD_EXTRAS: dict[int, ExtraCodec] = {row.id: row for row in ITEMS}
#: 0x06 for devices that send sign-magnitude (``Profile.carriage_temp_sign_magnitude``)
_CARRIAGE_SM = _temp_row(_sign_magnitude16, _enc_sign_magnitude16)
#: the custom range: bytes values of these ids go under ``extra.custome`` in JSON
_CUSTOM_LO, _CUSTOM_HI = 0xE1, 0xFF
#: the types of the values kept as bytes (not rendered by their row)
_RAW = frozenset((bytes, RawExtra))
#: rendered values that ``ItemTable.rendered`` may keep: immutable, or a map (copied for each row)
_SHAREABLE = frozenset((dict, int, float, bool, str))


class ItemTable(dict[int, ExtraCodec]):
    """The rows of one profile and version, by id, and what derives from them once: ``by_key`` (JSON key ->
    row), ``plans`` (how the item loop reads each id and length; ``None`` for a vendor item layout), ``render``
    (each id's JSON key and renderer, ``None`` for a value as is) and ``text`` (the ids with a plain key: key,
    ``"key":`` text for the storage row's JSON, renderer). ``rendered`` remembers, for an id and an integer value,
    what its renderer made of it and that JSON's text (bit maps: a fleet sends few distinct words; bounded)."""

    __slots__ = ("by_key", "layouts", "plans", "render", "rendered", "text")

    def __init__(self, rows: dict[int, ExtraCodec], profile_rows: dict[int, ExtraCodec], standard: bool = True) -> None:
        super().__init__(rows)
        # standard keys name the standard ids in every version; a profile's own keys are added after
        by_key = {row.key: self.get(row.id, row) for row in ITEMS}
        for row in profile_rows.values():
            by_key.setdefault(row.key, row)
        self.by_key = by_key
        self.plans = _plans(self) if standard else None  # (vendor item layouts: _read_extras_vendor)
        self.render = {eid: (row.key, row.to_json) for eid, row in self.items()}
        # "key": as the storage encoder writes it (no escapes, ensure_ascii off), for plain keys only
        self.text = {eid: (row.key, f'"{row.key}":', row.to_json) for eid, row in self.items()
                     if json.dumps(row.key, ensure_ascii=False)[1:-1] == row.key}
        self.rendered: dict[tuple[int, int], tuple[Any, str]] = {}
        self.layouts: dict[int, ItemLayout] = {}

    def learn(self, data: bytes) -> None:
        """Remember the item layout of ``data`` (a body the item plans read without a problem) for its length:
        compiled when each item is a plain integer of its row's size or has no row (its bytes), else
        remembered as not compilable (so that the next body of this layout does not try again)."""
        marks: list[int] = []
        fmt = [BASIC.format]
        ids: list[int] = []
        p, end = 28, len(data)
        while p < end:
            eid, n = data[p], data[p + 1]
            row = self.get(eid)
            if fmt and row is None:
                fmt.append(f"xx{n}s")
            elif fmt and n and row is not None and row.uint == n and n in _UINT_FMT:
                fmt.append("xx" + _UINT_FMT[n])
            else:
                fmt = []
            marks += (p, p + 1)
            ids.append(eid)
            p += 2 + n
        if len(self.layouts) >= 256:
            self.layouts.clear()
        # the (id, value) items from the unpacked values, as one list display (only ints are written into the
        # expression): a third of the time of zip over a slice
        pairs = eval(f"lambda v: [{', '.join(f'({eid}, v[{8 + i}])' for i, eid in enumerate(ids))}]")
        self.layouts[end] = ItemLayout(operator.itemgetter(*marks), tuple(data[i] for i in marks), pairs,
                                       struct.Struct("".join(fmt)).unpack_from if fmt else None,
                                       self._row_extra(ids) if fmt else None)

    def _row_extra(self, ids: list[int]) -> Callable[[tuple[Any, ...]], tuple[dict[str, Any], str]] | None:
        """The storage row's map and JSON text from a layout's unpacked values (what :func:`location_extra` gives
        for the same report), when every item is a plain integer under a plain key of its own; else ``None``.
        One map display and one ``%`` format: the keys are written into the expression by ``repr``, the
        positions are ints."""
        entries = [self.text.get(eid) for eid in ids]
        if not ids or any(e is None or e[2] is not None or self[eid].uint not in _UINT_FMT
                          for eid, e in zip(ids, entries, strict=True)):
            return None
        keys = [e[0] for e in entries if e is not None]
        if len(set(keys)) != len(keys):
            return None
        values = ", ".join(f"v[{8 + i}]" for i in range(len(ids)))
        fmt = "{" + ",".join(e[1].replace("%", "%%") + "%d" for e in entries if e is not None) + "}"
        extra: Callable[[tuple[Any, ...]], tuple[dict[str, Any], str]] = eval(
            f"lambda v: ({{{', '.join(f'{k!r}: v[{8 + i}]' for i, k in enumerate(keys))}}}, {fmt!r} % ({values},))")
        return extra


class ItemLayout:
    """One item layout of a body length: where its id and length bytes are (``marks``, a getter) and what
    they hold (``want``), ``unpack`` (the basic block's eight fields then each item's value; ``None`` when an
    item is read by its row's own decode), ``ids`` (its item ids, as a set), ``pairs`` (the unpacked values to
    the ``(id, value)`` items) and ``extra`` (the unpacked values to the storage row's map and JSON text;
    ``None`` unless every item is a plain integer under a plain key of its own)."""

    __slots__ = ("extra", "ids", "marks", "misses", "pairs", "unpack", "want")

    def __init__(self, marks: Callable[[bytes], Any], want: tuple[int, ...],
                 pairs: Callable[[tuple[Any, ...]], list[tuple[int, Any]]],
                 unpack: Callable[[bytes], tuple[Any, ...]] | None,
                 extra: Callable[[tuple[Any, ...]], tuple[dict[str, Any], str]] | None = None) -> None:
        self.marks = marks
        self.want = want
        self.ids = frozenset(want[::2])  # the item ids of the layout
        self.pairs = pairs
        self.unpack = unpack
        self.extra = extra
        self.misses = 0


class LayoutValues:
    """A 0x0200 body read by the item layout its table remembers for its length, and not made into a report:
    ``values`` (alarm, status, latitude, longitude, altitude, speed, direction, the six BCD time bytes, then
    each item's value) for a consumer that needs only them (the gateway's storage rows, when nothing else
    looks at the report). Given by :func:`read_layout_values` for layouts whose ``extra`` is known;
    :meth:`report` is the :class:`LocationReport` the decoders give for the same body and :meth:`extra` what
    :func:`location_extra` gives for it (``tests/gateway/test_fast_path.py``)."""

    __slots__ = ("layout", "values")

    def __init__(self, layout: ItemLayout, values: tuple[Any, ...]) -> None:
        self.layout = layout
        self.values = values

    def report(self) -> LocationReport:
        v = self.values
        return LocationReport(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7].hex(), self.layout.pairs(v), b"")

    def extra(self) -> tuple[dict[str, Any], str]:
        return self.layout.extra(self.values)  # type: ignore[misc]  # read_layout_values gives only layouts with one

    def __repr__(self) -> str:
        return f"<LayoutValues {self.report()!r}>"


def read_layout_values(data: bytes, profile: Profile, version: Version) -> LayoutValues | None:
    """The values of a whole 0x0200 body when the layout remembered for its length (:meth:`ItemTable.learn`, by
    :meth:`LocationReport.fast_decode`) matches its id and length bytes and renders a row; else ``None``, and
    the body is for the decoders (which count the miss and learn)."""
    tbl = profile.extra_tables.get(version)
    lay = tbl.layouts.get(len(data)) if tbl is not None else None
    if lay is None or lay.extra is None or lay.unpack is None or lay.marks(data) != lay.want:
        return None
    return LayoutValues(lay, lay.unpack(data))


#: ``plans[id][length]``: reads the item at ``p`` as ``(id, value)`` (``plan(data, p)``); for a length its row
#: does not take, or a value its row's ``decode`` refuses, it raises (the item is kept raw and noted)
ItemPlans = list[list[Callable[[bytes, int], tuple[int, Any]]]]
_UINT_FMT = {1: "B", 2: "H", 4: "I", 8: "Q"}
#: ids without a row: the value bytes, for each length
_RAW_PLAN: list[Callable[[bytes, int], tuple[int, Any]]] = [
    struct.Struct(f">Bx{n}s").unpack_from for n in range(256)]


class _Unexpected(ValueError):
    """An item length its row does not take."""


def _unexpected(data: bytes, p: int) -> tuple[int, Any]:
    raise _Unexpected


def _plans(rows: dict[int, ExtraCodec]) -> ItemPlans:
    """The item plans of a table (1-byte ids and lengths), derived from its rows: a plain unsigned integer
    is one ``Struct`` unpack of id and value, any other value its row's ``decode`` of the value bytes."""
    plans = [_RAW_PLAN] * 256
    for eid, c in rows.items():
        if not 0 <= eid <= 0xFF:
            continue  # (a 2-byte id of a vendor layout: read by _read_extras_vendor)
        if c.uint in _UINT_FMT:
            uint: Callable[[bytes, int], tuple[int, Any]] = struct.Struct(">Bx" + _UINT_FMT[c.uint]).unpack_from
        else:
            uint = _uint_plan(eid, c.uint)
        coded = _decode_plan(eid, c.decode)
        plans[eid] = [uint if n and c.uint == n else _unexpected if c.sizes is not None and n not in c.sizes
                      else coded for n in range(256)]
    return plans


def _uint_plan(eid: int, size: int) -> Callable[[bytes, int], tuple[int, Any]]:
    return lambda data, p: (eid, _from_bytes(data[p + 2:p + 2 + size], "big"))


def _decode_plan(eid: int, decode: Callable[[bytes], Any]) -> Callable[[bytes, int], tuple[int, Any]]:
    return lambda data, p: (eid, decode(data[p + 2:p + 2 + data[p + 1]]))


def extras_table(profile: Profile, version: Version) -> ItemTable:
    """The merged id -> row table for a profile and version (cached on the profile)."""
    tbl: ItemTable | None = profile.extra_tables.get(version)
    if tbl is None:
        rows = {row.id: row for row in ITEMS if row.versions is None or version in row.versions}
        if profile.carriage_temp_sign_magnitude and version is V2019:
            rows[0x06] = _CARRIAGE_SM
        rows.update(profile.extras)
        tbl = profile.extra_tables[version] = ItemTable(
            rows, profile.extras, profile.extra_id_size == 1 and profile.extra_len_size == 1)
    return tbl


# =============================================================================================
# 0x0200
# =============================================================================================
@message(0x0200)
class LocationReport(_BasicBlock, Body):
    """位置信息汇报 — location report: basic block plus additional-information items.

    ``extras`` is the ordered list of ``(id, value)`` items (see the module docstring).
    Latitude/longitude are unsigned 1e-6 degrees as on the wire; :attr:`lat` / :attr:`lng` give signed
    degrees using status bits 2/3.
    """

    extras: list[tuple[int, Any]] = field(default_factory=list)
    bad_tail: bytes = b""

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> LocationReport:
        basic = _unpack_basic(r)
        p, end = r.pos, r.end
        if p == end:
            return cls(*basic, [], b"")
        r.pos = end
        profile = r.profile
        tbl = profile.extra_tables.get(r.version) or extras_table(profile, r.version)
        plans = tbl.plans
        if plans is None:
            extras: list[tuple[int, Any]] = []
            _, bad = _read_extras_vendor(r, p, end, extras)
        else:
            extras, bad = read_items(r.data, p, end, tbl, plans, r.problems)
        return cls(*basic, extras, bad)

    @classmethod
    def fast_decode(cls, data: bytes, profile: Profile, version: Version) -> Self | None:
        """A whole body without a :class:`Reader`; ``None`` (the general decode reads it again) when
        something is to be noted in the packet's problems, or for a vendor item layout. A body of the layout
        the table remembers for its length (:class:`ItemLayout`) is one ``Struct`` unpack."""
        tbl = profile.extra_tables.get(version) or extras_table(profile, version)
        plans = tbl.plans
        n = len(data)
        if plans is None or n < 28:
            return None
        lay = tbl.layouts.get(n)
        learn = n > 29
        if lay is not None:
            if lay.marks(data) == lay.want:
                unpack = lay.unpack
                if unpack is not None:
                    v = unpack(data)
                    return cls(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7].hex(), lay.pairs(v), b"")
                learn = False
            else:  # another layout of this length: the remembered one gives way after many such reports
                lay.misses += 1
                learn = lay.misses >= 256
        problems: list[str] = []
        extras, _ = read_items(data, 28, n, tbl, plans, problems)
        if problems:
            return None
        if learn:
            tbl.learn(data)
        a, s, la, lo, al, sp, d, t = BASIC.unpack_from(data)
        return cls(a, s, la, lo, al, sp, d, t.hex(), extras, b"")

    def encode(self, w: Writer) -> None:
        out = w.out
        out += _pack_basic(self, w)
        if self.extras:
            write_extras(self.extras, w)
        if self.bad_tail:
            out += self.bad_tail

    # -- conveniences ---------------------------------------------------------------------------
    @property
    def lat(self) -> float:
        """Latitude in signed degrees (south negative, from status bit 2)."""
        v = self.latitude / 1e6
        return -v if self.status & 0b100 else v

    @property
    def lng(self) -> float:
        """Longitude in signed degrees (west negative, from status bit 3)."""
        v = self.longitude / 1e6
        return -v if self.status & 0b1000 else v

    def datetime(self, tz_offset: float = 8) -> datetime | None:
        """The BCD time as an aware datetime (GMT+8 by default); ``None`` if it is not a valid time."""
        return bcd_time(self.time, tz_offset)

    def extra(self, eid: int, default: Any = None) -> Any:
        """Value of the first additional-info item ``eid``."""
        for i, v in self.extras:
            if i == eid:
                return v
        return default

    def to_json(self, version: Version | None = None, profile: Profile | None = None) -> dict[str, Any]:
        return location_to_json(self, version, profile)

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None, profile: Profile | None = None) -> LocationReport:
        return location_from_json(obj, version, profile)


def read_items(data: bytes, p: int, end: int, tbl: ItemTable, plans: ItemPlans,
               problems: list[str]) -> tuple[list[tuple[int, Any]], bytes]:
    """The standard item loop (1-byte ids and lengths) over ``data[p:end]``: the ``(id, value)`` items and
    the bad tail (bytes after the last whole item). What is kept raw is noted in ``problems``."""
    extras: list[tuple[int, Any]] = []
    append = extras.append
    try:
        while p < end:
            n = data[p + 1]
            q = p + 2 + n
            if q > end:  # (also when the length byte lies past the body's end)
                return extras, _tail(data, p, end, problems)
            try:
                append(plans[data[p]][n](data, p))
            except (ValueError, IndexError, KeyError) as e:
                append(_kept_raw(data, p, q, tbl, problems, e))
            p = q
    except IndexError:  # one byte left at the end of the data: no item
        return extras, _tail(data, p, end, problems)
    return extras, b""


def _tail(data: bytes, p: int, end: int, problems: list[str]) -> bytes:
    if p + 2 > end:
        problems.append(f"0x0200: additional-info tail of {end - p} byte at offset {p} is not an item; kept raw")
    else:
        problems.append(f"0x0200: additional-info item 0x{data[p]:02X} at offset {p} claims "
                        f"{data[p + 1]} bytes, {end - p - 2} left; tail kept raw")
    return data[p:end]


def _kept_raw(data: bytes, p: int, q: int, tbl: ItemTable, problems: list[str],
              error: Exception) -> tuple[int, RawExtra]:
    eid = data[p]
    c = tbl[eid]
    if type(error) is _Unexpected:
        problems.append(f"0x0200: additional-info 0x{eid:02X} ({c.key}) has {q - p - 2} bytes, "
                        f"expected {'/'.join(map(str, c.sizes or ()))}; kept raw")
    else:
        problems.append(f"0x0200: additional-info 0x{eid:02X} ({c.key}) not decodable ({error}); kept raw")
    return eid, RawExtra(data[p + 2:q])


@functools.cache
def _zone(tz_offset: float) -> timezone:
    return timezone(timedelta(hours=tz_offset))


def bcd_time(text: str, tz_offset: float = 8) -> datetime | None:
    """``YYMMDDhhmmss`` -> aware datetime (20YY) or ``None`` when the digits are no valid time."""
    try:
        return datetime(2000 + int(text[0:2]), int(text[2:4]), int(text[4:6]), int(text[6:8]),
                        int(text[8:10]), int(text[10:12]), tzinfo=_zone(tz_offset))
    except ValueError:
        return None


def time_bcd(dt: datetime, tz_offset: float = 8) -> str:
    """Aware (or naive = already local) datetime -> ``YYMMDDhhmmss`` in the device's time zone."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(_zone(tz_offset))
    return dt.strftime("%y%m%d%H%M%S")


def write_extras(extras: list[tuple[int, Any]], w: Writer) -> None:
    """Append additional-info items (strict: each value must fit its id's row)."""
    tbl: ItemTable | None = None
    out = w.out
    prof = w.profile
    ids = prof.extra_id_size if prof is not None else 1
    lens = prof.extra_len_size if prof is not None else 1
    for eid, v in extras:
        if isinstance(v, bytes | bytearray):
            val = bytes(v)
        else:
            if tbl is None:
                tbl = extras_table(prof or DEFAULT_PROFILE, w.version)
            c = tbl.get(eid) or STANDARD_EXTRAS.get(eid)
            if c is None:
                raise EncodeError(f"additional-info 0x{eid:02X} has no codec: give its value as bytes",
                                  field="extras", value=v, msg_id=w.msg_id)
            try:
                val = c.encode(v)
            except (KeyError, TypeError, ValueError, OverflowError) as e:
                raise EncodeError(f"additional-info 0x{eid:02X} ({c.key}): {e}", field="extras", value=v,
                                  msg_id=w.msg_id) from None
        if ids == 1 and lens == 1:
            if not 0 <= eid <= 0xFF or len(val) > 0xFF:
                raise EncodeError(f"additional-info 0x{eid:X}: id or length out of range", field="extras",
                                  value=v, msg_id=w.msg_id)
            out.append(eid)
            out.append(len(val))
        else:
            if not 0 <= eid < 1 << (8 * ids) or len(val) >= 1 << (8 * lens):
                raise EncodeError(f"additional-info 0x{eid:X}: id or length out of range", field="extras",
                                  value=v, msg_id=w.msg_id)
            out += eid.to_bytes(ids, "big") + len(val).to_bytes(lens, "big")
        out += val


def _read_extras_vendor(r: Reader, p: int, end: int, extras: list[tuple[int, Any]]) -> tuple[int, bytes]:
    """Items with a vendor layout: 2-byte ids and/or 2/4-byte lengths (per profile). Values raw
    unless the profile registers a codec for the id."""
    prof = r.profile
    ids, lens = prof.extra_id_size, prof.extra_len_size
    data = r.data
    tbl = prof.extras
    while p < end:
        if p + ids + lens > end:
            r.problems.append(f"0x0200: additional-info tail of {end - p} byte(s) at offset {p} is not an item")
            return end, data[p:end]
        eid = int.from_bytes(data[p:p + ids], "big")
        n = int.from_bytes(data[p + ids:p + ids + lens], "big")
        q = p + ids + lens + n
        if q > end:
            r.problems.append(f"0x0200: additional-info item 0x{eid:X} at offset {p} claims {n} bytes, "
                              f"{end - p - ids - lens} left; tail kept raw")
            return end, data[p:end]
        val = data[p + ids + lens:q]
        c = tbl.get(eid)
        if c is None:
            extras.append((eid, val))
        elif c.sizes is not None and len(val) not in c.sizes:
            extras.append((eid, RawExtra(val)))
            r.problems.append(f"0x0200: additional-info 0x{eid:X} ({c.key}) has {len(val)} bytes, "
                              f"expected {'/'.join(map(str, c.sizes))}; kept raw")
        else:
            try:
                extras.append((eid, c.decode(val)))
            except (ValueError, IndexError, KeyError) as e:
                extras.append((eid, RawExtra(val)))
                r.problems.append(f"0x0200: additional-info 0x{eid:X} ({c.key}) not decodable ({e}); kept raw")
        p = q
    return p, b""


# =============================================================================================
# JSON (seed 004 / EMQX): the location map with its ``extra`` items
# =============================================================================================
def _row(eid: int, tbl: dict[int, ExtraCodec]) -> ExtraCodec | None:
    return tbl.get(eid) or STANDARD_EXTRAS.get(eid)


def _item_bytes(eid: int, v: Any, tbl: dict[int, ExtraCodec]) -> bytes:
    if isinstance(v, bytes | bytearray):
        return bytes(v)
    c = _row(eid, tbl)
    if c is None:
        raise EncodeError(f"additional-info 0x{eid:02X} has no codec", field="extra")
    return c.encode(v)


def _render_item(eid: int, v: Any, tbl: dict[int, ExtraCodec]) -> tuple[str | None, Any]:
    """(key, JSON value) of one item; key ``None`` means the ``custome`` map.

    Bytes values (unknown ids, known ids with a bad length, a profile row's raw bytes) go under
    ``"<decimal id>"`` or ``custome``, except for rows whose value is bytes anyway (tire pressure: EMQX
    accepts it at any length in 2019). Everything else goes under its row's key.
    """
    if isinstance(v, bytes | bytearray):
        c = tbl.get(eid)  # a row of this version only: 0x05 of a 2013 frame is an unknown id there
        raw = bytes(v)
        if c is not None and c.bytes_value:
            return c.key, b64(raw)
        if _CUSTOM_LO <= eid <= _CUSTOM_HI:
            return None, b64(raw)
        return str(eid), b64(raw)
    c = _row(eid, tbl)
    if c is None:
        return str(eid), v  # a value some codec produced, JSON-native (checked by json.dumps)
    if c.to_json is not None:
        return c.key, c.to_json(v)
    return c.key, v


def location_to_json(report: Any, version: Version | None = None,
                     profile: Profile | None = None) -> dict[str, Any]:
    """The seed-004/EMQX JSON of a location report (``LocationReport``, or ``LocationBasic``: no items).

    The basic fields (``BASIC_NAMES`` written out: a literal builds the map in one go; test_exchange.py checks
    the keys), then ``extra`` (only when items exist). Items: standard keys, bit maps for
    ``signal``/``io_status``/``analog``, ``custome`` for ids 0xE1-0xFF, ``"<decimal id>": base64``
    for anything else (unknown ids, known ids with a bad length, 0x05/0x06 in 2013). Beyond EMQX, to
    re-encode byte for byte: ``extra_dups`` (later occurrences of an id, ``[{"id", "data": base64}]``),
    ``extra_order`` (the ids in wire order, when the map cannot tell it), ``bad_tail`` (base64).
    """
    out = {"alarm": report.alarm, "status": report.status, "latitude": report.latitude,
           "longitude": report.longitude, "altitude": report.altitude, "speed": report.speed,
           "direction": report.direction, "time": report.time}
    extras = report.extras
    if extras:
        prof = profile or DEFAULT_PROFILE
        tbl = prof.extra_tables.get(version or V2013) or extras_table(prof, version or V2013)
        # the common case first: every item has a row, a decoded value (not bytes) and a key of its own
        render = tbl.render
        extra: dict[str, Any] = {}
        try:
            for eid, v in extras:
                if type(v) in _RAW:
                    break
                key, to_json = render[eid]
                extra[key] = v if to_json is None else to_json(v)
        except Exception:  # an id without a row, a value its renderer refuses: the general rendering decides
            extra = {}
        if len(extra) == len(extras):  # (fewer keys when the loop stopped or a key came twice)
            out["extra"] = extra
        else:
            _render_items(out, extras, tbl)
    if report.bad_tail:
        out["bad_tail"] = b64(report.bad_tail)
    return out


def location_extra(report: Any, version: Version | None = None,
                   profile: Profile | None = None) -> tuple[dict[str, Any], str | None]:
    """What a storage row keeps of a report's items: its JSON ``extra`` map (plus ``bad_tail`` when items ran
    past the body) and, when every item is an integer under a plain key, its compact JSON text as the storage
    encoder writes it (``separators=(",", ":")``, ``ensure_ascii=False``); else ``None``. A rendered value
    (the bit maps of ``signal``, ``io_status``, ``analog`` …) is rendered once per distinct value
    (``ItemTable.rendered``); each row gets its own copy of the map."""
    extras = report.extras
    if not extras and not report.bad_tail:
        return {}, None
    if not report.bad_tail:
        prof = profile or DEFAULT_PROFILE
        tbl = prof.extra_tables.get(version or V2013) or extras_table(prof, version or V2013)
        text = tbl.text
        extra: dict[str, Any] = {}
        parts: list[str] = []
        try:
            for eid, v in extras:
                key, text_key, to_json = text[eid]
                if type(v) is not int or key in extra:
                    break
                if to_json is None:
                    extra[key] = v
                    parts.append(text_key + str(v))
                    continue
                done = tbl.rendered.get((eid, v))
                if done is None:
                    if len(tbl.rendered) >= 4096:
                        tbl.rendered.clear()
                    obj = to_json(v)
                    if type(obj) not in _SHAREABLE:
                        break
                    done = tbl.rendered[(eid, v)] = (obj, text_key + json.dumps(obj, ensure_ascii=False,
                                                                                separators=(",", ":")))
                extra[key] = dict(done[0]) if type(done[0]) is dict else done[0]
                parts.append(done[1])
            else:
                return extra, "{" + ",".join(parts) + "}"
        except Exception:  # an id without a row, a value its renderer refuses: the general rendering decides
            pass
    j = location_to_json(report, version, profile)
    extra = j.get("extra") or {}
    if "bad_tail" in j:
        extra = {**extra, "bad_tail": j["bad_tail"]}
    return extra, None


def _render_items(out: dict[str, Any], extras: list[tuple[int, Any]], tbl: ItemTable) -> None:
    """``extra`` (and ``extra_dups``, ``extra_order`` when needed) of any item list."""
    extra: dict[str, Any] = {}
    seen: set[int] = set()
    dups: list[dict[str, Any]] = []
    canonical: list[Any] = []  # ids in key insertion order (None = the custome map)
    custom_ids: list[int] = []
    get = tbl.get
    for eid, v in extras:
        # Only the first occurrence of an id goes into the map; every later one, in order, into
        # extra_dups. from_json takes an id's occurrences in that order, so comparing id sequences
        # below is enough to know whether extra_order is needed.
        if eid in seen:
            dups.append({"id": eid, "data": b64(_item_bytes(eid, v, tbl))})
            continue
        seen.add(eid)
        row = get(eid)
        if row is not None and type(v) is not bytes and type(v) is not RawExtra:
            key = row.key
            if key in extra:  # two ids of a profile sharing one key: the later one by its number
                extra[str(eid)] = b64(_item_bytes(eid, v, tbl))
            else:
                extra[key] = row.to_json(v) if row.to_json is not None else v
            canonical.append(eid)
            continue
        k, jv = _render_item(eid, v, tbl)
        if k is None:
            cm = extra.get("custome")
            if cm is None:
                cm = extra["custome"] = {}
                canonical.append(None)
            cm[str(eid)] = jv
            custom_ids.append(eid)
        else:
            extra[k] = jv
            canonical.append(eid)
    out["extra"] = extra
    if dups or len(custom_ids) > 1:
        if dups:
            out["extra_dups"] = dups
        # The order from_json will rebuild: map order (custome expanded in place), then the dups.
        rebuilt: list[int] = []
        for k in canonical:
            if k is None:
                rebuilt.extend(custom_ids)
            else:
                rebuilt.append(k)
        rebuilt.extend(d["id"] for d in dups)
        wire_ids = [eid for eid, _ in extras]
        if rebuilt != wire_ids:
            out["extra_order"] = wire_ids


def _id_key(k: str, field: str) -> int:
    try:
        eid = int(k, 10)
    except ValueError:
        raise BodyError("is not an additional-info key (nor a decimal id)", field=field) from None
    if not 0 <= eid <= 0xFFFF or k != str(eid):
        raise BodyError("is not a valid decimal additional-info id", field=field)
    return eid


def location_from_json(obj: Any, version: Version | None = None, profile: Profile | None = None) -> LocationReport:
    """Build a ``LocationReport`` from its JSON; a missing or ill-typed field raises :class:`BodyError`."""
    if version is None:
        version = V2013
    vals = basic_from_json(obj)
    extras: list[tuple[int, Any]] = []
    extra = obj.get("extra")
    if extra is not None:
        keys = extras_table(profile or DEFAULT_PROFILE, version).by_key
        for k, v in json_obj(extra, "extra").items():
            field_name = f"extra.{k}"
            row = keys.get(k)
            if row is not None:
                extras.append((row.id, row.from_json(v, field_name) if row.from_json is not None else v))
            elif k == "custome":
                for ck, cv in json_obj(v, field_name).items():
                    extras.append((_id_key(ck, f"{field_name}.{ck}"), unb64(cv, f"{field_name}.{ck}")))
            else:
                extras.append((_id_key(k, field_name), unb64(v, field_name) if isinstance(v, str) else v))
    dups = obj.get("extra_dups")
    if dups is not None:
        if not isinstance(dups, list):
            raise BodyError(f"expects a list, got {type(dups).__name__}", field="extra_dups")
        for i, d in enumerate(dups):
            f = f"extra_dups[{i}]"
            d = json_obj(d, f)
            if "id" not in d:
                raise BodyError("is missing", field=f"{f}.id")
            if "data" not in d:
                raise BodyError("is missing", field=f"{f}.data")
            extras.append((json_int(d["id"], f"{f}.id", 0, 0xFFFF), unb64(d["data"], f"{f}.data")))
    order = obj.get("extra_order")
    if order is not None:
        extras = _in_order(extras, order)
    bad = obj.get("bad_tail")
    bad_tail = unb64(bad, "bad_tail") if bad is not None else b""
    return LocationReport(*vals, extras=extras, bad_tail=bad_tail)


def _in_order(extras: list[tuple[int, Any]], order: Any) -> list[tuple[int, Any]]:
    if not isinstance(order, list):
        raise BodyError(f"expects a list, got {type(order).__name__}", field="extra_order")
    queues: dict[int, list[Any]] = {}
    for eid, v in extras:
        queues.setdefault(eid, []).append(v)
    ordered: list[tuple[int, Any]] = []
    for i, eid in enumerate(order):
        json_int(eid, f"extra_order[{i}]", 0, 0xFFFF)
        q = queues.get(eid)
        if not q:
            raise BodyError(f"names 0x{eid:02X} more often than 'extra'/'extra_dups' hold it", field="extra_order")
        ordered.append((eid, q.pop(0)))
    left = [eid for eid, q in queues.items() if q]
    if left:
        raise BodyError(f"does not list item(s) {left}", field="extra_order")
    return ordered
