"""The configuration classes of the QuecPython JT/T 808 SDK (seed 001, ``jt_message``), on CPython.

- :class:`LicensePlateColor`, :class:`ResultCode`: enumerations (plain class attributes, as in the seed).
- :class:`TerminalParams`: terminal parameters (0x8103 / 0x0104) kept as ``{id: {"value": …, "hex": …}}``;
  ``hex`` is the parameter's wire value, upper-case, ready for :meth:`JTT808.params_report`.
- :class:`LocStatusConfig`: the 0x0200 status DWORD by the seed's names (``acc_onoff``, ``loc_status`` …).
- :class:`LocAlarmWarningConfig`: per alarm, the alarm bit and its five companion parameter bits
  (0x0050 mask, 0x0051 SMS, 0x0052 photo, 0x0053 photo storage, 0x0054 key alarm).
- :class:`LocAdditionalInfoConfig`: 0x0200 additional-information items, rendered as lower-case hex TLVs.

Differences from the original, all deliberate (see ``docs/client.md``):

- Parameter values are encoded with the standard's widths. The seed's user guide shows
  ``set_params(0x0032, 8, 12, 17, 30)`` giving ``8C111E``, which drops leading zeros (3 bytes for a
  BYTE[4] value); here it is ``080C111E``, as the API reference's own ``(22, 50, 10, 30)`` → ``16320A1E``.
- 0x005D: collision time goes in bits 0-7 in units of 4 ms and the acceleration in bits 8-15
  (PROTOCOL.md §5; the original swaps the bytes and writes milliseconds).
- Invalid input returns ``False`` (as the seed's return tables say) instead of raising.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from jt808.protocol import bits
from jt808.protocol.header import V2013, V2019
from jt808.protocol.messages.params import ParamType, param_def
from jt808.protocol.replies import general_answered

__all__ = [
    "ALARM_NAMES",
    "GENERAL_ANSWER_MSG_ID",
    "STATUS_FIELDS",
    "LicensePlateColor",
    "LocAdditionalInfoConfig",
    "LocAlarmWarningConfig",
    "LocStatusConfig",
    "ResultCode",
    "TerminalParams",
    "decode_param",
    "encode_param",
]

#: Server message ids the terminal answers with a general reply (0x0001) — seed 001 section 4's list, as
#: the message classes declare it (:func:`jt808.protocol.replies.general_answered`).
GENERAL_ANSWER_MSG_ID: tuple[int, ...] = tuple(m for m in general_answered() if m < 0x9000)  # JT/T 808 ids


class LicensePlateColor:
    """Plate colour codes of JT/T 697.7-2014 (0 = no plate: the register message then carries the VIN)."""

    blue = 1
    yellow = 2
    black = 3
    white = 4
    green = 5
    other = 9


class ResultCode:
    """Result codes of the general replies 0x0001 / 0x8001 (4 exists in 0x8001 only)."""

    success = 0
    failure = 1
    message_error = 2
    not_support = 3
    alarm_ack = 4


# ---------------------------------------------------------------------------------------------
# Terminal parameters (PROTOCOL.md §5)
# ---------------------------------------------------------------------------------------------
def _uint(v: Any, size: int) -> bytes | None:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 1 << (8 * size):
        return None
    return v.to_bytes(size, "big")


def encode_param(param_id: int, values: Sequence[Any], encoding: str = "gbk") -> bytes | None:
    """The wire value of one parameter from the seed's argument tuple; ``None`` if it does not fit.

    Types come from the protocol's parameter table (:func:`~jt808.protocol.messages.params.param_def`);
    compound values (0x0032, 0x005D, 0x0064/0x0065, 0x0090, 0x0110+) take their parts in the order of
    the row's ``fields``. Vendor ids (0xF000-0xFFFF) and other ids without a type take one ``bytes`` value.
    """
    d = param_def(param_id)
    if d is None or d.type is ParamType.RAW:
        if len(values) == 1 and isinstance(values[0], bytes | bytearray):
            return bytes(values[0])
        return None
    if d.fields:
        try:
            v = d.pack(values)
        except ValueError:
            return None
        return v if isinstance(v, bytes) else v.to_bytes(d.size or 4, "big")
    if len(values) != 1:
        return None
    if d.type is ParamType.STRING:
        if not isinstance(values[0], str):
            return None
        try:
            return values[0].encode(encoding)
        except UnicodeEncodeError:
            return None
    if d.type.is_int:
        return _uint(values[0], d.size or 4)
    if isinstance(values[0], bytes | bytearray) and len(values[0]) == d.size:
        return bytes(values[0])
    return None


def decode_param(param_id: int, raw: bytes, encoding: str = "gbk") -> Any:
    """A parameter's value from its wire bytes, in the seed's form (int, str or tuple).

    A known id whose length does not match its type (vendor reuse) and unknown ids give the bytes.
    """
    d = param_def(param_id)
    if d is None or d.type is ParamType.RAW:
        return bytes(raw)
    if d.type is ParamType.STRING:
        return raw.rstrip(b"\x00").decode(encoding, "replace")
    if len(raw) != d.size:
        return bytes(raw)
    if d.fields:
        return d.unpack(bytes(raw))
    return int.from_bytes(raw, "big") if d.type.is_int else bytes(raw)


class TerminalParams:
    """Terminal parameters by id, each as ``{"value": …, "hex": "…"}`` (seed 001 §2.1).

    >>> p = TerminalParams()
    >>> p.set_params(0x0001, 60), p.get_params()[1]
    (True, {'value': 60, 'hex': '0000003C'})
    """

    def __init__(self, encoding: str = "gbk") -> None:
        self._encoding = encoding
        self._params: dict[int, dict[str, Any]] = {}

    def set_params(self, param_id: int, *param_value: Any) -> bool:
        """Set one parameter; the number and types of values depend on the id (seed table)."""
        raw = encode_param(param_id, param_value, self._encoding)
        if raw is None:
            return False
        value = param_value[0] if len(param_value) == 1 else tuple(param_value)
        self._params[param_id] = {"value": value, "hex": raw.hex().upper()}
        return True

    def get_params(self) -> dict[int, dict[str, Any]]:
        """``{param_id: {"value": value, "hex": wire value in upper-case hex}}``."""
        return {k: dict(v) for k, v in self._params.items()}

    def del_params(self, param_id: int) -> bool:
        return self._params.pop(param_id, None) is not None

    def items(self) -> list[tuple[int, bytes]]:
        """``(id, wire bytes)`` pairs, e.g. for a 0x0104 body."""
        return [(k, bytes.fromhex(v["hex"])) for k, v in self._params.items()]


# ---------------------------------------------------------------------------------------------
# Location status (PROTOCOL.md §4.3)
# ---------------------------------------------------------------------------------------------
#: seed-001 status name -> (bit offset, width), from the protocol's status table (:data:`jt808.protocol.bits.STATUS`)
STATUS_FIELDS: dict[str, tuple[int, int]] = {f.s001: (f.bit, f.width) for f in bits.STATUS if f.s001}


class LocStatusConfig:
    """The 0x0200 status DWORD, set by name (seed 001 §2.2). ``value()`` is the integer to report."""

    def __init__(self) -> None:
        self._status = 0
        # The seed's examples iterate ``_loc_cfg_offset.__dict__`` to list the names.
        self._loc_cfg_offset = SimpleNamespace(**{k: off for k, (off, _) in STATUS_FIELDS.items()})

    def set_config(self, name: str, value: int) -> bool:
        spec = STATUS_FIELDS.get(name)
        if spec is None:
            return False
        off, width = spec
        if name == "load_status" and value in (0x10, 0x11):  # the seed writes the 2-bit codes as "0x10"/"0x11"
            value = value - 0x0E
        if not isinstance(value, int) or not 0 <= value < 1 << width:
            return False
        mask = ((1 << width) - 1) << off
        self._status = (self._status & ~mask) | (int(value) << off)
        return True

    def get_config(self, name: str) -> int:
        off, width = STATUS_FIELDS[name]
        return self._status >> off & ((1 << width) - 1)

    def value(self) -> int:
        return self._status


# ---------------------------------------------------------------------------------------------
# Alarms (PROTOCOL.md §4.2) and their parameter bits (0x0050-0x0054)
# ---------------------------------------------------------------------------------------------
#: seed-001 alarm name of each bit, 0-31, from the protocol's alarm tables (2019's name where 2013's differs)
ALARM_NAMES: tuple[str, ...] = tuple(str((bits.ALARMS[V2019].get(n) or bits.ALARMS[V2013][n]).s001) for n in range(32))
_ALARM_BIT = {name: i for i, name in enumerate(ALARM_NAMES)}
_DEFAULT_ALARM = (0, 0, 0, 0, 1, 0)  # onoff, shield, sms, shoot, shoot_store (1 = store), key


class LocAlarmWarningConfig:
    """Per alarm: the alarm flag and its 0x0050-0x0054 parameter bits (seed 001 §2.3).

    ``value()`` gives ``(alarm_flag, shield_word, sms_switch, shoot_switch, shoot_store, key_sign)``, each a
    DWORD with bit n for alarm n; ``alarm_flag`` is the 0x0200 ``alarm`` field. Unset alarms take the
    documented defaults (all 0 except ``shoot_store`` = 1).
    """

    def __init__(self) -> None:
        self._alarms: dict[str, tuple[int, ...]] = {}

    def set_alarm(self, name: str, onoff: int = 0, shield_switch: int = 0, sms_switch: int = 0,
                  shoot_switch: int = 0, shoot_store: int = 1, key_sign: int = 0) -> bool:
        flags = (onoff, shield_switch, sms_switch, shoot_switch, shoot_store, key_sign)
        if name not in _ALARM_BIT or any(f not in (0, 1) for f in flags):
            return False
        self._alarms[name] = tuple(int(f) for f in flags)
        return True

    def get_alarm(self, name: str) -> tuple[int, ...]:
        if name not in _ALARM_BIT:
            raise KeyError(f"unknown alarm {name!r}")
        return self._alarms.get(name, _DEFAULT_ALARM)

    def value(self) -> tuple[int, int, int, int, int, int]:
        words = [0] * 6
        for name, bit in _ALARM_BIT.items():
            for i, f in enumerate(self._alarms.get(name, _DEFAULT_ALARM)):
                words[i] |= f << bit
        return tuple(words)  # type: ignore[return-value]  # six DWORDs


# ---------------------------------------------------------------------------------------------
# Additional information items (PROTOCOL.md §4.4)
# ---------------------------------------------------------------------------------------------
_SEED_SIGNAL = {key: name for name, key in bits.SIGNAL_ALIASES.items()}
_SIGNAL_NAMES = tuple(_SEED_SIGNAL.get(key, key) for key in bits.SIGNAL_KEYS)  # the seed's names, bit 0 first


class LocAdditionalInfoConfig:
    """0x0200 additional-information items (seed 001 §2.4). ``value()`` is their lower-case hex TLVs,
    in id order, for :meth:`JTT808.loction_report`. Getters return ``-1`` (or ``{}``) when unset."""

    def __init__(self) -> None:
        self._items: dict[int, bytes] = {}
        self._values: dict[int, Any] = {}

    def _put(self, eid: int, raw: bytes | None, value: Any) -> bool:
        if raw is None:
            return False
        self._items[eid] = raw
        self._values[eid] = value
        return True

    @staticmethod
    def _u(v: Any, size: int) -> bytes | None:
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            return None
        return _uint(round(v), size)

    # 0x01 mileage (km; wire 1/10 km), 0x02 fuel (L; wire 1/10 L), 0x03 speed (km/h; wire 1/10 km/h)
    def set_mileage(self, value: float) -> bool:
        return self._put(0x01, self._u(value * 10 if isinstance(value, int | float) else value, 4), value)

    def get_mileage(self) -> Any:
        return self._values.get(0x01, -1)

    def set_oil_quantity(self, value: float) -> bool:
        return self._put(0x02, self._u(value * 10 if isinstance(value, int | float) else value, 2), value)

    def get_oil_quantity(self) -> Any:
        return self._values.get(0x02, -1)

    def set_speed(self, value: float) -> bool:
        return self._put(0x03, self._u(value * 10 if isinstance(value, int | float) else value, 2), value)

    def get_speed(self) -> Any:
        return self._values.get(0x03, -1)

    def set_manually_confirm_the_alarm_event_id(self, value: int) -> bool:
        return self._put(0x04, _uint(value, 2), value)

    def get_manually_confirm_the_alarm_event_id(self) -> Any:
        return self._values.get(0x04, -1)

    def set_tire_pressure(self, values: Iterable[int]) -> bool:
        vals = [min(int(v), 254) for v in values]
        if len(vals) > 30 or any(v < 0 for v in vals):
            return False
        return self._put(0x05, bytes(vals) + b"\xff" * (30 - len(vals)), vals)

    def get_tire_pressure(self) -> Any:
        return list(self._values[0x05]) if 0x05 in self._values else -1

    def set_temperature(self, value: int) -> bool:
        if not isinstance(value, int) or not -32767 <= value <= 32767:
            return False
        return self._put(0x06, value.to_bytes(2, "big", signed=True), value)

    def get_temperature(self) -> Any:
        return self._values.get(0x06, -1)

    def set_over_speed_alarm(self, loc_type: int, area_segment_id: int | None = None) -> bool:
        if loc_type == 0:
            return self._put(0x11, b"\x00", {"loc_type": 0, "area_segment_id": None})
        if loc_type not in (1, 2, 3, 4) or _uint(area_segment_id, 4) is None:
            return False
        return self._put(0x11, bytes((loc_type,)) + area_segment_id.to_bytes(4, "big"),  # type: ignore[union-attr]  # checked by _uint above
                         {"loc_type": loc_type, "area_segment_id": area_segment_id})

    def get_over_speed_alarm(self) -> dict[str, Any]:
        return dict(self._values.get(0x11, {}))

    def set_in_out_area_segment_alarm(self, loc_type: int, area_segment_id: int, direction: int) -> bool:
        if loc_type not in (1, 2, 3, 4) or direction not in (0, 1) or _uint(area_segment_id, 4) is None:
            return False
        return self._put(0x12, bytes((loc_type,)) + area_segment_id.to_bytes(4, "big") + bytes((direction,)),
                         {"loc_type": loc_type, "area_segment_id": area_segment_id, "direction": direction})

    def get_in_out_area_segment_alarm(self) -> dict[str, Any]:
        return dict(self._values.get(0x12, {}))

    def set_insufficient_or_too_long_driving_time(self, road_id: int, travel_time: int, result: int) -> bool:
        rid, tt = _uint(road_id, 4), _uint(travel_time, 2)
        if rid is None or tt is None or result not in (0, 1):
            return False
        return self._put(0x13, rid + tt + bytes((result,)),
                         {"road_id": road_id, "travel_time": travel_time, "result": result})

    def get_insufficient_or_too_long_driving_time(self) -> dict[str, Any]:
        return dict(self._values.get(0x13, {}))

    def set_vehicle_signal_status(self, low_beam_lights: int, high_beam: int, right_turn: int, left_turn: int,
                                  brake: int, reverse: int, fog_light: int, position: int, horn: int,
                                  air_conditioning: int, neutral: int, retarder: int, abs_work: int,
                                  heating: int, clutch: int) -> bool:
        flags = (low_beam_lights, high_beam, right_turn, left_turn, brake, reverse, fog_light, position, horn,
                 air_conditioning, neutral, retarder, abs_work, heating, clutch)
        if any(f not in (0, 1) for f in flags):
            return False
        word = sum(int(f) << i for i, f in enumerate(flags))  # bit 0 = low beam (the standard's order)
        return self._put(0x25, word.to_bytes(4, "big"), dict(zip(_SIGNAL_NAMES, map(int, flags), strict=True)))

    def get_vehicle_signal_status(self) -> dict[str, Any]:
        return dict(self._values.get(0x25, {}))

    def set_io_status(self, deep_sleep: int, sleep: int) -> bool:
        if deep_sleep not in (0, 1) or sleep not in (0, 1):
            return False
        return self._put(0x2A, (int(deep_sleep) | int(sleep) << 1).to_bytes(2, "big"),
                         {"deep_sleep": int(deep_sleep), "sleep": int(sleep)})

    def get_io_status(self) -> dict[str, Any]:
        return dict(self._values.get(0x2A, {}))

    def set_analog(self, ad0: int, ad1: int) -> bool:
        a0, a1 = _uint(ad0, 2), _uint(ad1, 2)
        if a0 is None or a1 is None:
            return False
        return self._put(0x2B, a1 + a0, {"ad0": ad0, "ad1": ad1})  # bits 0-15 AD0, bits 16-31 AD1

    def get_analog(self) -> dict[str, Any]:
        return dict(self._values.get(0x2B, {}))

    def set_wireless_communication_network_signal_strength(self, value: int) -> bool:
        return self._put(0x30, _uint(value, 1), value)

    def get_wireless_communication_network_signal_strength(self) -> Any:
        return self._values.get(0x30, -1)

    def set_number_of_satellites(self, value: int) -> bool:
        return self._put(0x31, _uint(value, 1), value)

    def get_number_of_satellites(self) -> Any:
        return self._values.get(0x31, -1)

    def items(self) -> list[tuple[int, bytes]]:
        """``(id, value bytes)`` in id order (the form :class:`~jt808.protocol.messages.location.LocationReport`
        keeps in ``extras``)."""
        return sorted(self._items.items())

    def value(self) -> str:
        return "".join(f"{eid:02x}{len(raw):02x}{raw.hex()}" for eid, raw in self.items())
