"""SuBiao / YueBiao (active safety): profile vectors, layout selection, tolerant peripheral lists, Hypothesis
round trips of the profile-only bodies and of the alarm items, and the code enums.

Vectors in ``tests/vectors/profiles/<profile>/<msg_id>/<version>-<source>.hex`` are decoded with that profile
(sources: ``gojt808`` go-jt808 protocol/model/parse_test.go frames; ``scyb`` / ``scas`` bodies of SmallChi's
JT808.Protocol.Extensions.YueBiao.Test / JTActiveSafety tests in a computed header).
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
from jt808.protocol.messages import subiao, yuebiao
from jt808.protocol.packet import decode_body, encode_body

PROFILES = {"subiao": subiao.SUBIAO, "yuebiao": yuebiao.YUEBIAO}
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
    assert body.to_json() == {"type": 0xF7, "data": jt808.protocol.spec._b64(SC_MIXED[1:])}


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
