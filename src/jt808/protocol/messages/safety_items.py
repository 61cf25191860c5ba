"""The active-safety alarm items of the location report (0x64 ADAS, 0x65 DSM, 0x66 TPMS, 0x67 BSD) as rows of
the item table, registered on the active-safety profiles (``subiao``, ``yuebiao``).

SuBiao and YueBiao lay the items out alike except for the alarm identification (16 / 40 bytes), so one row per
id reads both, telling them apart by the item's length (:func:`decode_safety_item`: the lengths differ by 24
bytes and a TPMS tyre is 9, so no length fits both). In JSON the item is its record's object (keys of
:class:`~jt808.protocol.messages.subiao.AdasAlarm` …) with ``"layout": "yuebiao"`` added for the 40-byte form.
"""

from __future__ import annotations

from typing import Any

from jt808.errors import BodyError, DecodeError
from jt808.protocol.buffer import Reader, Writer
from jt808.protocol.header import V2013
from jt808.protocol.jsonutil import json_obj
from jt808.protocol.messages import subiao, yuebiao
from jt808.protocol.registry import DEFAULT_PROFILE, ExtraCodec
from jt808.protocol.spec import Record

__all__ = ["SAFETY_ITEMS", "decode_safety_item", "encode_safety_item"]

_SUBIAO: dict[int, type[Record]] = {0x64: subiao.AdasAlarm, 0x65: subiao.DsmAlarm, 0x66: subiao.TireAlarm,
                                    0x67: subiao.BsdAlarm}
_YUEBIAO: dict[int, type[Record]] = {0x64: yuebiao.YueBiaoAdasAlarm, 0x65: yuebiao.YueBiaoDsmAlarm,
                                     0x66: yuebiao.YueBiaoTireAlarm, 0x67: yuebiao.YueBiaoBsdAlarm}
_BASE = {0x64: 47, 0x65: 47, 0x66: 41, 0x67: 41}  # SuBiao sizes (TPMS without tyres)


def decode_safety_item(item_id: int, value: Any) -> Record | None:
    """The record of an item 0x64–0x67 from its bytes (a record is returned as is); ``None`` when the bytes
    fit neither the SuBiao nor the YueBiao layout."""
    if isinstance(value, Record):
        return value
    if not isinstance(value, bytes | bytearray) or item_id not in _BASE:
        return None
    n = len(value)
    extra = n - _BASE[item_id]
    table = None
    if item_id == 0x66:
        if extra >= 0 and extra % 9 == 0 and value[40] * 9 == extra:
            table = _SUBIAO
        elif extra >= 24 and (extra - 24) % 9 == 0 and value[64] * 9 == extra - 24:
            table = _YUEBIAO
    elif extra == 0:
        table = _SUBIAO
    elif extra == 24:
        table = _YUEBIAO
    if table is None:
        return None
    r = Reader(bytes(value), V2013, DEFAULT_PROFILE)
    try:
        rec = table[item_id].decode(r)
    except DecodeError:
        return None
    return rec if r.pos == r.end else None


def encode_safety_item(rec: Any) -> bytes:
    if not isinstance(rec, Record):
        raise ValueError(f"an active-safety item needs its record, not {type(rec).__name__}")
    w = Writer(V2013)
    rec.encode(w)
    return bytes(w.out)


def _row(eid: int, key: str, description: str) -> ExtraCodec:
    def decode(b: bytes) -> Record:
        rec = decode_safety_item(eid, b)
        if rec is None:
            raise ValueError(f"{len(b)} bytes fit neither the SuBiao nor the YueBiao layout")
        return rec

    def to_json(rec: Any) -> dict[str, Any]:
        out: dict[str, Any] = rec.to_json()
        if isinstance(rec, tuple(_YUEBIAO.values())):
            out["layout"] = "yuebiao"
        return out

    def from_json(v: Any, field: str) -> Record:
        obj = dict(json_obj(v, field))
        layout = obj.pop("layout", "subiao")
        if layout not in ("subiao", "yuebiao"):
            raise BodyError("must be subiao or yuebiao", field=f"{field}.layout")
        cls = (_YUEBIAO if layout == "yuebiao" else _SUBIAO)[eid]
        try:
            return cls.from_json(obj)
        except BodyError as e:
            raise BodyError(e.reason, field=f"{field}.{e.field}" if e.field else field) from None

    return ExtraCodec(key, decode, encode_safety_item, None, id=eid, wire="record", description=description,
                      to_json=to_json, from_json=from_json)


#: The four items, one row each.
SAFETY_ITEMS: tuple[ExtraCodec, ...] = (
    _row(0x64, "adas_alarm", "高级驾驶辅助系统报警信息 (ADAS): AdasAlarm"),
    _row(0x65, "dsm_alarm", "驾驶员状态监测系统报警信息 (DSM): DsmAlarm"),
    _row(0x66, "tpms_alarm", "胎压监测系统报警信息 (TPMS): TireAlarm"),
    _row(0x67, "bsd_alarm", "盲区监测系统报警信息 (BSD): BsdAlarm"),
)

subiao.ACTIVE_SAFETY.register_extras(SAFETY_ITEMS)
