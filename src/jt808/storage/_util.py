"""Small conversions shared by the backends: UTC times, JSON columns."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any, overload
from urllib.parse import urlsplit, urlunsplit

from jt808.storage.sanitize import clean_obj, needs_cleaning

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@overload
def utc(dt: datetime) -> datetime: ...
@overload
def utc(dt: None) -> None: ...
def utc(dt: datetime | None) -> datetime | None:
    """An aware UTC datetime (naive values are taken as UTC)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    if dt.utcoffset() == timedelta(0) and dt.tzinfo is UTC:
        return dt
    return dt.astimezone(UTC)


def to_us(dt: datetime | None) -> int | None:
    """Microseconds since the Unix epoch (exact, unlike ``timestamp()``)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - EPOCH) // _US


@overload
def from_us(us: int) -> datetime: ...
@overload
def from_us(us: None) -> None: ...
def from_us(us: int | None) -> datetime | None:
    if us is None:
        return None
    return EPOCH + timedelta(microseconds=us)


def _default(obj: Any) -> Any:
    if isinstance(obj, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(obj)).decode("ascii")
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default, allow_nan=False)
_encode = _encoder.encode
loads = json.loads


def dumps(obj: Any) -> str:
    """Compact JSON text that every store accepts (see :mod:`jt808.storage.sanitize`)."""
    try:
        text = _encode(obj)
    except ValueError:  # NaN or infinity
        return _encode(clean_obj(obj))
    if needs_cleaning(text):
        return _encode(clean_obj(obj))
    return text


def dumps_or_none(obj: dict[str, Any] | None) -> str | None:
    """JSON text of a dict; ``None`` for ``None`` or an empty dict (saves a column per row)."""
    if not obj:
        return None
    return dumps(obj)


def loads_dict(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    return json.loads(text)


def alarm_filter(phone: str | None, start: Any, end: Any, kind: str | None, acknowledged: bool | None,
                 mark: str) -> tuple[str, tuple[Any, ...]]:
    """`` WHERE …`` of an alarm query and its parameters (``start``/``end`` already in the column's type;
    ``mark`` ``?`` for SQLite, ``$`` for PostgreSQL's numbered parameters)."""
    conds: list[str] = []
    params: list[Any] = []
    for cond, value in (("phone = %", phone), ("t >= %", start), ("t < %", end), ("kind = %", kind)):
        if value is not None:
            params.append(value)
            conds.append(cond.replace("%", "?" if mark == "?" else f"${len(params)}"))
    if acknowledged is not None:
        conds.append("acknowledged_at IS NOT NULL" if acknowledged else "acknowledged_at IS NULL")
    return (" WHERE " + " AND ".join(conds) if conds else ""), tuple(params)


def redact_url(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    try:
        parts = urlsplit(url)
        if parts.password:
            return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))
    except ValueError:
        pass
    return url
