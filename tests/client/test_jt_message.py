"""The seed-001 configuration classes reproduce the seed's documented values and hex (its bugs aside)."""

from __future__ import annotations

import pytest

from jt808.client import (
    GENERAL_ANSWER_MSG_ID,
    LicensePlateColor,
    LocAdditionalInfoConfig,
    LocAlarmWarningConfig,
    LocStatusConfig,
    ResultCode,
    TerminalParams,
)
from jt808.client.jt_message import ALARM_NAMES, decode_param, encode_param
from jt808.protocol import V2013, decode_body
from jt808.protocol.messages.location import LocationReport


def test_enumerations_match_the_seed() -> None:
    assert [LicensePlateColor.blue, LicensePlateColor.yellow, LicensePlateColor.black, LicensePlateColor.white,
            LicensePlateColor.green, LicensePlateColor.other] == [1, 2, 3, 4, 5, 9]
    assert [ResultCode.success, ResultCode.failure, ResultCode.message_error, ResultCode.not_support] == [0, 1, 2, 3]
    # seed 001 section 4: every server message answered with general_answer
    assert set(GENERAL_ANSWER_MSG_ID) == {
        0x8103, 0x8105, 0x8108, 0x8202, 0x8203, 0x8204, 0x8300, 0x8301, 0x8303, 0x8304, 0x8400, 0x8401,
        0x8600, 0x8601, 0x8602, 0x8603, 0x8604, 0x8605, 0x8606, 0x8607, 0x8701, 0x8803, 0x8804, 0x8805,
        0x8900, 0x8A00}


def test_terminal_params_seed_000_example() -> None:
    p = TerminalParams()
    assert p.set_params(0x0013, "220.180.239.212:7611")
    assert p.set_params(0x0001, 60)
    assert p.set_params(0x0002, 30)
    assert p.set_params(0x0032, 8, 12, 17, 30)
    params = p.get_params()
    assert params[1] == {"value": 60, "hex": "0000003C"}
    assert params[2] == {"value": 30, "hex": "0000001E"}
    assert params[19] == {"value": "220.180.239.212:7611", "hex": "3232302E3138302E3233392E3231323A37363131"}
    # The seed shows '8C111E' (leading zeros dropped: 3 bytes for a BYTE[4]); the standard gives 4 bytes.
    assert params[50] == {"value": (8, 12, 17, 30), "hex": "080C111E"}


def test_terminal_params_seed_001_example() -> None:
    p = TerminalParams()
    assert p.set_params(0x0001, *(60,))
    assert p.set_params(0x0013, *("127.0.0.1:8001;127.0.0.1:8002",))
    assert p.set_params(0x0032, *(22, 50, 10, 30))
    assert p.get_params() == {
        1: {"value": 60, "hex": "0000003C"},
        19: {"value": "127.0.0.1:8001;127.0.0.1:8002",
             "hex": "3132372E302E302E313A383030313B3132372E302E302E313A38303032"},
        50: {"value": (22, 50, 10, 30), "hex": "16320A1E"},
    }
    assert p.del_params(0x0001) is True
    assert p.del_params(0x0001) is False
    assert 1 not in p.get_params()


@pytest.mark.parametrize(("pid", "values", "hex_"), [
    (0x0031, (500,), "01F4"),                      # WORD
    (0x0084, (2,), "02"),                          # BYTE
    (0x0083, ("皖A88888",), "CDEE413838383838"),      # GBK string
    (0x005D, (40, 10), "0A0A"),                    # 40 ms = 10 units of 4 ms (low byte), 1.0 g (high byte)
    (0x0064, (1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 30), "003D0105"),  # channels 1+3, ch1 upload, minutes, 30
    (0x0090, (1, 1, 0, 0), "03"),
    (0x0110, (0x123, 1, 1, 1, 1000), "000003E8E0000123"),
])
def test_terminal_params_compound_values(pid: int, values: tuple, hex_: str) -> None:
    p = TerminalParams()
    assert p.set_params(pid, *values)
    assert p.get_params()[pid]["hex"] == hex_
    assert decode_param(pid, bytes.fromhex(hex_)) == (values[0] if len(values) == 1 else values)


def test_terminal_params_refuse_bad_input() -> None:
    p = TerminalParams()
    assert p.set_params(0x0001, "60") is False          # a DWORD needs an int
    assert p.set_params(0x0001, 1 << 32) is False       # out of range
    assert p.set_params(0x0032, 25, 0, 0, 0) is False   # hour 25
    assert p.set_params(0x0032, 8, 12) is False         # wrong arity
    assert p.set_params(0x0008, 1) is False             # reserved id without bytes
    assert p.set_params(0xF001, b"\x01\x02") is True    # vendor id with raw bytes
    assert p.get_params()[0xF001]["hex"] == "0102"
    assert encode_param(0x0013, ("x" * 3,)) == b"xxx"


def test_loc_status_config() -> None:
    s = LocStatusConfig()
    assert s.set_config("acc_onoff", 1) is True
    assert s.set_config("loc_status", 1) is True
    assert s.get_config("acc_onoff") == 1
    assert s.value() == 3                                # seed: 3
    assert s.set_config("NS_latitude", 0) and s.set_config("EW_longitude", 0)
    assert s.value() == 3
    assert s.set_config("load_status", 0x11) and s.get_config("load_status") == 3  # "0x11" = full
    assert s.set_config("no_such", 1) is False
    assert s.set_config("acc_onoff", 2) is False
    every = LocStatusConfig()
    for key in every._loc_cfg_offset.__dict__:          # the seed's own loop over the names
        assert every.set_config(key, 1)
    assert every.value() == 0b111_1111_1111_1101_1111_1111  # bits 0-22 set, load = 01 (bit 9 clear)


def test_loc_alarm_warning_config() -> None:
    a = LocAlarmWarningConfig()
    assert a.get_alarm("over_speed_alarm") == (0, 0, 0, 0, 1, 0)  # documented defaults
    assert a.set_alarm("over_speed_alarm", 1, 1, 1, 1, 1, 1) is True
    assert a.set_alarm("fatigue_driving_alarm", 1, 1, 1, 1, 1, 1) is True
    assert a.get_alarm("over_speed_alarm") == (1, 1, 1, 1, 1, 1)
    alarm, shield, sms, shoot, store, key = a.value()
    assert (alarm, shield, sms, shoot, key) == (0b110, 0b110, 0b110, 0b110, 0b110)
    assert store == 0xFFFFFFFF  # shoot_store defaults to 1 for every alarm (the seed prints 65535)
    assert a.set_alarm("no_such_alarm", 1) is False
    assert len(ALARM_NAMES) == 32 and ALARM_NAMES[31] == "illegal_door_opening_alarm"


def test_loc_additional_info_seed_example() -> None:
    c = LocAdditionalInfoConfig()
    assert c.get_mileage() == -1 and c.get_tire_pressure() == -1 and c.get_analog() == {}
    c.set_mileage(100)
    c.set_oil_quantity(32.5)
    c.set_speed(0)
    assert c.value() == "0104000003e80202014503020000"  # seed 001 §2.4, byte for byte


def test_loc_additional_info_getters_and_items() -> None:
    c = LocAdditionalInfoConfig()
    c.set_mileage(101)
    c.set_oil_quantity(50)
    c.set_speed(60)
    c.set_manually_confirm_the_alarm_event_id(10)
    c.set_tire_pressure([240, 240, 235, 300])
    c.set_temperature(-25)
    c.set_over_speed_alarm(2, 5)
    c.set_in_out_area_segment_alarm(2, 5, 1)
    c.set_insufficient_or_too_long_driving_time(2, 5, 1)
    c.set_vehicle_signal_status(1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
    c.set_io_status(1, 0)
    c.set_analog(1, 2)
    c.set_wireless_communication_network_signal_strength(31)
    c.set_number_of_satellites(12)
    assert (c.get_mileage(), c.get_oil_quantity(), c.get_speed()) == (101, 50, 60)
    assert c.get_manually_confirm_the_alarm_event_id() == 10
    assert c.get_tire_pressure() == [240, 240, 235, 254]  # capped at 254
    assert c.get_temperature() == -25
    assert c.get_over_speed_alarm() == {"loc_type": 2, "area_segment_id": 5}
    assert c.get_in_out_area_segment_alarm() == {"loc_type": 2, "area_segment_id": 5, "direction": 1}
    assert c.get_insufficient_or_too_long_driving_time() == {"road_id": 2, "travel_time": 5, "result": 1}
    assert c.get_vehicle_signal_status()["clutch"] == 1
    assert c.get_io_status() == {"deep_sleep": 1, "sleep": 0}
    assert c.get_analog() == {"ad0": 1, "ad1": 2}
    assert c.get_wireless_communication_network_signal_strength() == 31
    assert c.get_number_of_satellites() == 12
    # The hex is a valid run of additional items: our 0x0200 decoder reads every one back.
    basic = bytes(28)
    basic = basic[:22] + bytes.fromhex("220617082544")
    report, _, _ = decode_body(0x0200, V2013, basic + bytes.fromhex(c.value()))
    assert isinstance(report, LocationReport)
    assert report.extra(0x01) == 1010 and report.extra(0x02) == 500 and report.extra(0x03) == 600
    assert report.extra(0x25) == 1 | 1 << 4 | 1 << 14
    assert report.extra(0x2B) == 2 << 16 | 1
    assert [eid for eid, _ in report.extras] == [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x11, 0x12, 0x13, 0x25, 0x2A,
                                                 0x2B, 0x30, 0x31]
