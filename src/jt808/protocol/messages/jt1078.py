"""JT/T 1078-2016 signalling (audio/video terminals) on the JT/T 808 link.

0x1003 终端上传音视频属性 / 0x9003 查询终端音视频属性, 0x1005 终端上传乘客流量, 0x1205 终端上传音视频资源列表 /
0x9205 查询资源列表, 0x1206 文件上传完成通知, 0x9101 实时音视频传输请求, 0x9102 音视频实时传输控制,
0x9105 实时音视频传输状态通知, 0x9201 平台下发远程录像回放请求, 0x9202 平台下发远程录像回放控制,
0x9206 文件上传指令, 0x9207 文件上传控制, 0x9301–0x9306 云台 (PTZ) / 红外补光 controls.

JT/T 1078 is written on the 2013 base and used unchanged by 2019 terminals: each body is declared once
for 2013 and 2019 (2011 frames fall back to the 2013 layout). Times are BCD ``YYMMDDhhmmss`` (GMT+8).
The 64-bit alarm flags of 0x1205 / 0x9205 / 0x9206 are bits 0–31 as the 0x0200 alarm word and bits 32–63
as the 1078 video alarms (:class:`VideoAlarm`, bit ``n`` at ``32 + n``); 0 means "any".

The media stream itself (RTP-like packets on the port named in 0x9101/0x9201) is not here: see
``jt808.protocol.media1078`` (owned by the video slice).

JSON keys are the standard's field names in the seed-004 style (``channel``, ``start_time`` …); the table
is in ``docs/jt1078.md``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

from jt808.errors import TruncatedError
from jt808.protocol.buffer import Reader
from jt808.protocol.header import V2013, V2019
from jt808.protocol.jsonutil import json_int
from jt808.protocol.messages.params import BitField, ParamDef, ParamType
from jt808.protocol.registry import ExtraCodec, Profile
from jt808.protocol.spec import (
    BCD,
    BYTE,
    DWORD,
    LIST,
    QWORD,
    STR8,
    WORD,
    Body,
    Record,
    message,
    record,
    wire,
)

__all__ = [
    "JT1078",
    "JT1078_IDS",
    "JT1078_ITEMS",
    "JT1078_PARAMS",
    "AVAttributes",
    "AVResource",
    "AVResourceList",
    "AbnormalDriving",
    "FileUploadCommand",
    "FileUploadControl",
    "FileUploadDone",
    "InfraredLight",
    "PassengerFlow",
    "PlaybackControl",
    "PlaybackRequest",
    "PtzFocus",
    "PtzIris",
    "PtzRotate",
    "PtzWiper",
    "PtzZoom",
    "QueryAVAttributes",
    "QueryAVResources",
    "RealtimeAVControl",
    "RealtimeAVRequest",
    "RealtimeAVStatus",
    "VideoAlarm",
]

_VERSIONS = (V2013, V2019)


class VideoAlarm(IntEnum):
    """JT/T 1078 table 14 — video alarm bits (0x0200 item 0x14; bits 32+n of the 64-bit alarm flags)."""

    VIDEO_SIGNAL_LOST = 0        # 视频信号丢失报警
    VIDEO_SIGNAL_BLOCKED = 1     # 视频信号遮挡报警
    STORAGE_FAULT = 2            # 存储单元故障报警
    OTHER_VIDEO_FAULT = 3        # 其他视频设备故障报警
    PASSENGER_OVERLOAD = 4       # 客车超员报警
    ABNORMAL_DRIVING = 5         # 异常驾驶行为报警
    SPECIAL_ALARM_RECORDING_FULL = 6  # 特殊报警录像达到存储阈值报警

    @property
    def title(self) -> str:
        return _VIDEO_ALARM_TITLES[self]


_VIDEO_ALARM_TITLES = {
    VideoAlarm.VIDEO_SIGNAL_LOST: "视频信号丢失报警",
    VideoAlarm.VIDEO_SIGNAL_BLOCKED: "视频信号遮挡报警",
    VideoAlarm.STORAGE_FAULT: "存储单元故障报警",
    VideoAlarm.OTHER_VIDEO_FAULT: "其他视频设备故障报警",
    VideoAlarm.PASSENGER_OVERLOAD: "客车超员报警",
    VideoAlarm.ABNORMAL_DRIVING: "异常驾驶行为报警",
    VideoAlarm.SPECIAL_ALARM_RECORDING_FULL: "特殊报警录像达到存储阈值报警",
}


class AbnormalDriving(IntEnum):
    """JT/T 1078 table 15 — abnormal driving behaviour bits (0x0200 item 0x18, bits 0–2; bits 8–15 are the
    fatigue level)."""

    FATIGUE = 0    # 疲劳
    PHONE = 1      # 打电话
    SMOKING = 2    # 抽烟

    @property
    def title(self) -> str:
        return {0: "疲劳驾驶", 1: "打电话", 2: "抽烟"}[int(self)]


# ---------------------------------------------------------------------------------------------
# Attributes and passenger flow
# ---------------------------------------------------------------------------------------------
@message(0x9003, versions=_VERSIONS, answered_by=(0x1003,))
class QueryAVAttributes(Body):
    """查询终端音视频属性 — query the terminal's audio/video attributes. Empty body; answered by 0x1003."""


@message(0x1003, versions=_VERSIONS, quotes="")
class AVAttributes(Body):
    """终端上传音视频属性 — audio/video attributes (answer to 0x9003). Encodings per JT/T 1078 table 12."""

    input_audio_encoding: int = wire(BYTE, doc="输入音频编码方式 (table 12: 6 G.711A, 7 G.711U, 8 G.726, 19 AAC …)")
    input_audio_channels: int = wire(BYTE, doc="输入音频声道数")
    input_audio_sample_rate: int = wire(BYTE, doc="输入音频采样率: 0 8 kHz, 1 22.05 kHz, 2 44.1 kHz, 3 48 kHz")
    input_audio_sample_bits: int = wire(BYTE, doc="输入音频采样位数: 0 8 bit, 1 16 bit, 2 32 bit")
    audio_frame_length: int = wire(WORD, doc="音频帧长度")
    audio_output: int = wire(BYTE, doc="是否支持音频输出: 0 no, 1 yes")
    video_encoding: int = wire(BYTE, doc="视频编码方式 (table 12: 98 H.264, 99 H.265 …)")
    max_audio_channels: int = wire(BYTE, doc="终端支持的最大音频物理通道数量")
    max_video_channels: int = wire(BYTE, doc="终端支持的最大视频物理通道数量")

    msg_id: ClassVar[int]


@message(0x1005, versions=_VERSIONS)
class PassengerFlow(Body):
    """终端上传乘客流量 — passengers boarding and alighting over a period."""

    start_time: str = wire(BCD(6), doc="起始时间 YYMMDDhhmmss")
    end_time: str = wire(BCD(6), doc="结束时间 YYMMDDhhmmss")
    boarding: int = wire(WORD, doc="上车人数")
    alighting: int = wire(WORD, doc="下车人数")

    msg_id: ClassVar[int]


# ---------------------------------------------------------------------------------------------
# Real-time audio/video
# ---------------------------------------------------------------------------------------------
@message(0x9101, versions=_VERSIONS)
class RealtimeAVRequest(Body):
    """实时音视频传输请求 — ask the terminal to stream a channel to a media server (answered by 0x0001)."""

    ip: str = wire(STR8, doc="服务器 IP 地址 (or host name)")
    tcp_port: int = wire(WORD, doc="服务器视频通道监听端口号 (TCP), 0 = no TCP")
    udp_port: int = wire(WORD, doc="服务器视频通道监听端口号 (UDP), 0 = no UDP")
    channel: int = wire(BYTE, doc="逻辑通道号 (JT/T 1076 table 2)")
    data_type: int = wire(BYTE, doc="数据类型: 0 audio+video, 1 video, 2 two-way intercom, 3 monitor, "
                                    "4 centre broadcast, 5 transparent transmission")
    stream_type: int = wire(BYTE, doc="码流类型: 0 main stream, 1 sub stream")

    msg_id: ClassVar[int]


@message(0x9102, versions=_VERSIONS)
class RealtimeAVControl(Body):
    """音视频实时传输控制 — close / switch / pause / resume a live stream (answered by 0x0001)."""

    channel: int = wire(BYTE, doc="逻辑通道号")
    command: int = wire(BYTE, doc="控制指令: 0 close, 1 switch stream, 2 pause all, 3 resume, "
                                  "4 close two-way intercom")
    close_type: int = wire(BYTE, doc="关闭音视频类型: 0 close audio and video, 1 audio only, 2 video only")
    stream_type: int = wire(BYTE, doc="切换码流类型: 0 main stream, 1 sub stream")

    msg_id: ClassVar[int]


@message(0x9105, versions=_VERSIONS)
class RealtimeAVStatus(Body):
    """实时音视频传输状态通知 — the platform tells the terminal the packet loss it sees (every 3 s)."""

    channel: int = wire(BYTE, doc="逻辑通道号")
    loss_rate: int = wire(BYTE, doc="丢包率: loss × 100, integer part")

    msg_id: ClassVar[int]


# ---------------------------------------------------------------------------------------------
# Recordings: resource list, playback, file upload
# ---------------------------------------------------------------------------------------------
@message(0x9205, versions=_VERSIONS, answered_by=(0x1205,))
class QueryAVResources(Body):
    """查询资源列表 — search the terminal's recordings (answered by 0x1205)."""

    channel: int = wire(BYTE, doc="逻辑通道号, 0 = all channels")
    start_time: str = wire(BCD(6), doc="开始时间 YYMMDDhhmmss, all zeros = no start limit")
    end_time: str = wire(BCD(6), doc="结束时间 YYMMDDhhmmss, all zeros = no end limit")
    alarm: int = wire(QWORD, doc="报警标志: bits 0-31 as 0x0200 alarm, bits 32-63 JT/T 1078 table 14; 0 = any")
    media_type: int = wire(BYTE, doc="音视频资源类型: 0 audio and video, 1 audio, 2 video, 3 video or AV")
    stream_type: int = wire(BYTE, doc="码流类型: 0 all, 1 main stream, 2 sub stream")
    memory_type: int = wire(BYTE, doc="存储器类型: 0 all, 1 main storage, 2 backup storage")

    msg_id: ClassVar[int]


@record
class AVResource(Record):
    """One recording of a 0x1205 resource list (28 bytes)."""

    channel: int = wire(BYTE, doc="逻辑通道号")
    start_time: str = wire(BCD(6), doc="开始时间")
    end_time: str = wire(BCD(6), doc="结束时间")
    alarm: int = wire(QWORD, doc="报警标志 (64 bits)")
    media_type: int = wire(BYTE, doc="音视频资源类型: 0 AV, 1 audio, 2 video")
    stream_type: int = wire(BYTE, doc="码流类型: 1 main, 2 sub")
    memory_type: int = wire(BYTE, doc="存储器类型: 1 main, 2 backup")
    size: int = wire(DWORD, doc="文件大小 (bytes)")


@message(0x1205, versions=_VERSIONS, quotes="seq")
class AVResourceList(Body):
    """终端上传音视频资源列表 — the recordings matching a 0x9205 query.

    Items are 28 bytes (64-bit alarm flags, as the standard and go-jt808). Older SmallChi releases write
    a 32-bit alarm flag (24-byte items): such a list is recognised by its size, decoded with the high
    alarm bits 0 and noted in ``packet.problems``; it re-encodes in the standard layout.
    """

    seq: int = wire(WORD, doc="流水号 of the 0x9205 answered")
    items: list[AVResource] = wire(LIST(AVResource, DWORD, count_key="count"), doc="音视频资源列表")

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> AVResourceList:
        seq = r.u16("seq")
        n = r.u32("count")
        left = r.end - r.pos
        if n and left != 28 * n and left == 24 * n:
            r.note(f"0x1205: {n} item(s) of 24 bytes: 32-bit alarm flags (older SmallChi layout), read as 64-bit")
            items = []
            for _ in range(n):
                ch = r.u8("items.channel")
                start, end = r.bcd(6, "items.start_time"), r.bcd(6, "items.end_time")
                alarm = r.u32("items.alarm")
                mt, st, mem = r.u8("items.media_type"), r.u8("items.stream_type"), r.u8("items.memory_type")
                items.append(AVResource(ch, start, end, alarm, mt, st, mem, r.u32("items.size")))
            return cls(seq, items)
        if 28 * n > left:
            raise TruncatedError(f"{n} resource item(s) need {28 * n} bytes, {left} left", offset=r.pos,
                                 field="items")
        return cls(seq, [AVResource.decode(r) for _ in range(n)])


@message(0x9201, versions=_VERSIONS, answered_by=(0x1205, 0x0001))
class PlaybackRequest(Body):
    """平台下发远程录像回放请求 — play back a recording to a media server (answered by 0x1205)."""

    ip: str = wire(STR8, doc="服务器 IP 地址 (or host name)")
    tcp_port: int = wire(WORD, doc="服务器音视频通道监听端口号 (TCP), 0 = no TCP")
    udp_port: int = wire(WORD, doc="服务器音视频通道监听端口号 (UDP), 0 = no UDP")
    channel: int = wire(BYTE, doc="逻辑通道号")
    media_type: int = wire(BYTE, doc="音视频类型: 0 audio and video, 1 audio, 2 video, 3 video or AV")
    stream_type: int = wire(BYTE, doc="码流类型: 0 main or sub, 1 main, 2 sub")
    memory_type: int = wire(BYTE, doc="存储器类型: 0 main or backup, 1 main, 2 backup")
    playback_mode: int = wire(BYTE, doc="回放方式: 0 normal, 1 fast forward, 2 key frames backwards, "
                                        "3 key frames only, 4 single frame upload")
    speed: int = wire(BYTE, doc="快进或快退倍数: 0 none, 1 ×1, 2 ×2, 3 ×4, 4 ×8, 5 ×16 (modes 1 and 2)")
    start_time: str = wire(BCD(6), doc="开始时间 YYMMDDhhmmss (mode 4: the single frame)")
    end_time: str = wire(BCD(6), doc="结束时间 YYMMDDhhmmss, all zeros = until the end")

    msg_id: ClassVar[int]


@message(0x9202, versions=_VERSIONS)
class PlaybackControl(Body):
    """平台下发远程录像回放控制 — pause / resume / speed / seek a playback (answered by 0x0001)."""

    channel: int = wire(BYTE, doc="音视频通道号")
    command: int = wire(BYTE, doc="回放控制: 0 start, 1 pause, 2 stop, 3 fast forward, 4 key frames backwards, "
                                  "5 seek, 6 key frames only")
    speed: int = wire(BYTE, doc="快进或快退倍数: 0 none, 1 ×1, 2 ×2, 3 ×4, 4 ×8, 5 ×16 (commands 3 and 4)")
    time: str = wire(BCD(6), doc="拖动回放位置 YYMMDDhhmmss (command 5)")

    msg_id: ClassVar[int]


@message(0x9206, versions=_VERSIONS)
class FileUploadCommand(Body):
    """文件上传指令 — upload recordings to an FTP server (answered by 0x0001, then 0x1206 when done)."""

    ip: str = wire(STR8, doc="服务器地址 (FTP host)")
    port: int = wire(WORD, doc="FTP 端口")
    username: str = wire(STR8, doc="用户名")
    password: str = wire(STR8, doc="密码")
    path: str = wire(STR8, doc="文件上传路径")
    channel: int = wire(BYTE, doc="逻辑通道号")
    start_time: str = wire(BCD(6), doc="开始时间 YYMMDDhhmmss")
    end_time: str = wire(BCD(6), doc="结束时间 YYMMDDhhmmss")
    alarm: int = wire(QWORD, doc="报警标志 (64 bits, 0 = any)")
    media_type: int = wire(BYTE, doc="音视频资源类型: 0 AV, 1 audio, 2 video, 3 video or AV")
    stream_type: int = wire(BYTE, doc="码流类型: 0 main or sub, 1 main, 2 sub")
    storage: int = wire(BYTE, doc="存储位置: 0 main or backup, 1 main, 2 backup")
    condition: int = wire(BYTE, doc="任务执行条件 bits: 0 WIFI, 1 LAN, 2 3G/4G")

    msg_id: ClassVar[int]


@message(0x1206, versions=_VERSIONS)
class FileUploadDone(Body):
    """文件上传完成通知 — the FTP upload of a 0x9206 has finished."""

    seq: int = wire(WORD, doc="应答流水号 of the 0x9206")
    result: int = wire(BYTE, doc="结果: 0 success, 1 failure")

    msg_id: ClassVar[int]


@message(0x9207, versions=_VERSIONS)
class FileUploadControl(Body):
    """文件上传控制 — pause / resume / cancel a running 0x9206 upload (answered by 0x0001)."""

    seq: int = wire(WORD, doc="应答流水号 of the 0x9206")
    command: int = wire(BYTE, doc="上传控制: 0 pause, 1 resume, 2 cancel")

    msg_id: ClassVar[int]


# ---------------------------------------------------------------------------------------------
# PTZ (云台) and infrared light — "channel BYTE · control BYTE(s)", answered by 0x0001
# ---------------------------------------------------------------------------------------------
@record
class _ChannelControl(Body):
    channel: int = wire(BYTE, doc="逻辑通道号")


@message(0x9301, versions=_VERSIONS)
class PtzRotate(_ChannelControl):
    """云台旋转 — rotate the pan-tilt head."""

    direction: int = wire(BYTE, doc="方向: 0 stop, 1 up, 2 down, 3 left, 4 right")
    speed: int = wire(BYTE, doc="速度 0-255")


@message(0x9302, versions=_VERSIONS)
class PtzFocus(_ChannelControl):
    """云台调整焦距控制 — adjust the focus."""

    direction: int = wire(BYTE, doc="焦距调整方向: 0 focus far (+), 1 focus near (-)")


@message(0x9303, versions=_VERSIONS)
class PtzIris(_ChannelControl):
    """云台调整光圈控制 — adjust the iris."""

    direction: int = wire(BYTE, doc="光圈调整方式: 0 open (+), 1 close (-)")


@message(0x9304, versions=_VERSIONS)
class PtzWiper(_ChannelControl):
    """云台雨刷控制 — start / stop the wiper."""

    command: int = wire(BYTE, doc="启停标识: 0 stop, 1 start")


@message(0x9305, versions=_VERSIONS)
class InfraredLight(_ChannelControl):
    """红外补光控制 — infrared fill light on / off."""

    command: int = wire(BYTE, doc="启停标识: 0 stop, 1 start")


@message(0x9306, versions=_VERSIONS)
class PtzZoom(_ChannelControl):
    """云台变倍控制 — zoom in / out."""

    command: int = wire(BYTE, doc="变倍控制: 0 zoom in (+), 1 zoom out (-)")


#: Every JT/T 1078 signalling id declared here.
JT1078_IDS: tuple[int, ...] = (0x1003, 0x1005, 0x1205, 0x1206, 0x9003, 0x9101, 0x9102, 0x9105, 0x9201, 0x9202,
                               0x9205, 0x9206, 0x9207, 0x9301, 0x9302, 0x9303, 0x9304, 0x9305, 0x9306)


# ---------------------------------------------------------------------------------------------
# 0x0200 additional items 0x14-0x18 and parameters 0x0075-0x007C: rows of the item / parameter tables,
# registered on the ``jt1078`` profile (vendors squat these ids, so they are not standard-table rows)
# ---------------------------------------------------------------------------------------------
def _uint_item(eid: int, key: str, size: int, description: str) -> ExtraCodec:
    hi = (1 << (8 * size)) - 1
    return ExtraCodec(key, lambda b: int.from_bytes(b, "big"), lambda v: int(v).to_bytes(size, "big"), (size,),
                      uint=size, id=eid, wire={2: "WORD", 4: "DWORD"}[size], description=description,
                      from_json=lambda v, f: json_int(v, f, 0, hi))


#: JT/T 1078 table 13/14/15 items of the location report.
JT1078_ITEMS: tuple[ExtraCodec, ...] = (
    _uint_item(0x14, "video_alarm", 4, "JT/T 1078 video alarms, bits per VideoAlarm (视频相关报警)"),
    _uint_item(0x15, "video_signal_lost", 4, "video signal lost, bit n = logical channel n+1 (视频信号丢失报警状态)"),
    _uint_item(0x16, "video_signal_blocked", 4, "video signal blocked, bit n = channel n+1 (视频信号遮挡报警状态)"),
    _uint_item(0x17, "storage_fault", 2, "storage faults: bits 0-11 main stores 1-12, 12-15 backup 1-4 "
                                         "(存储器故障报警状态)"),
    _uint_item(0x18, "abnormal_driving", 2, "abnormal driving: bit 0 fatigue, 1 phone, 2 smoking; bits 8-15 fatigue "
                                            "level 0-100 (异常驾驶行为报警详细描述)"),
)


def _stream(prefix: str, shift: int) -> tuple[BitField, ...]:
    """One encoder setting of 0x0075: mode BYTE, resolution BYTE, key-frame interval WORD, frame rate BYTE,
    bit rate DWORD (9 bytes), ``shift`` bits from the value's end."""
    return (BitField(f"{prefix}_mode", shift + 64, 8), BitField(f"{prefix}_resolution", shift + 56, 8),
            BitField(f"{prefix}_keyframe_interval", shift + 40, 16), BitField(f"{prefix}_frame_rate", shift + 32, 8),
            BitField(f"{prefix}_bit_rate", shift, 32))


def _wake_times() -> tuple[BitField, ...]:
    out: list[BitField] = []
    for i in range(4):  # 4 periods × (wake BCD[2], sleep BCD[2]), from the value's end backwards
        base = (3 - i) * 32
        out += [BitField(f"period{i + 1}_wake_bcd", base + 16, 16), BitField(f"period{i + 1}_sleep_bcd", base, 16)]
    return tuple(out)


_RAW = ParamType.RAW
#: JT/T 1078 terminal parameters (table 2-9 of the standard): fixed layouts as bit fields of the value. Values stay
#: bytes (base64 in JSON, as in the standard table, so a document reads the same with or without the profile);
#: ``ParamDef.unpack`` / ``pack`` give and take the fields, ``--pretty`` / ``--explain`` name them.
JT1078_PARAMS: tuple[ParamDef, ...] = (
    ParamDef(0x0075, "av_params", ParamType.BYTES,
             "音视频参数设置: real-time stream and storage encoder settings, OSD bits, audio output", 21,
             fields=(*_stream("live", 96), *_stream("store", 24), BitField("osd", 8, 16),
                     BitField("audio_output", 0, 8))),
    ParamDef(0x0076, "av_channels", _RAW, "音视频通道列表设置: channel counts and the physical -> logical channel "
             "table (variable length, raw)"),
    ParamDef(0x0077, "video_channel_params", _RAW, "单独视频通道参数设置: per-channel encoder settings (variable "
             "length, raw)"),
    ParamDef(0x0079, "special_alarm_recording", ParamType.BYTES, "特殊报警录像参数设置", 3,
             fields=(BitField("storage_threshold_pct", 16, 8), BitField("duration_min", 8, 8),
                     BitField("pre_record_min", 0, 8))),
    ParamDef(0x007A, "video_alarm_mask", ParamType.BYTES, "视频相关报警屏蔽字 (DWORD): bit = VideoAlarm bit, 1 masks",
             4,
             fields=tuple(BitField(a.name.lower(), int(a), 1) for a in VideoAlarm)),
    ParamDef(0x007B, "image_analysis_alarms", ParamType.BYTES, "图像分析报警参数设置", 2,
             fields=(BitField("passenger_limit", 8, 8), BitField("fatigue_threshold", 0, 8))),
    ParamDef(0x007C, "sleep_wake", ParamType.BYTES, "终端休眠模式唤醒设置: mode, conditions, days, period flags, four "
             "periods (BCD hhmm)", 20,
             fields=(BitField("wake_mode", 152, 8), BitField("wake_condition", 144, 8),
                     BitField("wake_days", 136, 8), BitField("periods_enabled", 128, 8), *_wake_times())),
)

#: Terminals speaking JT/T 1078: its location items and parameters (the messages need no profile).
JT1078 = Profile("jt1078")
JT1078.register_extras(JT1078_ITEMS)
JT1078.register_params(JT1078_PARAMS)
