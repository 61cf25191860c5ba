"""0x8900 / 0x0900 pass-through, 0x0901 compressed data, 0x8A00 / 0x0A00 RSA keys."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jt808
from jt808 import V2011, V2013, V2019, BodyError, EncodeError, Profile, TruncatedError, Version
from jt808.protocol.messages.general import HeartBeat
from jt808.protocol.messages.transport import (
    CompressedData,
    DownlinkPassThrough,
    PassThroughType,
    PlatformRsaKey,
    TerminalRsaKey,
    UplinkPassThrough,
    gunzip_body,
    gzip_body,
)
from jt808.protocol.packet import decode_body, encode_body
from jt808.protocol.registry import DEFAULT_MESSAGES

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
IDS = ("8900", "0900", "0901", "8a00", "0a00")
ALL = (V2011, V2013, V2019)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def profile_for(path: Path) -> Profile:
    version = path.stem.partition("-")[0]
    return Profile(path.stem, default_version=V2011 if version == "2011" else V2013)


@pytest.mark.parametrize("path", sorted(p for i in IDS for p in (VECTORS / i).glob("*.hex")),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_vector(path: Path) -> None:
    frame = bytes.fromhex(path.read_text().strip())
    prof = profile_for(path)
    p = jt808.decode(frame, prof)
    assert int(p.version) == int(path.stem[:4]) and p.msg_id == int(path.parent.name, 16)
    expected = json.loads(path.with_suffix(".json").read_text())
    assert json.loads(json.dumps(p.body.to_json(p.version))) == expected
    assert jt808.encode(p, prof) == frame and p.problems == []
    assert encode_body(type(p.body).from_json(expected, p.version), p.version, prof) == p.raw_body


def test_every_registered_version_has_a_vector() -> None:
    for i in IDS:
        have = {int(p.stem[:4]) for p in (VECTORS / i).glob("*.hex")}
        assert have == {int(v) for v in DEFAULT_MESSAGES.versions_of(int(i, 16))}, i


def test_rsa_vector_escapes_and_values() -> None:
    frame = bytes.fromhex((VECTORS / "8a00" / "2013-snapshot.hex").read_text().strip())
    assert b"\x7d\x02" in frame  # the 0x7E inside n is escaped on the wire
    key = jt808.decode(frame).body
    assert key.e == 65537 and key.n[0] == 0xC3 and key.n[-2:] == b"\x7e\x01" and len(key.n) == 128


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize("cls", [DownlinkPassThrough, UplinkPassThrough])
def test_pass_through(cls: type, version: Version) -> None:
    body = cls(PassThroughType.SERIAL_1, b"\x7e\x00\xff")
    data = encode_body(body, version)
    assert data == b"\x41\x7e\x00\xff"
    assert decode_body(body.msg_id, version, data)[0] == body
    assert body.to_json(version) == {"type": 0x41, "data": "fgD/"}
    assert cls.from_json({"type": 0x41, "data": "fgD/"}, version) == body
    assert decode_body(body.msg_id, version, b"\xf0")[0] == cls(0xF0, b"")
    with pytest.raises(TruncatedError):
        decode_body(body.msg_id, version, b"")
    with pytest.raises(BodyError) as ei:
        cls.from_json({"type": 1, "data": "%%"}, version)
    assert ei.value.field == "data"
    with pytest.raises(EncodeError) as ee:
        encode_body(cls(256, b""), version)
    assert ee.value.field == "type"


@pytest.mark.parametrize("version", ALL)
def test_compressed_data(version: Version) -> None:
    inner = encode_body(HeartBeat(), version) + b"inner body " * 30
    body = CompressedData.compress(inner)
    data = encode_body(body, version)
    assert int.from_bytes(data[:4], "big") == len(data) - 4 == len(body.data)
    assert data[4:6] == b"\x1f\x8b"  # a GZIP member
    back = decode_body(0x0901, version, data)[0]
    assert back == body and back.decompress() == inner
    assert body.compress(inner) == body  # deterministic (no timestamp)
    j = body.to_json(version)
    assert j == {"length": len(body.data), "data": b64(body.data)}
    assert CompressedData.from_json(j, version) == body
    with pytest.raises(BodyError) as ei:
        CompressedData.from_json({"length": 3, "data": b64(body.data)}, version)
    assert ei.value.field == "length"


def test_compressed_exact_bytes() -> None:
    assert encode_body(CompressedData(b"\x01\x02\x03"), V2013).hex() == "00000003010203"


def test_compressed_length_past_body() -> None:
    with pytest.raises(TruncatedError) as ei:
        decode_body(0x0901, V2013, bytes.fromhex("00000010" "1f8b"))
    assert ei.value.field == "data" and ei.value.msg_id == 0x0901
    problems: list[str] = []
    body, tail, _ = decode_body(0x0901, V2013, bytes.fromhex("00000001" "aa" "bb"), problems=problems)
    assert body.data == b"\xaa" and tail == b"\xbb" and "trailing" in problems[0]


def test_gunzip_helpers() -> None:
    assert gunzip_body(gzip_body(b"abc")) == b"abc"
    assert gunzip_body(gzip.compress(b"a") + gzip.compress(b"b")) == b"ab"  # concatenated members
    assert gunzip_body(zlib.compress(b"zlib too")) == b"zlib too"
    for bad, what in ((b"", "no compressed"), (b"not gzip", "not GZIP"), (gzip_body(b"x" * 100)[:-12], "truncated")):
        with pytest.raises(BodyError, match=what):
            gunzip_body(bad)
    bomb = gzip_body(b"\0" * 100_000)
    with pytest.raises(BodyError, match="beyond 1000"):
        gunzip_body(bomb, max_size=1000)
    assert len(gunzip_body(bomb, max_size=100_000)) == 100_000


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize("cls", [PlatformRsaKey, TerminalRsaKey])
def test_rsa_key(cls: type, version: Version) -> None:
    modulus = (1 << 1023) | 0xABCDEF
    key = cls.from_numbers(65537, modulus)
    data = encode_body(key, version)
    assert data[:4] == b"\x00\x01\x00\x01" and len(data) == 132
    assert data[4] == 0x80 and data[-3:] == b"\xab\xcd\xef"
    back = decode_body(key.msg_id, version, data)[0]
    assert back == key and back.modulus == modulus and back.e == 65537
    j = key.to_json(version)
    assert j["e"] == 65537 and base64.b64decode(j["n"]) == key.n
    assert cls.from_json(j, version) == key
    small = cls.from_numbers(3, 0xFF)  # a short modulus is left-padded, keeping its value
    assert encode_body(small, version)[-2:] == b"\x00\xff" and small.modulus == 0xFF
    with pytest.raises(TruncatedError):
        decode_body(key.msg_id, version, data[:100])
    with pytest.raises(EncodeError) as ei:
        encode_body(cls(65537, b"\x01" * 127), version)  # would be padded at the wrong end
    assert ei.value.field == "n"
    with pytest.raises(EncodeError):
        cls.from_numbers(3, 1 << 1024)
    with pytest.raises(BodyError) as bi:
        cls.from_json({"e": 3, "n": 5}, version)
    assert bi.value.field == "n"


@settings(max_examples=60, deadline=None)
@given(t=st.integers(0, 255), data=st.binary(max_size=300), version=st.sampled_from(ALL))
def test_property_pass_through_and_compressed(t: int, data: bytes, version: Version) -> None:
    for body in (DownlinkPassThrough(t, data), UplinkPassThrough(t, data), CompressedData(data)):
        raw = encode_body(body, version)
        assert decode_body(body.msg_id, version, raw)[0] == body
        assert type(body).from_json(json.loads(json.dumps(body.to_json(version))), version) == body
