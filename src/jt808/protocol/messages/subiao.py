"""Active safety (主动安全): the SuBiao (苏标, JSATL12-2017) messages, shared by YueBiao (粤标) where they agree.

Messages (registered for every device, 2013 and 2019 headers; ids the standard leaves unused):

- 0x1210 报警附件信息消息 — the attachment list of one alarm (:class:`AlarmAttachmentList`)
- 0x1211 文件信息上传 — announces one file before its data (:class:`FileInfo`)
- 0x1212 文件上传完成消息 — one file sent (:class:`FileUploadComplete`)
- 0x9208 报警附件上传指令 — "upload the evidence of this alarm to that server" (:class:`AlarmAttachmentRequest`)
- 0x9212 文件上传完成消息应答 — which byte ranges to re-send (:class:`FileUploadCompleteReply`)

YueBiao widens the terminal id to 30 bytes and the alarm identification to 40: its layouts of 0x1210 and 0x9208
are in :mod:`jt808.protocol.messages.yuebiao` and are selected with the ``yuebiao`` profile.

Peripheral queries ride on the pass-through messages (0x8900 / 0x0900 with type 0xF7 working status, 0xF8
system information); types 0xF0–0xFF are user-defined in the standard, so those layouts are registered only on
the active-safety profiles (:data:`SUBIAO`, and ``yuebiao``), never for every device.

The 0x0200 alarm items 0x64 ADAS, 0x65 DSM, 0x66 TPMS and 0x67 BSD are declared here as records
(:class:`AdasAlarm` …); each carries the alarm identification (:class:`AlarmSign`) that links the location
report, the 0x1210 list and the uploaded files. Alarm / event codes are enums with their Chinese titles.

The attachment data stream ("01cd" packets) is parsed by :mod:`jt808.protocol.attachments`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar

from jt808.errors import BodyError, DecodeError, EncodeError
from jt808.protocol.buffer import Reader, Writer
from jt808.protocol.header import V2013, V2019, Version
from jt808.protocol.messages.jt1078 import JT1078
from jt808.protocol.messages.params import ParamDef, ParamType
from jt808.protocol.messages.transport import DownlinkPassThrough, UplinkPassThrough
from jt808.protocol.spec import (
    BCD,
    BYTE,
    BYTES,
    BYTES_REST,
    DWORD,
    LIST,
    RECORD,
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
    "ACTIVE_SAFETY",
    "SAFETY_PARAMS",
    "SUBIAO",
    "SUBIAO_IDS",
    "AdasAlarm",
    "AdasEvent",
    "AlarmAttachmentList",
    "AlarmAttachmentRequest",
    "AlarmPosition",
    "AlarmSign",
    "AttachmentInfo",
    "BsdAlarm",
    "BsdEvent",
    "DataRange",
    "DsmAlarm",
    "DsmEvent",
    "FileInfo",
    "FileType",
    "FileUploadComplete",
    "FileUploadCompleteReply",
    "Peripheral",
    "PeripheralAlarm",
    "PeripheralInfo",
    "PeripheralPassThrough",
    "PeripheralQuery",
    "PeripheralState",
    "PeripheralStatus",
    "TireAlarm",
    "TireState",
    "TpmsAlarm",
    "titled",
]

_VERSIONS = (V2013, V2019)


# ---------------------------------------------------------------------------------------------
# Codes with their Chinese titles
# ---------------------------------------------------------------------------------------------
class _Titled(IntEnum):
    """An IntEnum whose members carry the standard's Chinese title (``member.title``)."""

    _titles: ClassVar[dict[int, str]]

    @property
    def title(self) -> str:
        return type(self)._titles[int(self)]


def titled(cls: type[_Titled], titles: dict[int, str]) -> type[_Titled]:
    cls._titles = titles
    missing = [m for m in cls if int(m) not in titles]
    assert not missing, missing
    return cls


class Peripheral(_Titled):
    """外设 ID — the active-safety peripherals (also the 0x0200 item id of their alarms)."""

    ADAS = 0x64
    DSM = 0x65
    TPMS = 0x66
    BSD = 0x67


titled(Peripheral, {0x64: "高级驾驶辅助系统", 0x65: "驾驶员状态监测系统", 0x66: "胎压监测系统", 0x67: "盲区监测系统"})


class AdasEvent(_Titled):
    """0x64 报警/事件类型 (SuBiao table; YueBiao adds 0x08)."""

    FORWARD_COLLISION = 0x01
    LANE_DEPARTURE = 0x02
    HEADWAY_TOO_CLOSE = 0x03
    PEDESTRIAN_COLLISION = 0x04
    FREQUENT_LANE_CHANGE = 0x05
    ROAD_SIGN_EXCEEDED = 0x06
    OBSTACLE = 0x07
    ASSIST_FAILURE = 0x08
    ROAD_SIGN_RECOGNISED = 0x10
    ACTIVE_CAPTURE = 0x11


titled(AdasEvent, {0x01: "前向碰撞报警", 0x02: "车道偏离报警", 0x03: "车距过近报警", 0x04: "行人碰撞报警",
                   0x05: "频繁变道报警", 0x06: "道路标识超限报警", 0x07: "障碍物报警",
                   0x08: "驾驶辅助功能失效报警", 0x10: "道路标志识别事件", 0x11: "主动抓拍事件"})


class DsmEvent(_Titled):
    """0x65 报警/事件类型 (SuBiao; YueBiao renames 0x02/0x04/0x05 and adds 0x06/0x07, see yuebiao)."""

    FATIGUE = 0x01
    PHONE = 0x02
    SMOKING = 0x03
    DISTRACTION = 0x04
    DRIVER_ABNORMAL = 0x05
    AUTO_CAPTURE = 0x10
    DRIVER_CHANGE = 0x11


titled(DsmEvent, {0x01: "疲劳驾驶报警", 0x02: "接打电话报警", 0x03: "抽烟报警", 0x04: "分神驾驶报警",
                  0x05: "驾驶员异常报警", 0x10: "自动抓拍事件", 0x11: "驾驶员变更事件"})


class TpmsAlarm(_Titled):
    """0x66 per-tyre 报警/事件类型 bits (a WORD per tyre)."""

    PRESSURE_HIGH = 0
    PRESSURE_LOW = 1
    TEMPERATURE_HIGH = 2
    SENSOR_FAULT = 3
    PRESSURE_UNBALANCED = 4
    SLOW_LEAK = 5
    BATTERY_LOW = 6


titled(TpmsAlarm, {0: "胎压过高报警", 1: "胎压过低报警", 2: "胎温过高报警", 3: "传感器异常报警",
                   4: "胎压不平衡报警", 5: "慢漏气报警", 6: "电池电量低报警"})


class BsdEvent(_Titled):
    """0x67 报警/事件类型."""

    REAR_APPROACH = 0x01
    LEFT_REAR_APPROACH = 0x02
    RIGHT_REAR_APPROACH = 0x03


titled(BsdEvent, {0x01: "后方接近报警", 0x02: "左侧后方接近报警", 0x03: "右侧后方接近报警"})


class FileType(_Titled):
    """0x1211 / 0x1212 / 0x9212 文件类型."""

    IMAGE = 0
    AUDIO = 1
    VIDEO = 2
    TEXT = 3
    OTHER = 4


titled(FileType, {0: "图片", 1: "音频", 2: "视频", 3: "文本", 4: "其它"})


class PeripheralState(_Titled):
    """0x0900/0xF7 工作状态."""

    NORMAL = 0x01
    STANDBY = 0x02
    UPGRADING = 0x03
    ABNORMAL = 0x04
    DISCONNECTED = 0x10


titled(PeripheralState, {0x01: "正常工作", 0x02: "待机状态", 0x03: "升级维护", 0x04: "设备异常", 0x10: "断开连接"})


class PeripheralAlarm(_Titled):
    """0x0900/0xF7 报警状态 bits."""

    CAMERA = 0
    MAIN_STORAGE = 1
    AUX_STORAGE = 2
    INFRARED_LIGHT = 3
    SPEAKER = 4
    BATTERY = 5
    COMMUNICATION = 10
    POSITIONING = 11


titled(PeripheralAlarm, {0: "摄像头异常", 1: "主存储器异常", 2: "辅存储器异常", 3: "红外补光异常", 4: "扬声器异常",
                         5: "电池异常", 10: "通讯模块异常", 11: "定位模块异常"})


# ---------------------------------------------------------------------------------------------
# The alarm identification (报警标识号)
# ---------------------------------------------------------------------------------------------
@record
class AlarmSign(Record):
    """报警标识号 (16 bytes): who raised the alarm, when, and how many attachments it has.

    It names one alarm across the 0x0200 item (0x64–0x67), the 0x9208 request and the 0x1210 list.
    YueBiao's 40-byte form is :class:`jt808.protocol.messages.yuebiao.YueBiaoAlarmSign`."""

    terminal_id: str = wire(STR(7), doc="终端 ID (7 bytes, upper-case letters and digits)")
    time: str = wire(BCD(6), doc="时间 YYMMDDhhmmss (GMT+8)")
    seq: int = wire(BYTE, doc="序号: alarm sequence number within the same second, from 0")
    attachments: int = wire(BYTE, doc="附件数量")
    reserved: int = wire(BYTE, doc="预留")

    def key(self) -> str:
        """A stable text form: ``<terminal_id>-<time>-<seq>`` (used as the alarm's ``alarm_id``)."""
        return f"{self.terminal_id}-{self.time}-{self.seq}"


def _sign() -> AlarmSign:
    return wire(RECORD(AlarmSign), doc="报警标识号")  # type: ignore[no-any-return]  # wire() returns the field


# ---------------------------------------------------------------------------------------------
# 0x9208 / 0x1210 / 0x1211 / 0x1212 / 0x9212
# ---------------------------------------------------------------------------------------------
@message(0x9208, versions=_VERSIONS)
class AlarmAttachmentRequest(Body):
    """报警附件上传指令 — the platform asks for the evidence files of one alarm, to be uploaded to the
    attachment server named here (answered by 0x0001, then a new TCP connection to that server)."""

    ip: str = wire(STR8, doc="附件服务器 IP 地址 (or host name)")
    tcp_port: int = wire(WORD, doc="附件服务器端口 (TCP)")
    udp_port: int = wire(WORD, doc="附件服务器端口 (UDP), 0 = none")
    alarm_sign: AlarmSign = _sign()
    alarm_no: str = wire(STR(32), doc="报警编号: the platform's unique id for this alarm (32 characters)")
    reserved: bytes = wire(BYTES(16), doc="预留 (16 bytes)")


@record
class AttachmentInfo(Record):
    """One entry of a 0x1210 attachment list."""

    name: str = wire(STR8, doc="文件名称: <type>_<channel>_<alarm type>_<index>_<alarm no>.<ext>")
    size: int = wire(DWORD, doc="文件大小 (bytes)")


@message(0x1210, versions=_VERSIONS)
class AlarmAttachmentList(Body):
    """报警附件信息消息 — sent on the attachment-server connection: the files of one alarm (answered by
    0x8001)."""

    terminal_id: str = wire(STR(7), doc="终端 ID")
    alarm_sign: AlarmSign = _sign()
    alarm_no: str = wire(STR(32), doc="报警编号 (from the 0x9208)")
    info_type: int = wire(BYTE, doc="信息类型: 0 normal alarm files, 1 supplementary files")
    attachments: list[AttachmentInfo] = wire(LIST(AttachmentInfo, BYTE, count_key="count"), doc="附件信息列表")


@record
class _FileRecord(Body):
    name: str = wire(STR8, doc="文件名称")
    type: int = wire(BYTE, doc="文件类型: 0 image, 1 audio, 2 video, 3 text, 4 other")
    size: int = wire(DWORD, doc="文件大小 (bytes)")


@message(0x1211, versions=_VERSIONS)
class FileInfo(_FileRecord):
    """文件信息上传 — announces one file before its data packets (answered by 0x8001)."""


@message(0x1212, versions=_VERSIONS, answered_by=(0x9212,))
class FileUploadComplete(_FileRecord):
    """文件上传完成消息 — all data packets of one file are sent (answered by 0x9212)."""


@record
class DataRange(Record):
    """A byte range of a file to be sent again."""

    offset: int = wire(DWORD, doc="数据偏移量")
    length: int = wire(DWORD, doc="数据长度")


@message(0x9212, versions=_VERSIONS, quotes="", unanswered=True)
class FileUploadCompleteReply(Body):
    """文件上传完成消息应答 — ``result`` 0: the file is complete; 1: re-send the ``retransmit`` ranges (then
    send 0x1212 again)."""

    name: str = wire(STR8, doc="文件名称")
    type: int = wire(BYTE, doc="文件类型")
    result: int = wire(BYTE, doc="上传结果: 0 complete, 1 retransmission needed")
    retransmit: list[DataRange] = wire(LIST(DataRange, BYTE, count_key="count"), doc="补传数据包列表")


# ---------------------------------------------------------------------------------------------
# 0x0200 alarm items 0x64–0x67 (records; the location table registers them per profile)
# ---------------------------------------------------------------------------------------------
@record
class AlarmPosition(Record):
    """Where and how fast the vehicle was when an active-safety alarm was raised (part of items 0x64–0x67)."""

    speed: int = wire(BYTE, doc="车速 km/h")
    altitude: int = wire(WORD, doc="高程 m")
    latitude: int = wire(DWORD, doc="纬度 × 10^6")
    longitude: int = wire(DWORD, doc="经度 × 10^6")
    time: str = wire(BCD(6), doc="日期时间 YYMMDDhhmmss")
    vehicle_status: int = wire(WORD, doc="车辆状态 bits: 0 ACC, 1 left turn, 2 right turn, 3 wiper, 4 braking, "
                                         "5 card inserted, 10 located")


@record
class _AlarmItem(Record):
    id: int = wire(DWORD, doc="报警 ID, cyclic from 0 across alarm types")
    flag: int = wire(BYTE, doc="标志状态: 0 n/a, 1 start, 2 end")


def _position() -> AlarmPosition:
    return wire(RECORD(AlarmPosition), doc="车速、高程、经纬度、时间、车辆状态")  # type: ignore[no-any-return]  # wire() returns the field


@record
class AdasAlarm(_AlarmItem):
    """0x0200 item 0x64 — 高级驾驶辅助系统报警信息 (47 bytes SuBiao, 71 YueBiao)."""

    type: int = wire(BYTE, doc="报警/事件类型 (AdasEvent)")
    level: int = wire(BYTE, doc="报警级别: 1 level one, 2 level two")
    front_speed: int = wire(BYTE, doc="前车车速 km/h (types 0x01, 0x02)")
    front_distance: int = wire(BYTE, doc="前车/行人距离 100 ms (types 0x01-0x04)")
    deviation: int = wire(BYTE, doc="偏离类型: 1 left, 2 right (type 0x02)")
    road_sign: int = wire(BYTE, doc="道路标志识别类型: 1 speed limit, 2 height limit, 3 weight limit")
    road_sign_value: int = wire(BYTE, doc="道路标志识别数据")
    position: AlarmPosition = _position()
    alarm_sign: AlarmSign = _sign()


@record
class DsmAlarm(_AlarmItem):
    """0x0200 item 0x65 — 驾驶员状态监测系统报警信息 (47 bytes SuBiao, 71 YueBiao)."""

    type: int = wire(BYTE, doc="报警/事件类型 (DsmEvent)")
    level: int = wire(BYTE, doc="报警级别: 1, 2")
    fatigue: int = wire(BYTE, doc="疲劳程度 1-10 (type 0x01)")
    reserved: bytes = wire(BYTES(4), doc="预留")
    position: AlarmPosition = _position()
    alarm_sign: AlarmSign = _sign()


@record
class TireState(Record):
    """One tyre of a 0x66 item."""

    position: int = wire(BYTE, doc="胎压报警位置, from 0 front-left clockwise")
    alarm: int = wire(WORD, doc="报警/事件类型 bits (TpmsAlarm)")
    pressure: int = wire(WORD, doc="胎压 kPa")
    temperature: int = wire(WORD, doc="胎温 °C")
    battery: int = wire(WORD, doc="电池电量 %")


@record
class TireAlarm(_AlarmItem):
    """0x0200 item 0x66 — 胎压监测系统报警信息."""

    position: AlarmPosition = _position()
    alarm_sign: AlarmSign = _sign()
    tires: list[TireState] = wire(LIST(TireState, BYTE, count_key="count"), doc="报警/事件信息列表")


@record
class BsdAlarm(_AlarmItem):
    """0x0200 item 0x67 — 盲区监测系统报警信息."""

    type: int = wire(BYTE, doc="报警/事件类型 (BsdEvent)")
    position: AlarmPosition = _position()
    alarm_sign: AlarmSign = _sign()


# ---------------------------------------------------------------------------------------------
# 0x0900 / 0x8900 peripheral status (0xF7) and system information (0xF8) — profile-only
# ---------------------------------------------------------------------------------------------
PERIPHERAL_STATUS = 0xF7
PERIPHERAL_INFO = 0xF8


@record
class PeripheralStatus(Record):
    """0xF7 item: 外设工作状态."""

    id: int = wire(BYTE, doc="外设 ID (Peripheral)")
    state: int = wire(BYTE, doc="工作状态 (PeripheralState)")
    alarm: int = wire(DWORD, doc="报警状态 bits (PeripheralAlarm)")


@record
class PeripheralInfo(Record):
    """0xF8 item: 外设系统信息."""

    id: int = wire(BYTE, doc="外设 ID (Peripheral)")
    company: str = wire(STR8, doc="公司名称")
    model: str = wire(STR8, doc="产品型号")
    hardware_version: str = wire(STR8, doc="硬件版本号")
    software_version: str = wire(STR8, doc="软件版本号")
    device_id: str = wire(STR8, doc="设备 ID")
    customer_code: str = wire(STR8, doc="客户代码")


_ITEM_KINDS: dict[int, type[Record]] = {PERIPHERAL_STATUS: PeripheralStatus, PERIPHERAL_INFO: PeripheralInfo}


def _int_json(obj: dict[str, Any], key: str, hi: int) -> int:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
        raise BodyError(f"expects an integer 0..{hi}, got {v!r}", field=key)
    return v


class PeripheralPassThrough(UplinkPassThrough):
    """数据上行透传 on active-safety terminals: types 0xF7 (peripheral working status) and 0xF8 (peripheral
    system information) carry ``count BYTE`` and items ``id BYTE · length BYTE · content``; other types keep
    the standard ``data`` bytes.

    A list that does not add up (an item whose ``length`` disagrees with its fields, bytes left over) is kept
    as raw ``data`` with the reason in ``packet.problems``: it re-encodes byte for byte."""

    __slots__ = ("peripherals",)

    def __init__(self, type: int = PERIPHERAL_STATUS, data: bytes = b"",
                 peripherals: list[Any] | None = None) -> None:
        super().__init__(type, data)
        self.peripherals = list(peripherals or [])

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, PeripheralPassThrough) and (self.type, self.data, self.peripherals)
                == (other.type, other.data, other.peripherals))

    def __repr__(self) -> str:
        if self.type in _ITEM_KINDS:
            return f"PeripheralPassThrough(type=0x{self.type:02X}, peripherals={self.peripherals!r})"
        return f"PeripheralPassThrough(type=0x{self.type:02X}, data={self.data!r})"

    @classmethod
    def decode(cls, r: Reader) -> PeripheralPassThrough:
        typ = r.u8("type")
        kind = _ITEM_KINDS.get(typ)
        if kind is None:
            return cls(typ, r.rest())
        start = r.pos
        try:
            n = r.u8("count")
            items = []
            for _ in range(n):
                pid = r.u8("peripherals.id")
                size = r.u8("peripherals.length")
                p = r.need(size, "peripherals")
                # the record starts with the id: read it over "id · content", within the item's length
                sub = Reader(bytes([pid]) + r.data[p:p + size], r.version, r.profile, r.msg_id)
                items.append(kind.decode(sub))
                if sub.pos != sub.end:
                    raise BodyError(f"peripheral 0x{pid:02X} says {size} byte(s), its fields take {sub.pos - 1}")
            if r.pos != r.end:
                raise BodyError(f"{r.end - r.pos} byte(s) after the last peripheral")
        except DecodeError as e:
            r.pos = start
            r.note(f"0x0900/0x{typ:02X}: {e.reason}: kept as raw data")
            return cls(typ, r.rest())
        return cls(typ, b"", items)

    def encode(self, w: Writer) -> None:
        w.u8(self.type, "type")
        kind = _ITEM_KINDS.get(self.type)
        if kind is None or (self.data and not self.peripherals):
            w.bytes(self.data, "data")
            return
        if self.data:
            raise EncodeError(f"type 0x{self.type:02X}: give peripherals or raw data, not both", field="data",
                              msg_id=w.msg_id)
        w.u8(len(self.peripherals), "count")
        for p in self.peripherals:
            if not isinstance(p, kind):
                raise EncodeError(f"items must be {kind.__name__}", field="peripherals", value=p, msg_id=w.msg_id)
            w.out += _encode_item(p, w.version, w.profile)

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        if self.type not in _ITEM_KINDS or (self.data and not self.peripherals):
            return super().to_json(version)
        return {"type": self.type, "count": len(self.peripherals),
                "peripherals": [p.to_json(version) for p in self.peripherals]}

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> PeripheralPassThrough:
        if not isinstance(obj, dict):
            raise BodyError(f"{cls.__name__} expects a JSON object, got {type(obj).__name__}")
        typ = _int_json(obj, "type", 0xFF)
        kind = _ITEM_KINDS.get(typ)
        if kind is None or "peripherals" not in obj:
            return cls(typ, BYTES_REST.from_json(obj.get("data", ""), "data"))
        items = obj["peripherals"]
        if not isinstance(items, list):
            raise BodyError(f"expects a list, got {type(items).__name__}", field="peripherals")
        if "count" in obj and obj["count"] != len(items):
            raise BodyError(f"says {obj['count']!r} but 'peripherals' has {len(items)} items", field="count")
        return cls(typ, b"", [kind.from_json(x, version) for x in items])


def _encode_item(item: Record, version: Version, profile: Any) -> bytes:
    """``id · length · content`` of one peripheral record (the record's first field is the id)."""
    w = Writer(version, profile.encoding if profile is not None else "gbk", profile=profile)
    item.encode(w)
    raw = bytes(w.out)
    if len(raw) - 1 > 0xFF:
        raise EncodeError(f"peripheral content of {len(raw) - 1} bytes does not fit a BYTE length",
                          field="peripherals")
    return raw[:1] + bytes([len(raw) - 1]) + raw[1:]


class PeripheralQuery(DownlinkPassThrough):
    """数据下行透传 on active-safety terminals: types 0xF7 / 0xF8 ask for the peripherals' status / system
    information: ``count BYTE · ids BYTE[count]``; other types keep the standard ``data`` bytes."""

    __slots__ = ("ids",)

    def __init__(self, type: int = PERIPHERAL_STATUS, data: bytes = b"", ids: list[int] | None = None) -> None:
        super().__init__(type, data)
        self.ids = list(ids or [])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PeripheralQuery) and (self.type, self.data, self.ids) == (other.type, other.data,
                                                                                            other.ids)

    def __repr__(self) -> str:
        return f"PeripheralQuery(type=0x{self.type:02X}, data={self.data!r}, ids={self.ids!r})"

    @classmethod
    def decode(cls, r: Reader) -> PeripheralQuery:
        typ = r.u8("type")
        if typ not in _ITEM_KINDS:
            return cls(typ, r.rest())
        n = r.u8("count")
        return cls(typ, b"", [r.u8("ids") for _ in range(n)])

    def encode(self, w: Writer) -> None:
        w.u8(self.type, "type")
        if self.type not in _ITEM_KINDS:
            w.bytes(self.data, "data")
            return
        w.u8(len(self.ids), "count")
        for x in self.ids:
            w.u8(x, "ids")

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        if self.type not in _ITEM_KINDS:
            return super().to_json(version)
        return {"type": self.type, "count": len(self.ids), "ids": list(self.ids)}

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> PeripheralQuery:
        if not isinstance(obj, dict):
            raise BodyError(f"{cls.__name__} expects a JSON object, got {type(obj).__name__}")
        typ = _int_json(obj, "type", 0xFF)
        if typ not in _ITEM_KINDS:
            return cls(typ, BYTES_REST.from_json(obj.get("data", ""), "data"))
        ids = obj.get("ids")
        if not isinstance(ids, list) or any(isinstance(x, bool) or not isinstance(x, int) or not 0 <= x <= 0xFF
                                            for x in ids):
            raise BodyError("expects a list of integers 0..255", field="ids")
        if "count" in obj and obj["count"] != len(ids):
            raise BodyError(f"says {obj['count']!r} but 'ids' has {len(ids)} items", field="count")
        return cls(typ, b"", list(ids))


#: The profile layer shared by SuBiao and YueBiao terminals: JT/T 1078 items and parameters, the peripheral
#: pass-through types; the alarm items 0x64-0x67 (``safety_items``) and the parameters 0xF364-0xF367.
ACTIVE_SAFETY = JT1078.derive("active-safety")
ACTIVE_SAFETY.register_message(PeripheralPassThrough, (V2013, V2019), 0x0900)
ACTIVE_SAFETY.register_message(PeripheralQuery, (V2013, V2019), 0x8900)
PeripheralPassThrough.msg_id = 0x0900
PeripheralQuery.msg_id = 0x8900

#: Parameters 0xF364-0xF367 (and YueBiao's 0xF370): named rows; their values are kept as bytes (the field lists
#: differ between the regional editions).
SAFETY_PARAMS: tuple[ParamDef, ...] = (
    ParamDef(0xF364, "adas_params", ParamType.RAW, "高级驾驶辅助系统参数 (ADAS thresholds, speeds, photo/video)"),
    ParamDef(0xF365, "dsm_params", ParamType.RAW, "驾驶员状态监测系统参数 (DSM thresholds, photo/video settings)"),
    ParamDef(0xF366, "tpms_params", ParamType.RAW, "胎压监测系统参数 (tyre model, pressure/temperature thresholds)"),
    ParamDef(0xF367, "bsd_params", ParamType.RAW, "盲区监测系统参数 (rear / side approach thresholds)"),
)
ACTIVE_SAFETY.register_params(SAFETY_PARAMS)

#: SuBiao (JSATL12) terminals.
SUBIAO = ACTIVE_SAFETY.derive("subiao")

#: Every SuBiao message id declared here (registered for every device).
SUBIAO_IDS: tuple[int, ...] = (0x1210, 0x1211, 0x1212, 0x9208, 0x9212)
