"""Location query, tracking, alarm confirmation, batch upload, vehicle control (0x0201 … 0x0500).

0x0201 位置信息查询应答, 0x8202 临时位置跟踪控制, 0x8203 人工确认报警消息, 0x0704 定位数据批量上传,
0x8500 车辆控制 (one class for the 2011/2013 flag byte, one for the 2019 control list), 0x0500 车辆控制应答.

0x0201, 0x0500 and 0x0704 embed full 0x0200 bodies: they are read and written by
:class:`~jt808.protocol.messages.location.LocationReport` and turned into JSON by its ``to_json``. Their
items depend on the profile (extension rows such as JT/T 1078's 0x14), so these bodies' ``to_json`` /
``from_json`` take the profile too (:func:`jt808.to_json` / :func:`jt808.from_json` pass it; without one the
standard table is used and an extension item is keyed by its decimal id).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from jt808.errors import BodyError, DecodeError, EncodeError
from jt808.protocol.bits import CONFIRMABLE_MASK, alarm_names
from jt808.protocol.buffer import Reader, Writer
from jt808.protocol.header import V2011, V2013, V2019, Version
from jt808.protocol.jsonutil import b64, unb64
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.registry import Profile
from jt808.protocol.spec import BYTE, DWORD, WORD, Body, Kind, message, wire

__all__ = [
    "CONTROL_PARAMS",
    "BatchLocations",
    "ConfirmAlarm",
    "Control",
    "LocationQueryReply",
    "TemporaryTracking",
    "VehicleControl",
    "VehicleControl2019",
    "VehicleControlReply",
]


# ---------------------------------------------------------------------------------------------
# seq + embedded location: 0x0201, 0x0500
# ---------------------------------------------------------------------------------------------
class _Location(Kind):
    """A full 0x0200 body running to the end of the (sub-)reader."""

    name = "LOCATION"

    def read(self, r: Reader, field: str) -> LocationReport:
        return LocationReport.decode(r)

    def write(self, w: Writer, v: Any, field: str) -> None:
        if not isinstance(v, LocationReport):
            raise EncodeError("needs a LocationReport", field=field, value=v, msg_id=w.msg_id)
        v.encode(w)


LOCATION = _Location()


def _location_field(json: str) -> Any:
    spec_field = wire(LOCATION, json=json, default=None)
    return dataclasses.field(default_factory=LocationReport, metadata=spec_field.metadata)


def _location_json(obj: Any, key: str, version: Version | None, profile: Profile | None) -> LocationReport:
    if key not in obj:
        raise BodyError("is missing", field=key)
    return LocationReport.from_json(obj[key], version, profile)


def _seq_json(obj: Any, cls: type) -> int:
    if not isinstance(obj, dict):
        raise BodyError(f"{cls.__name__} expects a JSON object, got {type(obj).__name__}")
    if "seq" not in obj:
        raise BodyError("is missing", field="seq")
    return WORD.from_json(obj["seq"], "seq")


@message(0x0201, quotes="seq")
class LocationQueryReply(Body):
    """位置信息查询应答 — location query reply: ``seq WORD`` (serial of the 0x8201) + a full 0x0200 body.

    JSON: ``{"seq", "params": <location>}`` (seed 004 / EMQX key ``params``).
    """

    seq: int = wire(WORD)
    location: LocationReport = _location_field("params")

    msg_id: ClassVar[int]

    def to_json(self, version: Version | None = None, profile: Profile | None = None) -> dict[str, Any]:
        return {"seq": self.seq, "params": self.location.to_json(version, profile)}

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None, profile: Profile | None = None) -> LocationQueryReply:
        return cls(_seq_json(obj, cls), _location_json(obj, "params", version, profile))


@message(0x0500, quotes="seq")
class VehicleControlReply(Body):
    """车辆控制应答 — vehicle control reply: ``seq WORD`` (serial of the 0x8500) + a full 0x0200 body.

    JSON: ``{"seq", "location": <location>}``.
    """

    seq: int = wire(WORD)
    location: LocationReport = _location_field("location")

    msg_id: ClassVar[int]

    def to_json(self, version: Version | None = None, profile: Profile | None = None) -> dict[str, Any]:
        return {"seq": self.seq, "location": self.location.to_json(version, profile)}

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None,
                  profile: Profile | None = None) -> VehicleControlReply:
        return cls(_seq_json(obj, cls), _location_json(obj, "location", version, profile))


# ---------------------------------------------------------------------------------------------
# 0x8202, 0x8203
# ---------------------------------------------------------------------------------------------
@message(0x8202)
class TemporaryTracking(Body):
    """临时位置跟踪控制 — temporary tracking: ``period WORD · expiry DWORD``.

    ``period`` (s) = 0 stops tracking, and then no ``expiry`` follows (S001); SmallChi, EMQX and
    yezhihao always send the DWORD. Both 2- and 6-byte bodies decode; a body with period 0 encodes as
    2 bytes (an expiry received with period 0 is kept in the object, noted, and not re-sent).
    """

    period: int = wire(WORD, doc="seconds between reports; 0 stops tracking")
    expiry: int = wire(DWORD, doc="seconds the tracking lasts")

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> TemporaryTracking:
        period = r.u16("period")
        if period == 0:
            if r.remaining >= 4:
                expiry = r.u32("expiry")
                if expiry:
                    r.note(f"0x8202: expiry {expiry} sent with period 0 (stop); not re-sent on encode")
                return cls(0, expiry)
            return cls(0, 0)
        return cls(period, r.u32("expiry"))

    def encode(self, w: Writer) -> None:
        w.u16(self.period, "period")
        if self.period != 0:
            w.u32(self.expiry, "expiry")
        else:
            w._range(self.expiry, 0, 0xFFFFFFFF, "expiry")  # still validated

    @property
    def stops(self) -> bool:
        """True when this message ends temporary tracking."""
        return self.period == 0


@message(0x8203, versions=(V2013, V2019))
class ConfirmAlarm(Body):
    """人工确认报警消息 — confirm alarms manually: ``seq WORD · type DWORD``.

    ``seq`` = serial of the 0x0200 whose alarm is confirmed, 0 = every alarm of these types. ``type``
    uses the alarm bit positions; only :data:`~jt808.protocol.bits.CONFIRMABLE_MASK` bits are defined
    (0 emergency, 3 danger warning, 20 area, 21 route, 22 segment time, 27 illegal ignition,
    28 illegal displacement).
    """

    seq: int = wire(WORD)
    type: int = wire(DWORD)

    msg_id: ClassVar[int]

    def alarm_names(self, version: Version | None = V2013) -> list[str]:
        """Names of the alarm bits confirmed (see :func:`jt808.protocol.bits.alarm_names`)."""
        return alarm_names(self.type, version)

    @property
    def reserved_bits(self) -> int:
        """Bits set in ``type`` that 0x8203 does not define."""
        return self.type & ~CONFIRMABLE_MASK


# ---------------------------------------------------------------------------------------------
# 0x0704 batch locations
# ---------------------------------------------------------------------------------------------
@message(0x0704, versions=(V2013, V2019))
class BatchLocations(Body):
    """定位数据批量上传 — batch location upload:
    ``count WORD · type BYTE · [len WORD · 0x0200 body]*count`` (count before type: EMQX, SmallChi,
    yezhihao; seed 004's table lists type first). ``type`` 0 normal batch, 1 blind-area backfill.

    Real devices send wrong item lengths (SmallChi Demo11). Decoding never fails on them: an item
    whose length does not fit is re-measured from its own additional items when that makes the
    following lengths line up to the end of the body; what still cannot be decoded, from that item's
    length WORD on, is kept in ``bad_tail`` (re-sent as is). Each repair is noted in the packet's
    problems. ``count`` keeps the count as sent when it disagrees with ``locations``; otherwise it is
    ``None`` and the encoder writes ``len(locations)`` and the true item lengths.

    JSON: ``{"type", "length", "location": [<location>, …]}`` plus ``"bad_tail"`` (base64) when present.
    """

    type: int = wire(BYTE, doc="0 normal batch, 1 blind-area backfill")
    locations: list[LocationReport] = field(default_factory=list)
    count: int | None = None
    bad_tail: bytes = b""

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> BatchLocations:
        count = r.u16("length")
        typ = r.u8("type")
        data, end = r.data, r.end
        locations: list[LocationReport] = []
        bad = b""
        p = r.pos
        # True while the declared item lengths from p on end exactly at the body end (the usual case:
        # then no item needs re-measuring and the check is done once, not per item).
        lined_up = _chain_ends(data, p, end, count)
        for i in range(count):
            if p >= end:
                r.note(f"0x0704: count says {count} locations, the body holds {i}")
                break
            loc, q, note, lined_up = _read_item(r, p, end, count - i - 1, i, lined_up)
            if note:
                r.note(note)
            if loc is None:
                bad = data[p:end]
                p = end
                break
            locations.append(loc)
            p = q
        r.pos = p
        return cls(typ, locations, count if count != len(locations) else None, bad)

    def encode(self, w: Writer) -> None:
        n = len(self.locations) if self.count is None else self.count
        w.u16(n, "length")
        w.u8(self.type, "type")
        out = w.out
        for i, loc in enumerate(self.locations):
            if not isinstance(loc, LocationReport):
                raise EncodeError("items must be LocationReport", field=f"location[{i}]", value=loc,
                                  msg_id=w.msg_id)
            at = len(out)
            out += b"\x00\x00"
            loc.encode(w)
            size = len(out) - at - 2
            if size > 0xFFFF:
                raise EncodeError(f"item of {size} bytes does not fit its WORD length", field=f"location[{i}]",
                                  msg_id=w.msg_id)
            out[at:at + 2] = size.to_bytes(2, "big")
        if self.bad_tail:
            w.bytes(self.bad_tail, "bad_tail")

    def to_json(self, version: Version | None = None, profile: Profile | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "length": len(self.locations) if self.count is None else self.count,
            "location": [loc.to_json(version, profile) for loc in self.locations],
        }
        if self.bad_tail:
            out["bad_tail"] = b64(self.bad_tail)
        return out

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None, profile: Profile | None = None) -> BatchLocations:
        if not isinstance(obj, dict):
            raise BodyError(f"BatchLocations expects a JSON object, got {type(obj).__name__}")
        for key in ("type", "location"):
            if key not in obj:
                raise BodyError("is missing", field=key)
        typ = BYTE.from_json(obj["type"], "type")
        items = obj["location"]
        if not isinstance(items, list):
            raise BodyError(f"expects a list, got {type(items).__name__}", field="location")
        locations = [LocationReport.from_json(x, version, profile) for x in items]
        count = None
        if "length" in obj:
            n = WORD.from_json(obj["length"], "length")
            count = n if n != len(locations) else None
        bad = unb64(obj["bad_tail"], "bad_tail") if "bad_tail" in obj else b""
        return cls(typ, locations, count, bad)


def _chain_ends(data: bytes, q: int, end: int, n: int) -> bool:
    """Do ``n`` items ``len WORD · body`` starting at ``q`` end exactly at ``end``?"""
    for _ in range(n):
        if q + 2 > end:
            return False
        q += 2 + (data[q] << 8 | data[q + 1])
        if q > end:
            return False
    return q == end


def _chain_len(data: bytes, q: int, end: int, n: int) -> int:
    """How many of ``n`` items ``len WORD · body`` from ``q`` are well formed: each fits the body and is
    a basic block whose 1+1 additional items end exactly at its declared length."""
    for k in range(n):
        if q + 2 > end:
            return k
        e = q + 2 + (data[q] << 8 | data[q + 1])
        if e > end:
            return k
        b = q + 30
        while b + 2 <= e:
            b += 2 + data[b + 1]
        if b != e:
            return k
        q = e
    return n


def _item_ends(data: bytes, s: int, end: int) -> list[int]:
    """Where a 0x0200 body starting at ``s`` could end: after the basic block or after any of the
    standard 1+1 additional items that follow it."""
    b = s + 28
    out = []
    while b <= end:
        out.append(b)
        if b + 2 > end:
            break
        b += 2 + data[b + 1]
    return out


def _try_location(r: Reader, s: int, e: int, clean: bool) -> LocationReport | None:
    """Decode a location filling ``data[s:e]``, or ``None``. ``clean``: also refuse one whose
    additional items run past ``e`` (when ``e`` is only a guess). Notes are kept only on success."""
    sub = Reader(r.data, r.version, r.profile, r.msg_id, s, e)
    try:
        loc = LocationReport.decode(sub)
    except DecodeError:
        return None
    if sub.pos != e or (clean and loc.bad_tail):
        return None
    r.problems.extend(sub.problems)
    return loc


_Item = tuple[LocationReport | None, int, str, bool]


def _read_item(r: Reader, p: int, end: int, after: int, i: int, lined_up: bool) -> _Item:
    """Read item ``i`` at ``p`` (``after`` items follow it; ``lined_up``: the declared lengths from
    ``p`` end at ``end``). Returns (location or None, next offset, note, lined_up after this item)."""
    data = r.data
    if p + 2 > end:
        return None, p, f"0x0704: location {i}: {end - p} byte(s) at offset {p} are not an item; kept raw", False
    size = data[p] << 8 | data[p + 1]
    s, q = p + 2, p + 2 + size
    declared_fits = q <= end
    if lined_up or (declared_fits and _chain_ends(data, q, end, after)):
        loc = _try_location(r, s, q, clean=False)
        if loc is not None:
            return loc, q, "", True
        return None, p, (f"0x0704: location {i} at offset {p} ({size} bytes) does not decode; "
                         f"it and the rest ({end - p} bytes) kept raw"), False
    if r.profile.extra_id_size == 1 and r.profile.extra_len_size == 1:
        # Re-measure: the item may end after its basic block or after any of its additional items.
        for b in _item_ends(data, s, end):
            if b != q and _chain_ends(data, b, end, after):
                loc = _try_location(r, s, b, clean=True)
                if loc is not None:
                    return loc, b, (f"0x0704: location {i} at offset {p} says {size} bytes but its items "
                                    f"span {b - s}; decoded with {b - s}"), True
        if after:
            # Nothing lines up to the end (another length is wrong too): take the end after which the
            # most following lengths still chain, the declared one on a tie.
            cands = sorted(((_chain_len(data, b, end, after), b == q, b) for b in _item_ends(data, s, end)
                            if b != q or declared_fits), reverse=True)
            for n, _, b in cands:
                loc = _try_location(r, s, b, clean=True) if n else None
                if loc is not None:
                    return loc, b, ("" if b == q else f"0x0704: location {i} at offset {p} says {size} bytes but "
                                    f"its items span {b - s}; decoded with {b - s}"), False
    if declared_fits:
        loc = _try_location(r, s, q, clean=True)
        if loc is not None:
            return loc, q, "", False
        return None, p, (f"0x0704: location {i} at offset {p} ({size} bytes) does not decode; "
                         f"it and the rest ({end - p} bytes) kept raw"), False
    return None, p, (f"0x0704: location {i} at offset {p} says {size} bytes, {end - s} left; "
                     f"it and the rest ({end - p} bytes) kept raw"), False


# ---------------------------------------------------------------------------------------------
# 0x8500 vehicle control
# ---------------------------------------------------------------------------------------------
@message(0x8500, answered_by=(0x0500,), versions=(V2011, V2013))
class VehicleControl(Body):
    """车辆控制 — vehicle control, 2011/2013: ``flag BYTE`` (bit 0: 0 unlock doors, 1 lock doors).

    The 2019 layout is :class:`VehicleControl2019` (note the door codes are inverted there).
    """

    flag: int = wire(BYTE, doc="bit 0: 0 unlock doors, 1 lock doors; bits 1-7 reserved")

    msg_id: ClassVar[int]


#: 2019 control id -> parameter kind. 0x0001 door: 0 lock (close), 1 open. Other ids (0x0002-0x8000
#: reserved by the standard, 0xF001-0xFFFF vendor) have no known parameter size: the rest is kept raw.
CONTROL_PARAMS: dict[int, Kind] = {0x0001: BYTE}


@dataclass(slots=True)
class Control:
    """One 2019 vehicle-control item: ``id WORD · param``. ``param`` is an int for ids in
    :data:`CONTROL_PARAMS`, else the raw bytes (for an unknown id: everything after its id)."""

    id: int
    param: int | bytes = 0

    def to_json(self) -> dict[str, Any]:
        p = self.param
        return {"id": self.id, "param": b64(p) if isinstance(p, bytes) else p}

    @classmethod
    def from_json(cls, obj: Any, i: int = 0) -> Control:
        where = f"controls[{i}]"
        if not isinstance(obj, dict):
            raise BodyError(f"expects an object, got {type(obj).__name__}", field=where)
        if "id" not in obj:
            raise BodyError("is missing", field=f"{where}.id")
        cid = WORD.from_json(obj["id"], f"{where}.id")
        p = obj.get("param", b"")
        if isinstance(p, str):
            return cls(cid, unb64(p, f"{where}.param"))
        if cid not in CONTROL_PARAMS:
            raise BodyError(f"control id 0x{cid:04X} has no known parameter: give it as base64",
                            field=f"{where}.param")
        return cls(cid, CONTROL_PARAMS[cid].from_json(p, f"{where}.param"))


@message(0x8500, answered_by=(0x0500,), versions=(V2019,))
class VehicleControl2019(Body):
    """车辆控制 — vehicle control, 2019: ``count WORD · [id WORD · param]*count`` (EMQX, SmallChi; seed 004's
    ``flag/length/type_id`` layout and yezhihao's single item are not followed).

    Known ids (:data:`CONTROL_PARAMS`) decode their parameter; at the first unknown id the rest of the
    body becomes that item's raw ``param`` (noted). ``count`` keeps the count as sent when it
    disagrees with ``controls`` (else ``None``: the encoder writes ``len(controls)``).

    JSON (EMQX): ``{"count", "controls": [{"id", "param"}]}``; ``param`` is an integer for a known id,
    base64 for raw bytes.
    """

    controls: list[Control] = field(default_factory=list)
    count: int | None = None

    msg_id: ClassVar[int]

    @classmethod
    def door(cls, open_doors: bool) -> VehicleControl2019:
        """The door command: open (1) or lock/close (0)."""
        return cls([Control(0x0001, 1 if open_doors else 0)])

    @classmethod
    def decode(cls, r: Reader) -> VehicleControl2019:
        count = r.u16("count")
        controls: list[Control] = []
        for i in range(count):
            cid = r.u16(f"controls[{i}].id")
            kind = CONTROL_PARAMS.get(cid)
            if kind is None:
                raw = r.rest()
                r.note(f"0x8500: control id 0x{cid:04X} (item {i} of {count}) is unknown: its parameter and "
                       f"the rest of the body ({len(raw)} bytes) kept raw")
                controls.append(Control(cid, raw))
                break
            controls.append(Control(cid, kind.read(r, f"controls[{i}].param")))
        return cls(controls, count if count != len(controls) else None)

    def encode(self, w: Writer) -> None:
        w.u16(len(self.controls) if self.count is None else self.count, "count")
        for i, c in enumerate(self.controls):
            w.u16(c.id, f"controls[{i}].id")
            if isinstance(c.param, bytes | bytearray):
                w.out += c.param
                continue
            kind = CONTROL_PARAMS.get(c.id)
            if kind is None:
                raise EncodeError(f"control id 0x{c.id:04X} has no known parameter: give it as bytes",
                                  field=f"controls[{i}].param", value=c.param, msg_id=w.msg_id)
            kind.write(w, c.param, f"controls[{i}].param")

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        return {"count": len(self.controls) if self.count is None else self.count,
                "controls": [c.to_json() for c in self.controls]}

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> VehicleControl2019:
        if not isinstance(obj, dict):
            raise BodyError(f"VehicleControl2019 expects a JSON object, got {type(obj).__name__}")
        items = obj.get("controls", [])
        if not isinstance(items, list):
            raise BodyError(f"expects a list, got {type(items).__name__}", field="controls")
        controls = [Control.from_json(x, i) for i, x in enumerate(items)]
        count = None
        if "count" in obj:
            n = WORD.from_json(obj["count"], "count")
            count = n if n != len(controls) else None
        return cls(controls, count)

