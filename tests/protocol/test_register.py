"""0x0100 / 0x8100 / 0x0102: golden frames, exact bytes per version, JSON, malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jt808
from hypothesis_profiles import examples
from jt808 import V2011, V2013, V2019, BodyError, EncodeError, Profile, TruncatedError, Version
from jt808.protocol.buffer import Reader
from jt808.protocol.messages.register import RegisterReply, RegisterResult, TerminalAuth, TerminalRegister
from jt808.protocol.packet import decode_body, encode_body
from jt808.protocol.registry import DEFAULT_PROFILE

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
IDS = ("0100", "8100", "0102")
NOTES = {"2013-sc-demo14": "bit 14"}  # vectors whose decode legitimately reports a problem


def profile_for(path: Path) -> Profile:
    """Golden-file convention: the name starts with the version (2011 needs a profile saying so);
    a ``-utf8`` source is a device sending UTF-8 text."""
    version, _, source = path.stem.partition("-")
    enc = "utf-8" if source.endswith("utf8") else "gbk"
    return Profile(path.stem, default_version=V2011 if version == "2011" else V2013, encoding=enc)


def vectors(ids: tuple[str, ...]) -> list[Path]:
    return sorted(p for i in ids for p in (VECTORS / i).glob("*.hex"))


@pytest.mark.parametrize("path", vectors(IDS), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_vector(path: Path) -> None:
    frame = bytes.fromhex(path.read_text().strip())
    prof = profile_for(path)
    p = jt808.decode(frame, prof)
    assert int(p.version) == int(path.stem[:4])
    assert p.msg_id == int(path.parent.name, 16)
    expected = json.loads(path.with_suffix(".json").read_text())
    body_json = json.loads(json.dumps(p.body.to_json(p.version), ensure_ascii=False))
    assert body_json == expected
    assert jt808.encode(p, prof) == frame
    note = NOTES.get(path.stem)
    assert (any(note in x for x in p.problems) if note else p.problems == []), p.problems
    # JSON -> body -> bytes gives the same body
    again = type(p.body).from_json(expected, p.version)
    assert encode_body(again, p.version, prof) == p.raw_body


# -- values the documents state -----------------------------------------------------------------
def test_s002_register_values() -> None:
    frame = bytes.fromhex((VECTORS / "0100" / "2013-s002-utf8.hex").read_text().strip())
    p = jt808.decode(frame, Profile("utf8", encoding="utf-8"))
    assert p.body == TerminalRegister(0x2C, 0x0133, "70960", "T7-T808", "0329170", 1, "浙A66666")
    assert p.header.phone == "018855485015" and p.msg_sn == 0x25
    # GBK by default: the same bytes read (wrongly but reversibly) as GBK, and re-encode exactly
    g = jt808.decode(frame)
    assert g.body.license_number == "娴橝66666"
    assert jt808.encode(g) == frame


def test_s002_register_reply_and_auth() -> None:
    reply = jt808.decode(bytes.fromhex("7e810000100188554850150025002500313535323935353938373437307f7e")).body
    assert reply == RegisterReply(0x25, RegisterResult.SUCCESS, "1552955987470")
    auth = jt808.decode(bytes.fromhex("7e010200060188554850150001323835313131db7e")).body
    assert auth.code == "285111"


# -- exact bytes per version -------------------------------------------------------------------
REG = TerminalRegister(44, 307, "ABCDE", "M8", "D7", 2, "TEST1")


@pytest.mark.parametrize(("version", "fixed"), [(V2011, 25), (V2013, 37), (V2019, 76)])
def test_register_widths(version: Version, fixed: int) -> None:
    data = encode_body(REG, version)
    assert len(data) == fixed + 5
    assert data[:4] == bytes.fromhex("002c0133")
    assert data[4:9] == b"ABCDE"
    assert data[fixed - 1] == 2 and data[fixed:] == b"TEST1"
    body, tail, v = decode_body(0x0100, version, data)
    assert body == REG and tail == b"" and v is version


def test_register_2011_exact() -> None:
    expected = "002c0133" "4142434445" "4d38000000000000" "44370000000000" "02" "5445535431"
    assert encode_body(REG, V2011).hex() == expected


def test_register_2019_exact() -> None:
    body = TerminalRegister(1, 2, "M" * 11, "X", "Y", 0, "VIN")
    data = encode_body(body, V2019)
    assert data == (bytes.fromhex("00010002") + b"M" * 11 + b"X" + b"\0" * 29 + b"Y" + b"\0" * 29 + b"\x00VIN")


def test_register_2011_inferred_from_length() -> None:
    data = encode_body(REG, V2011)
    problems: list[str] = []
    body, _, v = decode_body(0x0100, V2013, data, Profile("old", infer_2011=True), problems=problems)
    assert v is V2011 and body == REG and "inferred" in problems[0]


def test_register_strips_nuls_both_ends() -> None:
    data = bytearray(encode_body(REG, V2013))
    data[4:9] = b"\0\0AB\0"  # a maker id left-padded as QuecPython does
    body, _, _ = decode_body(0x0100, V2013, bytes(data))
    assert body.manufacturer == "AB"


@pytest.mark.parametrize("version", [V2011, V2013, V2019])
def test_register_reply_roundtrip(version: Version) -> None:
    ok = RegisterReply(0xFFFF, 0, "认证码-1")
    data = encode_body(ok, version)
    assert data == b"\xff\xff\x00" + "认证码-1".encode("gbk")
    assert decode_body(0x8100, version, data)[0] == ok
    assert ok.to_json(version) == {"seq": 0xFFFF, "result": 0, "auth_code": "认证码-1"}
    no = RegisterReply(3, RegisterResult.TERMINAL_REGISTERED)
    assert encode_body(no, version) == b"\x00\x03\x03"
    back, tail, _ = decode_body(0x8100, version, b"\x00\x03\x03")
    assert back.result == 3 and back.auth_code == "" and tail == b""
    assert no.to_json(version) == {"seq": 3, "result": 3}
    assert RegisterReply.from_json({"seq": 3, "result": 3}, version) == RegisterReply(3, 3, "")
    # a code sent with a refusal is kept (issue 9 item 3; EMQX's JSON keeps it), and re-encoded as sent
    kept = RegisterReply(3, RegisterResult.TERMINAL_REGISTERED, "old-code")
    assert encode_body(kept, version) == b"\x00\x03\x03old-code"
    assert decode_body(0x8100, version, b"\x00\x03\x03old-code")[0] == kept
    assert kept.to_json(version) == {"seq": 3, "result": 3, "auth_code": "old-code"}
    assert RegisterReply.from_json(kept.to_json(version), version) == kept


def test_register_reply_failure_with_trailing_bytes_keeps_them() -> None:
    problems: list[str] = []
    body, tail, _ = decode_body(0x8100, V2013, b"\x00\x01\x01XY", problems=problems)
    assert body.result == 1 and body.auth_code == "XY" and tail == b"" and problems == []


def test_register_reply_json_needs_code_on_success() -> None:
    with pytest.raises(BodyError) as ei:
        RegisterReply.from_json({"seq": 1, "result": 0}, V2013)
    assert ei.value.field == "auth_code"


@pytest.mark.parametrize("version", [V2011, V2013])
def test_auth_2013_is_whole_body(version: Version) -> None:
    a = TerminalAuth("ABC;123")
    assert encode_body(a, version) == b"ABC;123"
    assert decode_body(0x0102, version, b"ABC;123")[0] == a
    assert a.to_json(version) == {"code": "ABC;123"}


def test_auth_2019_exact() -> None:
    a = TerminalAuth("285111", "123456789012345", "V1.0.2")
    data = encode_body(a, V2019)
    assert data.hex() == "06" + b"285111".hex() + b"123456789012345".hex() + (b"V1.0.2" + b"\0" * 14).hex()
    assert decode_body(0x0102, V2019, data)[0] == a
    assert a.to_json(V2019) == {"code": "285111", "imei": "123456789012345", "software_version": "V1.0.2"}
    assert TerminalAuth.from_json(a.to_json(V2019), V2019) == a


def test_auth_2019_truncated_and_bad_lengths() -> None:
    good = encode_body(TerminalAuth("285111", "123456789012345", "V1"), V2019)
    with pytest.raises(TruncatedError) as ei:
        decode_body(0x0102, V2019, good[:-1])
    assert ei.value.field == "software_version" and ei.value.msg_id == 0x0102
    with pytest.raises(TruncatedError) as ei:
        decode_body(0x0102, V2019, b"\x40" + good[1:])  # code_len points past the body
    assert ei.value.field == "code"
    with pytest.raises(EncodeError) as ee:
        encode_body(TerminalAuth("x", "1234567890123456", ""), V2019)
    assert ee.value.field == "imei"


def test_truncated_register_is_typed_and_lenient_keeps_raw() -> None:
    data = encode_body(REG, V2013)[:20]
    with pytest.raises(TruncatedError) as ei:
        decode_body(0x0100, V2013, data)
    assert ei.value.field == "model" and ei.value.offset == 9
    problems: list[str] = []
    body, _, _ = decode_body(0x0100, V2013, data, strict=False, problems=problems)
    assert isinstance(body, jt808.RawBody) and body.data == data and "model" in problems[0]


def test_encode_is_strict() -> None:
    with pytest.raises(EncodeError) as ei:
        encode_body(TerminalRegister(1, 2, "TOOLONG", "m", "d", 1, "p"), V2013)
    assert ei.value.field == "manufacturer" and ei.value.msg_id == 0x0100
    with pytest.raises(EncodeError) as ei:
        encode_body(TerminalRegister(70000, 2, "A", "m", "d", 1, "p"), V2013)
    assert ei.value.field == "province"
    with pytest.raises(EncodeError) as ei:
        encode_body(TerminalRegister(1, 2, "A", "m", "d", 1, "\u20ac\U0001f600"), V2013)
    assert ei.value.field == "license_number"


def test_register_json_keys_and_types() -> None:
    for v in (V2011, V2013, V2019):
        j = REG.to_json(v)
        assert list(j) == ["province", "city", "manufacturer", "model", "dev_id", "color", "license_number"]
        assert TerminalRegister.from_json(j, v) == REG
    with pytest.raises(BodyError) as ei:
        TerminalRegister.from_json({**REG.to_json(V2013), "color": "1"}, V2013)
    assert ei.value.field == "color"


def test_reader_context_used_for_text() -> None:
    r = Reader(b"\x00\x01\x00" + "认证".encode(), V2013, Profile("u", encoding="utf-8"), 0x8100)
    assert RegisterReply.decode(r).auth_code == "认证"
    assert DEFAULT_PROFILE.encoding == "gbk"


# -- the 2011/2013 detection reads the body once: pinned to the decode in the layout it chose ------------
_PIECES = st.one_of(
    st.binary(max_size=60),
    st.builds(lambda p, c, m, mo, d, col, pl, v: encode_body(TerminalRegister(p, c, m, mo, d, col, pl), v),
              st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.text("ABC\x00\x01 ", max_size=5),
              st.text("XYZ\x00\x1f ", max_size=8), st.text("0123\x00", max_size=7), st.integers(0, 255),
              st.text("京A1\x00\x02", max_size=9), st.sampled_from([V2011, V2013])))


@settings(max_examples=examples(300), deadline=None)
@given(data=_PIECES)
def test_register_version_detection_decodes_like_the_chosen_layout(data: bytes) -> None:
    """decode_body of a 0x0100 with the 2011/2013 inference gives exactly what the general decode gives in
    the layout the inference chose (body, tail, notes): the reading made to decide is the one returned."""
    problems: list[str] = []
    try:
        body, tail, v = decode_body(0x0100, V2013, data, DEFAULT_PROFILE, problems=problems)
    except jt808.DecodeError as e:
        with pytest.raises(type(e)):
            decode_body(0x0100, V2013, data, Profile("no-infer", infer_2011=False))
        return
    ref_problems: list[str] = [p for p in problems if "version inferred" in p]
    ref, ref_tail, ref_v = decode_body(0x0100, v, data, Profile("no-infer", infer_2011=False),
                                       problems=ref_problems)
    assert (body, tail, v, problems) == (ref, ref_tail, ref_v, ref_problems)


# -- the fast decoders of 0x0100 / 0x0102 are pinned to the general path ---------------------------------
_TEXT = st.text(st.sampled_from(list("AZaz09 -\x00\x01\x1f\x7f中京")), max_size=9)
_CLEAN = st.text("AZaz09 -~\x7f", max_size=8).map(str.encode)
_DIRTY = st.lists(st.sampled_from([b"A", b"0", b"\x00", b"\x01", b"\x1f", b"\xff", "中".encode("gbk")]),
                  min_size=1, max_size=6).map(b"".join)
_CHUNK = st.one_of(_CLEAN, _CLEAN, _CLEAN, _DIRTY)
_LEAD = st.sampled_from([0] * 7 + [1])  # NULs before the text


def _fixed(n: int) -> st.SearchStrategy[bytes]:
    """A BYTE[n] text field, NUL-padded on the right, sometimes on the left too."""
    return st.builds(lambda lead, t: (b"\x00" * lead + t)[:n].ljust(n, b"\x00"), _LEAD, _CHUNK)


_RAW_REG = st.builds(lambda head, m, mo, d, col, plate: head + m + mo + d + bytes((col,)) + plate,
                     st.binary(min_size=4, max_size=4), _fixed(5), _fixed(20), _fixed(7), st.integers(0, 255),
                     st.builds(lambda a, t, b: b"\x00" * a + t + b"\x00" * b, _LEAD, _CHUNK, _LEAD))
_NONEMPTY = st.text("AZaz09 -~\x7f", min_size=1, max_size=5).map(str.encode)
_DEFECTS = {"none": lambda t: t, "lead": lambda t: b"\x00" + t, "tail": lambda t: t + b"\x00",
            "control": lambda t: t[:1] + b"\x01" + t[1:], "gbk": lambda t: t[:1] + "中".encode("gbk")}


def _one_defect(head: bytes, texts: list[bytes], color: int, field: int, defect: str) -> bytes:
    """A 2013 body of clean text fields but one, which gets ``defect`` (the cases the fast decoder leaves)."""
    texts = list(texts)
    texts[field] = _DEFECTS[defect](texts[field])
    fixed = [t[:n].ljust(n, b"\x00") for t, n in zip(texts[:3], (5, 20, 7), strict=True)]
    return head + b"".join(fixed) + bytes((color,)) + texts[3]


_DEFECTIVE = st.builds(_one_defect, st.binary(min_size=4, max_size=4), st.lists(_NONEMPTY, min_size=4, max_size=4),
                       st.integers(0, 255), st.integers(0, 3), st.sampled_from(sorted(_DEFECTS)))
_REG_BODIES = st.one_of(
    _DEFECTIVE, _DEFECTIVE, _RAW_REG, st.binary(max_size=64),
    st.builds(lambda p, c, m, mo, d, col, pl: encode_body(TerminalRegister(p, c, m, mo, d, col, pl), V2013),
              st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), _TEXT.map(lambda t: t[:2]), _TEXT,
              _TEXT.map(lambda t: t[:3]), st.integers(0, 255), _TEXT))
_FAST_PROFILES = [DEFAULT_PROFILE, Profile("utf8", encoding="utf-8"), Profile("no-infer", infer_2011=False),
                  Profile("utf16", encoding="utf-16-le")]


@settings(max_examples=examples(600), deadline=None)
@given(data=_REG_BODIES, profile=st.sampled_from(_FAST_PROFILES))
def test_fast_register_decode_gives_what_the_general_path_gives(data: bytes, profile: Profile) -> None:
    fast = TerminalRegister.fast_decode(data, profile, V2013)
    if fast is None:
        return
    problems: list[str] = []
    body, tail, v = decode_body(0x0100, V2013, data, profile, problems=problems)
    assert (fast, b"", V2013, []) == (body, tail, v, problems)


@settings(max_examples=examples(300), deadline=None)
@given(data=st.one_of(st.binary(max_size=24), _CHUNK, st.builds(bytes.__add__, _CHUNK, st.just(b"\x00"))),
       profile=st.sampled_from(_FAST_PROFILES), version=st.sampled_from([V2011, V2013, V2019]))
def test_fast_auth_decode_gives_what_the_general_path_gives(data: bytes, profile: Profile, version: Version) -> None:
    fast = TerminalAuth.fast_decode(data, profile, version)
    if fast is None:
        return
    problems: list[str] = []
    body, tail, v = decode_body(0x0102, version, data, profile, problems=problems)
    assert (fast, b"", version, []) == (body, tail, v, problems)


def test_fast_decoders_take_the_common_bodies() -> None:
    """The bodies real terminals send (and the benchmarks) go through them; the others do not."""
    reg = TerminalRegister(11, 100, "ACME1", "T808", "0000001", 1, "B12345")
    assert TerminalRegister.fast_decode(encode_body(reg, V2013), DEFAULT_PROFILE, V2013) == reg
    assert TerminalRegister.fast_decode(encode_body(reg, V2011), DEFAULT_PROFILE, V2013) is None  # 25 + 6 bytes
    gbk = TerminalRegister(11, 100, "ACME1", "T808", "0000001", 1, "京A12345")
    assert TerminalRegister.fast_decode(encode_body(gbk, V2013), DEFAULT_PROFILE, V2013) is None
    assert TerminalAuth.fast_decode(b"0123456789abcdef", DEFAULT_PROFILE, V2013) == TerminalAuth("0123456789abcdef")
