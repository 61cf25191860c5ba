"""EMQX-compatible JSON (seed 004) for whole packets: ``{"header": {...}, "body": {...}}``.

:func:`to_json` / :func:`from_json` convert a :class:`~jt808.protocol.packet.Packet` to and from the
JSON that EMQX's JT/T 808 gateway exchanges over MQTT. The body JSON comes from each body class
(``to_json(version)`` / ``from_json(obj, version)``); this module adds the header, the unknown-id
form and validation with located errors. The location report's JSON (0x0200, with its ``extra`` map)
lives next to its message in :mod:`jt808.protocol.messages.location`.

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

from typing import Any

from jt808.errors import BodyError, DecodeError, EncodeError, HeaderError
from jt808.protocol.header import V2013, V2019, Header, Version
from jt808.protocol.jsonutil import b64, unb64
from jt808.protocol.messages.location import LocationReport, location_from_json, location_to_json
from jt808.protocol.messages.tracking import BatchLocations, LocationQueryReply, VehicleControlReply
from jt808.protocol.packet import Packet, RawBody, encode_body
from jt808.protocol.registry import DEFAULT_PROFILE, Profile

__all__ = [
    "body_json",
    "from_json",
    "header_from_json",
    "header_to_json",
    "location_from_json",
    "location_to_json",
    "to_json",
]


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


#: bodies holding 0x0200 items, whose JSON depends on the profile's item table
_WITH_ITEMS = (LocationReport, LocationQueryReply, VehicleControlReply, BatchLocations)


def body_json(body: Any, version: Version, profile: Profile | None = None) -> Any:
    """A body's JSON; the bodies holding 0x0200 items render them with ``profile``'s item table."""
    return body.to_json(version, profile) if isinstance(body, _WITH_ITEMS) else body.to_json(version)


def to_json(packet: Packet, profile: Profile | None = None) -> dict[str, Any]:
    """A packet as EMQX JSON: ``{"header": {...}, "body": {...}}`` (plus ``tail`` when the body had
    bytes after its last field). Unknown, vendor, reserved, encrypted-without-key and fragment bodies
    are ``{"unknown_id": true, "data": base64}``."""
    h = packet.header
    body = packet.body
    version = h.version
    bj = location_to_json(body, version, profile) if type(body) is LocationReport else body_json(body, version, profile)
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
        out["tail"] = b64(packet.tail)
    return out


def _phone(v: object, width: int, msg_id: int | None) -> str:
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


def header_from_json(obj: Any, version: Version | None = None, default: Version = V2013) -> Header:
    """Build a :class:`Header` from EMQX's header object.

    ``proto_ver`` present means 2019; otherwise ``default`` (2013, or a profile's ``default_version``),
    or ``version`` when given (2011, or 2019 with ``proto_ver`` 1). ``phone`` may be a string or an
    integer (seed 004's example) and is left-padded with zeros to 12 / 20 digits. ``len`` is ignored
    (recomputed when encoding).
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
        ver = version if version is not None else default
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
    h = header_from_json(obj["header"], forced, prof.default_version)
    mid, ver = h.msg_id, h.version
    bj = obj.get("body", {})
    if bj is None:
        bj = {}
    tail = b""
    if "tail" in obj:
        try:
            tail = unb64(obj["tail"], "tail")
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
            body = RawBody(unb64(bj["data"], "data"), reason)
            data_len = len(body.data)
        else:
            cls = prof.lookup(mid, ver)
            if cls is None:
                if "data" in bj:
                    raise BodyError("'unknown_id': true is missing for an id without a body layout",
                                    field="unknown_id")
                raise BodyError(f"no body layout for 0x{mid:04X} in {ver}: send "
                                '{"unknown_id": true, "data": base64}', field="body")
            body = cls.from_json(bj, ver, prof) if issubclass(cls, _WITH_ITEMS) else cls.from_json(bj, ver)
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

