"""Multimedia bodies 0x0800-0x0805 / 0x8800-0x8805: layouts, lenient paths, seed-004 / EMQX JSON keys."""

from __future__ import annotations

import base64
import json
from functools import reduce
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import jt808
from jt808 import V2011, V2013, V2019, Profile
from jt808.protocol.messages.location import LocationBasic
from jt808.protocol.messages.media import (
    MediaData,
    MediaDataReply,
    MediaEvent,
    MediaItem,
    SearchMedia,
    SearchMediaReply,
    StartRecording,
    TakePhoto,
    TakePhotoReply,
    UploadOneMedia,
    UploadStoredMedia,
)
from jt808.protocol.packet import decode_body, encode_body

# S002's location block (PROTOCOL.md §4.1): alarm bit 8, status 0x000c1001, 30.787690 N 120.767073 E.
LOC_HEX = "00000100000c100101d5c86a0732c261000000000000190313153803"
LOC = LocationBasic(0x100, 0x000C1001, 30787690, 120767073, 0, 0, 0, "190313153803")
LOC_JSON = {"alarm": 256, "status": 0x000C1001, "latitude": 30787690, "longitude": 120767073, "altitude": 0,
            "speed": 0, "direction": 0, "time": "190313153803"}
JPEG = bytes.fromhex("ffd8ffe000104a464946") + bytes(range(256)) + bytes.fromhex("ffd9")


VECTORS = Path(__file__).resolve().parent.parent / "vectors"
IDS = ("0800", "0801", "8800", "8801", "0805", "8802", "0802", "8803", "8804", "8805")


@pytest.mark.parametrize("path", sorted(p for i in IDS for p in (VECTORS / i).glob("*.hex")),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_vector(path: Path) -> None:
    frame = bytes.fromhex(path.read_text().strip())
    content = jt808.protocol.unescape(frame[1:-1])
    assert reduce(lambda a, b: a ^ b, content[:-1], 0) == content[-1]  # check code, computed independently
    prof = Profile(path.stem, default_version=V2011 if path.stem.startswith("2011") else V2013)
    p = jt808.decode(frame, prof)
    assert int(p.version) == int(path.stem[:4]) and p.msg_id == int(path.parent.name, 16)
    expected = json.loads(path.with_suffix(".json").read_text())
    assert json.loads(json.dumps(p.body.to_json(p.version))) == expected
    assert jt808.encode(p, prof) == frame
    assert p.problems == []  # 2011's layouts (0x0801 without location, 0x0802 without ids) are no repair in 2011
    again = type(p.body).from_json(expected, p.version)
    assert encode_body(again, p.version, prof) == p.raw_body


def test_vectors_cover_every_registered_version() -> None:
    for i in IDS:
        mid = int(i, 16)
        have = {int(p.stem[:4]) for p in (VECTORS / i).glob("*.hex")}
        assert have == {int(v) for v in jt808.protocol.DEFAULT_MESSAGES.versions_of(mid)}, i


def roundtrip(body: jt808.Body, version=V2013, hex_body: str | None = None) -> bytes:
    data = encode_body(body, version)
    if hex_body is not None:
        assert data.hex() == hex_body
    back, tail, _ = decode_body(body.msg_id, version, data)
    assert back == body and tail == b""
    frame = jt808.encode(jt808.build(body, "013912345678" if version is not V2019 else "00000000013912345678",
                                     7, version))
    p = jt808.decode(frame)
    assert p.body == body and not p.problems
    return data


def test_media_event_0800() -> None:
    b = MediaEvent(id=0x01020304, type=0, format=0, event=1, channel=2)
    for v in (V2011, V2013, V2019):
        roundtrip(b, v, "0102030400000102")
    assert b.to_json() == {"id": 0x01020304, "type": 0, "format": 0, "event": 1, "channel": 2}
    assert MediaEvent.from_json(b.to_json()) == b


def test_media_data_0801_with_location() -> None:
    b = MediaData(id=9, type=0, format=0, event=7, channel=1, location=LOC, multimedia=JPEG)
    for v in (V2013, V2019):
        data = roundtrip(b, v)
        assert data[:8].hex() == "0000000900000701"
        assert data[8:36].hex() == LOC_HEX
        assert data[36:] == JPEG
    j = b.to_json(V2013)
    assert list(j) == ["id", "type", "format", "event", "channel", "location", "multimedia"]
    assert j["location"] == LOC_JSON
    assert base64.b64decode(j["multimedia"]) == JPEG
    assert MediaData.from_json(j, V2013) == b


def test_media_data_0801_short_body_has_no_location_and_is_flagged() -> None:
    raw = bytes.fromhex("0000000a02040001") + b"\x01\x02\x03"  # 3 bytes after the prefix (< 28)
    problems: list[str] = []
    b, tail, _ = decode_body(0x0801, V2013, raw, problems=problems)
    assert isinstance(b, MediaData)
    assert (b.id, b.type, b.format, b.event, b.channel) == (10, 2, 4, 0, 1)
    assert b.location is None and b.multimedia == b"\x01\x02\x03" and tail == b""
    assert any("no 28-byte location" in p for p in problems)
    assert encode_body(b, V2013) == raw
    j = b.to_json()
    assert "location" not in j and j["multimedia"] == "AQID"
    assert MediaData.from_json(j) == b
    # exactly 28 bytes after the prefix: a location and empty media
    b2, _, _ = decode_body(0x0801, V2013, raw[:8] + bytes.fromhex(LOC_HEX))
    assert b2.location == LOC and b2.multimedia == b""


# the media of each format code as it starts (JPEG JFIF, TIFF little-endian, MP3 with ID3, WAV, WMV/ASF)
# (FILL is not BCD: a media whose bytes 22-27 read as a BCD time is taken for a location in 2013)
FILL = bytes(range(0xA0, 0xF0))
MEDIA = {0: JPEG, 1: b"II*\x00" + FILL, 2: b"ID3\x04" + FILL, 3: b"RIFF\x24\x00\x00\x00WAVEfmt " + FILL,
         4: bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c") + FILL}


@pytest.mark.parametrize("fmt", sorted(MEDIA))
def test_media_data_0801_2011_photo_keeps_every_byte(fmt: int) -> None:
    """A 2011 0x0801 has no location: a photo right after the prefix is the media, whole (it used to lose
    its first 28 bytes to a location read out of it)."""
    media = MEDIA[fmt]
    raw = bytes.fromhex("00000009") + bytes((0, fmt, 7, 1)) + media
    problems: list[str] = []
    b, tail, _ = decode_body(0x0801, V2011, raw, problems=problems)
    assert isinstance(b, MediaData) and b.location is None and b.multimedia == media and tail == b""
    assert problems == []
    assert encode_body(b, V2011) == raw
    frame = jt808.encode(jt808.build(b, "013912345678", 3, V2011))
    p = jt808.decode(frame, Profile("old", default_version=V2011))
    assert p.body == b and p.problems == [] and "location" not in p.body.to_json(V2011)
    # the same photo sent in a 2013 frame: read without location too, and flagged as the 2011 layout
    problems = []
    b13, _, _ = decode_body(0x0801, V2013, raw, problems=problems)
    assert b13.location is None and b13.multimedia == media
    assert any("no location block (2011 layout)" in p for p in problems), problems
    # a 2013 body (location, then the photo) in a 2011 frame: the location is read and the layout flagged
    with_loc = raw[:8] + bytes.fromhex(LOC_HEX) + media
    problems = []
    b11, _, _ = decode_body(0x0801, V2011, with_loc, problems=problems)
    assert b11.location == LOC and b11.multimedia == media
    assert any("2013 layout" in p for p in problems), problems
    assert encode_body(b11, V2011) == with_loc
    problems = []
    b13, _, _ = decode_body(0x0801, V2013, with_loc, problems=problems)
    assert b13.location == LOC and b13.multimedia == media and problems == []


def test_media_data_0801_2011_without_a_known_signature_is_all_media() -> None:
    raw = bytes.fromhex("0000000a02090001") + bytes.fromhex(LOC_HEX) + b"\x01\x02"  # format 9: no signature known
    b, _, _ = decode_body(0x0801, V2011, raw)
    assert b.location is None and b.multimedia == raw[8:]  # 2011 has no location: nothing is taken for one
    b, _, _ = decode_body(0x0801, V2013, raw)
    assert b.location == LOC and b.multimedia == b"\x01\x02"


def test_media_data_truncated_prefix_is_a_decode_error() -> None:
    with pytest.raises(jt808.TruncatedError) as ei:
        decode_body(0x0801, V2013, b"\x00\x00\x01")
    assert ei.value.msg_id == 0x0801 and ei.value.field == "id" and ei.value.offset == 0


def test_media_data_encode_is_strict() -> None:
    with pytest.raises(jt808.EncodeError) as ei:
        encode_body(MediaData(id=1, type=256, location=LOC), V2013)
    assert ei.value.field == "type"
    with pytest.raises(jt808.EncodeError) as ei:
        encode_body(MediaData(id=1, location=LocationBasic(speed=70000)), V2013)
    assert ei.value.field == "speed"
    with pytest.raises(jt808.EncodeError):
        encode_body(MediaData(id=1, multimedia="not bytes"), V2013)


def test_media_data_reply_8800_with_and_without_count() -> None:
    complete = MediaDataReply(mm_id=0x11223344, retx_ids=[])
    # Encoded with the count, 0 when complete (EMQX; S002's flow sends exactly this after the last fragment).
    assert roundtrip(complete, V2013, "1122334400") == bytes.fromhex("1122334400")
    # A reply that ends after mm_id also means "complete".
    b, tail, _ = decode_body(0x8800, V2013, bytes.fromhex("11223344"))
    assert b == complete and tail == b""
    missing = MediaDataReply(mm_id=5, retx_ids=[2, 7])
    roundtrip(missing, V2019, "00000005" + "02" + "0002" + "0007")
    assert missing.to_json() == {"mm_id": 5, "length": 2, "retx_ids": [2, 7]}
    assert complete.to_json() == {"mm_id": 0x11223344, "length": 0, "retx_ids": []}
    assert MediaDataReply.from_json({"mm_id": 5, "length": 2, "retx_ids": [2, 7]}) == missing
    assert MediaDataReply.from_json({"mm_id": 1, "length": 0}) == MediaDataReply(1, [])
    with pytest.raises(jt808.BodyError):
        MediaDataReply.from_json({"mm_id": 5, "length": 3, "retx_ids": [2, 7]})
    with pytest.raises(jt808.EncodeError) as ei:
        encode_body(MediaDataReply(1, list(range(256))), V2013)
    assert ei.value.field == "length"


def test_take_photo_8801() -> None:
    b = TakePhoto(channel_id=1, command=3, period=5, save=0, resolution=2, quality=1, brightness=128,
                  contrast=64, saturation=64, chromaticity=128)
    roundtrip(b, V2013, "01" "0003" "0005" "00" "02" "01" "80" "40" "40" "80")
    assert b.to_json() == {"channel_id": 1, "command": 3, "period": 5, "save": 0, "resolution": 2, "quality": 1,
                           "bright": 128, "contrast": 64, "saturate": 64, "chromaticity": 128}
    assert TakePhoto.from_json(b.to_json()) == b
    with pytest.raises(jt808.BodyError):
        TakePhoto.from_json({**b.to_json(), "bright": "high"})


def test_take_photo_reply_0805_ids_only_on_success() -> None:
    ok = TakePhotoReply(seq=0x1234, result=0, ids=[1, 0x0A0B0C0D])
    roundtrip(ok, V2013, "1234" "00" "0002" "00000001" "0a0b0c0d")
    assert ok.to_json() == {"seq": 0x1234, "result": 0, "length": 2, "ids": [1, 0x0A0B0C0D]}
    fail = TakePhotoReply(seq=3, result=2)
    roundtrip(fail, V2019, "0003" "02")
    assert fail.to_json() == {"seq": 3, "result": 2}
    assert TakePhotoReply.from_json({"seq": 3, "result": 2}) == fail
    assert TakePhotoReply.from_json(ok.to_json()) == ok
    # a device that ends a success reply after the result byte
    problems: list[str] = []
    b, _, _ = decode_body(0x0805, V2013, bytes.fromhex("000900"), problems=problems)
    assert b == TakePhotoReply(9, 0, []) and any("no media id count" in p for p in problems)
    # go-jt808 style count after a failure: decoded, the count kept as a flagged tail
    problems = []
    b, tail, _ = decode_body(0x0805, V2013, bytes.fromhex("0009010000"), problems=problems)
    assert b == TakePhotoReply(9, 1, []) and tail == b"\x00\x00" and problems


def test_search_media_8802_and_upload_8803() -> None:
    s = SearchMedia(type=0, channel=0, event=1, start_time="240101000000", end_time="240131235959")
    roundtrip(s, V2013, "000001" "240101000000" "240131235959")
    assert s.to_json() == {"type": 0, "channel": 0, "event": 1, "start_time": "240101000000",
                           "end_time": "240131235959"}
    assert SearchMedia.from_json(s.to_json()) == s
    u = UploadStoredMedia(type=2, channel=3, event=0, start_time="240101000000", end_time="240102000000", delete=1)
    roundtrip(u, V2019, "020300" "240101000000" "240102000000" "01")
    assert u.to_json() == {"type": 2, "channel": 3, "event": 0, "start_time": "240101000000",
                           "end_time": "240102000000", "delete": 1}
    assert UploadStoredMedia.from_json(u.to_json()) == u
    with pytest.raises(jt808.EncodeError) as ei:
        encode_body(SearchMedia(start_time="2401", end_time="240131235959"), V2013)
    assert ei.value.field == "start_time"


def test_search_media_reply_0802() -> None:
    items = [MediaItem(1, 0, 1, 0, LOC), MediaItem(0xFFFFFFFF, 1, 2, 3, LocationBasic(time="240101120000"))]
    b = SearchMediaReply(seq=0x0102, result=items)
    data = roundtrip(b, V2013)
    assert data[:4].hex() == "01020002" and len(data) == 4 + 2 * 35
    assert data[4:11].hex() == "00000001000100" and data[11:39].hex() == LOC_HEX
    roundtrip(b, V2019)  # 28-byte location in 2019 too
    j = b.to_json(V2019)
    assert j == {"seq": 0x0102, "length": 2, "result": [
        {"id": 1, "type": 0, "channel": 1, "event": 0, "location": LOC_JSON},
        {"id": 0xFFFFFFFF, "type": 1, "channel": 2, "event": 3,
         "location": {**{k: 0 for k in LOC_JSON}, "time": "240101120000"}}]}
    assert SearchMediaReply.from_json(j, V2019) == b
    empty = SearchMediaReply(seq=1)
    roundtrip(empty, V2013, "00010000")


def test_search_media_reply_items_of_the_other_version_are_flagged() -> None:
    raw = bytes.fromhex("0007" "0001" "000102") + bytes.fromhex(LOC_HEX)
    for version, note in ((V2011, None), (V2013, "without the media id")):
        problems: list[str] = []
        b, tail, _ = decode_body(0x0802, version, raw, problems=problems)
        assert b.result == [MediaItem(None, 0, 1, 2, LOC)] and tail == b""
        assert (any(note in p for p in problems) if note else problems == []), problems
        assert encode_body(b, version) == raw
    with_ids = bytes.fromhex("0007" "0001" "00000005" "000102") + bytes.fromhex(LOC_HEX)
    problems = []
    b, _, _ = decode_body(0x0802, V2011, with_ids, problems=problems)
    assert b.result == [MediaItem(5, 0, 1, 2, LOC)] and any("with the media id (2013 layout)" in p for p in problems)
    assert encode_body(b, V2011) == with_ids
    b, _, _ = decode_body(0x0802, V2011, raw)
    assert "id" not in b.to_json()["result"][0]
    with pytest.raises(jt808.TruncatedError):
        decode_body(0x0802, V2013, bytes.fromhex("000700020000"))


def test_recording_8804_and_upload_one_8805() -> None:
    r = StartRecording(command=1, time=30, save=0, rate=1)
    roundtrip(r, V2013, "01001e0001")
    assert r.to_json() == {"command": 1, "time": 30, "save": 0, "rate": 1}
    assert StartRecording.from_json(r.to_json()) == r
    o = UploadOneMedia(id=77, flag=1)
    roundtrip(o, V2013, "0000004d01")
    assert o.to_json() == {"id": 77, "flag": 1}
    assert UploadOneMedia.from_json(o.to_json()) == o


@pytest.mark.parametrize("cls,n", [(MediaEvent, 8), (TakePhoto, 12), (SearchMedia, 15), (UploadStoredMedia, 16),
                                   (StartRecording, 5), (UploadOneMedia, 5), (TakePhotoReply, 3),
                                   (SearchMediaReply, 4), (MediaDataReply, 4)])
def test_every_truncation_is_a_typed_error(cls: type[jt808.Body], n: int) -> None:
    for cut in range(n):
        with pytest.raises(jt808.DecodeError):
            decode_body(cls.msg_id, V2013, bytes(cut))


locations = st.builds(LocationBasic, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
                      st.integers(0, 2**32 - 1), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF),
                      st.integers(0, 0xFFFF), st.from_regex(r"\A[0-9]{12}\Z"))


@given(st.integers(0, 2**32 - 1), st.integers(0, 255), st.integers(0, 255), locations, st.binary(max_size=600),
       st.sampled_from([V2013, V2019]))
def test_media_data_property(mid: int, typ: int, ev: int, loc: LocationBasic, mm: bytes, v: jt808.Version) -> None:
    b = MediaData(mid, typ, 0, ev, 1, loc, mm)
    data = encode_body(b, v)
    back, tail, _ = decode_body(0x0801, v, data)
    assert back == b and tail == b""
    assert MediaData.from_json(b.to_json(v), v) == b
