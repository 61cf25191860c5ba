"""Location report 0x0200 (位置信息汇报): the 28-byte basic block and additional-information items.

The basic block (alarm, status, latitude, longitude, altitude, speed, direction, time) is followed by
TLV items ``id BYTE · len BYTE · value``. Items are kept as an ordered list of ``(id, value)`` pairs:
duplicates stay (in order), unknown ids keep their bytes, a known id with an unexpected length is kept
raw as :class:`RawExtra` (and noted in the packet's problems), and an item whose length runs past
the body leaves the good items decoded and the bad tail in ``bad_tail`` (noted with its offset).
Everything re-encodes byte for byte.

This body is embedded in 0x0201, 0x0500, 0x0704, 0x0801 (basic block only) and 0x0802 (basic block
only): use :func:`read_location` / :meth:`LocationReport.encode` there.
"""

from __future__ import annotations

import operator
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from jt808.errors import EncodeError, TruncatedError
from jt808.protocol.buffer import Reader, Writer
from jt808.protocol.header import V2019, Version
from jt808.protocol.registry import ExtraCodec, Profile
from jt808.protocol.spec import BCD, DWORD, WORD, Body, message, wire

__all__ = [
    "BASIC",
    "STANDARD_EXTRAS",
    "LocationBasic",
    "LocationReport",
    "LocationValues",
    "RawExtra",
    "extras_table",
    "read_location",
]

BASIC = struct.Struct(">IIIIHHH6s")  # 28 bytes
_from_bytes = int.from_bytes


class RawExtra(bytes):
    """The value bytes of an additional-info item that was kept raw although its id is known
    (unexpected length or layout). Re-encodes as is."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"RawExtra({bytes(self).hex()})"


# -- standard additional-info codecs -----------------------------------------------------------
def _uint(size: int, key: str, versions: tuple[Version, ...] | None = None) -> ExtraCodec:
    return ExtraCodec(key, lambda b: int.from_bytes(b, "big"), lambda v: int(v).to_bytes(size, "big"),
                      (size,), versions, uint=size)


def _dec_overspeed(b: bytes) -> dict[str, int]:
    if len(b) == 1:
        return {"type": b[0]}
    return {"type": b[0], "id": int.from_bytes(b[1:5], "big")}


def _enc_overspeed(v: dict[str, int]) -> bytes:
    out = bytes((v["type"],))
    if "id" in v:
        out += int(v["id"]).to_bytes(4, "big")
    return out


def _dec_in_out(b: bytes) -> dict[str, int]:
    return {"type": b[0], "id": int.from_bytes(b[1:5], "big"), "direction": b[5]}


def _enc_in_out(v: dict[str, int]) -> bytes:
    return bytes((v["type"],)) + int(v["id"]).to_bytes(4, "big") + bytes((v["direction"],))


def _dec_path_time(b: bytes) -> dict[str, int]:
    return {"id": int.from_bytes(b[0:4], "big"), "time": int.from_bytes(b[4:6], "big"), "result": b[6]}


def _enc_path_time(v: dict[str, int]) -> bytes:
    return int(v["id"]).to_bytes(4, "big") + int(v["time"]).to_bytes(2, "big") + bytes((v["result"],))


def _dec_temp(b: bytes) -> int:
    return int.from_bytes(b, "big", signed=True)


def _enc_temp(v: int) -> bytes:
    return int(v).to_bytes(2, "big", signed=True)


def _dec_temp_sm(b: bytes) -> int:
    raw = int.from_bytes(b, "big")
    return -(raw & 0x7FFF) if raw & 0x8000 else raw


def _enc_temp_sm(v: int) -> bytes:
    return ((0x8000 | -v) if v < 0 else v).to_bytes(2, "big")


def _raw(key: str, sizes: tuple[int, ...] | None = None,
         versions: tuple[Version, ...] | None = None) -> ExtraCodec:
    return ExtraCodec(key, bytes, bytes, sizes, versions)


#: id -> codec for the standard items. 0x25 signal, 0x2A io_status and 0x2B analog stay integers here
#: (bit maps are expanded by the JSON layer and by :mod:`jt808.protocol.bits`).
STANDARD_EXTRAS: dict[int, ExtraCodec] = {
    0x01: _uint(4, "mileage"),
    0x02: _uint(2, "fuel_meter"),
    0x03: _uint(2, "speed"),
    0x04: _uint(2, "alarm_id"),
    0x05: _raw("tire_pressure", (30,), (V2019,)),
    0x06: ExtraCodec("carriage_temp", _dec_temp, _enc_temp, (2,), (V2019,)),
    0x11: ExtraCodec("overspeed_alarm", _dec_overspeed, _enc_overspeed, (1, 5)),
    0x12: ExtraCodec("in_out_alarm", _dec_in_out, _enc_in_out, (6,)),
    0x13: ExtraCodec("path_time_alarm", _dec_path_time, _enc_path_time, (7,)),
    0x25: _uint(4, "signal"),
    0x2A: _uint(2, "io_status"),
    0x2B: _uint(4, "analog"),
    0x30: _uint(1, "rssi"),
    0x31: _uint(1, "gnss_sat_num"),
}

_CARRIAGE_SM = ExtraCodec("carriage_temp", _dec_temp_sm, _enc_temp_sm, (2,), (V2019,))


class _ExtraTable(dict):  # type: ignore[type-arg]
    """id -> codec, plus the item layouts remembered for this table (see :func:`_remember_layout`):
    ``layouts[(start, end)]`` for items anywhere, ``bodies[len]`` for whole 0x0200 bodies."""

    __slots__ = ("bodies", "layouts")

    def __init__(self) -> None:
        super().__init__()
        self.layouts: dict[tuple[int, int], tuple[Any, ...]] = {}
        self.bodies: dict[int, tuple[Any, ...]] = {}


def extras_table(profile: Profile, version: Version) -> dict[int, ExtraCodec]:
    """The merged id -> codec table for a profile and version (cached on the profile)."""
    tbl = profile.extra_tables.get(version)
    if tbl is None:
        tbl = _ExtraTable()
        for eid, c in STANDARD_EXTRAS.items():
            if c.versions is None or version in c.versions:
                tbl[eid] = c
        if profile.carriage_temp_sign_magnitude and version is V2019:
            tbl[0x06] = _CARRIAGE_SM
        tbl.update(profile.extras)
        profile.extra_tables[version] = tbl
    return tbl


@dataclass(slots=True)
class LocationBasic:
    """The 28-byte basic block alone (0x0801 and 0x0802 carry it without additional items)."""

    alarm: int = 0
    status: int = 0
    latitude: int = 0
    longitude: int = 0
    altitude: int = 0
    speed: int = 0
    direction: int = 0
    time: str = "000000000000"

    @classmethod
    def decode(cls, r: Reader) -> LocationBasic:
        p = r.pos
        if p + 28 > r.end:
            raise TruncatedError(f"location block needs 28 bytes, {r.end - p} left", offset=p, field="location")
        r.pos = p + 28
        a, s, la, lo, al, sp, d, t = BASIC.unpack_from(r.data, p)
        return cls(a, s, la, lo, al, sp, d, t.hex())

    def encode(self, w: Writer) -> None:
        w.out += _pack_basic(self, w)

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        return {"alarm": self.alarm, "status": self.status, "latitude": self.latitude,
                "longitude": self.longitude, "altitude": self.altitude, "speed": self.speed,
                "direction": self.direction, "time": self.time}


def _pack_basic(loc: Any, w: Writer) -> bytes:
    try:
        return BASIC.pack(loc.alarm, loc.status, loc.latitude, loc.longitude, loc.altitude, loc.speed,
                          loc.direction, bytes.fromhex(loc.time) if len(loc.time) == 12 else b"?")
    except (struct.error, ValueError, TypeError):
        # find the culprit for a precise message
        for name, size in (("alarm", 4), ("status", 4), ("latitude", 4), ("longitude", 4), ("altitude", 2),
                           ("speed", 2), ("direction", 2)):
            w.uint(getattr(loc, name), size, name)
        w.bcd(loc.time, 6, "time")
        raise EncodeError("invalid location block", msg_id=w.msg_id) from None


@message(0x0200)
class LocationReport(Body):
    """位置信息汇报 — location report: basic block plus additional-information items.

    ``extras`` is the ordered list of ``(id, value)`` items (see the module docstring).
    Latitude/longitude are unsigned 1e-6 degrees as on the wire; :attr:`lat` / :attr:`lng` give signed
    degrees using status bits 2/3.
    """

    alarm: int = wire(DWORD)
    status: int = wire(DWORD)
    latitude: int = wire(DWORD)
    longitude: int = wire(DWORD)
    altitude: int = wire(WORD)
    speed: int = wire(WORD)
    direction: int = wire(WORD)
    time: str = wire(BCD(6))
    extras: list[tuple[int, Any]] = field(default_factory=list)
    bad_tail: bytes = b""

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> LocationReport:
        data = r.data
        p = r.pos
        end = r.end
        if p + 28 > end:
            raise TruncatedError(f"location block needs 28 bytes, {end - p} left", offset=p, field="location")
        a, s, la, lo, al, sp, d, t = BASIC.unpack_from(data, p)
        p += 28
        extras: list[tuple[int, Any]] = []
        bad = b""
        if p < end:
            profile = r.profile
            if profile.extra_id_size != 1 or profile.extra_len_size != 1:
                p, bad = _read_extras_vendor(r, p, end, extras)
            else:
                tbl = profile.extra_tables.get(r.version) or extras_table(profile, r.version)
                lay = tbl.layouts.get((p, end)) if type(tbl) is _ExtraTable else None
                if lay is not None and lay[0](data) == lay[1]:
                    extras = [*zip(lay[2], lay[3].unpack_from(data, p))]  # noqa: B905 - same length by construction
                    p = end
                else:
                    p, bad = _read_items(r, data, p, end, tbl, extras)
        r.pos = p
        return cls(a, s, la, lo, al, sp, d, t.hex(), extras, bad)

    @staticmethod
    def fast_decode(data: bytes, profile: Profile, version: Version) -> LocationReport | None:
        """Whole-body decode when the items repeat a remembered layout (see :func:`_remember_layout`)."""
        tbl = profile.extra_tables.get(version)
        if tbl is None or len(data) <= 28:
            return None
        lay = tbl.bodies.get(len(data))  # type: ignore[attr-defined]
        if lay is None or lay[0](data) != lay[1]:
            return None
        v = lay[4].unpack_from(data)  # basic block and every item value in one unpack
        return LocationReport(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7].hex(),
                              [*zip(lay[2], v[8:])], b"")  # noqa: B905 - same length by construction

    @staticmethod
    def fast_values(data: bytes, profile: Profile, version: Version) -> LocationValues | None:
        """Like :meth:`fast_decode`, without building the report: the layout and its unpacked values."""
        tbl = profile.extra_tables.get(version)
        if tbl is None or len(data) <= 28:
            return None
        lay = tbl.bodies.get(len(data))  # type: ignore[attr-defined]
        if lay is None or lay[0](data) != lay[1]:
            return None
        return LocationValues(lay, lay[4].unpack_from(data))

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

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        from jt808.protocol.exchange import location_to_json

        return location_to_json(self, version)

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> LocationReport:
        from jt808.protocol.exchange import location_from_json

        return location_from_json(obj, version)


def _read_items(r: Reader, data: bytes, p: int, end: int, tbl: dict[int, ExtraCodec],
                extras: list[tuple[int, Any]]) -> tuple[int, bytes]:
    """The standard item loop (1-byte ids and lengths). Remembers the layout of clean reports."""
    start = p
    bad = b""
    plain = True  # every item a plain uint of its codec's size, or an unknown id kept as bytes
    get = tbl.get
    append = extras.append
    while p < end:
        if p + 2 > end:
            bad = data[p:end]
            r.problems.append(f"0x0200: additional-info tail of {end - p} byte at offset {p} "
                              "is not an item; kept raw")
            p = end
            break
        eid = data[p]
        n = data[p + 1]
        q = p + 2 + n
        if q > end:
            bad = data[p:end]
            r.problems.append(f"0x0200: additional-info item 0x{eid:02X} at offset {p} claims "
                              f"{n} bytes, {end - p - 2} left; tail kept raw")
            p = end
            break
        c = get(eid)
        if c is None:
            append((eid, data[p + 2:q]))
        elif n and c.uint == n:  # (n == 0 would match every non-integer codec, uint 0)
            append((eid, _from_bytes(data[p + 2:q], "big")))
        elif c.sizes is not None and n not in c.sizes:
            plain = False
            append((eid, RawExtra(data[p + 2:q])))
            r.problems.append(f"0x0200: additional-info 0x{eid:02X} ({c.key}) has {n} bytes, "
                              f"expected {'/'.join(map(str, c.sizes))}; kept raw")
        else:
            plain = False
            try:
                append((eid, c.decode(data[p + 2:q])))
            except (ValueError, IndexError, KeyError) as e:
                append((eid, RawExtra(data[p + 2:q])))
                r.problems.append(f"0x0200: additional-info 0x{eid:02X} ({c.key}) not decodable "
                                  f"({e}); kept raw")
        p = q
    if plain and not bad and extras:
        _remember_layout(tbl, data, start, end, extras)
    return p, bad


_MAX_LAYOUTS = 256
_UINT_FMT = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _remember_layout(tbl: dict[int, ExtraCodec], data: bytes, start: int, end: int,
                     extras: list[tuple[int, Any]]) -> None:
    """Devices repeat the same item layout in every report: remember it (the positions of the id and
    length bytes and their values, to check; one Struct for the item values) so that the next report
    with that layout decodes in one unpack — for a whole 0x0200 body, one unpack with the basic block."""
    if type(tbl) is not _ExtraTable:
        return
    positions: list[int] = []
    fmt = ""
    p = start
    for eid, v in extras:
        n = data[p + 1]
        c = tbl.get(eid)
        if c is not None:
            if c.uint != n or n not in _UINT_FMT:
                return
            fmt += "2x" + _UINT_FMT[n]
        elif isinstance(v, bytes):
            fmt += f"2x{n}s"
        else:
            return
        positions += (p, p + 1)
        p += 2 + n
    if p != end:
        return
    if len(tbl.layouts) + len(tbl.bodies) >= _MAX_LAYOUTS:
        tbl.layouts.clear()  # many layouts in flight: start over rather than freeze the first ones
        tbl.bodies.clear()
    getter = operator.itemgetter(*positions)
    lay = (getter, getter(data), tuple(e for e, _ in extras), struct.Struct(">" + fmt), None)
    tbl.layouts[(start, end)] = lay
    if start == 28:
        tbl.bodies[end] = (*lay[:4], struct.Struct(BASIC.format + fmt))


class LocationValues:
    """A whole 0x0200 body of a remembered item layout, unpacked but not yet a :class:`LocationReport`
    (for consumers that read the values straight from the unpack, e.g. the gateway's storage rows).
    ``values`` are alarm, status, latitude, longitude, altitude, speed, direction, the 6 BCD time bytes,
    then one value per item of ``layout[2]`` (the item ids)."""

    __slots__ = ("layout", "values")

    def __init__(self, layout: tuple[Any, ...], values: tuple[Any, ...]) -> None:
        self.layout = layout
        self.values = values

    def report(self) -> LocationReport:
        """The :class:`LocationReport` :meth:`LocationReport.fast_decode` gives for the same body."""
        v = self.values
        return LocationReport(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7].hex(),
                              [*zip(self.layout[2], v[8:])], b"")  # noqa: B905 - same length by construction

    def __repr__(self) -> str:
        return f"<LocationValues {self.report()!r}>"


def bcd_time(text: str, tz_offset: float = 8) -> datetime | None:
    """``YYMMDDhhmmss`` -> aware datetime (20YY) or ``None`` when the digits are no valid time."""
    try:
        return datetime(2000 + int(text[0:2]), int(text[2:4]), int(text[4:6]), int(text[6:8]),
                        int(text[8:10]), int(text[10:12]), tzinfo=timezone(timedelta(hours=tz_offset)))
    except ValueError:
        return None


def time_bcd(dt: datetime, tz_offset: float = 8) -> str:
    """Aware (or naive = already local) datetime -> ``YYMMDDhhmmss`` in the device's time zone."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone(timedelta(hours=tz_offset)))
    return dt.strftime("%y%m%d%H%M%S")


def read_location(r: Reader) -> LocationReport:
    """Read an embedded full location body (basic block + items) up to ``r.end``."""
    return LocationReport.decode(r)


def write_extras(extras: list[tuple[int, Any]], w: Writer) -> None:
    """Append additional-info items (strict: each value must fit its id's codec)."""
    tbl: dict[int, ExtraCodec] | None = None
    out = w.out
    prof = w.profile
    ids = prof.extra_id_size if prof is not None else 1
    lens = prof.extra_len_size if prof is not None else 1
    for eid, v in extras:
        if isinstance(v, bytes | bytearray):
            val = bytes(v)
        else:
            if tbl is None:
                from jt808.protocol.registry import DEFAULT_PROFILE

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
