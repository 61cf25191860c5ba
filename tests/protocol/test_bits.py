"""Alarm / status / 0x25 / 0x2A / 0x2B bit names (PROTOCOL.md §4.2, §4.3, §4.5, §6.4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jt808 import V2011, V2013, V2019
from jt808.errors import BodyError
from jt808.protocol import bits
from jt808.protocol.bits import (
    ALARMS,
    CONFIRMABLE_MASK,
    SIGNAL_KEYS,
    alarm_bit,
    alarm_names,
    alarm_value,
    analog_map,
    analog_value,
    clearing_mask,
    confirmable,
    io_status_map,
    io_status_value,
    signal_map,
    signal_value,
    status_fields,
    status_value,
)

VERSIONS = (V2011, V2013, V2019)
EMQX_SIGNAL_KEYS = {"low_beam", "high_beam", "right_turn", "left_turn", "brake", "reverse", "fog", "side_marker",
                    "horn", "air_conditioner", "neutral", "retarder", "abs", "heater", "cluth"}


# -- alarms ---------------------------------------------------------------------------------------
def test_alarm_bits_that_differ_between_2013_and_2019() -> None:
    value = 1 << 3 | 1 << 15 | 1 << 16 | 1 << 17 | 1 << 29 | 1 << 30 | 1 << 31
    assert alarm_names(value, V2013) == ["danger_warning", "bit15", "bit16", "bit17", "collision_warning",
                                         "rollover_warning", "illegal_door_open"]
    assert alarm_names(value, V2019) == ["dangerous_driving", "illegal_driving", "tire_pressure_warning",
                                         "right_turn_blind_spot", "collision_rollover", "rollover_warning", "bit31"]
    assert alarm_names(value, V2011) == alarm_names(value, V2013)


def test_alarm_names_of_s002_report() -> None:
    # S002's location: alarm 0x00000100 = bit 8, main power lost
    assert alarm_names(0x100) == ["power_lost"]
    assert alarm_names(0) == []


def test_every_named_bit_has_a_distinct_name() -> None:
    for v in VERSIONS:
        names = [b.name for b in ALARMS[v].values()]
        assert len(names) == len(set(names))
        assert sorted(ALARMS[v]) == [b.bit for b in ALARMS[v].values()]
    assert len(ALARMS[V2013]) == 29  # 32 minus reserved 15, 16, 17
    assert len(ALARMS[V2019]) == 31  # 32 minus reserved 31


@pytest.mark.parametrize("version", VERSIONS)
def test_alarm_value_inverts_every_bit(version) -> None:
    for n in range(32):
        names = alarm_names(1 << n, version)
        assert len(names) == 1
        assert alarm_value(names, version) == 1 << n
    assert alarm_value(alarm_names(0xFFFFFFFF, version), version) == 0xFFFFFFFF


def test_alarm_value_accepts_seed001_names() -> None:
    assert alarm_value(["emergency_alarm", "vehicle_illegal_displacement_alarm"], V2019) == 1 | 1 << 28
    assert alarm_value(["illegal_door_opening_alarm"], V2013) == 1 << 31
    assert alarm_bit("rollover_alarm", V2019).bit == 30
    assert alarm_bit("emergency").title.startswith("emergency")
    assert alarm_bit("no_such_alarm") is None


def test_alarm_value_rejects_unknown_and_other_version_names() -> None:
    with pytest.raises(BodyError) as e:
        alarm_value(["emergency", "warp_drive"])
    assert e.value.field == "alarm"
    with pytest.raises(BodyError):
        alarm_value(["illegal_driving"], V2013)  # a 2019 name
    with pytest.raises(BodyError):
        alarm_value("emergency")  # a string is not a list of names
    with pytest.raises(BodyError):
        alarm_value(["bit32"])


def test_confirmable_and_clearing_masks() -> None:
    # 0x8203 type bits: 0, 3, 20, 21, 22, 27, 28 (§6.4)
    assert CONFIRMABLE_MASK == 0x18700009
    assert confirmable(0xFFFFFFFF) == 0x18700009
    assert confirmable(1 << 1 | 1 << 20) == 1 << 20
    # bits the terminal clears once answered: bit 3 is cleared in 2013 only, bit 31 is 2013's door alarm
    assert clearing_mask(V2013) == 0x18700009 | 1 << 31
    assert clearing_mask(V2011) == clearing_mask(V2013)
    assert clearing_mask(V2019) == 0x18700001
    held_2019 = [b.name for b in ALARMS[V2019].values() if not b.clears]
    assert "dangerous_driving" in held_2019 and "overspeed" in held_2019
    assert ALARMS[V2019][3].confirmable  # 0x8203 still lists bit 3


# -- status ---------------------------------------------------------------------------------------
def test_status_of_s002_report() -> None:
    f = status_fields(0x000C1001, V2013)
    assert f["acc"] == 1 and f["doors_locked"] == 1 and f["gps"] == 1 and f["beidou"] == 1
    assert f["fixed"] == 0 and f["load"] == 0 and f["glonass"] == 0
    assert sum(f.values()) == 4
    assert "moving" not in f and "forward_collision_warning" not in f  # 2019 only


def test_status_load_field_is_two_bits() -> None:
    for load in range(4):
        f = status_fields(load << 8, V2013)
        assert f["load"] == load
        assert status_value({"load": load}) == load << 8
    assert bits.LOAD_NAMES[3] == "full"
    with pytest.raises(BodyError) as e:
        status_value({"load": 4})
    assert e.value.field == "load"


def test_status_2019_bits_and_reserved_in_2013() -> None:
    value = 1 << 6 | 1 << 7 | 1 << 22
    f19 = status_fields(value, V2019)
    assert (f19["forward_collision_warning"], f19["lane_departure_warning"], f19["moving"]) == (1, 1, 1)
    f13 = status_fields(value, V2013)
    assert (f13["bit6"], f13["bit7"], f13["bit22"]) == (1, 1, 1)
    assert status_value(f13, V2013) == value
    assert status_value(f19, V2019) == value
    assert status_fields(1 << 31, V2019)["bit31"] == 1


@pytest.mark.parametrize("version", VERSIONS)
@given(value=st.integers(0, 0xFFFFFFFF))
def test_status_round_trip(version, value) -> None:
    assert status_value(status_fields(value, version), version) == value


def test_status_value_seed001_names_and_errors() -> None:
    assert status_value({"acc_onoff": 1, "loc_status": 1, "load_status": 3, "running_status": 1}, V2019) == (
        1 | 2 | 3 << 8 | 1 << 22)
    with pytest.raises(BodyError):
        status_value({"running_status": 1}, V2013)  # 2019-only field
    with pytest.raises(BodyError):
        status_value({"acc": 2})
    with pytest.raises(BodyError):
        status_value([("acc", 1)])


# -- 0x25 / 0x2A / 0x2B ---------------------------------------------------------------------------
def test_signal_bit0_is_low_beam_not_emqx_msb() -> None:
    m = signal_map(1)
    assert set(m) == EMQX_SIGNAL_KEYS and len(SIGNAL_KEYS) == 15
    assert m["low_beam"] == 1 and sum(m.values()) == 1
    # EMQX reads the DWORD MSB-first and would call bit 31 low_beam: here bit 31 is reserved
    m31 = signal_map(1 << 31)
    assert m31["low_beam"] == 0 and m31["reserved"] == 1 << 16
    assert signal_map(1 << 14)["cluth"] == 1
    assert signal_map(1 << 7)["side_marker"] == 1


def test_signal_value_inverse_aliases_and_errors() -> None:
    for i, key in enumerate(SIGNAL_KEYS):
        assert signal_value({key: 1}) == 1 << i
        assert signal_value(signal_map(1 << i)) == 1 << i
    assert signal_value({"clutch": 1, "low_beam_lights": True, "fog_light": 1}) == 1 << 14 | 1 | 1 << 6
    assert signal_value({}) == 0
    assert signal_value(0x1234) == 0x1234  # already packed
    with pytest.raises(BodyError):
        signal_value({"warp": 1})
    with pytest.raises(BodyError):
        signal_value({"horn": 2})
    with pytest.raises(BodyError):
        signal_map(1 << 32)


@given(value=st.integers(0, 0xFFFFFFFF))
def test_signal_round_trip(value) -> None:
    assert signal_value(signal_map(value)) == value


def test_io_status() -> None:
    assert io_status_map(1) == {"deep_sleep": 1, "sleep": 0}
    assert io_status_map(2) == {"deep_sleep": 0, "sleep": 1}
    assert io_status_map(0x8003) == {"deep_sleep": 1, "sleep": 1, "reserved": 0x2000}
    for v in (0, 1, 2, 3, 0x8003, 0xFFFF):
        assert io_status_value(io_status_map(v)) == v
    with pytest.raises(BodyError):
        io_status_map(0x10000)
    with pytest.raises(BodyError):
        io_status_value({"awake": 1})


def test_analog_words() -> None:
    # wire bytes 0x0001 0x0002: AD1 comes first, AD0 last (EMQX agrees)
    value = int.from_bytes(bytes.fromhex("00010002"), "big")
    assert analog_map(value) == {"ad0": 2, "ad1": 1}
    assert analog_value({"ad0": 2, "ad1": 1}) == value
    assert analog_value({"ad1": 0xFFFF}) == 0xFFFF0000
    with pytest.raises(BodyError):
        analog_value({"ad0": 0x10000})
    with pytest.raises(BodyError):
        analog_value({"ad2": 1})


@pytest.mark.parametrize("bad", [-1, 1 << 32, "1", True, None])
def test_non_dword_values_are_refused(bad) -> None:
    with pytest.raises(BodyError):
        alarm_names(bad)
    with pytest.raises(BodyError):
        status_fields(bad)
