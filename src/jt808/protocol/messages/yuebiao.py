"""Active safety, Guangdong flavour (粤标, on the JT/T 808-2019 base): where it differs from SuBiao.

- The terminal id is 30 bytes and the alarm identification (报警标识号) 40 bytes (:class:`YueBiaoAlarmSign`):
  0x1210 and 0x9208 (and the alarm items 0x64–0x67) carry those. Select them with the :data:`YUEBIAO`
  profile; the SuBiao layouts stay the default.
- 0x1FC4 终端升级进度上报 (upgrade progress), registered for every device (the id is otherwise unused).
- DSM codes renamed / added (:class:`YueBiaoDsmEvent`).

Everything else (0x1211, 0x1212, 0x9212, the 0x0900/0x8900 peripheral types) is as in
:mod:`jt808.protocol.messages.subiao`.
"""

from __future__ import annotations

from jt808.protocol.header import V2013, V2019
from jt808.protocol.messages.params import ParamDef, ParamType
from jt808.protocol.messages.subiao import (
    ACTIVE_SAFETY,
    AdasAlarm,
    AlarmAttachmentList,
    AlarmAttachmentRequest,
    AlarmSign,
    BsdAlarm,
    DsmAlarm,
    TireAlarm,
    _Titled,
    titled,
)
from jt808.protocol.spec import BYTE, RECORD, STR, WORD, Body, message, record, wire

__all__ = [
    "YUEBIAO",
    "YUEBIAO_IDS",
    "UpgradeProgress",
    "YueBiaoAdasAlarm",
    "YueBiaoAlarmAttachmentList",
    "YueBiaoAlarmAttachmentRequest",
    "YueBiaoAlarmSign",
    "YueBiaoBsdAlarm",
    "YueBiaoDsmAlarm",
    "YueBiaoDsmEvent",
    "YueBiaoTireAlarm",
]


class YueBiaoDsmEvent(_Titled):
    """0x65 报警/事件类型, YueBiao table."""

    FATIGUE = 0x01
    PHONE = 0x02
    SMOKING = 0x03
    NOT_LOOKING_AHEAD = 0x04
    DRIVER_NOT_DETECTED = 0x05
    HANDS_OFF_WHEEL = 0x06
    MONITOR_FAILURE = 0x07
    AUTO_CAPTURE = 0x10
    DRIVER_CHANGE = 0x11


titled(YueBiaoDsmEvent, {0x01: "疲劳驾驶报警", 0x02: "接打手持电话报警", 0x03: "抽烟报警", 0x04: "长时间不目视前方报警",
                         0x05: "未检测到驾驶员报警", 0x06: "双手同时脱离方向盘报警", 0x07: "驾驶员行为监测功能失效报警",
                         0x10: "自动抓拍事件", 0x11: "驾驶员变更事件"})


@record
class YueBiaoAlarmSign(AlarmSign):
    """报警标识号, YueBiao (40 bytes): a 30-byte terminal id and two reserved bytes."""

    terminal_id: str = wire(STR(30), doc="终端 ID (30 bytes)")
    reserved: int = wire(WORD, doc="预留 (2 bytes)")


def _sign() -> YueBiaoAlarmSign:
    return wire(RECORD(YueBiaoAlarmSign), doc="报警标识号 (40 bytes)")  # type: ignore[no-any-return]  # wire() returns the field


@record
class YueBiaoAlarmAttachmentRequest(AlarmAttachmentRequest):
    """报警附件上传指令 (YueBiao): the 40-byte alarm identification."""

    alarm_sign: YueBiaoAlarmSign = _sign()


@record
class YueBiaoAlarmAttachmentList(AlarmAttachmentList):
    """报警附件信息消息 (YueBiao): a 30-byte terminal id and the 40-byte alarm identification."""

    terminal_id: str = wire(STR(30), doc="终端 ID (30 bytes)")
    alarm_sign: YueBiaoAlarmSign = _sign()


@record
class YueBiaoAdasAlarm(AdasAlarm):
    """0x0200 item 0x64 (YueBiao, 71 bytes)."""

    alarm_sign: YueBiaoAlarmSign = _sign()


@record
class YueBiaoDsmAlarm(DsmAlarm):
    """0x0200 item 0x65 (YueBiao, 71 bytes)."""

    alarm_sign: YueBiaoAlarmSign = _sign()


@record
class YueBiaoTireAlarm(TireAlarm):
    """0x0200 item 0x66 (YueBiao)."""

    alarm_sign: YueBiaoAlarmSign = _sign()


@record
class YueBiaoBsdAlarm(BsdAlarm):
    """0x0200 item 0x67 (YueBiao)."""

    alarm_sign: YueBiaoAlarmSign = _sign()


@message(0x1FC4, versions=(V2013, V2019))
class UpgradeProgress(Body):
    """终端升级进度上报 — upgrade progress (YueBiao)."""

    seq: int = wire(WORD, doc="流水号 of the 0x8108 upgrade command")
    type: int = wire(BYTE, doc="升级类型: 0 terminal, 12 IC card reader, 52 BeiDou module, 0x64-0x67 peripherals")
    status: int = wire(BYTE, doc="升级状态: 1 downloading, 2 download done, 3 upgrading, 4 upgrade done, 5 failed")
    progress: int = wire(BYTE, doc="升级进度 0-100")
    error: int = wire(BYTE, doc="错误码 (vendor-defined)")


#: YueBiao (粤标) terminals: the peripheral pass-through types of every active-safety terminal, and the
#: 30/40-byte layouts of 0x1210 and 0x9208.
YUEBIAO = ACTIVE_SAFETY.derive("yuebiao")
YUEBIAO.register_message(YueBiaoAlarmAttachmentList, (V2013, V2019), 0x1210)
YUEBIAO.register_message(YueBiaoAlarmAttachmentRequest, (V2013, V2019), 0x9208)

YUEBIAO.register_params((ParamDef(0xF370, "video_protocol_version", ParamType.RAW,
                                  "智能视频协议版本信息 (YueBiao: the intelligent-video protocol version)"),))

#: Message ids whose YueBiao layout differs from SuBiao's, plus the YueBiao-only 0x1FC4.
YUEBIAO_IDS: tuple[int, ...] = (0x1210, 0x9208, 0x1FC4)
