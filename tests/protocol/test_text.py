"""0x8300-0x8304, 0x0301-0x0303, 0x8400, 0x8401: layouts, seed-004 JSON keys, malformed bodies, golden files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jt808
from jt808 import V2011, V2013, V2019
from jt808.errors import BodyError, DecodeError, EncodeError, TruncatedError
from jt808.protocol.messages.text import (
    Answer,
    CallBack,
    Contact,
    Event,
    EventReport,
    InfoDemand,
    InfoMenu,
    InfoService,
    MenuItem,
    Question,
    QuestionAnswer,
    SetEvents,
    SetPhoneBook,
    TextMessage,
)
from jt808.protocol.packet import RawBody, decode_body, encode_body
from jt808.protocol.registry import DEFAULT_MESSAGES, Profile

ALL = (V2011, V2013, V2019)
PHONES = {V2011: "013912345678", V2013: "013912345678", V2019: "00000000013912345678"}
VECTORS = Path(__file__).resolve().parent.parent / "vectors"
TEXT_IDS = ("8300", "8301", "0301", "8302", "0302", "8303", "0303", "8304", "8400", "8401")
TRACKING_IDS = ("0201", "8202", "8203", "0704", "8500", "0500")


def roundtrip(body: jt808.Body, version, hex_body: str) -> None:
    data = encode_body(body, version)
    assert data.hex() == hex_body.replace(" ", "")
    problems: list[str] = []
    back, tail, _ = decode_body(body.msg_id, version, data, problems=problems)
    assert back == body and tail == b"" and problems == []
    frame = jt808.encode(jt808.build(body, PHONES[version], 5, version))
    p = jt808.decode(frame)
    assert p.body == body and not p.problems and jt808.encode(p) == frame


def json_roundtrip(body: jt808.Body, version, expected: dict) -> None:
    got = body.to_json(version)
    assert got == expected
    assert list(got) == list(expected)  # seed-004 key order
    assert type(body).from_json(expected, version) == body
    j = jt808.to_json(jt808.build(body, PHONES[version], 5, version))
    assert j["body"] == expected and jt808.from_json(j).body == body


def test_deleted_2019_messages_are_registered_in_every_version() -> None:
    for mid in (0x8300, 0x8301, 0x0301, 0x8302, 0x0302, 0x8303, 0x0303, 0x8304, 0x8400, 0x8401):
        assert DEFAULT_MESSAGES.versions_of(mid) == list(ALL), hex(mid)


# -- 0x8300 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [V2011, V2013])
def test_text_message_2013(version) -> None:
    b = TextMessage(flag=0x09, text="你好")
    roundtrip(b, version, "09 c4e3bac3")
    json_roundtrip(b, version, {"flag": 9, "text": "你好"})


def test_text_message_2019_has_text_type() -> None:
    b = TextMessage(flag=0x08, text_type=2, text="hi")
    roundtrip(b, V2019, "08 02 6869")
    json_roundtrip(b, V2019, {"flag": 8, "text_type": 2, "text": "hi"})
    # EMQX defaults a missing text_type to 1
    assert TextMessage.from_json({"flag": 1, "text": "x"}, V2019) == TextMessage(1, 1, "x")
    with pytest.raises(BodyError) as e:
        TextMessage.from_json({"flag": 1}, V2019)
    assert e.value.field == "text"


def test_text_message_s002_frame_and_utf8_profile() -> None:
    p = jt808.decode(bytes.fromhex("7e83000004018855485015000100736174317e"))
    assert p.body == TextMessage(0, 1, "sat")
    frame = jt808.encode(jt808.build(TextMessage(0, text="浙A"), PHONES[V2013], 1), Profile("u", encoding="utf-8"))
    assert "e6b59941" in frame.hex()
    assert jt808.decode(frame, Profile("u", encoding="utf-8")).body.text == "浙A"


def test_text_message_not_encodable() -> None:
    with pytest.raises(EncodeError) as e:
        encode_body(TextMessage(0, text="😀"), V2013)
    assert e.value.field == "text"


# -- 0x8301 / 0x0301 ------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ALL)
def test_set_events(version) -> None:
    b = SetEvents(type=1, events=[Event(1, "ab"), Event(2, "")])
    roundtrip(b, version, "01 02 01 02 6162 02 00")
    json_roundtrip(b, version, {"type": 1, "length": 2, "events": [{"id": 1, "length": 2, "content": "ab"},
                                                                   {"id": 2, "length": 0, "content": ""}]})


def test_set_events_delete_all_has_no_further_bytes() -> None:
    roundtrip(SetEvents(type=0), V2013, "00")
    # a platform that adds a count byte anyway (EMQX writes type+length): kept as the packet tail
    problems: list[str] = []
    body, tail, _ = decode_body(0x8301, V2013, b"\x00\x00", problems=problems)
    assert body == SetEvents(0, []) and tail == b"\x00" and problems
    with pytest.raises(EncodeError):
        encode_body(SetEvents(0, [Event(1, "x")]), V2013)
    # the JSON always has all seed-004 keys; the ignored item lengths are the GBK byte counts
    assert SetEvents(0).to_json(V2013) == {"type": 0, "length": 0, "events": []}
    assert SetEvents.from_json({"type": 0, "length": 0, "events": []}, V2013) == SetEvents(0)
    assert Event(1, "堵车").to_json() == {"id": 1, "length": 4, "content": "堵车"}


def test_set_events_truncated_content() -> None:
    with pytest.raises(TruncatedError) as e:
        decode_body(0x8301, V2013, bytes.fromhex("01 01 01 05 6162".replace(" ", "")))
    # (items of generic lists name the item's own field)
    assert (e.value.field, e.value.offset, e.value.msg_id) == ("content", 4, 0x8301)


@pytest.mark.parametrize("version", ALL)
def test_event_report(version) -> None:
    roundtrip(EventReport(id=5), version, "05")
    json_roundtrip(EventReport(5), version, {"id": 5})


# -- 0x8302 / 0x0302 ------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ALL)
def test_question(version) -> None:
    b = Question(flag=1, question="你好?", answers=[Answer(1, "是"), Answer(2, "否")])
    # answer length is a WORD (EMQX, SmallChi, yezhihao), not seed 004's BYTE
    roundtrip(b, version, "01 05 c4e3bac33f 01 0002 cac7 02 0002 b7f1")
    json_roundtrip(b, version, {"flag": 1, "length": 5, "question": "你好?",
                                "answers": [{"id": 1, "len": 2, "answer": "是"}, {"id": 2, "len": 2, "answer": "否"}]})
    roundtrip(Question(0, "?", []), version, "00 01 3f")


@pytest.mark.parametrize(("hex_body", "field", "offset"), [
    ("01 01 3f 01 0005 6162", "answers[0].answer", 6),  # the answer text is cut short
    ("01 01 3f 01 00", "answers[0].answer", 4),  # the answer length is cut short
    ("01 01 3f 01 0001 61 02", "answers[1].answer", 8),  # a second answer with an id only
    ("01 05 3f", "question", 2),  # the question is cut short
])
def test_question_truncated_answer_is_a_typed_error(hex_body, field, offset) -> None:
    data = bytes.fromhex(hex_body.replace(" ", ""))
    with pytest.raises(TruncatedError) as e:
        decode_body(0x8302, V2013, data)
    assert (e.value.msg_id, e.value.field, e.value.offset) == (0x8302, field, offset)
    # lenient packet decoding keeps the body raw, with the error as a problem, and re-encodes it exactly
    frame = jt808.encode(jt808.Packet(jt808.Header(0x8302, PHONES[V2013], 1, V2013), RawBody(data)))
    p = jt808.decode(frame, strict=False)
    assert isinstance(p.body, RawBody) and field in p.problems[0]
    assert jt808.encode(p) == frame


@pytest.mark.parametrize("version", ALL)
def test_question_answer(version) -> None:
    roundtrip(QuestionAnswer(seq=0x0102, id=3), version, "0102 03")
    json_roundtrip(QuestionAnswer(0x0102, 3), version, {"seq": 0x0102, "id": 3})


# -- 0x8303 / 0x0303 / 0x8304 ---------------------------------------------------------------------
@pytest.mark.parametrize("version", ALL)
def test_info_menu(version) -> None:
    b = InfoMenu(type=1, menus=[MenuItem(1, "新闻"), MenuItem(2, "ab")])
    roundtrip(b, version, "01 02 01 0004 d0c2cec5 02 0002 6162")
    json_roundtrip(b, version, {"type": 1, "length": 2, "menus": [{"type": 1, "length": 4, "info": "新闻"},
                                                                  {"type": 2, "length": 2, "info": "ab"}]})
    with pytest.raises(BodyError) as e:
        InfoMenu.from_json({"type": 1, "length": 3, "menus": [{"type": 1, "info": "x"}]}, version)
    assert e.value.field == "length"


@pytest.mark.parametrize("version", ALL)
def test_info_demand(version) -> None:
    roundtrip(InfoDemand(id=2, flag=1), version, "02 01")
    json_roundtrip(InfoDemand(2, 0), version, {"id": 2, "flag": 0})


@pytest.mark.parametrize("version", ALL)
def test_info_service(version) -> None:
    b = InfoService(type=2, info="abc")
    roundtrip(b, version, "02 0003 616263")
    json_roundtrip(b, version, {"type": 2, "length": 3, "info": "abc"})
    with pytest.raises(TruncatedError) as e:
        decode_body(0x8304, version, bytes.fromhex("0200056162"))
    assert e.value.field == "info"


# -- 0x8400 / 0x8401 ------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ALL)
def test_call_back(version) -> None:
    b = CallBack(type=1, phone="13800138000")
    roundtrip(b, version, "01" + b"13800138000".hex())
    json_roundtrip(b, version, {"type": 1, "phone": "13800138000"})


def test_call_back_nul_padded_and_too_long() -> None:
    # yezhihao writes the number as a fixed BYTE[20]
    data = b"\x00" + b"10086".ljust(20, b"\x00")
    assert decode_body(0x8400, V2013, data)[0] == CallBack(0, "10086")
    with pytest.raises(EncodeError) as e:
        encode_body(CallBack(0, "1" * 21), V2013)
    assert e.value.field == "phone"
    encode_body(CallBack(0, "1" * 20), V2013)


@pytest.mark.parametrize("version", ALL)
def test_set_phone_book(version) -> None:
    b = SetPhoneBook(type=1, contacts=[Contact(3, "10086", "客服")])
    roundtrip(b, version, "01 01 03 05 3130303836 04 bfcdb7fe")
    json_roundtrip(b, version, {"type": 1, "length": 1, "contacts": [
        {"type": 3, "phone_len": 5, "phone": "10086", "name_len": 4, "name": "客服"}]})
    roundtrip(SetPhoneBook(type=0), version, "00 00")


def test_set_phone_book_errors() -> None:
    with pytest.raises(TruncatedError) as e:
        decode_body(0x8401, V2013, bytes.fromhex("01 02 03 01 31 00".replace(" ", "")))
    assert (e.value.field, e.value.offset) == ("type", 6)  # the second contact is missing
    with pytest.raises(EncodeError):
        encode_body(SetPhoneBook(1, [Contact(1, "1" * 256, "x")]), V2013)
    with pytest.raises(BodyError):
        SetPhoneBook.from_json({"type": 1, "contacts": [{"type": 1, "phone": 10086, "name": "x"}]}, V2013)


# -- golden files ---------------------------------------------------------------------------------
def vectors(ids: tuple[str, ...]) -> list[Path]:
    return sorted(p for i in ids for p in (VECTORS / i).glob("*.hex"))


def test_every_version_has_a_vector() -> None:
    for i in TEXT_IDS + TRACKING_IDS:
        have = {p.stem[:4] for p in (VECTORS / i).glob("*.hex")}
        want = {str(int(v)) for v in DEFAULT_MESSAGES.versions_of(int(i, 16))}
        assert want <= have, (i, want - have)


@pytest.mark.parametrize("path", vectors(TEXT_IDS + TRACKING_IDS), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_vector(path: Path) -> None:
    frame = bytes.fromhex(path.read_text().strip())
    version = path.stem[:4]
    prof = Profile(path.stem, default_version=V2011 if version == "2011" else V2013)
    p = jt808.decode(frame, prof)
    assert str(int(p.version)) == version and p.msg_id == int(path.parent.name, 16)
    assert p.problems == []
    expected = json.loads(path.with_suffix(".json").read_text())
    assert json.loads(json.dumps(p.body.to_json(p.version), ensure_ascii=False)) == expected
    assert jt808.encode(p, prof) == frame
    assert type(p.body).from_json(expected, p.version) == p.body


# -- junk never escapes as anything but a JT808Error ------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=120), version=st.sampled_from(ALL),
       mid=st.sampled_from([int(i, 16) for i in TEXT_IDS]))
def test_junk_bodies_decode_or_raise_decode_errors(data, version, mid) -> None:
    problems: list[str] = []
    try:
        body, tail, _ = decode_body(mid, version, data, problems=problems)
    except DecodeError:
        return
    # a clean decode re-encodes byte for byte; NUL padding stripped from text is noted (issue 9: padding
    # on either side of any string is accepted), and 0x8400 strips NUL padding from the number on purpose
    if mid != 0x8400 and not problems:
        assert encode_body(body, version) + tail == data
