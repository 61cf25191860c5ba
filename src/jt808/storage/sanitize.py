"""Values made storable at the storage boundary, and rows rendered for the quarantine.

Every store takes the same values:

- text with characters a store cannot hold — lone surrogates (the bytes a GBK or UTF-8 decode could
  not read, kept by ``surrogateescape``: U+DC80–U+DCFF stand for the bytes 0x80–0xFF) and NUL (which
  PostgreSQL refuses in ``text`` and ``jsonb``) — is kept with those characters escaped: an undecodable
  byte as ``\\xNN`` (``\\x00`` for NUL), any other lone surrogate as ``\\uDNNN``;
- floats that JSON cannot hold (NaN, ±infinity) become the strings ``"NaN"``, ``"Infinity"``,
  ``"-Infinity"``.

A device time more than :data:`FUTURE_LIMIT` (a day) after the row's receive time is impossible (a clock
that never was set right, a BCD field of garbage that happens to be a date): the row keeps it as sent in
``time``, but is placed (the sort key ``t`` of time-range queries) by its receive time, as a row without a
device time is (:func:`placed_at`).

Each repair is counted in :data:`repairs` (``/metrics``: ``jt808_storage_values_repaired_total``).
What cannot be repaired (an integer too large for its column, a value of a type the store does not
know) fails its row, and only its row (:mod:`jt808.storage.batch`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

__all__ = ["FUTURE_LIMIT", "clean_obj", "clean_terminal", "clean_text", "error_text", "needs_cleaning", "placed_at",
           "repairs", "row_json"]

#: repairs made, by kind ("text", "number", "time")
repairs: Counter[str] = Counter()

FUTURE_LIMIT = timedelta(days=1)
FUTURE_LIMIT_US = 86_400_000_000


def placed_at(time: datetime | None, received_at: datetime) -> datetime:
    """Where a location sorts: its device time, or its receive time when it has none or one more than
    :data:`FUTURE_LIMIT` after it (counted as a repair of kind "time")."""
    if time is None:
        return received_at
    if time > received_at + FUTURE_LIMIT:
        repairs["time"] += 1
        return received_at
    return time

_BAD = re.compile("[\x00\ud800-\udfff]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:
        return f"\\x{c - 0xDC00:02x}"
    if c == 0:
        return "\\x00"
    return f"\\u{c:04x}"


def clean_text(s: str) -> str:
    """``s`` with NUL and lone surrogates escaped (``s`` itself when it has none)."""
    if s.isascii() and "\x00" not in s:
        return s
    if _BAD.search(s) is None:
        return s
    repairs["text"] += 1
    return _BAD.sub(_escape, s)


def clean_obj(obj: Any) -> Any:
    """A JSON-ready value with every string cleaned (:func:`clean_text`) and NaN/infinity as strings."""
    t = type(obj)
    if t is str:
        return clean_text(obj)
    if t is dict or isinstance(obj, dict):
        return {clean_text(k) if type(k) is str else k: clean_obj(v) for k, v in obj.items()}
    if t is list or t is tuple or isinstance(obj, list | tuple | set | frozenset):
        return [clean_obj(v) for v in obj]
    if t is float and not math.isfinite(obj):
        repairs["number"] += 1
        return "NaN" if obj != obj else ("Infinity" if obj > 0 else "-Infinity")
    return obj


def needs_cleaning(text: str) -> bool:
    """Whether JSON text rendered with ``ensure_ascii=False`` holds something a store refuses:
    a lone surrogate (not encodable as UTF-8), an escaped NUL, or NaN/Infinity."""
    if "\\u0000" in text:
        return True
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return True
    return False


def error_text(e: BaseException, limit: int = 2000) -> str:
    """``Type: message`` of an exception, cleaned and bounded (for logs and the quarantine)."""
    text = clean_text(f"{type(e).__name__}: {e}")
    return text if len(text) <= limit else text[:limit] + "…"


def row_json(row: Any) -> dict[str, Any]:
    """Every field of a row dataclass as a JSON-ready map (times as ISO text, strings cleaned)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(row):
        if f.name == "extras_json":
            continue
        v = getattr(row, f.name)
        if isinstance(v, datetime):
            v = v.isoformat()
        elif isinstance(v, bytes | bytearray | memoryview):
            v = bytes(v).hex()
        out[f.name] = clean_obj(v)
    # only JSON types from here on: whatever else a row held is kept as its (cleaned) representation
    return json.loads(json.dumps(out, allow_nan=False, default=lambda o: clean_text(repr(o))))


def clean_terminal(rec: Any) -> Any:
    """A :class:`~jt808.storage.base.TerminalRecord` with its text fields cleaned (``rec`` itself when clean)."""
    changes = {}
    for name in _text_fields(type(rec)):
        v = getattr(rec, name)
        if type(v) is str and not (v.isascii() and "\x00" not in v):
            c = clean_text(v)
            if c is not v:
                changes[name] = c
    return dataclasses.replace(rec, **changes) if changes else rec


_TEXT_FIELDS: dict[type, tuple[str, ...]] = {}


def _text_fields(cls: type) -> tuple[str, ...]:
    names = _TEXT_FIELDS.get(cls)
    if names is None:
        names = _TEXT_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.type in (str, "str"))
    return names
