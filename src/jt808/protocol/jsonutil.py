"""Checks and conversions shared by the JSON forms of bodies, items and parameters.

Every failure is a :class:`~jt808.errors.BodyError` naming the field, so a caller can locate it
(``e.locate(msg_id=…)``). Nothing here knows a message; :class:`LengthKeys` is the seed-004 length keys
of any declared structure.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, ClassVar

from jt808.errors import BodyError
from jt808.protocol.header import Version
from jt808.protocol.spec import Record

__all__ = ["LengthKeys", "b64", "json_field", "json_int", "json_obj", "text_len", "unb64"]


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


def json_field(obj: dict[str, Any], key: str, lo: int, hi: int) -> int:
    """``obj[key]``, an integer within ``lo..hi`` (a missing key is an error too)."""
    if key not in obj:
        raise BodyError("is missing", field=key)
    return json_int(obj[key], key, lo, hi)


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


class LengthKeys(Record):
    """Seed 004's length keys of length-prefixed values, added to the generic JSON mapping.

    ``_lengths`` maps a field's JSON key (its attribute name) to the key of its length, written just before
    it: the byte count of binary data, the GBK byte count of a text (:func:`text_len`). On input a length is
    ignored, unless ``_check_lengths``: then a given length must match the value.
    """

    __slots__ = ()
    _lengths: ClassVar[dict[str, str]] = {}
    _check_lengths: ClassVar[bool] = False

    def _length(self, key: str) -> int:
        v = getattr(self, key)
        return text_len(v) if isinstance(v, str) else len(v)

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in super().to_json(version).items():
            if k in self._lengths:
                out[self._lengths[k]] = self._length(k)
            out[k] = v
        return out

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> Any:
        body = super().from_json(obj, version)
        for k, lk in cls._lengths.items() if cls._check_lengths else ():
            if lk in obj and obj[lk] != body._length(k):
                raise BodyError(f"says {obj[lk]!r} but {k!r} has {body._length(k)} bytes", field=lk)
        return body
