"""Terminal parameters, control, attributes and upgrade.

0x8103 设置终端参数, 0x0104 查询终端参数应答, 0x8106 查询指定终端参数, 0x8105 终端控制, 0x0107 查询终端属性应答,
0x8108 下发终端升级包, 0x0108 终端升级结果通知 (the empty queries 0x8104 / 0x8107 live in ``general``).

Parameters (PROTOCOL.md §5) are items ``id DWORD · len BYTE · value``. Their types are data: :data:`PARAMS`
(every id of §5) plus :data:`PARAM_RANGES` (0x0110–0x01FF per-CAN-id BYTE[8], 0xF000–0xFFFF vendor raw),
looked up with :func:`param_def`. A body holds an ordered list of :class:`Param` (duplicates kept):

- a typed id whose ``len`` matches gives ``int`` (DWORD/WORD/BYTE), ``str`` (STRING, profile encoding) or
  ``bytes`` (BYTE[n]);
- a typed id whose ``len`` disagrees with its type (SmallChi issue #55: 0x0032 sent as 2 bytes; EMQX
  crashes on 0x0090 sent as 4) keeps its bytes as :class:`RawValue` and is noted in the packet's
  problems; the other items decode normally;
- an id the table does not define in the message's version (reserved, unknown) keeps plain ``bytes``,
  noted; vendor (0xF000–0xFFFF) and JT/T 1078 (0x0075–0x007C) ids are raw ``bytes`` without a note.

Everything re-encodes byte for byte. Versions: ids marked 2019 (0x0023–0x0026, 0x0032) are reserved,
hence raw, in 2011/2013. The 2013-only ports 0x0018/0x0019 stay typed in 2019 too: 2019 devices still
send them and EMQX types them by id whatever the version.

JSON (seed 004 / EMQX ``client_param_data_type``): ``{"id": int, "value": v}`` with ``v`` an integer for
DWORD/WORD/BYTE ids, a string for STRING ids and base64 for everything else (BYTE[n], raw, unknown).
Deliberate difference from EMQX: it has no types for the 2019 ids 0x0023–0x0026 and sends them as
base64; here they are the standard's STRING in 2019.

Compound values stay integers / bytes on the wire; :func:`pack_time_window` (0x0032),
:func:`pack_collision` (0x005D), :func:`pack_photo_control` (0x0064/0x0065) and
:func:`pack_can_sampling` (0x0110+) build them, their ``unpack_*`` twins and :func:`describe_param`
explain them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, IntEnum, IntFlag
from functools import lru_cache
from typing import Any, ClassVar, NamedTuple

from jt808.errors import BodyError, EncodeError
from jt808.protocol.buffer import Reader, Writer
from jt808.protocol.header import V2013, V2019, Version
from jt808.protocol.jsonutil import LengthKeys, b64, unb64
from jt808.protocol.registry import Profile
from jt808.protocol.spec import (
    BCD,
    BYTE,
    BYTES32,
    DWORD,
    LIST,
    STR,
    STR8,
    STR_REST,
    WORD,
    Body,
    _List,
    by_version,
    message,
    wire,
)

__all__ = [
    "CONNECT_FIELDS",
    "PARAMS",
    "PARAM_RANGES",
    "UPGRADE_FIELDS",
    "AttributesReply",
    "BitField",
    "CanSampling",
    "CollisionSetting",
    "CommModule",
    "ControlCommand",
    "GnssModule",
    "Param",
    "ParamDef",
    "ParamType",
    "ParametersReply",
    "PhotoControl",
    "QueryGivenParameters",
    "RawValue",
    "SetParameters",
    "TerminalControl",
    "TerminalType",
    "UpgradePackage",
    "UpgradeResult",
    "UpgradeResultCode",
    "UpgradeType",
    "control_param",
    "describe_param",
    "make_params",
    "pack_can_sampling",
    "pack_collision",
    "pack_photo_control",
    "pack_time_window",
    "param_def",
    "param_id",
    "parse_control_param",
    "read_params",
    "unpack_can_sampling",
    "unpack_collision",
    "unpack_photo_control",
    "unpack_time_window",
    "write_params",
]


# =============================================================================================
# The parameter table
# =============================================================================================
class ParamType(Enum):
    """Wire type of a parameter value."""

    DWORD = "DWORD"
    WORD = "WORD"
    BYTE = "BYTE"
    STRING = "STRING"
    BYTES = "BYTE[n]"  # fixed size (ParamDef.size)
    RAW = "BYTE[]"  # any length, kept as bytes

    @property
    def is_int(self) -> bool:
        return self in _INT_TYPES


_INT_TYPES = frozenset((ParamType.DWORD, ParamType.WORD, ParamType.BYTE))
_SIZES = {ParamType.DWORD: 4, ParamType.WORD: 2, ParamType.BYTE: 1}


class BitField(NamedTuple):
    """One part of a compound parameter value: ``width`` bits from bit ``shift`` (bit 0 = least
    significant of the big-endian value), at most ``limit`` (default: what the bits hold), in units of
    ``scale`` (e.g. 4 for a field of 4 ms steps given in ms)."""

    name: str
    shift: int
    width: int
    limit: int | None = None
    scale: int = 1

    @property
    def max(self) -> int:
        return self.limit if self.limit is not None else (1 << self.width) - 1


def _flags(names: str, shift: int = 0) -> tuple[BitField, ...]:
    return tuple(BitField(n, shift + i, 1) for i, n in enumerate(names.split()))


_PHOTO = (*_flags("ch1 ch2 ch3 ch4 ch5"), *_flags("up1 up2 up3 up4 up5", 8), BitField("large_unit", 16, 1),
          BitField("interval", 17, 15))


@dataclass(frozen=True, slots=True)
class ParamDef:
    """One terminal parameter: id, snake_case name, wire type, meaning, version limits.

    ``size`` is the value's byte count (None: any length). ``since`` is the first version defining the
    id (before it the id is reserved and decoded raw); ``until`` the last one (informational: the id
    stays typed after it, see the module docstring).
    """

    id: int
    name: str
    type: ParamType
    description: str
    size: int | None = None
    since: Version | None = None
    until: Version | None = None
    #: the parts of a compound value (bit fields of the big-endian value), in the order of
    #: :meth:`pack` / :meth:`unpack` (the QuecPython SDK's argument order)
    fields: tuple[BitField, ...] = ()

    def pack(self, values: Sequence[Any]) -> int | bytes:
        """A compound value from its parts (:attr:`fields` order); ValueError when a part does not fit."""
        if len(values) != len(self.fields):
            raise ValueError(f"0x{self.id:04X} ({self.name}) takes {len(self.fields)} values, got {len(values)}")
        v = 0
        for f, x in zip(self.fields, values, strict=True):
            if isinstance(x, bool) or not isinstance(x, int):
                raise ValueError(f"{f.name} expects an integer, got {x!r}")
            units = (x + f.scale // 2) // f.scale
            if not 0 <= units <= f.max:
                raise ValueError(f"{f.name} is out of range")
            v |= units << f.shift
        return v.to_bytes(self.size or 0, "big") if self.type is ParamType.BYTES else v

    def unpack(self, value: int | bytes) -> tuple[int, ...]:
        """The parts of a compound value (inverse of :meth:`pack`)."""
        v = value if isinstance(value, int) else int.from_bytes(value, "big")
        return tuple((v >> f.shift & ((1 << f.width) - 1)) * f.scale for f in self.fields)

    @property
    def kind(self) -> str:
        """``DWORD``, ``WORD``, ``BYTE``, ``STRING``, ``BYTE[8]`` … or ``BYTE[n]`` for raw values."""
        if self.type is ParamType.BYTES:
            return f"BYTE[{self.size}]"
        if self.type is ParamType.RAW:
            return "BYTE[n]"
        return str(self.type.value)

    def defined_in(self, version: Version) -> bool:
        return self.since is None or version >= self.since


def _p(pid: int, name: str, ptype: ParamType, description: str, ver: str = "", size: int | None = None,
       fields: tuple[BitField, ...] = ()) -> ParamDef:
    since = V2019 if ver == "19" else None
    until = V2013 if ver == "13" else None
    return ParamDef(pid, name, ptype, description, size if size is not None else _SIZES.get(ptype), since, until,
                    fields)


_D, _W, _B, _S, _N, _R = (ParamType.DWORD, ParamType.WORD, ParamType.BYTE, ParamType.STRING, ParamType.BYTES,
                          ParamType.RAW)

#: Every individually defined parameter id of PROTOCOL.md §5.
PARAMS: dict[int, ParamDef] = {d.id: d for d in (
    _p(0x0001, "heartbeat_interval", _D, "heartbeat interval, s"),
    _p(0x0002, "tcp_reply_timeout", _D, "TCP reply timeout, s"),
    _p(0x0003, "tcp_retransmissions", _D, "TCP retransmission count"),
    _p(0x0004, "udp_reply_timeout", _D, "UDP reply timeout, s"),
    _p(0x0005, "udp_retransmissions", _D, "UDP retransmission count"),
    _p(0x0006, "sms_reply_timeout", _D, "SMS reply timeout, s"),
    _p(0x0007, "sms_retransmissions", _D, "SMS retransmission count"),
    _p(0x0010, "main_apn", _S, "main server APN (CDMA: PPP dial number)"),
    _p(0x0011, "main_dial_user", _S, "main server dial user"),
    _p(0x0012, "main_dial_password", _S, "main server dial password"),
    _p(0x0013, "main_server_address", _S, "main server address; 2013: IP or domain, 2019: host:port;…"),
    _p(0x0014, "backup_apn", _S, "backup server APN"),
    _p(0x0015, "backup_dial_user", _S, "backup server dial user"),
    _p(0x0016, "backup_dial_password", _S, "backup server dial password"),
    _p(0x0017, "backup_server_address", _S, "backup server address; 2013: IP or domain, 2019: host:port;…"),
    _p(0x0018, "server_tcp_port", _D, "server TCP port (2013; reserved in 2019, port in 0x0013)", "13"),
    _p(0x0019, "server_udp_port", _D, "server UDP port (2013; reserved in 2019)", "13"),
    _p(0x001A, "ic_auth_main_server", _S, "IC-card auth main server IP / domain"),
    _p(0x001B, "ic_auth_tcp_port", _D, "IC-card auth main server TCP port"),
    _p(0x001C, "ic_auth_udp_port", _D, "IC-card auth main server UDP port"),
    _p(0x001D, "ic_auth_backup_server", _S, "IC-card auth backup server IP / domain (ports as main)"),
    _p(0x0020, "report_strategy", _D, "report strategy: 0 by time, 1 by distance, 2 both"),
    _p(0x0021, "report_scheme", _D, "report scheme: 0 by ACC, 1 by login state then ACC"),
    _p(0x0022, "report_interval_no_driver", _D, "report interval, driver not logged in, s"),
    _p(0x0023, "slave_apn", _S, "slave server APN (empty: same as main)", "19"),
    _p(0x0024, "slave_dial_user", _S, "slave server dial user", "19"),
    _p(0x0025, "slave_dial_password", _S, "slave server dial password", "19"),
    _p(0x0026, "slave_backup_address", _S, "slave server backup address, host:port;…", "19"),
    _p(0x0027, "report_interval_sleeping", _D, "report interval when sleeping, s"),
    _p(0x0028, "report_interval_emergency", _D, "report interval during emergency alarm, s"),
    _p(0x0029, "report_interval_default", _D, "default report interval, s"),
    _p(0x002C, "distance_interval_default", _D, "default distance interval, m"),
    _p(0x002D, "distance_interval_no_driver", _D, "distance interval, driver not logged in, m"),
    _p(0x002E, "distance_interval_sleeping", _D, "distance interval when sleeping, m"),
    _p(0x002F, "distance_interval_emergency", _D, "distance interval during emergency alarm, m"),
    _p(0x0030, "corner_angle", _D, "corner re-report angle, degrees < 180"),
    _p(0x0031, "geofence_radius", _W, "geofence radius (illegal-displacement threshold), m"),
    _p(0x0032, "illegal_driving_window", _N, "illegal-driving time window: start h, start min, end h, end min",
       "19", 4, (BitField("start_hour", 24, 8, 23), BitField("start_minute", 16, 8, 59),
                 BitField("end_hour", 8, 8, 23), BitField("end_minute", 0, 8, 59))),
    _p(0x0040, "platform_phone", _S, "monitoring platform phone"),
    _p(0x0041, "reset_phone", _S, "reset phone (calling it resets the terminal)"),
    _p(0x0042, "factory_reset_phone", _S, "factory-reset phone"),
    _p(0x0043, "platform_sms_phone", _S, "platform SMS phone"),
    _p(0x0044, "sms_alarm_phone", _S, "SMS text-alarm number"),
    _p(0x0045, "call_answering", _D, "call answering: 0 auto, 1 auto when ACC on, manual when off"),
    _p(0x0046, "max_call_time", _D, "longest single call, s; 0 none, 0xFFFFFFFF unlimited"),
    _p(0x0047, "max_monthly_call_time", _D, "longest monthly call time, s; 0 none, 0xFFFFFFFF unlimited"),
    _p(0x0048, "listen_phone", _S, "listen-in phone"),
    _p(0x0049, "privileged_sms_phone", _S, "supervision privileged SMS number"),
    _p(0x0050, "alarm_mask", _D, "alarm mask: bit = alarm bit, 1 masks it"),
    _p(0x0051, "alarm_sms_switch", _D, "alarm SMS switch: 1 = send SMS on that alarm"),
    _p(0x0052, "alarm_photo_switch", _D, "alarm photo switch: 1 = take photo on that alarm"),
    _p(0x0053, "alarm_photo_store", _D, "alarm photo storage flag: 1 store locally, 0 upload"),
    _p(0x0054, "key_alarm_flag", _D, "key-alarm flag: 1 = key alarm"),
    _p(0x0055, "max_speed", _D, "maximum speed, km/h"),
    _p(0x0056, "overspeed_duration", _D, "overspeed duration, s"),
    _p(0x0057, "continuous_driving_limit", _D, "continuous driving limit, s"),
    _p(0x0058, "daily_driving_limit", _D, "daily driving limit, s"),
    _p(0x0059, "min_rest", _D, "minimum rest, s"),
    _p(0x005A, "max_parking", _D, "maximum parking time, s"),
    _p(0x005B, "overspeed_warning_margin", _W, "overspeed warning margin, 1/10 km/h"),
    _p(0x005C, "fatigue_warning_margin", _W, "fatigue warning margin, s"),
    _p(0x005D, "collision_setting", _W, "collision alarm: bits 0-7 time (4 ms), bits 8-15 acceleration (0.1 g)",
       fields=(BitField("time_ms", 0, 8, scale=4), BitField("acceleration", 8, 8, 79))),
    _p(0x005E, "rollover_angle", _W, "rollover alarm angle, degrees (default 30)"),
    _p(0x0064, "timed_photo", _D, "timed photo control (channels, upload flags, unit, interval)", fields=_PHOTO),
    _p(0x0065, "distance_photo", _D, "distance photo control (channels, upload flags, unit, interval)",
       fields=_PHOTO),
    _p(0x0070, "image_quality", _D, "image/video quality 1-10, 1 best"),
    _p(0x0071, "brightness", _D, "brightness 0-255"),
    _p(0x0072, "contrast", _D, "contrast 0-127"),
    _p(0x0073, "saturation", _D, "saturation 0-127"),
    _p(0x0074, "chroma", _D, "chroma 0-255"),
    _p(0x0075, "av_params", _R, "JT/T 1078 audio/video parameters (raw)"),
    _p(0x0076, "av_channels", _R, "JT/T 1078 audio/video channel list (raw)"),
    _p(0x0077, "video_channel_params", _R, "JT/T 1078 per-channel video parameters (raw)"),
    _p(0x0079, "special_alarm_recording", _R, "JT/T 1078 special-alarm recording parameters (raw)"),
    _p(0x007A, "video_alarm_mask", _R, "JT/T 1078 video alarm mask (a DWORD there; raw here, as EMQX)"),
    _p(0x007B, "image_analysis_alarms", _R, "JT/T 1078 image-analysis alarm parameters (raw)"),
    _p(0x007C, "sleep_wake", _R, "JT/T 1078 sleep / wake-up mode (raw)"),
    _p(0x0080, "odometer", _D, "odometer, 1/10 km"),
    _p(0x0081, "province", _W, "province id, GB/T 2260"),
    _p(0x0082, "city", _W, "city id, GB/T 2260"),
    _p(0x0083, "plate_number", _S, "plate number"),
    _p(0x0084, "plate_color", _B, "plate colour (0 unplated)"),
    _p(0x0090, "gnss_mode", _B, "GNSS mode bits: 0 GPS, 1 BeiDou, 2 GLONASS, 3 Galileo",
       fields=_flags("gps beidou glonass galileo")),
    _p(0x0091, "gnss_baud_rate", _B, "GNSS baud rate: 0 4800 … 5 115200"),
    _p(0x0092, "gnss_output_rate", _B, "GNSS detail output rate: 0 500 ms, 1 1000 ms, 2 2000, 3 3000, 4 4000 ms"),
    _p(0x0093, "gnss_sampling_rate", _D, "GNSS detail sampling rate, s"),
    _p(0x0094, "gnss_upload_mode", _B, "GNSS detail upload mode: 0 store, 1 time, 2 distance, 0x0B/0x0C/0x0D totals"),
    _p(0x0095, "gnss_upload_setting", _D, "GNSS detail upload setting (unit follows 0x0094)"),
    _p(0x0100, "can1_sampling_interval", _D, "CAN1 sampling interval, ms; 0 off"),
    _p(0x0101, "can1_upload_interval", _W, "CAN1 upload interval, s; 0 off"),
    _p(0x0102, "can2_sampling_interval", _D, "CAN2 sampling interval, ms; 0 off"),
    _p(0x0103, "can2_upload_interval", _W, "CAN2 upload interval, s; 0 off"),
)}

#: Ranges of ids sharing one definition: ``(first, last, type, size, name prefix, description, fields)``.
PARAM_RANGES: tuple[tuple[int, int, ParamType, int | None, str, str, tuple[BitField, ...]], ...] = (
    (0x0110, 0x01FF, ParamType.BYTES, 8, "can_id_sampling",
     "per-CAN-id sampling: bits 63-32 interval ms, 31 channel, 30 frame type, 29 method, 28-0 CAN id",
     (BitField("can_id", 0, 29), BitField("method", 29, 1), BitField("frame_type", 30, 1),
      BitField("channel", 31, 1), BitField("interval_ms", 32, 32))),
    (0xF000, 0xFFFF, ParamType.RAW, None, "vendor", "vendor-defined parameter (raw unless profiled)", ()),
)

_BY_NAME: dict[str, int] = {d.name: d.id for d in PARAMS.values()}


@lru_cache(maxsize=1024)
def _range_def(pid: int) -> ParamDef | None:
    for lo, hi, ptype, size, prefix, desc, fields in PARAM_RANGES:
        if lo <= pid <= hi:
            return ParamDef(pid, f"{prefix}_{pid:04x}", ptype, desc, size, fields=fields)
    return None


def param_def(pid: int, version: Version | None = None, profile: Profile | None = None) -> ParamDef | None:
    """The definition of parameter ``pid`` (``None`` when reserved / unknown): the profile's own rows
    (``Profile.register_params``) first, then the standard table.

    With ``version``, ids that version does not define (the 2019 additions in 2011/2013) give ``None``.
    """
    own = profile.params if profile is not None else None
    d = (own.get(pid) if own else None) or PARAMS.get(pid) or _range_def(pid)
    if d is not None and version is not None and not d.defined_in(version):
        return None
    return d


def param_id(key: int | str) -> int:
    """An id from an id or a table name (``"heartbeat_interval"`` → 0x0001, ``"vendor_f001"`` → 0xF001)."""
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str):
        if key in _BY_NAME:
            return _BY_NAME[key]
        prefix, _, tail = key.rpartition("_")
        for lo, hi, _t, _s, name, _d, _f in PARAM_RANGES:
            if prefix == name:
                try:
                    pid = int(tail, 16)
                except ValueError:
                    break
                if lo <= pid <= hi:
                    return pid
    raise KeyError(f"no terminal parameter named {key!r}")


# =============================================================================================
# Parameter items
# =============================================================================================
class RawValue(bytes):
    """The value bytes of a parameter whose id is typed but whose length does not fit the type.
    Re-encodes as is, whatever the id's type."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"RawValue({bytes(self).hex()})"


@dataclass(slots=True)
class Param:
    """One parameter item: ``id`` and its ``value`` (int, str or bytes, see the module docstring)."""

    id: int
    value: int | str | bytes

    @property
    def name(self) -> str:
        d = param_def(self.id)
        return d.name if d is not None else f"reserved_{self.id:04x}"

    @property
    def is_raw(self) -> bool:
        """True when a typed id's value was kept as raw bytes (:class:`RawValue`)."""
        return isinstance(self.value, RawValue)

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        v = self.value
        return {"id": self.id, "value": b64(v) if isinstance(v, bytes) else v}

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None, index: int = 0) -> Param:
        where = f"params[{index}]"
        if not isinstance(obj, dict):
            raise BodyError(f"expects an object {{id, value}}, got {type(obj).__name__}", field=where)
        if "id" not in obj or "value" not in obj:
            raise BodyError("needs 'id' and 'value'", field=where)
        pid, v = obj["id"], obj["value"]
        if isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid <= 0xFFFFFFFF:
            raise BodyError(f"id must be an integer 0..0xFFFFFFFF, got {pid!r}", field=where + ".id")
        d = param_def(pid, version or V2013)
        field_name = f"{where}.value"
        if d is not None and d.type.is_int:
            if isinstance(v, str):  # an item kept raw on decode comes back as base64
                return cls(pid, RawValue(unb64(v, field_name)))
            if isinstance(v, bool) or not isinstance(v, int):
                raise BodyError(f"0x{pid:04X} ({d.name}) expects an integer, got {type(v).__name__}",
                                field=field_name)
            return cls(pid, v)
        if d is not None and d.type is ParamType.STRING:
            if not isinstance(v, str):
                raise BodyError(f"0x{pid:04X} ({d.name}) expects a string, got {type(v).__name__}",
                                field=field_name)
            return cls(pid, v)
        raw = unb64(v, field_name)
        if d is not None and d.type is ParamType.BYTES and len(raw) != d.size:
            return cls(pid, RawValue(raw))
        return cls(pid, raw)


def _where(r: Reader) -> str:
    return f"0x{r.msg_id:04X}: " if r.msg_id >= 0 else ""


def read_params(r: Reader, count: int) -> list[Param]:
    """Read ``count`` items ``id DWORD · len BYTE · value``. A value running past the body raises
    :class:`~jt808.errors.TruncatedError`; item-level oddities are kept raw and noted (module docstring)."""
    out: list[Param] = []
    append = out.append
    version = r.version
    data, p, end = r.data, r.pos, r.end
    get = PARAMS.get
    own = r.profile.params
    for i in range(count):
        if p + 5 > end:
            r.pos = p
            r.need(4, f"params[{i}].id")
            r.need(1, f"params[{i}].len")
        pid = _from_bytes(data[p:p + 4], "big")
        n = data[p + 4]
        q = p + 5 + n
        if q > end:
            r.pos = p + 5
            r.need(n, f"params[{i}].value")
        raw = data[p + 5:q]
        p = q
        d = (own.get(pid) if own else None) or get(pid) or _range_def(pid)
        if d is None or (d.since is not None and version < d.since):
            why = "is reserved / unknown" if d is None else f"is not defined before {d.since}"
            r.note(f"{_where(r)}parameter 0x{pid:04X} {why} in {version}; {n} byte(s) kept raw")
            append(Param(pid, raw))
            continue
        t = d.type
        if t is ParamType.RAW:
            append(Param(pid, raw))
        elif t is ParamType.STRING:
            append(Param(pid, raw.decode(r.encoding, "surrogateescape")))
        elif n != d.size:
            r.note(f"{_where(r)}parameter 0x{pid:04X} ({d.name}) has {n} byte(s), expected {d.size} "
                   f"({d.kind}); kept raw")
            append(Param(pid, RawValue(raw)))
        elif t is ParamType.BYTES:
            append(Param(pid, raw))
        else:
            append(Param(pid, _from_bytes(raw, "big")))
    r.pos = p
    return out


_from_bytes = int.from_bytes
_DWORD, _WORD, _BYTE = ParamType.DWORD, ParamType.WORD, ParamType.BYTE


def _value_bytes(p: Param, w: Writer, index: int) -> bytes:
    pid, v = p.id, p.value
    if isinstance(v, RawValue):
        return bytes(v)
    d = param_def(pid, w.version, w.profile)
    if d is None or d.type is ParamType.RAW:
        if not isinstance(v, bytes | bytearray):
            what = "is reserved" if d is None else "is raw"
            raise EncodeError(f"parameter 0x{pid:04X} {what} in {w.version}: give its value as bytes",
                              field=f"params[{index}].value", value=v, msg_id=w.msg_id)
        return bytes(v)
    t = d.type
    if t is _DWORD or t is _WORD or t is _BYTE:
        size = d.size or 4
        if type(v) is not int or v < 0 or v >= 1 << (8 * size):
            field_name = f"params[{index}].value"
            if isinstance(v, bool) or not isinstance(v, int):
                raise EncodeError(f"parameter 0x{pid:04X} ({d.name}) is a {d.kind}: give an int "
                                  "(or RawValue for raw bytes)", field=field_name, value=v, msg_id=w.msg_id)
            w._range(v, 0, (1 << (8 * size)) - 1, field_name)
        return v.to_bytes(size, "big")
    if t is ParamType.STRING:
        return w.encode_text(v, f"params[{index}].value")  # type: ignore[arg-type]  # encode_text raises the located error
    if not isinstance(v, bytes | bytearray) or len(v) != d.size:
        raise EncodeError(f"parameter 0x{pid:04X} ({d.name}) needs exactly {d.size} bytes (or a RawValue)",
                          field=f"params[{index}].value", value=v, msg_id=w.msg_id)
    return bytes(v)


def write_params(params: list[Param], w: Writer) -> None:
    """Append the items (no count). Strict: each value must fit its id's type (see :class:`Param`)."""
    out = w.out
    for i, p in enumerate(params):
        if type(p) is not Param and not isinstance(p, Param):
            raise EncodeError("items must be Param", field=f"params[{i}]", value=p, msg_id=w.msg_id)
        pid = p.id
        if (type(pid) is not int and (isinstance(pid, bool) or not isinstance(pid, int))) or not 0 <= pid <= 0xFFFFFFFF:
            raise EncodeError("id must be an integer 0..0xFFFFFFFF", field=f"params[{i}].id", value=pid,
                              msg_id=w.msg_id)
        val = _value_bytes(p, w, i)
        if len(val) > 0xFF:
            raise EncodeError(f"value of {len(val)} bytes does not fit the length BYTE",
                              field=f"params[{i}].value", value=p.value, msg_id=w.msg_id)
        out += pid.to_bytes(4, "big")
        out.append(len(val))
        out += val


def make_params(values: Mapping[int | str, Any] | Iterable[tuple[int | str, Any]]) -> list[Param]:
    """Items from ``{id or name: value}`` (or pairs), in order: ``{"heartbeat_interval": 60, 0x0013: "x"}``."""
    pairs = values.items() if isinstance(values, Mapping) else values
    return [Param(param_id(k), v) for k, v in pairs]


class _Params(_List):
    """The parameter items of 0x8103 / 0x0104: ``length BYTE · [id DWORD · len BYTE · value]*length``
    (:func:`read_params` / :func:`write_params`; JSON items :meth:`Param.to_json` / :meth:`Param.from_json`)."""

    def read(self, r: Reader, field: str) -> list[Param]:
        return read_params(r, r.u8("length"))

    def write(self, w: Writer, v: list[Param], field: str) -> None:
        _write_count(len(v), w)
        write_params(v, w)

    def from_json(self, v: Any, field: str, version: Version | None = None) -> list[Param]:
        if not isinstance(v, list):
            raise BodyError(f"expects a list, got {type(v).__name__}", field=field)
        return [Param.from_json(x, version, i) for i, x in enumerate(v)]


_PARAM_ITEMS = _Params(Param, BYTE, "length")


class _ParamList:
    """Conveniences shared by 0x8103 and 0x0104."""

    __slots__ = ()
    params: list[Param]

    def get(self, key: int | str, default: Any = None) -> Any:
        """Value of the first item with this id (or table name)."""
        pid = param_id(key)
        for p in self.params:
            if p.id == pid:
                return p.value
        return default

    def as_dict(self) -> dict[int, Any]:
        """``{id: value}`` (the last item wins for duplicated ids)."""
        return {p.id: p.value for p in self.params}


def _write_count(n: int, w: Writer) -> None:
    if n > 0xFF:
        raise EncodeError(f"{n} parameters do not fit the count BYTE (max 255): send several messages",
                          field="length", value=n, msg_id=w.msg_id)
    w.out.append(n)


@message(0x8103)
class SetParameters(_ParamList, Body):
    """设置终端参数 — set terminal parameters: ``length BYTE · [id DWORD · len BYTE · value]*length``.

    JSON ``{"length": n, "params": [{"id": .., "value": ..}]}``. Answered by 0x0001.
    """

    params: list[Param] = wire(_PARAM_ITEMS)

    msg_id: ClassVar[int]

    @classmethod
    def of(cls, values: Mapping[int | str, Any] | Iterable[tuple[int | str, Any]]) -> SetParameters:
        """``SetParameters.of({"heartbeat_interval": 60, 0x0013: "host:7611"})``."""
        return cls(make_params(values))


@message(0x0104, quotes="seq")
class ParametersReply(_ParamList, Body):
    """查询终端参数应答 — parameter query reply: ``seq WORD · length BYTE · [id DWORD · len BYTE · value]*``.

    Answers 0x8104 / 0x8106 (``seq`` = their serial); often fragmented. JSON ``{"seq", "length", "params"}``.
    """

    seq: int = wire(WORD)
    params: list[Param] = wire(_PARAM_ITEMS)

    msg_id: ClassVar[int]


@message(0x8106, answered_by=(0x0104,), versions=(V2013, V2019))
class QueryGivenParameters(Body):
    """查询指定终端参数 — query the given parameters: ``length BYTE · ids DWORD*length``. Answered by 0x0104."""

    ids: list[int] = wire(LIST(DWORD, BYTE, count_key="length"))

    msg_id: ClassVar[int]


# =============================================================================================
# Terminal control 0x8105
# =============================================================================================
class ControlCommand(IntEnum):
    """0x8105 ``command`` (PROTOCOL.md §6.3)."""

    WIRELESS_UPGRADE = 1
    CONNECT_SERVER = 2
    POWER_OFF = 3
    RESET = 4
    FACTORY_RESET = 5
    CLOSE_DATA = 6
    CLOSE_WIRELESS = 7


#: ``param`` fields of command 1 (wireless upgrade), in wire order.
UPGRADE_FIELDS = ("url", "apn", "user", "password", "address", "tcp_port", "udp_port", "manufacturer_id",
                  "hardware_version", "firmware_version", "connect_time_limit")
#: ``param`` fields of command 2 (connect to a given server), in wire order.
CONNECT_FIELDS = ("conn_ctrl", "auth_code", "apn", "user", "password", "address", "tcp_port", "udp_port",
                  "connect_time_limit")
_CONTROL_FIELDS = {1: UPGRADE_FIELDS, 2: CONNECT_FIELDS}


def control_param(command: int, **fields: Any) -> str:
    """Build the ``;``-separated text of command 1 or 2; every field is decimal/plain text (S001), a
    missing one is empty. Command 2 with ``conn_ctrl=1`` (back to the default platform) is just ``"1"``."""
    names = _CONTROL_FIELDS.get(command)
    if names is None:
        if fields:
            raise EncodeError(f"command {command} takes no parameters", field="param", value=fields)
        return ""
    unknown = set(fields) - set(names)
    if unknown:
        raise EncodeError(f"unknown field(s) for command {command}: {', '.join(sorted(unknown))}",
                          field="param", value=fields)
    parts = []
    for n in names:
        v = fields.get(n)
        text = "" if v is None else str(v)
        if ";" in text:
            raise EncodeError("a field may not contain ';'", field=f"param.{n}", value=v)
        parts.append(text)
    if command == 2 and parts[0] == "1":
        return "1"
    return ";".join(parts)


def parse_control_param(command: int, param: str) -> dict[str, str]:
    """Split the text of command 1 or 2 into named fields (missing trailing fields are empty; extra
    fields are kept as ``extra_<n>``). Other commands give ``{}``."""
    names = _CONTROL_FIELDS.get(command)
    if names is None:
        return {}
    parts = param.split(";") if param else []
    if parts and parts[-1] == "" and len(parts) > len(names):
        parts.pop()  # a trailing ';' after the last field
    out = {n: (parts[i] if i < len(parts) else "") for i, n in enumerate(names)}
    for i in range(len(names), len(parts)):
        out[f"extra_{i}"] = parts[i]
    return out


@message(0x8105)
class TerminalControl(Body):
    """终端控制 — terminal control: ``command BYTE · param STRING rest``.

    ``param`` is a ``;``-separated GBK text for commands 1 (wireless upgrade) and 2 (connect to a given
    server), empty otherwise; build it with :func:`control_param` / :meth:`upgrade` / :meth:`connect`.
    Answered by 0x0001.
    """

    command: int = wire(BYTE, doc="ControlCommand")
    param: str = wire(STR_REST)

    msg_id: ClassVar[int]

    @classmethod
    def upgrade(cls, **fields: Any) -> TerminalControl:
        """Command 1 with the fields of :data:`UPGRADE_FIELDS`."""
        return cls(ControlCommand.WIRELESS_UPGRADE, control_param(1, **fields))

    @classmethod
    def connect(cls, **fields: Any) -> TerminalControl:
        """Command 2 with the fields of :data:`CONNECT_FIELDS`."""
        return cls(ControlCommand.CONNECT_SERVER, control_param(2, **fields))

    def fields(self) -> dict[str, str]:
        """The named fields of ``param`` (commands 1 and 2)."""
        return parse_control_param(self.command, self.param)


# =============================================================================================
# Attributes 0x0107, upgrade 0x8108 / 0x0108
# =============================================================================================
class TerminalType(IntFlag):
    """0x0107 ``type`` bits (PROTOCOL.md §6.10)."""

    PASSENGER = 1 << 0
    DANGEROUS_GOODS = 1 << 1
    FREIGHT = 1 << 2
    TAXI = 1 << 3
    VIDEO = 1 << 6
    SPLIT_UNIT = 1 << 7
    TRAILER = 1 << 8  # 2019


class GnssModule(IntFlag):
    """0x0107 ``gnss_prop`` bits."""

    GPS = 1
    BEIDOU = 2
    GLONASS = 4
    GALILEO = 8


class CommModule(IntFlag):
    """0x0107 ``comm_prop`` bits."""

    GPRS = 1 << 0
    CDMA = 1 << 1
    TD_SCDMA = 1 << 2
    WCDMA = 1 << 3
    CDMA2000 = 1 << 4
    TD_LTE = 1 << 5
    OTHER = 1 << 7


_ATTR_STD_MAKER = 5
_ATTR_WIDE_MAKER = 11


def _attr_lines_up(r: Reader, maker: int) -> bool:
    """Does a 2019 0x0107 body with a ``maker``-byte manufacturer end exactly at the body's end?"""
    data, end = r.data, r.end
    p = r.pos + 2 + maker + 30 + 30 + 10
    if p >= end:
        return False
    p += 1 + data[p]  # hardware version
    if p >= end:
        return False
    p += 1 + data[p]  # firmware version
    return p + 2 == end


@message(0x0107, quotes="", versions=(V2013, V2019))
class AttributesReply(Body):
    """查询终端属性应答 — terminal attributes.

    ``type WORD · manufacturer BYTE[5] · model BYTE[20|30] · id BYTE[7|30] · iccid BCD[10] ·
    hardware_version (len BYTE + text) · firmware_version (len BYTE + text) · gnss_prop BYTE · comm_prop BYTE``
    (2013 | 2019). The maker id is 5 bytes in both versions (EMQX, yezhihao, SmallChi after issue #43;
    seed 004 says 11 for 2019). A 2019 body whose fixed part only lines up with an 11-byte maker id
    (SmallChi issue #52 devices) is decoded that way, flagged in the problems, and re-encoded the
    same (``maker_size``). Bits: :class:`TerminalType`, :class:`GnssModule`, :class:`CommModule`.
    """

    type: int = wire(WORD, doc="TerminalType bits")
    manufacturer: str = wire(STR(_ATTR_STD_MAKER))
    model: str = wire(by_version(V2013=STR(20), V2019=STR(30)))
    id: str = wire(by_version(V2013=STR(7), V2019=STR(30)), doc="terminal id")
    iccid: str = wire(BCD(10), doc="SIM ICCID, 20 digits")
    hardware_version: str = wire(STR8)
    firmware_version: str = wire(STR8)
    gnss_prop: int = wire(BYTE, doc="GnssModule bits")
    comm_prop: int = wire(BYTE, doc="CommModule bits")
    maker_size: int = field(default=_ATTR_STD_MAKER, compare=False)

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> AttributesReply:
        if (r.version is V2019 and not _attr_lines_up(r, _ATTR_STD_MAKER)
                and _attr_lines_up(r, _ATTR_WIDE_MAKER)):
            obj = cls(
                r.u16("type"), r.str_fixed(_ATTR_WIDE_MAKER, "manufacturer"), r.str_fixed(30, "model"),
                r.str_fixed(30, "id"), r.bcd(10, "iccid"), r.str_len8("hardware_version"),
                r.str_len8("firmware_version"), r.u8("gnss_prop"), r.u8("comm_prop"), _ATTR_WIDE_MAKER)
            r.note(f"{_where(r)}2019 attributes only line up with an 11-byte manufacturer id "
                   "(standard 5): decoded with 11")
            return obj
        return cls._codec(r.version)[0](r)  # type: ignore[no-any-return]  # the compiled decoder of this class

    def encode(self, w: Writer) -> None:
        if self.maker_size == _ATTR_STD_MAKER:
            type(self)._codec(w.version)[1](self, w)
            return
        if self.maker_size != _ATTR_WIDE_MAKER or w.version is not V2019:
            raise EncodeError("maker_size is 5 (or 11 for the 2019 device variant)", field="maker_size",
                              value=self.maker_size, msg_id=w.msg_id)
        w.u16(self.type, "type")
        w.str_fixed(self.manufacturer, _ATTR_WIDE_MAKER, "manufacturer")
        w.str_fixed(self.model, 30, "model")
        w.str_fixed(self.id, 30, "id")
        w.bcd(self.iccid, 10, "iccid")
        w.str_len8(self.hardware_version, "hardware_version")
        w.str_len8(self.firmware_version, "firmware_version")
        w.u8(self.gnss_prop, "gnss_prop")
        w.u8(self.comm_prop, "comm_prop")


class UpgradeType(IntEnum):
    """0x8108 / 0x0108 ``type`` (PROTOCOL.md §6.9; 0x64–0x67 are YueBiao peripherals)."""

    TERMINAL = 0
    IC_CARD_READER = 0x0C
    GNSS_MODULE = 0x34
    ADAS = 0x64
    DSM = 0x65
    TPMS = 0x66
    BSD = 0x67


class UpgradeResultCode(IntEnum):
    """0x0108 ``result``."""

    SUCCESS = 0
    FAILURE = 1
    CANCELLED = 2


@message(0x8108, versions=(V2013, V2019))
class UpgradePackage(LengthKeys, Body):
    """下发终端升级包 — upgrade package: ``type BYTE · manufacturer BYTE[5] · ver_len BYTE · version ·
    fw_len DWORD · firmware``.

    The maker id is 5 bytes in 2019 too (yezhihao, EMQX; SmallChi reads 11). Usually fragmented
    (see :mod:`jt808.protocol.subpackage`). JSON keys ``type, manufacturer, ver_len, version, fw_len,
    firmware`` (base64) — the lengths are written by :meth:`to_json` and checked by :meth:`from_json`.
    Answered by 0x0001, then 0x0108.
    """

    type: int = wire(BYTE, doc="UpgradeType")
    manufacturer: str = wire(STR(5))
    version: str = wire(STR8)
    firmware: bytes = wire(BYTES32)

    msg_id: ClassVar[int]
    _lengths: ClassVar[dict[str, str]] = {"firmware": "fw_len", "version": "ver_len"}
    _check_lengths: ClassVar[bool] = True


@message(0x0108, versions=(V2013, V2019))
class UpgradeResult(Body):
    """终端升级结果通知 — upgrade result: ``type BYTE · result BYTE`` (:class:`UpgradeResultCode`)."""

    type: int = wire(BYTE, doc="UpgradeType")
    result: int = wire(BYTE, doc="UpgradeResultCode")

    msg_id: ClassVar[int]


# =============================================================================================
# Compound parameter values
# =============================================================================================
def _check(name: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise EncodeError(f"out of range {lo}..{hi}", field=name, value=v)
    return v


def pack_time_window(start_hour: int, start_minute: int, end_hour: int, end_minute: int) -> bytes:
    """0x0032 value: four plain binary bytes (S001: ``16 32 0A 1E`` = 22:50 to 10:30 the next day)."""
    return bytes((_check("start_hour", start_hour, 0, 23), _check("start_minute", start_minute, 0, 59),
                  _check("end_hour", end_hour, 0, 23), _check("end_minute", end_minute, 0, 59)))


def unpack_time_window(value: bytes) -> tuple[int, int, int, int]:
    """0x0032 value -> ``(start_hour, start_minute, end_hour, end_minute)``."""
    if len(value) != 4:
        raise BodyError(f"0x0032 needs 4 bytes, got {len(value)}", field="0x0032")
    return value[0], value[1], value[2], value[3]


class CollisionSetting(NamedTuple):
    """0x005D: ``time`` in units of 4 ms (bits 0-7), ``acceleration`` in 0.1 g (bits 8-15)."""

    time: int
    acceleration: int

    @property
    def time_ms(self) -> int:
        return self.time * 4

    @property
    def acceleration_g(self) -> float:
        return self.acceleration / 10


def pack_collision(time: int, acceleration: int) -> int:
    """0x005D value from the collision time (4 ms units) and acceleration (0.1 g units, 0-79)."""
    return _check("acceleration", acceleration, 0, 0xFF) << 8 | _check("time", time, 0, 0xFF)


def unpack_collision(value: int) -> CollisionSetting:
    return CollisionSetting(value & 0xFF, (value >> 8) & 0xFF)


class PhotoControl(NamedTuple):
    """0x0064 (timed) / 0x0065 (distance) photo control.

    ``channels``: cameras 1-5 that take photos; ``upload``: cameras whose photos are uploaded (else
    stored); ``large_unit``: bit 16 (0x0064: minutes instead of seconds; 0x0065: km instead of m);
    ``interval``: bits 17-31.
    """

    channels: frozenset[int]
    upload: frozenset[int]
    large_unit: bool
    interval: int


def _channel_bits(chans: Iterable[int], name: str) -> int:
    bits = 0
    for c in chans:
        bits |= 1 << (_check(name, c, 1, 5) - 1)
    return bits


def pack_photo_control(channels: Iterable[int], upload: Iterable[int] = (), large_unit: bool = False,
                       interval: int = 0) -> int:
    """0x0064 / 0x0065 value (DWORD)."""
    return (_channel_bits(channels, "channels") | _channel_bits(upload, "upload") << 8
            | (1 << 16 if large_unit else 0) | _check("interval", interval, 0, 0x7FFF) << 17)


def unpack_photo_control(value: int) -> PhotoControl:
    return PhotoControl(frozenset(c for c in range(1, 6) if value >> (c - 1) & 1),
                        frozenset(c for c in range(1, 6) if value >> (c + 7) & 1),
                        bool(value >> 16 & 1), value >> 17 & 0x7FFF)


class CanSampling(NamedTuple):
    """0x0110–0x01FF: sampling ``interval_ms`` (0 = off), ``channel`` (0 CAN1, 1 CAN2), ``extended``
    frame, ``computed`` (1 = interval-computed value, 0 = raw data) and the 29-bit ``can_id``."""

    interval_ms: int
    channel: int
    extended: bool
    computed: bool
    can_id: int


def pack_can_sampling(interval_ms: int, channel: int, extended: bool, computed: bool, can_id: int) -> bytes:
    """0x0110+ value: BYTE[8] (bits 63-32 interval, 31 channel, 30 frame type, 29 method, 28-0 id)."""
    v = (_check("interval_ms", interval_ms, 0, 0xFFFFFFFF) << 32 | _check("channel", channel, 0, 1) << 31
         | int(bool(extended)) << 30 | int(bool(computed)) << 29 | _check("can_id", can_id, 0, 0x1FFFFFFF))
    return v.to_bytes(8, "big")


def unpack_can_sampling(value: bytes) -> CanSampling:
    if len(value) != 8:
        raise BodyError(f"CAN sampling setting needs 8 bytes, got {len(value)}", field="value")
    v = int.from_bytes(value, "big")
    return CanSampling(v >> 32, v >> 31 & 1, bool(v >> 30 & 1), bool(v >> 29 & 1), v & 0x1FFFFFFF)


def describe_param(pid: int, value: Any, version: Version = V2013) -> str:
    """One line for humans: ``0x0001 heartbeat_interval = 60 (heartbeat interval, s)``; compound
    values are spelt out."""
    d = param_def(pid, version)
    name = d.name if d is not None else "reserved"
    head = f"0x{pid:04X} {name}"
    if isinstance(value, RawValue) or d is None:
        shown = bytes(value).hex() if isinstance(value, bytes) else repr(value)
        return f"{head} = raw {shown}"
    if pid == 0x0032 and isinstance(value, bytes) and len(value) == 4:
        sh, sm, eh, em = unpack_time_window(value)
        return f"{head} = {sh:02d}:{sm:02d} to {eh:02d}:{em:02d}"
    if pid == 0x005D and isinstance(value, int):
        c = unpack_collision(value)
        return f"{head} = collision time {c.time_ms} ms, acceleration {c.acceleration_g:g} g"
    if pid in (0x0064, 0x0065) and isinstance(value, int):
        pc = unpack_photo_control(value)
        unit = ("min" if pc.large_unit else "s") if pid == 0x0064 else ("km" if pc.large_unit else "m")
        return (f"{head} = channels {sorted(pc.channels)}, upload {sorted(pc.upload)}, "
                f"every {pc.interval} {unit}")
    if 0x0110 <= pid <= 0x01FF and isinstance(value, bytes) and len(value) == 8:
        cs = unpack_can_sampling(value)
        return (f"{head} = CAN{cs.channel + 1} id 0x{cs.can_id:X} {'extended' if cs.extended else 'standard'}, "
                f"{'computed' if cs.computed else 'raw'}, every {cs.interval_ms} ms")
    shown = bytes(value).hex() if isinstance(value, bytes) else repr(value)
    return f"{head} = {shown} ({d.description})"

