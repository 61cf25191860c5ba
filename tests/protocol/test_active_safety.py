"""SuBiao / YueBiao (active safety): profile vectors, layout selection, tolerant peripheral lists, Hypothesis
round trips of the profile-only bodies and of the alarm items, and the code enums.

Vectors in ``tests/vectors/profiles/<profile>/<msg_id>/<version>-<source>.hex`` are decoded with that profile
(sources: ``gojt808`` go-jt808 protocol/model/parse_test.go frames; ``scyb`` / ``scas`` / ``sc1078`` bodies of
SmallChi's JT808.Protocol.Extensions.YueBiao.Test / JTActiveSafety / JT1078 tests in a computed header;
``scas-fixedlen`` / ``scas-dsm-fixedlen``: SmallChi JTActiveSafety JT808_0x0200_0x64_Test / 0x65_Test item values
with the item length byte 0x2F — those tests write 0x20 for their 47-byte items; ``scas-tpms``: its 0x66 test as
is. Its 0x67 test carries an alarm level byte that SuBiao and go-jt808 do not have, and is not used.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jt808
from jt808 import V2013, V2019
from jt808.protocol.buffer import Reader, Writer
from jt808.protocol.jsonutil import b64
from jt808.protocol.messages import jt1078, subiao, yuebiao
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.safety_items import decode_safety_item, encode_safety_item
from jt808.protocol.packet import decode_body, encode_body

PROFILES = {"jt1078": jt1078.JT1078, "subiao": subiao.SUBIAO, "yuebiao": yuebiao.YUEBIAO}
VECTOR_DIR = Path(__file__).resolve().parent.parent / "vectors" / "profiles"
VECTORS = sorted(VECTOR_DIR.glob("*/*/*.hex"))
FAST = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.stem}")
def test_profile_vector(path: Path) -> None:
    profile = PROFILES[path.parent.parent.name]
    frame = bytes.fromhex(path.read_text().strip())
    packet = jt808.decode(frame, profile)
    assert packet.msg_id == int(path.parent.name, 16)
    assert not packet.problems
    doc = jt808.to_json(packet, profile)
    assert doc["body"] == json.loads(path.with_suffix(".json").read_text())
    assert jt808.encode(packet, profile) == frame
    assert jt808.encode(jt808.from_json(json.loads(json.dumps(doc)), profile), profile) == frame


def test_vectors_cover_the_profile_layouts() -> None:
    have = {(p.parent.parent.name, int(p.parent.name, 16)) for p in VECTORS}
    assert {("yuebiao", 0x1210), ("yuebiao", 0x9208), ("yuebiao", 0x0900), ("yuebiao", 0x8900),
            ("subiao", 0x0900), ("subiao", 0x8900)} <= have


def test_yuebiao_layout_is_selected_by_profile_only() -> None:
    frame = bytes.fromhex((VECTOR_DIR / "yuebiao" / "1210" / "2013-gojt808.hex").read_text().strip())
    yb = jt808.decode(frame, yuebiao.YUEBIAO).body
    assert isinstance(yb, yuebiao.YueBiaoAlarmAttachmentList)
    assert yb.alarm_sign.terminal_id == "1234cd." and yb.alarm_sign.time == "241206190412"
    assert [a.name for a in yb.attachments] == ["2024-11-22_10_00_00_data.txt", "2024-11-22_10_00_00_rtvs9101.png"]
    # the default (SuBiao) layout reads the same bytes differently: the YueBiao frame is not a SuBiao one
    sb = jt808.decode(frame, strict=False)
    assert not isinstance(sb.body, yuebiao.YueBiaoAlarmAttachmentList)
    assert sb.problems or getattr(sb.body, "alarm_sign", None) != yb.alarm_sign
    # peripheral pass-through types are profile-only: the default profile keeps the standard raw layout
    f7 = bytes.fromhex((VECTOR_DIR / "subiao" / "0900" / "2013-scas-f7.hex").read_text().strip())
    assert type(jt808.decode(f7).body).__name__ == "UplinkPassThrough"
    assert isinstance(jt808.decode(f7, subiao.SUBIAO).body, subiao.PeripheralPassThrough)


# SmallChi JTActiveSafety JT808_JTActiveSafety_0x0900_Test: an 0xF7-style item and an 0xF8-style item in one
# list (the test serialises them separately); under type 0xF7 the second item does not fit its length.
SC_MIXED = bytes.fromhex("f70201050200000001025C0B436F6D70616E744E616D650C50726F647563744D6F64656C15486172647761"
                         "726556657273696F6E4E756D62657215536F66747761726556657273696F6E4E756D62657209446576696365"
                         "7349440C437573746F6D6572436F6465")


def test_a_peripheral_list_that_does_not_add_up_is_kept_raw_and_noted() -> None:
    problems: list[str] = []
    body, _, _ = decode_body(0x0900, V2013, SC_MIXED, subiao.SUBIAO, problems=problems)
    assert isinstance(body, subiao.PeripheralPassThrough)
    assert body.peripherals == [] and body.data == SC_MIXED[1:]
    assert problems and "kept as raw data" in problems[0]
    assert encode_body(body, V2013, subiao.SUBIAO) == SC_MIXED
    assert body.to_json() == {"type": 0xF7, "data": b64(SC_MIXED[1:])}


def test_other_pass_through_types_keep_their_bytes_on_the_profile() -> None:
    body = decode_body(0x0900, V2013, b"\x41GNSS", subiao.SUBIAO)[0]
    assert (body.type, body.data) == (0x41, b"GNSS")
    assert encode_body(body, V2013, subiao.SUBIAO) == b"\x41GNSS"


# -- Hypothesis round trips ------------------------------------------------------------------------------
_TEXT = st.text(st.sampled_from("abcXYZ019-_.中"), max_size=20)
_U8, _U32 = st.integers(0, 255), st.integers(0, 2**32 - 1)


def _sign(cls: type) -> st.SearchStrategy[Any]:
    width = 30 if cls is yuebiao.YueBiaoAlarmSign else 7
    return st.builds(cls, terminal_id=st.text("ABCDEF0123456789", max_size=width),
                     time=st.text("0123456789", min_size=12, max_size=12), seq=_U8, attachments=_U8,
                     reserved=st.integers(0, 0xFFFF if width == 30 else 0xFF))


def _list(cls: type, sign_cls: type, tid: int) -> st.SearchStrategy[Any]:
    return st.builds(cls, terminal_id=st.text("ABC0123", max_size=tid), alarm_sign=_sign(sign_cls),
                     alarm_no=st.text("0123456789abcdef", max_size=32), info_type=st.integers(0, 1),
                     attachments=st.lists(st.builds(subiao.AttachmentInfo, name=_TEXT, size=_U32), max_size=4))


def _request(cls: type, sign_cls: type) -> st.SearchStrategy[Any]:
    return st.builds(cls, ip=_TEXT, tcp_port=st.integers(0, 65535), udp_port=st.integers(0, 65535),
                     alarm_sign=_sign(sign_cls), alarm_no=st.text("0123456789abcdef", max_size=32),
                     reserved=st.binary(min_size=16, max_size=16))


_STATUS = st.builds(subiao.PeripheralStatus, id=_U8, state=_U8, alarm=_U32)
_INFO = st.builds(subiao.PeripheralInfo, id=_U8, company=_TEXT, model=_TEXT, hardware_version=_TEXT,
                  software_version=_TEXT, device_id=_TEXT, customer_code=_TEXT)
_UPLINK = st.one_of(
    st.builds(subiao.PeripheralPassThrough, type=st.just(0xF7), peripherals=st.lists(_STATUS, max_size=4)),
    st.builds(subiao.PeripheralPassThrough, type=st.just(0xF8), peripherals=st.lists(_INFO, max_size=3)),
    st.builds(subiao.PeripheralPassThrough, type=st.integers(0, 0xF6), data=st.binary(max_size=20)))
_DOWNLINK = st.one_of(
    st.builds(subiao.PeripheralQuery, type=st.sampled_from([0xF7, 0xF8]), ids=st.lists(_U8, max_size=5)),
    st.builds(subiao.PeripheralQuery, type=st.integers(0, 0xF6), data=st.binary(max_size=20)))

CASES = {
    "yuebiao-1210": (yuebiao.YUEBIAO, 0x1210,
                     _list(yuebiao.YueBiaoAlarmAttachmentList, yuebiao.YueBiaoAlarmSign, 30)),
    "yuebiao-9208": (yuebiao.YUEBIAO, 0x9208,
                     _request(yuebiao.YueBiaoAlarmAttachmentRequest, yuebiao.YueBiaoAlarmSign)),
    "subiao-0900": (subiao.SUBIAO, 0x0900, _UPLINK),
    "subiao-8900": (subiao.SUBIAO, 0x8900, _DOWNLINK),
    "yuebiao-0900": (yuebiao.YUEBIAO, 0x0900, _UPLINK),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("version", [V2013, V2019], ids=["2013", "2019"])
def test_profile_bodies_round_trip(case: str, version: jt808.Version) -> None:
    profile, msg_id, strategy = CASES[case]

    @FAST
    @given(strategy)
    def run(body: Any) -> None:
        raw = encode_body(body, version, profile)
        problems: list[str] = []
        back, tail, _ = decode_body(msg_id, version, raw, profile, problems=problems)
        assert back == body and not tail and not problems
        assert type(back).from_json(json.loads(json.dumps(back.to_json(version))), version) == body

    run()


ITEMS = [subiao.AdasAlarm, subiao.DsmAlarm, subiao.TireAlarm, subiao.BsdAlarm, yuebiao.YueBiaoAdasAlarm,
         yuebiao.YueBiaoDsmAlarm, yuebiao.YueBiaoTireAlarm, yuebiao.YueBiaoBsdAlarm]


@pytest.mark.parametrize("cls", ITEMS, ids=lambda c: c.__name__)
def test_alarm_item_records_round_trip(cls: type) -> None:
    from tests.protocol.test_properties import record_strategy

    @FAST
    @given(record_strategy(cls, V2013))
    def run(item: Any) -> None:
        w = Writer(V2013)
        item.encode(w)
        r = Reader(bytes(w.out), V2013, jt808.DEFAULT_PROFILE)
        assert cls.decode(r) == item and r.pos == r.end
        assert cls.from_json(json.loads(json.dumps(item.to_json()))) == item

    run()


def test_alarm_item_sizes() -> None:
    def size(item: Any) -> int:
        w = Writer(V2013)
        item.encode(w)
        return len(w.out)

    assert size(subiao.AdasAlarm()) == 47 and size(subiao.DsmAlarm()) == 47 and size(subiao.BsdAlarm()) == 41
    assert size(yuebiao.YueBiaoAdasAlarm()) == 71 and size(yuebiao.YueBiaoDsmAlarm()) == 71
    assert size(subiao.TireAlarm()) == 41 and size(subiao.AlarmSign()) == 16 and size(yuebiao.YueBiaoAlarmSign()) == 40


def test_codes_have_chinese_titles() -> None:
    assert subiao.AdasEvent.FORWARD_COLLISION.title == "前向碰撞报警"
    assert subiao.DsmEvent(0x01).title == "疲劳驾驶报警"
    assert yuebiao.YueBiaoDsmEvent.HANDS_OFF_WHEEL.title == "双手同时脱离方向盘报警"
    assert subiao.BsdEvent(3).title == "右侧后方接近报警"
    assert subiao.TpmsAlarm.SLOW_LEAK.title == "慢漏气报警"
    assert subiao.Peripheral.DSM.title == "驾驶员状态监测系统"
    assert subiao.FileType(2).title == "视频"
    for enum in (subiao.AdasEvent, subiao.DsmEvent, subiao.TpmsAlarm, subiao.BsdEvent, subiao.FileType,
                 subiao.PeripheralState, subiao.PeripheralAlarm, yuebiao.YueBiaoDsmEvent):
        assert all(m.title for m in enum)


def test_alarm_sign_key() -> None:
    assert subiao.AlarmSign("T000001", "250101120000", 3, 2, 0).key() == "T000001-250101120000-3"


# -- the item and parameter rows of the profiles ----------------------------------------------------------
def _vector(name: str) -> jt808.Packet:
    path = VECTOR_DIR / name
    return jt808.decode(bytes.fromhex(path.read_text().strip()), PROFILES[name.split("/")[0]])


def test_jt1078_parameters_are_structured() -> None:
    # go-jt808's 0x0104 answer: 0x0075 … 0x007C as a real terminal sends them
    params = {p.id: p.value for p in _vector("jt1078/0104/2019-gojt808.hex").body.params}
    rows = jt1078.JT1078.params
    av = dict(zip((f.name for f in rows[0x0075].fields), rows[0x0075].unpack(params[0x0075]), strict=True))
    assert av == {"live_mode": 0, "live_resolution": 3, "live_keyframe_interval": 400, "live_frame_rate": 50,
                  "live_bit_rate": 40, "store_mode": 0, "store_resolution": 3, "store_keyframe_interval": 400,
                  "store_frame_rate": 50, "store_bit_rate": 40, "osd": 5, "audio_output": 1}
    assert rows[0x0079].unpack(params[0x0079]) == (40, 8, 1)
    assert params[0x007A] == bytes.fromhex("00000023") and rows[0x007A].unpack(params[0x007A])[:2] == (1, 1)
    assert rows[0x007B].unpack(params[0x007B]) == (50, 50)
    assert rows[0x007C].unpack(params[0x007C])[:4] == (5, 0, 0, 0)
    assert len(params[0x0076]) == 19 and len(params[0x0077]) == 22  # variable layouts: bytes
    assert rows[0x0075].pack(rows[0x0075].unpack(params[0x0075])) == params[0x0075]
    # the default profile keeps them raw (vendors squat these ids)
    assert jt808.DEFAULT_PROFILE.params.get(0x0075) is None


def test_jt1078_items() -> None:
    p = _vector("jt1078/0200/2013-sc1078.hex")
    assert dict(p.body.extras) == {0x14: 100, 0x15: 100, 0x16: 100, 0x17: 100, 0x18: 100}
    assert {k: v for k, v in jt808.to_json(p, jt1078.JT1078)["body"]["extra"].items()} == {
        "video_alarm": 100, "video_signal_lost": 100, "video_signal_blocked": 100, "storage_fault": 100,
        "abnormal_driving": 100}


def test_dsm_and_tpms_items() -> None:
    [(eid, dsm)] = _vector("subiao/0200/2013-scas-dsm-fixedlen.hex").body.extras
    assert eid == 0x65
    assert (dsm.flag, dsm.type, dsm.level, dsm.fatigue, dsm.reserved) == (12, 6, 5, 18, b"\x01\x02\x03\x04")
    [(eid, tpms)] = _vector("subiao/0200/2013-scas-tpms.hex").body.extras
    assert eid == 0x66 and [(t.position, t.alarm, t.pressure, t.temperature, t.battery) for t in tpms.tires] == [
        (4, 1, 3, 5, 2), (9, 6, 8, 10, 7)]
    assert tpms.alarm_sign.key() == "4444444-191210183100-3"


def test_adas_item_and_its_alarm() -> None:
    from jt808.protocol.alarms import AlarmTracker

    p = _vector("subiao/0200/2013-scas-fixedlen.hex")
    [(eid, item)] = p.body.extras
    assert eid == 0x64 and isinstance(item, subiao.AdasAlarm)
    assert (item.id, item.flag, item.type, item.level, item.front_speed, item.front_distance, item.deviation,
            item.road_sign, item.road_sign_value) == (1, 12, 6, 5, 18, 10, 11, 16, 15)
    assert (item.position.speed, item.position.altitude, item.position.time, item.position.vehicle_status) == (
        17, 7, "191211183100", 19)
    assert item.alarm_sign == subiao.AlarmSign("4444444", "191210183100", 3, 2, 0)
    standard, alarm = AlarmTracker().feed("013912345678", p.body)  # the report's alarm word has bit 0 set
    assert (standard.kind, standard.code, standard.name) == ("standard", 0, "紧急报警")
    assert (alarm.kind, alarm.code, alarm.name, alarm.alarm_id, alarm.attachments) == (
        "adas", 6, "道路标识超限报警", "4444444-191210183100-3", 2)
    # the default profile keeps the item's bytes; the tracker reads them all the same
    raw = jt808.decode(jt808.encode(p, subiao.SUBIAO)).body
    assert isinstance(raw.extras[0][1], bytes)
    assert AlarmTracker(standard=False).feed("013912345678", raw)[0].alarm_id == alarm.alarm_id


@pytest.mark.parametrize("cls", ITEMS, ids=lambda c: c.__name__)
def test_safety_item_rows_round_trip_in_a_report(cls: type) -> None:
    from tests.protocol.test_properties import record_strategy

    eid = {"Adas": 0x64, "Dsm": 0x65, "Tire": 0x66, "Bsd": 0x67}[next(k for k in ("Adas", "Dsm", "Tire", "Bsd")
                                                                       if k in cls.__name__)]

    @FAST
    @given(record_strategy(cls, V2013))
    def run(item: Any) -> None:
        assert decode_safety_item(eid, encode_safety_item(item)) == item
        report = LocationReport(alarm=0, status=0, latitude=0, longitude=0, altitude=0, speed=0, direction=0,
                                time="250101120000", extras=[(eid, item)])
        frame = jt808.encode(jt808.Packet(jt808.Header(0x0200, "013912345678", 1), report), subiao.SUBIAO)
        back = jt808.decode(frame, subiao.SUBIAO)
        assert back.body.extras == [(eid, item)] and not back.problems
        doc = json.loads(json.dumps(jt808.to_json(back, subiao.SUBIAO)))
        assert jt808.encode(jt808.from_json(doc, subiao.SUBIAO), subiao.SUBIAO) == frame

    run()


def test_an_item_of_no_known_size_stays_raw_and_noted() -> None:
    report = LocationReport(alarm=0, status=0, latitude=0, longitude=0, altitude=0, speed=0, direction=0,
                            time="250101120000", extras=[(0x65, bytes(30))])
    frame = jt808.encode(jt808.Packet(jt808.Header(0x0200, "013912345678", 1), report))
    p = jt808.decode(frame, subiao.SUBIAO, strict=False)
    assert p.body.extras[0][1] == bytes(30) and p.problems
    assert jt808.encode(p, subiao.SUBIAO) == frame


def test_cli_decode_and_encode_with_a_profile() -> None:
    from click.testing import CliRunner

    from jt808.commands.decode import decode_command, encode_command

    frame = (VECTOR_DIR / "yuebiao" / "1210" / "2013-gojt808.hex").read_text().strip()
    out = CliRunner().invoke(decode_command, ["--profile", "yuebiao", frame])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["body"]["alarm_sign"]["terminal_id"] == "1234cd."
    back = CliRunner().invoke(encode_command, ["--profile", "yuebiao", out.output.strip()])
    assert back.output.strip() == frame
    explained = CliRunner().invoke(decode_command, ["--profile", "subiao", "--explain",
                                                    (VECTOR_DIR / "subiao" / "0900" / "2013-scas-f7.hex").read_text()])
    assert "PeripheralPassThrough" in explained.output or '"peripherals"' in explained.output
