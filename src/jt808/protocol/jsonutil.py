"""Checks and conversions shared by the JSON forms of bodies, items and parameters.

Every failure is a :class:`~jt808.errors.BodyError` naming the field, so a caller can locate it
(``e.locate(msg_id=…)``). Nothing here knows a message.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from jt808.errors import BodyError

__all__ = ["b64", "json_int", "json_obj", "text_len", "unb64"]


def b64(data: bytes) -> str:
    """Base64 text of ``data`` (the JSON form of every binary value)."""
    return base64.b64encode(data).decode("ascii")


def unb64(v: Any, field: str) -> bytes:
    """The bytes of a base64 JSON value; anything else is a located error."""
    if not isinstance(v, str):
        raise BodyError(f"expects base64 text, got {type(v).__name__}", field=field)
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise BodyError("is not valid base64", field=field) from None


def json_int(v: Any, field: str, lo: int, hi: int) -> int:
    """An integer JSON value within ``lo..hi`` (booleans are not integers here)."""
    if type(v) is not int and (isinstance(v, bool) or not isinstance(v, int)):
        raise BodyError(f"expects an integer, got {type(v).__name__}", field=field)
    if v < lo or v > hi:
        raise BodyError(f"{v} is out of range {lo}..{hi}", field=field)
    return int(v)


def json_obj(v: Any, field: str) -> dict[str, Any]:
    """A JSON object value."""
    if not isinstance(v, dict):
        raise BodyError(f"expects a JSON object, got {type(v).__name__}", field=field)
    return v


def text_len(text: str) -> int:
    """Byte length of a text in GBK, the standard's encoding (UTF-8 when GBK cannot hold it): the seed-004
    ``…_len`` keys beside length-prefixed strings."""
    try:
        return len(text.encode("gbk", "surrogateescape"))
    except UnicodeEncodeError:
        return len(text.encode("utf-8", "surrogateescape"))
