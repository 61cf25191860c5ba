"""EMQX-compatible JSON (seed 004) for whole packets: ``{"header": {...}, "body": {...}}``.

:func:`to_json` / :func:`from_json` convert a :class:`~jt808.protocol.packet.Packet` to and from the
JSON that EMQX's JT/T 808 gateway exchanges over MQTT. The body JSON comes from each body class
(``to_json(version)`` / ``from_json(obj, version)``); this module adds the header, the unknown-id
form, validation with located errors, and the location report (0x0200) with its ``extra`` map,
which several other bodies embed (0x0201, 0x0500, 0x0704).

Header keys are exactly EMQX's: ``msg_id``, ``encrypt``, ``len``, ``phone`` (every BCD digit, as a
string), ``msg_sn``, ``proto_ver`` (2019 only), ``frag_total``/``frag_sn`` (sub-packaged only).

A few keys go beyond EMQX, present only when needed to re-encode a frame byte for byte; EMQX's
consumers ignore them (see ``docs/json.md``):

- header ``reserved``: body-property bits 15 (and 14 on a 2013 frame) when a device set them;
- top level ``tail``: base64 of body bytes left after the last decoded field;
- location ``extra_dups``: later occurrences of a repeated additional-info id,
  ``[{"id": 1, "data": base64}, …]`` (the first occurrence is under its usual key);
- location ``extra_order``: the item ids in wire order, when the map cannot tell it;
- location ``bad_tail``: base64 of trailing bytes that are not a whole item;
- ``signal.reserved`` / ``io_status.reserved``: the reserved bits of 0x25 / 0x2A (shifted down past
  the named bits) when any is set.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from jt808.errors import BodyError, DecodeError, EncodeError, HeaderError
from jt808.protocol import bits
from jt808.protocol.header import V2013, V2019, Header, Version
from jt808.protocol.messages.location import STANDARD_EXTRAS, LocationReport, RawExtra, extras_table
from jt808.protocol.packet import Packet, RawBody, encode_body
from jt808.protocol.registry import DEFAULT_PROFILE, ExtraCodec, Profile

__all__ = [
    "ANALOG_KEYS",
    "IO_STATUS_BITS",
    "SIGNAL_BITS",
    "from_json",
    "header_from_json",
    "header_to_json",
    "location_from_json",
    "location_to_json",
    "to_json",
]

_b64encode = base64.b64encode

# The bit maps of the additional-info items 0x25 / 0x2A / 0x2B (bit 0 = least significant bit) live in
# jt808.protocol.bits; "cluth" is EMQX's spelling (sic), kept for its consumers.
SIGNAL_BITS: tuple[str, ...] = bits.SIGNAL_KEYS
IO_STATUS_BITS: tuple[str, ...] = bits.IO_STATUS_KEYS
#: 0x2B analog: ``ad0`` is bits 0-15 (the last two bytes on the wire), ``ad1`` bits 16-31.
ANALOG_KEYS = ("ad0", "ad1")


def _b64(data: bytes) -> str:
    return _b64encode(data).decode("ascii")


def _unb64(v: Any, field: str) -> bytes:
    if not isinstance(v, str):
        raise BodyError(f"expects base64 text, got {type(v).__name__}", field=field)
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise BodyError("is not valid base64", field=field) from None


def _int(v: Any, field: str, lo: int, hi: int) -> int:
    if type(v) is not int and (isinstance(v, bool) or not isinstance(v, int)):
        raise BodyError(f"expects an integer, got {type(v).__name__}", field=field)
    if v < lo or v > hi:
        raise BodyError(f"{v} is out of range {lo}..{hi}", field=field)
    return v


def _obj(v: Any, field: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise BodyError(f"expects a JSON object, got {type(v).__name__}", field=field)
    return v


# =============================================================================================
# Location report (0x0200 body, also embedded in 0x0201 / 0x0500 / 0x0704)
# =============================================================================================
_BASIC_INT = (("alarm", 0xFFFFFFFF), ("status", 0xFFFFFFFF), ("latitude", 0xFFFFFFFF),
              ("longitude", 0xFFFFFFFF), ("altitude", 0xFFFF), ("speed", 0xFFFF), ("direction", 0xFFFF))

_CUSTOM_LO, _CUSTOM_HI = 0xE1, 0xFF
_BYTES_IDS = frozenset({0x05})  # standard items whose JSON value is base64 (tire_pressure)


def _std_table(profile: Profile, version: Version) -> dict[int, ExtraCodec]:
    return profile.extra_tables.get(version) or extras_table(profile, version)


def _bits_call(fn: Any, v: Any, field: str) -> int:
    try:
        return fn(v)
    except BodyError as e:  # name the key as it sits in the body
        raise BodyError(e.reason, field=f"extra.{e.field}" if e.field else field) from None


def _require(v: Any, field: str, keys: tuple[str, ...], aliases: dict[str, str]) -> dict[str, Any]:
    obj = _obj(v, field)
    present = {aliases.get(k, k) for k in obj}
    for k in keys:
        if k not in present:
            raise BodyError("is missing", field=f"{field}.{k}")
    return obj


def _signal_from_json(v: Any, field: str) -> int:
    return _bits_call(bits.signal_value, _require(v, field, SIGNAL_BITS, bits.SIGNAL_ALIASES), field)


def _io_from_json(v: Any, field: str) -> int:
    return _bits_call(bits.io_status_value, _require(v, field, IO_STATUS_BITS, {}), field)


def _analog_from_json(v: Any, field: str) -> int:
    return _bits_call(bits.analog_value, _require(v, field, ANALOG_KEYS, {}), field)


def _map_from_json(v: Any, field: str, spec: tuple[tuple[str, int, bool], ...]) -> dict[str, int]:
    obj = _obj(v, field)
    out = {}
    for k, hi, required in spec:
        if k in obj:
            out[k] = _int(obj[k], f"{field}.{k}", 0, hi)
        elif required:
            raise BodyError("is missing", field=f"{field}.{k}")
    return out


def _uint_from(hi: int) -> Any:
    return lambda v, field: _int(v, field, 0, hi)


#: standard key -> (id, JSON value -> value for the item codec)
_KEY_PARSERS: dict[str, tuple[int, Any]] = {
    "mileage": (0x01, _uint_from(0xFFFFFFFF)),
    "fuel_meter": (0x02, _uint_from(0xFFFF)),
    "speed": (0x03, _uint_from(0xFFFF)),
    "alarm_id": (0x04, _uint_from(0xFFFF)),
    "tire_pressure": (0x05, _unb64),
    "carriage_temp": (0x06, lambda v, field: _int(v, field, -0x8000, 0x7FFF)),
    "overspeed_alarm": (0x11, lambda v, field: _map_from_json(v, field, (("type", 0xFF, True),
                                                                         ("id", 0xFFFFFFFF, False)))),
    "in_out_alarm": (0x12, lambda v, field: _map_from_json(v, field, (("type", 0xFF, True),
                                                                      ("id", 0xFFFFFFFF, True),
                                                                      ("direction", 0xFF, True)))),
    "path_time_alarm": (0x13, lambda v, field: _map_from_json(v, field, (("id", 0xFFFFFFFF, True),
                                                                         ("time", 0xFFFF, True),
                                                                         ("result", 0xFF, True)))),
    "signal": (0x25, _signal_from_json),
    "io_status": (0x2A, _io_from_json),
    "analog": (0x2B, _analog_from_json),
    "rssi": (0x30, _uint_from(0xFF)),
    "gnss_sat_num": (0x31, _uint_from(0xFF)),
}
# Fast renderers with the output of bits.signal_map / io_status_map / analog_map (tested equal): the
# 15 signal flags as two precomputed halves merged, IO status from a 4-entry table.
_SIG_LO = [{k: (n >> i) & 1 for i, k in enumerate(SIGNAL_BITS[:8])} for n in range(256)]
_SIG_HI = [{k: (n >> i) & 1 for i, k in enumerate(SIGNAL_BITS[8:])} for n in range(1 << (len(SIGNAL_BITS) - 8))]
_IO_T = [{k: (n >> i) & 1 for i, k in enumerate(IO_STATUS_BITS)} for n in range(1 << len(IO_STATUS_BITS))]
_NSIG, _NIO = len(SIGNAL_BITS), len(IO_STATUS_BITS)


def _signal_json(v: int) -> dict[str, int]:
    if type(v) is not int or not 0 <= v <= 0xFFFFFFFF:
        return bits.signal_map(v)  # raises the located error
    out = {**_SIG_LO[v & 0xFF], **_SIG_HI[(v >> 8) & ((1 << (_NSIG - 8)) - 1)]}
    if v >> _NSIG:
        out["reserved"] = v >> _NSIG
    return out


def _io_json(v: int) -> dict[str, int]:
    if type(v) is not int or not 0 <= v <= 0xFFFF:
        return bits.io_status_map(v)
    out = dict(_IO_T[v & ((1 << _NIO) - 1)])
    if v >> _NIO:
        out["reserved"] = v >> _NIO
    return out


def _analog_json(v: int) -> dict[str, int]:
    if type(v) is not int or not 0 <= v <= 0xFFFFFFFF:
        return bits.analog_map(v)
    return {"ad0": v & 0xFFFF, "ad1": v >> 16}


_ID_RENDER = {0x25: _signal_json, 0x2A: _io_json, 0x2B: _analog_json}
_LOC_KEYS = frozenset(("alarm", "status", "latitude", "longitude", "altitude", "speed", "direction", "time",
                       "extra", "extra_dups", "extra_order", "bad_tail"))


_std_codec = STANDARD_EXTRAS.get


def _item_bytes(eid: int, v: Any, tbl: dict[int, ExtraCodec]) -> bytes:
    if isinstance(v, bytes | bytearray):
        return bytes(v)
    c = tbl.get(eid) or _std_codec(eid)
    if c is None:
        raise EncodeError(f"additional-info 0x{eid:02X} has no codec", field="extra")
    return c.encode(v)


def _render_item(eid: int, v: Any, tbl: dict[int, ExtraCodec], version: Version) -> tuple[str | None, Any]:
    """(key, JSON value) of one item; key ``None`` means the ``custome`` map.

    Bytes values (unknown ids, known ids with a bad length, a profile codec's raw bytes) go under
    ``"<decimal id>"`` or ``custome``, except tire pressure, whose JSON value is base64 anyway (EMQX
    accepts it at any length in 2019). Everything else goes under its codec's key.
    """
    c = tbl.get(eid)
    if isinstance(v, bytes | bytearray):
        if eid in _BYTES_IDS and c is not None:
            return c.key, _b64(v)
        if _CUSTOM_LO <= eid <= _CUSTOM_HI:
            return None, _b64(v)
        return str(eid), _b64(v)
    std = _std_codec(eid)
    if c is None:
        c = std
        if c is None:
            return str(eid), v  # a value some codec produced, JSON-native (checked by json.dumps)
    render = _ID_RENDER.get(eid)
    if render is not None and c is std:
        return c.key, render(v)
    if isinstance(v, dict):
        return c.key, dict(v)
    return c.key, v


def _plan(tbl: dict[int, ExtraCodec]) -> dict[int, tuple[str, Any]]:
    """id -> (key, render or None) for the items whose (non-bytes) value renders under a key."""
    plan = _PLANS.get(id(tbl))
    if plan is None or plan[0] is not tbl:
        p: dict[int, tuple[str, Any]] = {}
        for eid, c in tbl.items():
            render = _ID_RENDER.get(eid) if c is _std_codec(eid) else None
            if render is None and eid in _DICT_IDS and c is _std_codec(eid):
                render = dict
            p[eid] = (c.key, render)
        plan = _PLANS[id(tbl)] = (tbl, p)
    return plan[1]


_PLANS: dict[int, tuple[dict[int, ExtraCodec], dict[int, tuple[str, Any]]]] = {}
_DICT_IDS = frozenset({0x11, 0x12, 0x13})  # standard items whose value is a dict (copied into the JSON)


def _raw_json(eid: int, tbl: dict[int, ExtraCodec]) -> Any:
    return lambda v: _b64(_item_bytes(eid, v, tbl))


def location_to_json(report: Any, version: Version | None = None,
                     profile: Profile | None = None) -> dict[str, Any]:
    """The seed-004/EMQX JSON of a location report (``LocationReport``).

    Basic fields, then ``extra`` (only when items exist). Items: standard keys, bit maps for
    ``signal``/``io_status``/``analog``, ``custome`` for ids 0xE1-0xFF, ``"<decimal id>": base64``
    for anything else (unknown ids, known ids with a bad length, 0x05/0x06 in 2013).
    """
    if version is None:
        version = V2013
    out: dict[str, Any] = {
        "alarm": report.alarm, "status": report.status, "latitude": report.latitude,
        "longitude": report.longitude, "altitude": report.altitude, "speed": report.speed,
        "direction": report.direction, "time": report.time,
    }
    extras = report.extras
    if extras:
        tbl = _std_table(profile or DEFAULT_PROFILE, version)
        plan = _plan(tbl)
        extra: dict[str, Any] = {}
        seen: set[int] = set()
        dups: list[dict[str, Any]] = []
        canonical: list[Any] = []  # ids in key insertion order (None = the custome map)
        custom_ids: list[int] = []
        get = plan.get
        for eid, v in extras:
            # Only the first occurrence of an id goes into the map; every later one, in order, into
            # extra_dups. from_json takes an id's occurrences in that order, so comparing id sequences
            # below is enough to know whether extra_order is needed.
            if eid in seen:
                dups.append({"id": eid, "data": _b64(_item_bytes(eid, v, tbl))})
                continue
            seen.add(eid)
            hit = get(eid)
            if hit is not None and type(v) is not bytes and type(v) is not RawExtra:
                key, render = hit
                if key in extra:  # two ids of a profile sharing one key: the later one by its number
                    key, render = str(eid), _raw_json(eid, tbl)
                extra[key] = render(v) if render is not None else v
                canonical.append(eid)
                continue
            key, jv = _render_item(eid, v, tbl, version)
            if key is None:
                cm = extra.get("custome")
                if cm is None:
                    cm = extra["custome"] = {}
                    canonical.append(None)
                cm[str(eid)] = jv
                custom_ids.append(eid)
            else:
                extra[key] = jv
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
            wire = [eid for eid, _ in extras]
            if rebuilt != wire:
                out["extra_order"] = wire
    if report.bad_tail:
        out["bad_tail"] = _b64(report.bad_tail)
    return out


def _key_table(profile: Profile, version: Version) -> dict[str, tuple[int, Any]]:
    """JSON key -> (id, parser) for this profile: standard keys plus the profile's own codecs."""
    cache = profile.__dict__.setdefault("_json_extra_keys", {})
    gen = len(profile.extras)
    hit = cache.get(version)
    if hit is not None and hit[0] == gen:
        return hit[1]
    table = dict(_KEY_PARSERS)
    for eid, c in profile.extras.items():
        if c.key and c.key not in table and c is not _std_codec(eid):
            table[c.key] = (eid, None)
    cache[version] = (gen, table)
    return table


def _id_key(k: str, field: str) -> int:
    try:
        eid = int(k, 10)
    except ValueError:
        raise BodyError("is not an additional-info key (nor a decimal id)", field=field) from None
    if not 0 <= eid <= 0xFFFF or k != str(eid):
        raise BodyError("is not a valid decimal additional-info id", field=field)
    return eid


def location_from_json(obj: Any, version: Version | None = None, profile: Profile | None = None) -> Any:
    """Build a ``LocationReport`` from its JSON; a missing or ill-typed field raises :class:`BodyError`."""
    if version is None:
        version = V2013
    if not isinstance(obj, dict):
        raise BodyError(f"location expects a JSON object, got {type(obj).__name__}")
    vals: list[Any] = []
    for name, hi in _BASIC_INT:
        if name not in obj:
            raise BodyError("is missing", field=name)
        vals.append(_int(obj[name], name, 0, hi))
    if "time" not in obj:
        raise BodyError("is missing", field="time")
    t = obj["time"]
    if type(t) is int and 0 <= t < 10 ** 12:
        t = str(t).rjust(12, "0")
    if not isinstance(t, str) or len(t) != 12:
        raise BodyError("expects 12 BCD digits YYMMDDhhmmss", field="time")
    try:
        bytes.fromhex(t)
    except ValueError:
        raise BodyError("expects 12 BCD digits YYMMDDhhmmss", field="time") from None
    extras: list[tuple[int, Any]] = []
    extra = obj.get("extra")
    if extra is not None:
        keys = _key_table(profile or DEFAULT_PROFILE, version)
        for k, v in _obj(extra, "extra").items():
            field = f"extra.{k}"
            hit = keys.get(k)
            if hit is not None:
                eid, parse = hit
                extras.append((eid, parse(v, field) if parse is not None else v))
            elif k == "custome":
                for ck, cv in _obj(v, field).items():
                    extras.append((_id_key(ck, f"{field}.{ck}"), _unb64(cv, f"{field}.{ck}")))
            else:
                eid = _id_key(k, field)
                extras.append((eid, _unb64(v, field) if isinstance(v, str) else v))
    dups = obj.get("extra_dups")
    if dups is not None:
        if not isinstance(dups, list):
            raise BodyError(f"expects a list, got {type(dups).__name__}", field="extra_dups")
        for i, d in enumerate(dups):
            f = f"extra_dups[{i}]"
            d = _obj(d, f)
            if "id" not in d:
                raise BodyError("is missing", field=f"{f}.id")
            if "data" not in d:
                raise BodyError("is missing", field=f"{f}.data")
            extras.append((_int(d["id"], f"{f}.id", 0, 0xFFFF), _unb64(d["data"], f"{f}.data")))
    order = obj.get("extra_order")
    if order is not None:
        if not isinstance(order, list):
            raise BodyError(f"expects a list, got {type(order).__name__}", field="extra_order")
        queues: dict[int, list[Any]] = {}
        for eid, v in extras:
            queues.setdefault(eid, []).append(v)
        ordered: list[tuple[int, Any]] = []
        for i, eid in enumerate(order):
            _int(eid, f"extra_order[{i}]", 0, 0xFFFF)
            q = queues.get(eid)
            if not q:
                raise BodyError(f"names 0x{eid:02X} more often than 'extra'/'extra_dups' hold it",
                                field="extra_order")
            ordered.append((eid, q.pop(0)))
        left = [eid for eid, q in queues.items() if q]
        if left:
            raise BodyError(f"does not list item(s) {left}", field="extra_order")
        extras = ordered
    bad = obj.get("bad_tail")
    bad_tail = _unb64(bad, "bad_tail") if bad is not None else b""
    return LocationReport(*vals, t, extras, bad_tail)


# =============================================================================================
# Header and packet
# =============================================================================================
def header_to_json(h: Header, body_len: int | None = None) -> dict[str, Any]:
    """EMQX's header object. ``len`` is the length field as sent (or ``body_len`` when given)."""
    out: dict[str, Any] = {"msg_id": h.msg_id, "encrypt": h.encrypt,
                           "len": h.length if body_len is None else body_len}
    if h.version is V2019:
        out["proto_ver"] = h.proto_ver
    out["phone"] = h.phone
    out["msg_sn"] = h.msg_sn
    if h.frag_total:
        out["frag_total"] = h.frag_total
        out["frag_sn"] = h.frag_sn
    if h.reserved:
        out["reserved"] = h.reserved
    return out


def to_json(packet: Packet, profile: Profile | None = None) -> dict[str, Any]:
    """A packet as EMQX JSON: ``{"header": {...}, "body": {...}}`` (plus ``tail`` when the body had
    bytes after its last field). Unknown, vendor, reserved, encrypted-without-key and fragment bodies
    are ``{"unknown_id": true, "data": base64}``."""
    h = packet.header
    body = packet.body
    version = h.version
    bj = location_to_json(body, version, profile) if type(body) is LocationReport else body.to_json(version)
    body_len = None
    if packet.raw_body is None and not h.length:  # built here, not decoded: say what would be sent
        try:
            data = body.data if isinstance(body, RawBody) else encode_body(body, version, profile or DEFAULT_PROFILE,
                                                                           h.msg_id)
            body_len = len(data) + len(packet.tail)
        except (EncodeError, TypeError, ValueError, AttributeError, OverflowError):
            body_len = h.length  # an invalid hand-built body: say what the header holds
    out: dict[str, Any] = {"header": header_to_json(h, body_len), "body": bj}
    if packet.tail:
        out["tail"] = _b64(packet.tail)
    return out


def _phone(v: Any, width: int, msg_id: int | None) -> str:
    n = 2 * width
    if type(v) is int and v >= 0:
        v = str(v)
    if not isinstance(v, str):
        raise HeaderError(f"expects a digit string, got {type(v).__name__}", field="phone", msg_id=msg_id)
    if len(v) != n:
        if len(v) > n or not v:
            raise HeaderError(f"has {len(v)} digits, the header holds {n}", field="phone", msg_id=msg_id)
        v = v.rjust(n, "0")
    try:
        bytes.fromhex(v)
    except ValueError:
        raise HeaderError("expects BCD digits", field="phone", msg_id=msg_id) from None
    return v


def _hint(v: Any, field: str, hi: int, msg_id: int | None) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise HeaderError(f"expects an integer, got {type(v).__name__}", field=field, msg_id=msg_id)
    if not 0 <= v <= hi:
        raise HeaderError(f"{v} is out of range 0..{hi}", field=field, msg_id=msg_id)
    return v


def header_from_json(obj: Any, version: Version | None = None) -> Header:
    """Build a :class:`Header` from EMQX's header object.

    ``proto_ver`` present means 2019; otherwise 2013 (or ``version`` when given: 2011, or 2019 with
    ``proto_ver`` 1). ``phone`` may be a string or an integer (seed 004's example) and is left-padded
    with zeros to 12 / 20 digits. ``len`` is ignored (recomputed when encoding).
    """
    if not isinstance(obj, dict):
        raise HeaderError(f"header expects a JSON object, got {type(obj).__name__}", field="header")
    if "msg_id" not in obj:
        raise HeaderError("is missing", field="msg_id")
    mid = _hint(obj["msg_id"], "msg_id", 0xFFFF, None)
    for k in ("phone", "msg_sn"):
        if k not in obj:
            raise HeaderError("is missing", field=k, msg_id=mid)
    if "proto_ver" in obj:
        if version is not None and version is not V2019:
            raise HeaderError(f"proto_ver means 2019, but version {version} was asked for", field="proto_ver",
                              msg_id=mid)
        ver = V2019
        proto_ver = _hint(obj["proto_ver"], "proto_ver", 0xFF, mid)
    else:
        ver = version if version is not None else V2013
        proto_ver = 1
    phone = _phone(obj["phone"], 10 if ver is V2019 else 6, mid)
    sn = _hint(obj["msg_sn"], "msg_sn", 0xFFFF, mid)
    enc = _hint(obj.get("encrypt", 0), "encrypt", 0b111, mid)
    if "len" in obj:  # recomputed; a body over 1023 bytes (before sub-packaging) may say more
        _hint(obj["len"], "len", 0xFFFFFFFF, mid)
    ft = fs = 0
    if "frag_total" in obj or "frag_sn" in obj:
        for k in ("frag_total", "frag_sn"):
            if k not in obj:
                raise HeaderError("is missing (frag_total and frag_sn come together)", field=k, msg_id=mid)
        ft = _hint(obj["frag_total"], "frag_total", 0xFFFF, mid)
        fs = _hint(obj["frag_sn"], "frag_sn", 0xFFFF, mid)
        if ft == 0:
            raise HeaderError("must be at least 1", field="frag_total", msg_id=mid)
    reserved = _hint(obj.get("reserved", 0), "reserved", 0xFFFF, mid)
    if reserved & ~(0x8000 if ver is V2019 else 0xC000):
        raise HeaderError("only bits 15 (and 14 before 2019) are reserved", field="reserved", msg_id=mid)
    return Header(mid, phone, sn, ver, encrypt=enc, frag_total=ft, frag_sn=fs, proto_ver=proto_ver,
                  reserved=reserved)


def from_json(obj: Any, profile: Profile | None = None, *, version: Version | int | str | None = None) -> Packet:
    """Build a :class:`Packet` from EMQX JSON, validated.

    Any missing, ill-typed or out-of-range field raises :class:`~jt808.errors.DecodeError`
    (:class:`HeaderError` or :class:`BodyError`) naming the field and the message id; no packet is
    returned half built. The body is checked by encoding it. A body ``{"unknown_id": true, "data":
    base64}`` (or any body of an id without a registered class) is kept as bytes.
    """
    prof = profile or DEFAULT_PROFILE
    if not isinstance(obj, dict):
        raise DecodeError(f"expects a JSON object with 'header' and 'body', got {type(obj).__name__}")
    if "header" not in obj:
        raise HeaderError("is missing", field="header")
    forced = Version.parse(version) if version is not None else None
    h = header_from_json(obj["header"], forced)
    mid, ver = h.msg_id, h.version
    bj = obj.get("body", {})
    if bj is None:
        bj = {}
    tail = b""
    if "tail" in obj:
        try:
            tail = _unb64(obj["tail"], "tail")
        except DecodeError as e:
            raise e.locate(msg_id=mid, version=ver) from None
    try:
        if not isinstance(bj, dict):
            raise BodyError(f"expects a JSON object, got {type(bj).__name__}", field="body")
        body: Any
        if bj.get("unknown_id") is True:
            if "data" not in bj:
                raise BodyError("is missing", field="data")
            reason = "fragment" if h.frag_total > 1 else ("encrypted" if h.encrypt & 1 else "unknown")
            body = RawBody(_unb64(bj["data"], "data"), reason)
            data_len = len(body.data)
        else:
            cls = prof.lookup(mid, ver)
            if cls is None:
                if "data" in bj:
                    raise BodyError("'unknown_id': true is missing for an id without a body layout",
                                    field="unknown_id")
                raise BodyError(f"no body layout for 0x{mid:04X} in {ver}: send "
                                '{"unknown_id": true, "data": base64}', field="body")
            body = location_from_json(bj, ver, prof) if cls is LocationReport else cls.from_json(bj, ver)
            data_len = len(encode_body(body, ver, prof, mid))  # validates every value
    except DecodeError as e:
        raise e.locate(msg_id=mid, version=ver) from None
    except EncodeError as e:
        raise BodyError(e.reason, field=e.field, msg_id=mid, version=ver) from None
    except KeyError as e:
        raise BodyError("is missing", field=str(e.args[0]) if e.args else None, msg_id=mid, version=ver) from None
    except (TypeError, ValueError, AttributeError, IndexError, OverflowError) as e:
        raise BodyError(f"invalid body ({type(e).__name__}: {e})", msg_id=mid, version=ver) from None
    h.length = data_len + len(tail)
    return Packet(h, body, None, None, tail)

