"""JT/T 1078 signalling beyond the golden vectors (tests/vectors/1003 … 9306): the tolerant 0x1205 reading,
strict encoding, typed JSON errors, the alarm-bit enums and ``--explain`` output."""

from __future__ import annotations

import pytest

import jt808
from jt808 import V2013, V2019
from jt808.errors import BodyError, EncodeError, TruncatedError
from jt808.protocol.messages import jt1078
from jt808.protocol.packet import decode_body, encode_body

# SmallChi/JT1078 src/JT808.Protocol.Extensions.JT1078.Test/JT808_0x1205Test.cs (releases before the 64-bit
# alarm flag): two items of 24 bytes with a 32-bit alarm flag.
SC_1205_ALARM32 = bytes.fromhex("000100000002041907161020011907161025010000000102060500000003"
                                "291907161120011907161125020000000B153D330000001F")


def test_1205_with_32_bit_alarm_flags_is_read_and_noted() -> None:
    problems: list[str] = []
    body, tail, _ = decode_body(0x1205, V2013, SC_1205_ALARM32, problems=problems)
    assert not tail
    assert isinstance(body, jt1078.AVResourceList)
    assert [(i.channel, i.start_time, i.end_time, i.alarm, i.media_type, i.stream_type, i.memory_type, i.size)
            for i in body.items] == [(4, "190716102001", "190716102501", 1, 2, 6, 5, 3),
                                     (41, "190716112001", "190716112502", 11, 21, 61, 51, 31)]
    assert any("32-bit alarm" in p for p in problems)
    # re-encoded in the standard layout (28-byte items), which decodes without a note
    again = encode_body(body, V2013)
    assert len(again) == 6 + 2 * 28
    problems2: list[str] = []
    assert decode_body(0x1205, V2013, again, problems=problems2)[0] == body
    assert not problems2


def test_1205_count_beyond_the_body_is_a_located_truncation() -> None:
    with pytest.raises(TruncatedError) as e:
        decode_body(0x1205, V2019, bytes.fromhex("0001" "00000003") + bytes(28))
    assert e.value.field == "items"


def test_strict_encoding_names_the_field() -> None:
    with pytest.raises(EncodeError) as e:
        encode_body(jt1078.RealtimeAVRequest(ip="x", tcp_port=70000), V2013)
    assert e.value.field == "tcp_port"
    with pytest.raises(EncodeError) as e:
        encode_body(jt1078.QueryAVResources(alarm=1 << 64), V2013)
    assert e.value.field == "alarm"
    with pytest.raises(EncodeError):
        encode_body(jt1078.RealtimeAVRequest(ip="x" * 256), V2013)


def test_json_errors_are_typed() -> None:
    with pytest.raises(BodyError) as e:
        jt1078.RealtimeAVControl.from_json({"channel": 1, "command": 0, "close_type": 0})
    assert e.value.field == "stream_type"
    with pytest.raises(BodyError):
        jt1078.PtzRotate.from_json({"channel": "1", "direction": 0, "speed": 0})
    with pytest.raises(BodyError) as e:
        jt1078.AVResourceList.from_json({"seq": 1, "count": 2, "items": []})
    assert e.value.field == "count"


def test_every_1078_id_is_registered_for_2013_and_2019_and_2011_falls_back() -> None:
    p2011 = jt808.Profile("v2011", default_version=jt808.V2011)
    for mid in jt1078.JT1078_IDS:
        for v in (V2013, V2019):
            cls = jt808.DEFAULT_PROFILE.lookup(mid, v)
            assert cls is not None and cls.msg_id == mid and cls.__module__ == jt1078.__name__
        assert p2011.lookup(mid, jt808.V2011) is jt808.DEFAULT_PROFILE.lookup(mid, V2013)


def test_alarm_enums_carry_chinese_titles() -> None:
    assert jt1078.VideoAlarm.VIDEO_SIGNAL_LOST.title == "视频信号丢失报警"
    assert jt1078.VideoAlarm(6).title == "特殊报警录像达到存储阈值报警"
    assert [a.title for a in jt1078.AbnormalDriving] == ["疲劳驾驶", "打电话", "抽烟"]
    assert all(a.title for a in jt1078.VideoAlarm)


def test_explain_walks_a_1078_body() -> None:
    from jt808.commands.explain import explain

    frame = bytes.fromhex("7e9206004512345678901200010b3139322e3136382e312e312b2d08757365726e616d65087061737377"
                          "6f72640b2f616c61726d5f66696c6501200726000000200726232359000000000000000000010101227e")
    text = explain(frame, jt808.decode(frame))
    assert "0x9206 FileUploadCommand — 文件上传指令" in text
    assert 'username           BYTE+STRING = "username"' in text
    assert "alarm              QWORD = 0" in text
