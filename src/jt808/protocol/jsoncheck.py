"""What :func:`~jt808.protocol.exchange.from_json` accepts but a strict encoder should refuse.

``from_json`` builds a packet from the keys it knows and ignores the rest; a BCD time is packed digit
by digit. :func:`json_problems` compares the input with the packet built from it and says what would go
out differently from what was asked: keys that were ignored (a typo, a field of another version) and
``YYMMDDhhmmss`` times that are no date (month 13, hour 25). Derived from the message declarations
(the packet's own ``to_json`` and its ``wire`` fields), so it knows every message the codec knows.
"""

from __future__ import annotations

from typing import Any

from jt808.protocol.exchange import body_json
from jt808.protocol.packet import Packet
from jt808.protocol.registry import Profile

__all__ = ["check_time", "json_problems"]

_HEADER_KEYS = {"msg_id", "encrypt", "phone", "msg_sn", "len", "proto_ver", "frag_total", "frag_sn", "version",
                "reserved"}


def json_problems(obj: dict[str, Any], packet: Packet, *, unknown_keys: bool = True,
                  profile: Profile | None = None) -> list[str]:
    """Problems of ``obj`` (seed-004 JSON) given the ``packet`` that ``from_json`` made of it; empty when
    the frame says exactly what the JSON says. ``unknown_keys=False``: only values (phone, times), for
    callers that send one JSON to terminals of several versions. ``profile``: the one ``from_json`` used (its
    item rows name the 0x0200 items)."""
    out: list[str] = []
    header = obj.get("header")
    if isinstance(header, dict):
        if unknown_keys:
            out += [f"header: unknown key {k!r}" for k in header if k not in _HEADER_KEYS]
        phone = header.get("phone")
        if isinstance(phone, str) and not phone.isdigit():
            out.append(f"header.phone: {phone!r} must be digits only")
    body = obj.get("body")
    version = packet.header.version
    try:
        rendered = body_json(packet.body, version, profile)
    except Exception:  # a raw or hand-made body: nothing to compare with
        return out
    if isinstance(body, dict) and isinstance(rendered, dict) and not body.get("unknown_id"):
        if unknown_keys:
            _unknown(body, rendered, "body", out)
        _times(packet.body, version, "body", out)
    return out


def _unknown(given: Any, rendered: Any, path: str, out: list[str]) -> None:
    if isinstance(given, dict) and isinstance(rendered, dict):
        for k, v in given.items():
            if k not in rendered:
                out.append(f"{path}: unknown key {k!r}" + (f" (known: {', '.join(map(str, rendered))})"
                                                           if rendered else " (this body has no fields)"))
            else:
                _unknown(v, rendered[k], f"{path}.{k}", out)
    elif isinstance(given, list) and isinstance(rendered, list) and len(given) == len(rendered):
        for i, (g, r) in enumerate(zip(given, rendered, strict=True)):
            _unknown(g, r, f"{path}[{i}]", out)


def _times(obj: Any, version: Any, path: str, out: list[str]) -> None:
    from jt808.protocol.spec import _Bcd, _List

    for s in getattr(type(obj), "__wire__", ()):
        if not s.active(version):
            continue
        kind = s.kind_for(version)
        value = getattr(obj, s.name, None)
        if isinstance(kind, _Bcd) and kind.size == 6 and s.name.endswith("time") and isinstance(value, str):
            problem = check_time(value)
            if problem:
                out.append(f"{path}.{s.key}: {problem}")
        elif isinstance(kind, _List) and isinstance(value, list):
            for i, item in enumerate(value):
                _times(item, version, f"{path}.{s.key}[{i}]", out)
        elif hasattr(type(value), "__wire__"):
            _times(value, version, f"{path}.{s.key}", out)


def check_time(text: str) -> str | None:
    """Why ``text`` is no ``YYMMDDhhmmss`` time (all zeros, "no time", is accepted), or None."""
    if len(text) != 12 or not text.isdigit():
        return f"{text!r} is not 12 digits YYMMDDhhmmss"
    if text == "0" * 12:
        return None
    month, day, hour, minute, second = (int(text[i:i + 2]) for i in range(2, 12, 2))
    for name, value, lo, hi in (("month", month, 1, 12), ("day", day, 1, 31), ("hour", hour, 0, 23),
                                ("minute", minute, 0, 59), ("second", second, 0, 59)):
        if not lo <= value <= hi:
            return f"{text!r}: {name} {value} is not {lo}..{hi}"
    return None
