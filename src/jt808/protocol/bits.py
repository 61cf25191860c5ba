"""Names for the bit fields of the location report: alarm (§4.2), status (§4.3), and the additional
items 0x25 extended vehicle signals, 0x2A IO status and 0x2B analog (§4.5). All of it is data.

Alarm and status meanings differ between 2013 and 2019 (2011 reads as 2013). Decoding is lossless:
a set bit that has no name in the version comes out as ``"bitN"`` (alarm, status) or in a
``"reserved"`` value (signal, IO status), and the builders accept those back.

- :func:`alarm_names` / :func:`alarm_value`: DWORD <-> list of names.
- :func:`status_fields` / :func:`status_value`: DWORD <-> ``{name: int}`` (``load`` is the 2-bit field
  8-9: 0 empty, 1 half, 2 reserved, 3 full).
- :func:`signal_map` / :func:`signal_value`: extra 0x25 <-> EMQX's 15-key ``signal`` map. Bit 0 is
  ``low_beam`` as the standard says (EMQX reads the DWORD MSB-first, a bug not copied).
- :func:`io_status_map` / :func:`io_status_value`: extra 0x2A <-> ``{deep_sleep, sleep}`` (bit 0, 1).
- :func:`analog_map` / :func:`analog_value`: extra 0x2B <-> ``{ad0: low word, ad1: high word}``.
- :data:`CONFIRMABLE_MASK` (0x8203 ``type`` bits) and :func:`clearing_mask` (bits the terminal clears
  once the platform answers; the others are held while the condition lasts).

The builders take the names this module emits, and the seed-001 (QuecPython SDK) names as aliases
(``emergency_alarm``, ``acc_onoff``, ``low_beam_lights`` …). Bad input raises :class:`BodyError`
naming the key, as the JSON layer does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from jt808.errors import BodyError
from jt808.protocol.header import V2011, V2013, V2019, Version

__all__ = [
    "ALARMS",
    "CONFIRMABLE_MASK",
    "IO_STATUS_KEYS",
    "LOAD_NAMES",
    "SIGNAL_ALIASES",
    "SIGNAL_KEYS",
    "STATUS",
    "AlarmBit",
    "StatusField",
    "alarm_bit",
    "alarm_names",
    "alarm_value",
    "analog_map",
    "analog_value",
    "clearing_mask",
    "confirmable",
    "io_status_map",
    "io_status_value",
    "signal_map",
    "signal_value",
    "status_fields",
    "status_value",
]


# ---------------------------------------------------------------------------------------------
# Alarm bits (§4.2)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AlarmBit:
    """One alarm bit in one version. ``clears``: the terminal clears it once the platform answers
    (else it is held while the condition lasts); ``confirmable``: 0x8203 may confirm it."""

    bit: int
    name: str
    title: str
    zh: str
    clears: bool = False
    confirmable: bool = False
    s001: str | None = None  # the seed-001 SDK's code name

    @property
    def mask(self) -> int:
        return 1 << self.bit


_C, _H = True, False  # clears / held
# bit, name, English title, 中文, clears, 0x8203-confirmable, seed-001 name
_ALARM_COMMON: tuple[tuple[int, str, str, str, bool, bool, str | None], ...] = (
    (0, "emergency", "emergency (SOS switch)", "紧急报警", _C, True, "emergency_alarm"),
    (1, "overspeed", "overspeed", "超速报警", _H, False, "over_speed_alarm"),
    (2, "fatigue_driving", "fatigue driving", "疲劳驾驶", _H, False, "fatigue_driving_alarm"),
    (4, "gnss_fault", "GNSS module fault", "GNSS 模块发生故障", _H, False, "gnss_module_failure_alarm"),
    (5, "gnss_antenna_open", "GNSS antenna not connected or cut", "GNSS 天线未接或被剪断", _H, False,
     "gnss_antenna_disconnection_alarm"),
    (6, "gnss_antenna_short", "GNSS antenna short circuit", "GNSS 天线短路", _H, False,
     "gnss_antenna_short_circuit_alarm"),
    (7, "power_undervoltage", "main power under-voltage", "终端主电源欠压", _H, False,
     "terminal_main_power_supply_undervoltage_alarm"),
    (8, "power_lost", "main power lost", "终端主电源掉电", _H, False, "terminal_main_power_failure_alarm"),
    (9, "display_fault", "LCD or display fault", "终端 LCD 或显示器故障", _H, False,
     "terminal_lcd_or_display_failure_alarm"),
    (10, "tts_fault", "TTS module fault", "TTS 模块故障", _H, False, "tts_module_fault_alarm"),
    (11, "camera_fault", "camera fault", "摄像头故障", _H, False, "camera_failure_alarm"),
    (12, "ic_card_fault", "road-transport IC-card module fault", "道路运输证 IC 卡模块故障", _H, False,
     "road_transport_license_ic_card_module_fault_alarm"),
    (13, "overspeed_warning", "overspeed warning", "超速预警", _H, False, "over_speed_warning"),
    (14, "fatigue_warning", "fatigue driving warning", "疲劳驾驶预警", _H, False, "fatigue_driving_warning"),
    (18, "daily_driving_overtime", "daily driving time exceeded", "当天累计驾驶超时", _H, False,
     "cumulative_driving_overtime_alarm_for_the_day"),
    (19, "overtime_parking", "overtime parking", "超时停车", _H, False, "overtime_parking_alarm"),
    (20, "area_in_out", "entering/leaving an area", "进出区域", _C, True, "in_and_out_of_the_area_alarm"),
    (21, "route_in_out", "entering/leaving a route", "进出路线", _C, True, "entry_and_exit_route_alarm"),
    (22, "segment_driving_time", "segment driving time too short/long", "路段行驶时间不足/过长", _C, True,
     "insufficient_or_too_long_driving_time_on_the_road_section_alarm"),
    (23, "route_deviation", "route deviation", "路线偏离报警", _H, False, "route_departure_alarm"),
    (24, "vss_fault", "vehicle VSS fault", "车辆 VSS 故障", _H, False, "vehicle_vss_failure_alarm"),
    (25, "fuel_abnormal", "abnormal fuel level", "车辆油量异常", _H, False, "vehicle_fuel_abnormality_alarm"),
    (26, "theft", "vehicle theft (immobiliser)", "车辆被盗", _H, False, "vehicle_theft_alarm"),
    (27, "illegal_ignition", "illegal ignition", "车辆非法点火", _C, True, "vehicle_illegal_ignition_alarm"),
    (28, "illegal_displacement", "illegal displacement", "车辆非法位移", _C, True,
     "vehicle_illegal_displacement_alarm"),
    (30, "rollover_warning", "rollover warning", "侧翻预警", _H, False, "rollover_alarm"),
)
_ALARM_2013: tuple[tuple[int, str, str, str, bool, bool, str | None], ...] = (
    (3, "danger_warning", "danger warning", "危险预警", _C, True, None),
    (29, "collision_warning", "collision warning", "碰撞预警", _H, False, None),
    (31, "illegal_door_open", "illegal door opening (only with areas set)", "非法开门报警", _C, False,
     "illegal_door_opening_alarm"),
)
_ALARM_2019: tuple[tuple[int, str, str, str, bool, bool, str | None], ...] = (
    # 0x8203 still lists bit 3 in 2019; the bit itself is held there (S001).
    (3, "dangerous_driving", "dangerous driving behaviour", "危险驾驶行为报警", _H, True,
     "dangerous_driving_behaviour_alarm"),
    (15, "illegal_driving", "illegal driving", "违规行驶报警", _H, False, "illegal_driving_alarm"),
    (16, "tire_pressure_warning", "tyre pressure warning", "胎压预警", _H, False, "tire_pressure_warning"),
    (17, "right_turn_blind_spot", "right-turn blind-spot abnormality", "右转盲区异常报警", _H, False,
     "right_turn_blind_spot_abnormal_alarm"),
    (29, "collision_rollover", "collision / rollover", "碰撞侧翻报警", _H, False, "collision_rollover_alarm"),
)


def _alarm_table(*groups: tuple[tuple[int, str, str, str, bool, bool, str | None], ...]) -> dict[int, AlarmBit]:
    rows = sorted((r for g in groups for r in g), key=lambda r: r[0])
    return {r[0]: AlarmBit(*r[:6], s001=r[6]) for r in rows}


_T13 = _alarm_table(_ALARM_COMMON, _ALARM_2013)
_T19 = _alarm_table(_ALARM_COMMON, _ALARM_2019)

#: version -> {bit: AlarmBit}. 2011 has no table of its own in any source: it reads as 2013.
ALARMS: dict[Version, dict[int, AlarmBit]] = {V2011: _T13, V2013: _T13, V2019: _T19}

#: Bits a 0x8203 ``type`` may carry (§6.4): emergency, danger warning, area, route, segment time,
#: illegal ignition, illegal displacement. The same in every version.
CONFIRMABLE_MASK = sum(b.mask for b in _T13.values() if b.confirmable)

_CLEARING = {v: sum(b.mask for b in t.values() if b.clears) for v, t in ALARMS.items()}


def _version(version: Version | int | str | None) -> Version:
    if version is None:
        return V2013
    try:
        return Version.parse(version)
    except ValueError as e:
        raise BodyError(str(e), field="version") from None


@cache
def _alarm_lookup(version: Version) -> dict[str, int]:
    lookup = {}
    for b in ALARMS[version].values():
        lookup[b.name] = b.bit
        if b.s001:
            lookup[b.s001] = b.bit
    lookup.update({f"bit{n}": n for n in range(32)})
    return lookup


def alarm_bit(name: str, version: Version | int | str | None = V2013) -> AlarmBit | None:
    """The :class:`AlarmBit` named ``name`` (this module's or the seed-001 name) in ``version``."""
    v = _version(version)
    n = _alarm_lookup(v).get(name)
    return None if n is None else ALARMS[v].get(n)


def alarm_names(value: int, version: Version | int | str | None = V2013) -> list[str]:
    """Names of the set alarm bits, lowest bit first; a set bit without a name in ``version``
    (reserved, or vendor use) is ``"bitN"``."""
    table = ALARMS[_version(version)]
    _dword(value, "alarm")
    out = []
    n = 0
    while value:
        if value & 1:
            b = table.get(n)
            out.append(b.name if b is not None else f"bit{n}")
        value >>= 1
        n += 1
    return out


def alarm_value(names: Iterable[str], version: Version | int | str | None = V2013) -> int:
    """Inverse of :func:`alarm_names` (also accepts seed-001 names and ``"bitN"``)."""
    if isinstance(names, str):
        raise BodyError("expects a list of alarm names, got a string", field="alarm")
    lookup = _alarm_lookup(_version(version))
    value = 0
    for name in names:
        n = lookup.get(name) if isinstance(name, str) else None
        if n is None:
            raise BodyError(f"unknown alarm name {name!r} in {_version(version)}", field="alarm")
        value |= 1 << n
    return value


def clearing_mask(version: Version | int | str | None = V2013) -> int:
    """Alarm bits the terminal clears once the platform has answered the report (the others stay
    set while the condition lasts). 2013: 0, 3, 20–22, 27, 28, 31; 2019: 0, 20–22, 27, 28."""
    return _CLEARING[_version(version)]


def confirmable(value: int) -> int:
    """The bits of an alarm value that a 0x8203 may confirm."""
    return value & CONFIRMABLE_MASK


# ---------------------------------------------------------------------------------------------
# Status bits (§4.3)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StatusField:
    """A status field of ``width`` bits at ``bit``. ``since``: first version defining it."""

    bit: int
    width: int
    name: str
    meaning: str  # "0 meaning / 1 meaning"
    s001: str | None = None
    since: Version = V2011

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.bit


#: Every status field, in bit order.
STATUS: tuple[StatusField, ...] = (
    StatusField(0, 1, "acc", "ACC off / on", "acc_onoff"),
    StatusField(1, 1, "fixed", "not positioned / positioned", "loc_status"),
    StatusField(2, 1, "south", "north / south latitude", "NS_latitude"),
    StatusField(3, 1, "west", "east / west longitude", "EW_longitude"),
    StatusField(4, 1, "out_of_service", "in service / out of service", "operational_status"),
    StatusField(5, 1, "encrypted", "lat/lon plain / encrypted by the secrecy plug-in", "long_lat_encryption"),
    StatusField(6, 1, "forward_collision_warning", "none / forward-collision warning (emergency braking)",
                "forward_collision_warning", V2019),
    StatusField(7, 1, "lane_departure_warning", "none / lane-departure warning", "lane_departure_warning",
                V2019),
    StatusField(8, 2, "load", "0 empty, 1 half, 2 reserved, 3 full", "load_status"),
    StatusField(10, 1, "fuel_cut", "fuel line normal / cut", "vehicle_oil_status"),
    StatusField(11, 1, "circuit_cut", "electric circuit normal / cut", "vehicle_circuit_status"),
    StatusField(12, 1, "doors_locked", "doors unlocked / locked", "door_lock"),
    StatusField(13, 1, "door1_open", "door 1 (front) closed / open", "door_1_status"),
    StatusField(14, 1, "door2_open", "door 2 (middle) closed / open", "door_2_status"),
    StatusField(15, 1, "door3_open", "door 3 (rear) closed / open", "door_3_status"),
    StatusField(16, 1, "door4_open", "door 4 (driver) closed / open", "door_4_status"),
    StatusField(17, 1, "door5_open", "door 5 (custom) closed / open", "door_5_status"),
    StatusField(18, 1, "gps", "GPS not used / used", "gps_onoff"),
    StatusField(19, 1, "beidou", "BeiDou not used / used", "bds_onoff"),
    StatusField(20, 1, "glonass", "GLONASS not used / used", "glonass_onoff"),
    StatusField(21, 1, "galileo", "Galileo not used / used", "galileo_onoff"),
    StatusField(22, 1, "moving", "vehicle stopped / moving", "running_status", V2019),
)

#: Values of the 2-bit ``load`` field.
LOAD_NAMES: dict[int, str] = {0: "empty", 1: "half", 2: "reserved", 3: "full"}

_STATUS_BY_VERSION: dict[Version, tuple[StatusField, ...]] = {
    v: tuple(f for f in STATUS if v >= f.since) for v in (V2011, V2013, V2019)
}
_STATUS_DEFINED = {v: sum(f.mask for f in fs) for v, fs in _STATUS_BY_VERSION.items()}
@cache
def _status_lookup(version: Version) -> dict[str, StatusField]:
    t = {}
    for f in _STATUS_BY_VERSION[version]:
        t[f.name] = f
        if f.s001:
            t[f.s001] = f
    return t


def status_fields(value: int, version: Version | int | str | None = V2013) -> dict[str, int]:
    """Every status field of ``version`` (zeros included) as ``{name: int}``; set bits the version
    does not define are added as ``"bitN": 1``."""
    v = _version(version)
    _dword(value, "status")
    out = {f.name: (value >> f.bit) & ((1 << f.width) - 1) for f in _STATUS_BY_VERSION[v]}
    rest = value & ~_STATUS_DEFINED[v]
    n = 0
    while rest:
        if rest & 1:
            out[f"bit{n}"] = 1
        rest >>= 1
        n += 1
    return out


def status_value(fields: Mapping[str, int], version: Version | int | str | None = V2013) -> int:
    """Inverse of :func:`status_fields`; missing fields are 0; seed-001 names accepted."""
    if not isinstance(fields, Mapping):
        raise BodyError(f"expects an object, got {type(fields).__name__}", field="status")
    lookup = _status_lookup(_version(version))
    value = 0
    for key, x in fields.items():
        f = lookup.get(key)
        if f is None:
            n = _bit_key(key)
            if n is None:
                raise BodyError(f"unknown status field {key!r} in {_version(version)}", field=key)
            value |= _flag(x, key) << n
            continue
        value |= _uint(x, f.width, key) << f.bit
    return value


def _dword(value: object, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise BodyError(f"expects an unsigned 32-bit integer, got {value!r}", field=field)


def _bit_key(key: str) -> int | None:
    if key.startswith("bit") and key[3:].isdigit():
        n = int(key[3:])
        if n < 32:
            return n
    return None


def _uint(x: object, width: int, key: str) -> int:
    if isinstance(x, bool):
        return int(x)
    if not isinstance(x, int) or not 0 <= x < 1 << width:
        raise BodyError(f"expects an integer 0..{(1 << width) - 1}, got {x!r}", field=key)
    return x


def _flag(x: object, key: str) -> int:
    return _uint(x, 1, key)


# ---------------------------------------------------------------------------------------------
# Additional items 0x25, 0x2A, 0x2B (§4.5)
# ---------------------------------------------------------------------------------------------
#: 0x25 extended vehicle signals: key i is bit i (EMQX keys, ``cluth`` sic).
SIGNAL_KEYS: tuple[str, ...] = (
    "low_beam", "high_beam", "right_turn", "left_turn", "brake", "reverse", "fog", "side_marker",
    "horn", "air_conditioner", "neutral", "retarder", "abs", "heater", "cluth",
)
#: Other spellings accepted by :func:`signal_value` (seed-001 SDK names, correct English).
SIGNAL_ALIASES: dict[str, str] = {
    "low_beam_lights": "low_beam", "fog_light": "fog", "position": "side_marker",
    "air_conditioning": "air_conditioner", "abs_work": "abs", "heating": "heater", "clutch": "cluth",
}
#: 0x2A IO status: key i is bit i.
IO_STATUS_KEYS: tuple[str, ...] = ("deep_sleep", "sleep")

_SIGNAL_BIT = {k: i for i, k in enumerate(SIGNAL_KEYS)} | {a: SIGNAL_KEYS.index(k) for a, k in SIGNAL_ALIASES.items()}
_IO_BIT = {k: i for i, k in enumerate(IO_STATUS_KEYS)}


def _flags_map(value: int, keys: tuple[str, ...], width: int, field: str) -> dict[str, int]:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << width:
        raise BodyError(f"expects an unsigned {width}-bit integer, got {value!r}", field=field)
    out = {k: (value >> i) & 1 for i, k in enumerate(keys)}
    reserved = value >> len(keys)
    if reserved:
        out["reserved"] = reserved
    return out


def _flags_value(m: Mapping[str, object], bits: dict[str, int], n: int, width: int, field: str) -> int:
    if isinstance(m, int):  # an already packed value (bools included) passes through
        return _uint(m, width, field)
    if not isinstance(m, Mapping):
        raise BodyError(f"expects an object, got {type(m).__name__}", field=field)
    value = 0
    for key, x in m.items():
        if key == "reserved":
            value |= _uint(x, width - n, f"{field}.reserved") << n
            continue
        i = bits.get(key)
        if i is None:
            raise BodyError(f"unknown key {key!r}", field=field)
        value |= _flag(x, f"{field}.{key}") << i
    return value


def signal_map(value: int) -> dict[str, int]:
    """Extra 0x25 DWORD -> EMQX's 15 ``signal`` keys (bit 0 = ``low_beam``). Reserved bits 15–31,
    when any is set, come as ``"reserved": value >> 15`` so nothing is lost."""
    return _flags_map(value, SIGNAL_KEYS, 32, "signal")


def signal_value(m: Mapping[str, object]) -> int:
    """Inverse of :func:`signal_map`; missing keys are 0; aliases in :data:`SIGNAL_ALIASES`."""
    return _flags_value(m, _SIGNAL_BIT, len(SIGNAL_KEYS), 32, "signal")


def io_status_map(value: int) -> dict[str, int]:
    """Extra 0x2A WORD -> ``{"deep_sleep": bit 0, "sleep": bit 1}`` (+ ``reserved`` = bits 2–15
    shifted down, when non-zero)."""
    return _flags_map(value, IO_STATUS_KEYS, 16, "io_status")


def io_status_value(m: Mapping[str, object]) -> int:
    """Inverse of :func:`io_status_map`."""
    return _flags_value(m, _IO_BIT, len(IO_STATUS_KEYS), 16, "io_status")


def analog_map(value: int) -> dict[str, int]:
    """Extra 0x2B DWORD -> ``{"ad0": bits 0–15, "ad1": bits 16–31}`` (AD1 is sent first on the wire)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise BodyError(f"expects an unsigned 32-bit integer, got {value!r}", field="analog")
    return {"ad0": value & 0xFFFF, "ad1": value >> 16}


def analog_value(m: Mapping[str, object]) -> int:
    """Inverse of :func:`analog_map`; missing keys are 0."""
    if isinstance(m, int) and not isinstance(m, bool):
        return _uint(m, 32, "analog")
    if not isinstance(m, Mapping):
        raise BodyError(f"expects an object, got {type(m).__name__}", field="analog")
    extra = set(m) - {"ad0", "ad1"}
    if extra:
        raise BodyError(f"unknown key {sorted(extra)[0]!r}", field="analog")
    return _uint(m.get("ad0", 0), 16, "analog.ad0") | _uint(m.get("ad1", 0), 16, "analog.ad1") << 16
