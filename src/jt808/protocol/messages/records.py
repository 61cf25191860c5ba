"""Tachograph, e-waybill, driver identity, CAN bus: 0x8700, 0x0700, 0x8701, 0x0701, 0x0702, 0x0705.

0x8700 行驶记录数据采集命令, 0x0700 行驶记录数据上传, 0x8701 行驶记录参数下传命令, 0x0701 电子运单上报,
0x0702 驾驶员身份信息采集上报, 0x0705 CAN 总线数据上传 (2013, 2019). The request 0x8702 (empty body)
lives in :mod:`jt808.protocol.messages.general`.

The tachograph bodies carry a complete GB/T 19056 frame as opaque bytes (``param`` / ``data``, base64
in JSON); :data:`COLLECT_COMMANDS` and :data:`SET_COMMANDS` name the command words.
"""

from __future__ import annotations

from dataclasses import field
from enum import IntEnum
from typing import Any, ClassVar

from jt808.errors import BodyError, DecodeError, EncodeError
from jt808.protocol.buffer import Reader, Writer
from jt808.protocol.header import V2011, V2013, V2019, Version
from jt808.protocol.jsonutil import LengthKeys, json_field
from jt808.protocol.spec import (
    BCD,
    BYTE,
    BYTES,
    BYTES32,
    BYTES_REST,
    DWORD,
    LIST,
    STR,
    STR8,
    WORD,
    Body,
    Record,
    message,
    record,
    wire,
)

__all__ = [
    "COLLECT_COMMANDS",
    "SET_COMMANDS",
    "CanData",
    "CanItem",
    "CardReadResult",
    "DriverIdentity",
    "DriverStatus",
    "TachographCollect",
    "TachographParams",
    "TachographUpload",
    "Waybill",
]

#: GB/T 19056 data-collection command words of 0x8700 / 0x0700 (PROTOCOL.md §6.11)
COLLECT_COMMANDS: dict[int, str] = {
    0x00: "standard version",
    0x01: "current driver",
    0x02: "real-time clock",
    0x03: "total mileage",
    0x04: "pulse factor",
    0x05: "vehicle info",
    0x06: "status-signal config",
    0x07: "unique recorder id",
    0x08: "speed records",
    0x09: "position records",
    0x10: "accident-suspect records",
    0x11: "overtime-driving records",
    0x12: "driver-identity records",
    0x13: "external power records",
    0x14: "parameter-change records",
    0x15: "speed-status log",
}

#: GB/T 19056 parameter-setting command words of 0x8701 (0xE0-0xE4 are calibration-mode commands)
SET_COMMANDS: dict[int, str] = {
    0x82: "vehicle info",
    0x83: "first install date",
    0x84: "status-signal config",
    0xC2: "clock",
    0xC3: "pulse factor",
    0xC4: "initial mileage",
}


# ---------------------------------------------------------------------------------------------
# Tachograph and waybill
# ---------------------------------------------------------------------------------------------
@message(0x8700, answered_by=(0x0700,))
class TachographCollect(Body):
    """行驶记录数据采集命令 — collect tachograph data. ``param``: a GB/T 19056 frame (may be empty)."""

    command: int = wire(BYTE, doc="COLLECT_COMMANDS")
    param: bytes = wire(BYTES_REST)

    msg_id: ClassVar[int]

    @property
    def command_name(self) -> str | None:
        return COLLECT_COMMANDS.get(self.command)


@message(0x0700, quotes="seq")
class TachographUpload(Body):
    """行驶记录数据上传 — tachograph data upload, answering 0x8700 (``seq``). ``data``: the GB/T 19056
    reply frame."""

    seq: int = wire(WORD)
    command: int = wire(BYTE)
    data: bytes = wire(BYTES_REST)

    msg_id: ClassVar[int]

    @property
    def command_name(self) -> str | None:
        return COLLECT_COMMANDS.get(self.command)


@message(0x8701)
class TachographParams(Body):
    """行驶记录参数下传命令 — download tachograph parameters. ``param``: the GB/T 19056 setting frame."""

    command: int = wire(BYTE, doc="SET_COMMANDS")
    param: bytes = wire(BYTES_REST)

    msg_id: ClassVar[int]

    @property
    def command_name(self) -> str | None:
        return SET_COMMANDS.get(self.command)


@message(0x0701)
class Waybill(LengthKeys, Body):
    """电子运单上报 — e-waybill: ``length DWORD · data BYTE[length]`` (content format vendor/regional).

    JSON ``{"length", "data": base64}``; on input ``length``, when given, must match the data.
    """

    data: bytes = wire(BYTES32)

    msg_id: ClassVar[int]
    _lengths: ClassVar[dict[str, str]] = {"data": "length"}
    _check_lengths: ClassVar[bool] = True


# ---------------------------------------------------------------------------------------------
# 0x0702 driver identity
# ---------------------------------------------------------------------------------------------
class DriverStatus(IntEnum):
    """0x0702 ``status`` (2013, 2019)."""

    CARD_INSERTED = 1  #: qualification card inserted, on duty
    CARD_REMOVED = 2  #: card removed, off duty


class CardReadResult(IntEnum):
    """0x0702 ``ic_result``."""

    OK = 0
    KEY_AUTH_FAILED = 1
    CARD_LOCKED = 2
    CARD_PULLED_OUT = 3
    CHECKSUM_ERROR = 4


def _card_read(v: Any) -> bool:
    return bool(v["status"] == 1)


def _card_ok(v: Any) -> bool:
    return bool(v["status"] == 1 and v.get("ic_result") == 0)


_KEYS_2011 = ("driver_name", "id_card", "certificate", "organization")


@message(0x0702, quotes="")
class DriverIdentity(Body):
    """驾驶员身份信息采集上报 — driver identity report.

    2013/2019: ``status`` (DriverStatus) and ``time``; ``ic_result`` only when status is 1; name,
    certificate, organization and ``cert_expiry`` (BCD[4] ``YYYYMMDD``) only when ic_result is 0;
    2019 adds ``id_card`` after the expiry (same condition). This follows EMQX and the standard's
    "only when" wording (SmallChi reads ic_result whenever bytes remain; YueBiao reads everything).

    2011 (no status): ``driver_name`` (BYTE length), ``id_card`` STRING[20], ``certificate``
    STRING[40], ``organization`` (BYTE length). A frame of a 2013 header whose first byte is no 2013
    status (1/2) is read with the 2011 layout when the profile has ``infer_2011`` (noted; ``layout``
    then records it so the body re-encodes as received).

    Bytes after the body (e.g. SmallChi's vendor 2019 tail ``face_match BYTE · uid STRING[20]``)
    stay raw in the packet's ``tail`` and are noted in its problems.
    """

    status: int = wire(BYTE, doc="DriverStatus; 2013+")
    time: str = wire(BCD(6), doc="YYMMDDhhmmss; 2013+")
    ic_result: int = wire(BYTE, when=_card_read, doc="CardReadResult; status 1")
    driver_name: str = wire(STR8, when=_card_ok)
    certificate: str = wire(STR(20), when=_card_ok, doc="qualification certificate (2011: STRING[40])")
    organization: str = wire(STR8, when=_card_ok, doc="issuing organization")
    cert_expiry: str = wire(BCD(4), when=_card_ok, doc="YYYYMMDD")
    id_card: str = wire(STR(20), since=V2019, when=_card_ok, doc="citizen id number (2011 too)")
    layout: Version | None = field(default=None, compare=False, repr=False)

    msg_id: ClassVar[int]

    def _is_2011(self, version: Version | None) -> bool:
        return version is V2011 or self.layout is V2011

    @classmethod
    def decode(cls, r: Reader) -> DriverIdentity:
        v = r.version
        if v is V2011:
            return cls._decode_2011(r, None)
        if v is V2013 and r.profile.infer_2011 and r.pos < r.end and r.data[r.pos] not in (1, 2):
            r.note(f"0x0702: first byte 0x{r.data[r.pos]:02X} is no 2013 status (1/2): read with the "
                   "2011 layout (version inferred)")
            return cls._decode_2011(r, V2011)
        return cls._codec(v)[0](r)  # type: ignore[no-any-return]  # the compiled decoder of this class

    @classmethod
    def _decode_2011(cls, r: Reader, layout: Version | None) -> DriverIdentity:
        name = r.str_len8("driver_name")
        id_card = r.str_fixed(20, "id_card")
        certificate = r.str_fixed(40, "certificate")
        organization = r.str_len8("organization")
        return cls(driver_name=name, id_card=id_card, certificate=certificate, organization=organization,
                   layout=layout)

    def encode(self, w: Writer) -> None:
        if self._is_2011(w.version):
            w.str_len8(self.driver_name, "driver_name")
            w.str_fixed(self.id_card, 20, "id_card")
            w.str_fixed(self.certificate, 40, "certificate")
            w.str_len8(self.organization, "organization")
            return
        type(self)._codec(w.version)[1](self, w)

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        if self._is_2011(version):
            return {k: getattr(self, k) for k in _KEYS_2011}
        return Record.to_json(self, version)

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> DriverIdentity:
        if isinstance(obj, dict) and (version is V2011 or (
                version is not V2019 and "status" not in obj and "driver_name" in obj)):
            vals = {}
            for k in _KEYS_2011:
                if k not in obj:
                    raise BodyError("is missing", field=k)
                vals[k] = STR8.from_json(obj[k], k)
            layout = None if version is V2011 else V2011
            return cls(**vals, layout=layout)
        return Record.from_json.__func__(cls, obj, version)  # type: ignore[attr-defined,no-any-return]  # the generic Record.from_json


# ---------------------------------------------------------------------------------------------
# 0x0705 CAN bus data
# ---------------------------------------------------------------------------------------------
_ID_MASK = (1 << 29) - 1
_DATA8 = BYTES(8)


@record
class CanItem(Record):
    """One CAN frame of 0x0705: ``can_id`` DWORD (bit 31 channel 0 CAN1 / 1 CAN2, bit 30 frame type
    0 standard / 1 extended, bit 29 data method 0 raw / 1 interval-computed, bits 0-28 the CAN id) and
    8 data bytes. JSON (EMQX): ``{"channel", "frame_type", "data_method", "id", "data": base64}``."""

    can_id: int = wire(DWORD)
    data: bytes = wire(_DATA8)

    @classmethod
    def make(cls, id: int, data: bytes, *, channel: int = 0, frame_type: int = 0,
             data_method: int = 0) -> CanItem:
        """Build from the bit fields (strict: each must fit its bits)."""
        for name, v, hi in (("channel", channel, 1), ("frame_type", frame_type, 1),
                            ("data_method", data_method, 1), ("id", id, _ID_MASK)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
                raise EncodeError(f"out of range 0..{hi}", field=name, value=v, msg_id=0x0705)
        return cls(channel << 31 | frame_type << 30 | data_method << 29 | id, data)

    @property
    def channel(self) -> int:
        return self.can_id >> 31 & 1

    @property
    def frame_type(self) -> int:
        return self.can_id >> 30 & 1

    @property
    def data_method(self) -> int:
        return self.can_id >> 29 & 1

    @property
    def id(self) -> int:
        return self.can_id & _ID_MASK

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        return {"channel": self.channel, "frame_type": self.frame_type, "data_method": self.data_method,
                "id": self.id, "data": _DATA8.to_json(self.data)}

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> CanItem:
        if not isinstance(obj, dict):
            raise BodyError(f"CanItem expects a JSON object, got {type(obj).__name__}")
        vals = {key: json_field(obj, key, 0, hi)
                for key, hi in (("channel", 1), ("frame_type", 1), ("data_method", 1), ("id", _ID_MASK))}
        if "data" not in obj:
            raise BodyError("is missing", field="data")
        data = _DATA8.from_json(obj["data"], "data")
        if len(data) > 8:
            raise BodyError(f"has {len(data)} bytes, at most 8", field="data")
        return cls.make(vals["id"], data, channel=vals["channel"], frame_type=vals["frame_type"],
                        data_method=vals["data_method"])


@message(0x0705, versions=(V2013, V2019))
class CanData(Body):
    """CAN 总线数据上传 — CAN bus data (2013, 2019): ``length WORD · time BCD[5] · item*length``.

    ``time`` is the reception time of the first frame, ``hhmmss`` plus 4 millisecond digits (a string
    in JSON, as EMQX emits; seed 004's integer is accepted on input). The count comes before the time,
    hence the hand-written codec; the JSON is the declared mapping (``length`` counts ``can_data``).
    A zero count (the standard says at least one) is decoded and noted.
    """

    time: str = wire(BCD(5), doc="hhmmss + 4 ms digits")
    can_data: list[CanItem] = wire(LIST(CanItem, WORD, count_key="length"))

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> CanData:
        n = r.u16("length")
        time = r.bcd(5, "time")
        if n == 0:
            r.note("0x0705: item count is 0 (the standard requires at least one)")
        items = []
        for i in range(n):
            try:
                items.append(CanItem.decode(r))
            except DecodeError as e:
                e.field = f"can_data[{i}].{e.field}" if e.field else f"can_data[{i}]"
                e.args = (e._text(),)
                raise
        return cls(time, items)

    def encode(self, w: Writer) -> None:
        items = self.can_data
        if not isinstance(items, list | tuple):
            raise EncodeError("needs a list", field="can_data", value=items, msg_id=w.msg_id)
        w.u16(len(items), "length")
        w.bcd(self.time, 5, "time")
        for i, it in enumerate(items):
            if not isinstance(it, CanItem):
                raise EncodeError("items must be CanItem", field=f"can_data[{i}]", value=it, msg_id=w.msg_id)
            it.encode(w)
