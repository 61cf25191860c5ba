"""Terminal parameters and the rest of the params family: 0x8103 0x0104 0x8106 0x8105 0x0107 0x8108 0x0108."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jt808
from jt808 import V2011, V2013, V2019, BodyError, EncodeError, Profile, TruncatedError, Version
from jt808.protocol.messages.params import (
    PARAMS,
    AttributesReply,
    CommModule,
    ControlCommand,
    GnssModule,
    Param,
    ParametersReply,
    ParamType,
    QueryGivenParameters,
    RawValue,
    SetParameters,
    TerminalControl,
    TerminalType,
    UpgradePackage,
    UpgradeResult,
    control_param,
    describe_param,
    pack_can_sampling,
    pack_collision,
    pack_photo_control,
    pack_time_window,
    param_def,
    param_id,
    parse_control_param,
    unpack_can_sampling,
    unpack_collision,
    unpack_photo_control,
    unpack_time_window,
)
from jt808.protocol.packet import decode_body, encode_body
from jt808.protocol.registry import DEFAULT_MESSAGES

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
IDS = ("8103", "0104", "8105", "8106", "0107", "8108", "0108")
NOTES = {"2019-sc-issue52": "11-byte manufacturer"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def profile_for(path: Path) -> Profile:
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
    assert json.loads(json.dumps(p.body.to_json(p.version), ensure_ascii=False)) == expected
    assert jt808.encode(p, prof) == frame
    note = NOTES.get(path.stem)
    assert (any(note in x for x in p.problems) if note else p.problems == []), p.problems
    again = type(p.body).from_json(expected, p.version)
    if isinstance(p.body, AttributesReply) and p.body.maker_size != 5:
        again.maker_size = p.body.maker_size  # the width is not part of the JSON
    assert encode_body(again, p.version, prof) == p.raw_body


def test_every_registered_version_has_a_vector() -> None:
    for mid in (0x8103, 0x0104, 0x8105, 0x8106, 0x0107, 0x8108, 0x0108):
        have = {int(p.stem[:4]) for p in (VECTORS / f"{mid:04x}").glob("*.hex")}
        assert have == {int(v) for v in DEFAULT_MESSAGES.versions_of(mid)}, hex(mid)


# -- the table ---------------------------------------------------------------------------------------
# PROTOCOL.md §5, transcribed independently of the module: id -> kind (version marks: ^19 / ^13)
SECTION5 = """
0001-0007 DWORD; 0010-0017 STRING; 0018 DWORD^13; 0019 DWORD^13; 001A STRING; 001B DWORD; 001C DWORD;
001D STRING; 0020-0022 DWORD; 0023-0026 STRING^19; 0027-0029 DWORD; 002C-0030 DWORD; 0031 WORD;
0032 BYTE[4]^19; 0040-0044 STRING; 0045-0047 DWORD; 0048 STRING; 0049 STRING; 0050-005A DWORD;
005B-005E WORD; 0064 DWORD; 0065 DWORD; 0070-0074 DWORD; 0075-0077 BYTE[n]; 0079-007C BYTE[n]; 0080 DWORD;
0081 WORD; 0082 WORD; 0083 STRING; 0084 BYTE; 0090-0092 BYTE; 0093 DWORD; 0094 BYTE; 0095 DWORD;
0100 DWORD; 0101 WORD; 0102 DWORD; 0103 WORD
"""


def _section5() -> dict[int, tuple[str, str]]:
    out = {}
    for item in SECTION5.replace("\n", " ").split(";"):
        ids, kind = item.split()
        kind, _, ver = kind.partition("^")
        lo, _, hi = ids.partition("-")
        for pid in range(int(lo, 16), int(hi or lo, 16) + 1):
            out[pid] = (kind, ver)
    return out


def test_table_matches_section_5() -> None:
    expected = _section5()
    assert set(PARAMS) == set(expected)
    for pid, (kind, ver) in expected.items():
        d = PARAMS[pid]
        assert d.kind == kind, hex(pid)
        assert (d.since is V2019) == (ver == "19") and (d.until is V2013) == (ver == "13"), hex(pid)
        assert d.description and d.name.isidentifier()
    assert len({d.name for d in PARAMS.values()}) == len(PARAMS)


def test_ranges_and_lookups() -> None:
    for pid in (0x0110, 0x0155, 0x01FF):
        d = param_def(pid)
        assert d is not None and d.kind == "BYTE[8]" and d.size == 8
    for pid in (0xF000, 0xF364, 0xFFFF):
        d = param_def(pid)
        assert d is not None and d.type is ParamType.RAW
    for pid in (0x0008, 0x0033, 0x0078, 0x0104, 0x0200, 0x10000):
        assert param_def(pid) is None
    assert param_def(0x0023, V2013) is None and param_def(0x0023, V2019) is not None
    assert param_def(0x0018, V2019) is not None  # 2013-only ports stay typed in 2019
    assert param_id("heartbeat_interval") == 1 and param_id("vendor_f001") == 0xF001
    assert param_id("can_id_sampling_0110") == 0x0110 and param_id(7) == 7
    with pytest.raises(KeyError):
        param_id("vendor_0001")


# -- documented frames -------------------------------------------------------------------------------
def test_s002_values() -> None:
    p = jt808.decode(bytes.fromhex((VECTORS / "0104" / "2013-s002.hex").read_text().strip()))
    body = p.body
    assert isinstance(body, ParametersReply)
    assert body.seq == 0x1ABF and len(body.params) == 16
    assert body.get(0x0001) == 180 and body.get("tcp_reply_timeout") == 30 and body.get(0x0003) == 8
    assert body.get(0x0013) == "server.natappfree.cc" and body.get(0x0010) == ""
    assert body.get(0x0018) == 0x8023 and body.get(0x005D) == 0 and body.get(0xF001) == b"\0" * 16
    s = jt808.decode(bytes.fromhex((VECTORS / "8103" / "2013-s002.hex").read_text().strip())).body
    assert s == SetParameters.of({1: 60, 2: 10, 3: 10, 0x10: "", 0x11: "", 0x12: "", 0x13: ""})
    c = jt808.decode(bytes.fromhex("7e81050001018855485015000104517e")).body
    assert c == TerminalControl(ControlCommand.RESET, "")


# -- round trips and exact bytes -------------------------------------------------------------------
def _rt(body: jt808.Body, version: Version) -> bytes:
    data = encode_body(body, version)
    back, tail, _ = decode_body(body.msg_id, version, data)
    assert back == body and tail == b""
    j = json.loads(json.dumps(body.to_json(version), ensure_ascii=False))
    assert type(body).from_json(j, version) == body
    return data


@pytest.mark.parametrize("version", [V2011, V2013, V2019])
def test_set_parameters_exact(version: Version) -> None:
    body = SetParameters.of({"heartbeat_interval": 60, "geofence_radius": 500, "plate_color": 2,
                             "plate_number": "粤B12345", 0x0110: bytes.fromhex("000003e8a0000123"),
                             0xF001: b"\x01\x02"})
    data = _rt(body, version)
    assert data.hex() == ("06" "00000001040000003c" "0000003102" "01f4" "000000840102"
                          "0000008308" "d4c142" "3132333435" "0000011008000003e8a0000123" "0000f001020102")


@pytest.mark.parametrize("version", [V2011, V2013, V2019])
def test_parameters_reply_exact(version: Version) -> None:
    body = ParametersReply(0x1ABF, [Param(0x0013, "a.b:1"), Param(0x005D, 0x0A19), Param(0x0013, "c")])
    data = _rt(body, version)
    assert data.hex() == "1abf03" "0000001305" + b"a.b:1".hex() + "0000005d020a19" "0000001301" + b"c".hex()
    assert body.as_dict() == {0x13: "c", 0x5D: 0x0A19} and body.get(0x13) == "a.b:1"


def test_2019_only_ids() -> None:
    body = SetParameters([Param(0x0032, pack_time_window(22, 50, 10, 30)), Param(0x0023, "cmnet")])
    assert _rt(body, V2019).hex() == "02" "000000320416320a1e" "0000002305" + b"cmnet".hex()
    assert body.to_json(V2019)["params"] == [{"id": 0x32, "value": b64(bytes.fromhex("16320a1e"))},
                                             {"id": 0x23, "value": "cmnet"}]
    # the same ids are reserved in 2013: a text value cannot be sent, bytes can; decoding keeps them raw
    with pytest.raises(EncodeError) as ei:
        encode_body(body, V2013)
    assert ei.value.field == "params[1].value"
    data = encode_body(SetParameters([Param(0x0023, b"cmnet")]), V2013)
    problems: list[str] = []
    back, _, _ = decode_body(0x8103, V2013, data, problems=problems)
    assert back.params == [Param(0x0023, b"cmnet")] and "0x0023" in problems[0]
    assert back.to_json(V2013) == {"length": 1, "params": [{"id": 0x23, "value": b64(b"cmnet")}]}


@pytest.mark.parametrize("version", [V2013, V2019])
def test_query_given_parameters(version: Version) -> None:
    body = QueryGivenParameters([1, 0x13, 0xF001])
    assert _rt(body, version).hex() == "03" "00000001" "00000013" "0000f001"
    assert body.to_json(version) == {"length": 3, "ids": [1, 0x13, 0xF001]}
    with pytest.raises(BodyError) as ei:
        QueryGivenParameters.from_json({"length": 2, "ids": [1]}, version)
    assert ei.value.field == "length"
    with pytest.raises(TruncatedError):
        decode_body(0x8106, version, bytes.fromhex("02 00000001 0000".replace(" ", "")))


@pytest.mark.parametrize("version", [V2011, V2013, V2019])
def test_terminal_control(version: Version) -> None:
    up = TerminalControl.upgrade(url="http://fw/a.bin", apn="cmnet", manufacturer_id="70960",
                                 hardware_version="HW1", firmware_version="FW2", tcp_port=7611,
                                 connect_time_limit=10)
    assert up.command == 1 and up.param == "http://fw/a.bin;cmnet;;;;7611;;70960;HW1;FW2;10"
    data = _rt(up, version)
    assert data == b"\x01" + up.param.encode()
    assert up.fields()["tcp_port"] == "7611" and up.fields()["udp_port"] == ""
    assert up.to_json(version) == {"command": 1, "param": up.param}
    back = TerminalControl.connect(conn_ctrl=1, auth_code="ignored")
    assert back.param == "1" and _rt(back, version) == b"\x021"
    sw = TerminalControl.connect(conn_ctrl=0, auth_code="AC", address="10.0.0.1", tcp_port=7611, udp_port=0,
                                 connect_time_limit=5)
    assert sw.param == "0;AC;;;;10.0.0.1;7611;0;5"
    assert _rt(TerminalControl(ControlCommand.POWER_OFF), version) == b"\x03"


def test_control_param_helpers() -> None:
    with pytest.raises(EncodeError):
        control_param(1, colour="red")
    with pytest.raises(EncodeError):
        control_param(1, url="a;b")
    with pytest.raises(EncodeError):
        control_param(4, url="x")
    assert control_param(4) == ""
    assert parse_control_param(2, "1") == dict.fromkeys(
        ("conn_ctrl", "auth_code", "apn", "user", "password", "address", "tcp_port", "udp_port",
         "connect_time_limit"), "") | {"conn_ctrl": "1"}
    fields = parse_control_param(1, "u;a;b;c;d;1;2;m;h;f;9;extra;")
    assert fields["connect_time_limit"] == "9" and fields["extra_11"] == "extra"
    assert parse_control_param(5, "whatever") == {}


ATTR = AttributesReply(int(TerminalType.FREIGHT | TerminalType.VIDEO), "70960", "T7-T808", "0329170",
                       "89860324947560032900", "HW10", "FW2.01", int(GnssModule.GPS | GnssModule.BEIDOU),
                       int(CommModule.GPRS | CommModule.TD_LTE))


def test_attributes_2013_exact() -> None:
    data = _rt(ATTR, V2013)
    assert data.hex() == ("0044" "3730393630" + (b"T7-T808" + b"\0" * 13).hex() + b"0329170".hex()
                          + "89860324947560032900" "04" + b"HW10".hex() + "06" + b"FW2.01".hex() + "0321")


def test_attributes_2019_exact_and_json() -> None:
    data = _rt(ATTR, V2019)
    assert len(data) == 2 + 5 + 30 + 30 + 10 + 5 + 7 + 2
    assert data[7:37] == b"T7-T808" + b"\0" * 23 and data[37:67] == b"0329170" + b"\0" * 23
    assert list(ATTR.to_json(V2019)) == ["type", "manufacturer", "model", "id", "iccid", "hardware_version",
                                         "firmware_version", "gnss_prop", "comm_prop"]


def test_attributes_wide_maker_retry() -> None:
    wide = AttributesReply(1, "MAKER-11-ID", "M", "I", "0" * 20, "H", "F", 1, 1, maker_size=11)
    data = encode_body(wide, V2019)
    assert data[2:13] == b"MAKER-11-ID" and len(data) == 2 + 11 + 60 + 10 + 2 + 2 + 2
    problems: list[str] = []
    back, tail, _ = decode_body(0x0107, V2019, data, problems=problems)
    assert back == wide and back.maker_size == 11 and tail == b""
    assert len(problems) == 1 and "11-byte manufacturer" in problems[0]
    assert encode_body(back, V2019) == data
    # a standard body is never re-read with 11
    std = encode_body(AttributesReply(1, "ABCDE", "M", "I", "0" * 20, "H", "F", 1, 1), V2019)
    problems = []
    assert decode_body(0x0107, V2019, std, problems=problems)[0].maker_size == 5 and problems == []
    with pytest.raises(EncodeError):
        encode_body(wide, V2013)


def test_attributes_malformed() -> None:
    data = encode_body(ATTR, V2019)
    with pytest.raises(TruncatedError):
        decode_body(0x0107, V2019, data[:-1])
    with pytest.raises(TruncatedError) as ei:
        decode_body(0x0107, V2019, data[:70])
    assert ei.value.field == "iccid"
    problems: list[str] = []
    body, tail, _ = decode_body(0x0107, V2019, data + b"\x99", problems=problems)
    assert body == ATTR and tail == b"\x99" and "trailing" in problems[0]
    with pytest.raises(EncodeError) as ee:
        encode_body(AttributesReply(1, "A", "M", "I", "123", "H", "F", 1, 1), V2013)
    assert ee.value.field == "iccid"


@pytest.mark.parametrize("version", [V2013, V2019])
def test_upgrade_package_and_result(version: Version) -> None:
    pkg = UpgradePackage(0x34, "70960", "V2.1", b"\xde\xad\xbe\xef")
    data = _rt(pkg, version)
    assert data.hex() == "34" "3730393630" "04" + b"V2.1".hex() + "00000004" "deadbeef"
    j = pkg.to_json(version)
    assert j == {"type": 0x34, "manufacturer": "70960", "ver_len": 4, "version": "V2.1", "fw_len": 4,
                 "firmware": b64(b"\xde\xad\xbe\xef")}
    for bad in ({**j, "fw_len": 5}, {**j, "ver_len": 1}):
        with pytest.raises(BodyError):
            UpgradePackage.from_json(bad, version)
    short = {k: v for k, v in j.items() if k not in ("ver_len", "fw_len")}
    assert UpgradePackage.from_json(short, version) == pkg
    with pytest.raises(TruncatedError) as ei:
        decode_body(0x8108, version, data[:-1])
    assert ei.value.field == "firmware"
    res = UpgradeResult(0x0C, 2)
    assert _rt(res, version) == b"\x0c\x02" and res.to_json(version) == {"type": 12, "result": 2}


# -- malformed parameter lists ---------------------------------------------------------------------
def test_wrong_length_is_kept_raw_and_noted() -> None:
    # 0x0090 (BYTE) sent as 4 bytes (EMQX crashes on it), then a normal item that must still decode
    data = bytes.fromhex("02" "000000900400000003" "00000001040000003c")
    problems: list[str] = []
    body, tail, _ = decode_body(0x8103, V2013, data, problems=problems)
    assert body.params == [Param(0x0090, RawValue(b"\0\0\0\x03")), Param(0x0001, 60)]
    assert body.params[0].is_raw and not body.params[1].is_raw and tail == b""
    assert len(problems) == 1 and "0x0090" in problems[0] and "expected 1" in problems[0]
    assert encode_body(body, V2013) == data
    j = body.to_json(V2013)
    assert j["params"][0] == {"id": 0x90, "value": b64(b"\0\0\0\x03")}
    assert SetParameters.from_json(j, V2013) == body
    assert encode_body(SetParameters.from_json(j, V2013), V2013) == data


def test_0032_sent_as_two_bytes() -> None:
    data = bytes.fromhex("1234" "02" "000000320201f4" "0000000104000000b4")
    for version, why in ((V2013, "not defined before 2019"), (V2019, "expected 4")):
        problems: list[str] = []
        body, _, _ = decode_body(0x0104, version, data, problems=problems)
        assert body.params[0].value == b"\x01\xf4" and body.params[1] == Param(1, 180)
        assert why in problems[0]
        assert encode_body(body, version) == data
        assert encode_body(ParametersReply.from_json(body.to_json(version), version), version) == data


def test_unknown_id_kept_raw_and_noted() -> None:
    data = bytes.fromhex("02" "00000033020102" "00abcdef0100")
    problems: list[str] = []
    body, _, _ = decode_body(0x8103, V2019, data, problems=problems)
    assert body.params == [Param(0x33, b"\x01\x02"), Param(0xABCDEF, b"\x00")]
    assert len(problems) == 2 and all("reserved" in x for x in problems)
    assert encode_body(body, V2019) == data
    assert body.params[0].name == "reserved_0033"


def test_vendor_ids_are_raw_without_note() -> None:
    data = bytes.fromhex("01" "0000f36403aabbcc")
    problems: list[str] = []
    body, _, _ = decode_body(0x8103, V2019, data, problems=problems)
    assert body.params == [Param(0xF364, b"\xaa\xbb\xcc")] and problems == []


def test_truncated_lists_raise_typed_errors() -> None:
    with pytest.raises(TruncatedError) as ei:
        decode_body(0x8103, V2013, bytes.fromhex("02" "00000001040000003c"))  # count says 2, holds 1
    assert ei.value.field == "params[1].id" and ei.value.offset == 10 and ei.value.msg_id == 0x8103
    with pytest.raises(TruncatedError) as ei:
        decode_body(0x0104, V2013, bytes.fromhex("0001" "01" "00000013" "05" "6162"))  # value runs past
    assert ei.value.field == "params[0].value"
    with pytest.raises(TruncatedError) as ei:
        decode_body(0x0104, V2013, b"\x00")
    assert ei.value.field == "seq"
    problems: list[str] = []
    raw, _, _ = decode_body(0x8103, V2013, bytes.fromhex("0200000001"), strict=False, problems=problems)
    assert isinstance(raw, jt808.RawBody) and "params[0].len" in problems[0]
    # more items than the count: the rest is the packet's tail
    body, tail, _ = decode_body(0x8103, V2013, bytes.fromhex("01" "0000008401" "02" "0000008401" "03"),
                                problems=problems)
    assert body.params == [Param(0x84, 2)] and tail == bytes.fromhex("000000840103")


def test_encode_is_strict() -> None:
    cases = [
        (SetParameters([Param(0x0001, "60")]), "params[0].value"),
        (SetParameters([Param(0x0001, b"\0\0\0\x3c")]), "params[0].value"),  # bytes need RawValue
        (SetParameters([Param(0x0001, 1 << 32)]), "params[0].value"),
        (SetParameters([Param(0x0031, 70000)]), "params[0].value"),
        (SetParameters([Param(0x0013, 13)]), "params[0].value"),
        (SetParameters([Param(0x0110, b"\0" * 7)]), "params[0].value"),
        (SetParameters([Param(0x0033, 5)]), "params[0].value"),
        (SetParameters([Param(0xF001, b"\0" * 256)]), "params[0].value"),
        (SetParameters([Param(-1, b"")]), "params[0].id"),
        (SetParameters([Param(1, 1)] * 256), "length"),
        (SetParameters([(1, 1)]), "params[0]"),
    ]
    for body, field in cases:
        with pytest.raises(EncodeError) as ei:
            encode_body(body, V2013)
        assert ei.value.field == field, (body, ei.value)
    assert encode_body(SetParameters([Param(0x0001, RawValue(b"\x01"))]), V2013) == bytes.fromhex("01000000010101")


def test_json_errors() -> None:
    bad = [
        ({"length": 1}, "params"),
        ({"params": {}}, "params"),
        ({"params": [{"id": 1}]}, "params[0]"),
        ({"params": [{"id": "1", "value": 1}]}, "params[0].id"),
        ({"params": [{"id": 1, "value": 1.5}]}, "params[0].value"),
        ({"params": [{"id": 1, "value": True}]}, "params[0].value"),
        ({"params": [{"id": 0x13, "value": 5}]}, "params[0].value"),
        ({"params": [{"id": 0xF001, "value": "not base64!"}]}, "params[0].value"),
        ({"length": 2, "params": [{"id": 1, "value": 1}]}, "length"),
    ]
    for obj, field in bad:
        with pytest.raises(BodyError) as ei:
            SetParameters.from_json(obj, V2013)
        assert ei.value.field == field, obj
    with pytest.raises(BodyError) as ei:
        ParametersReply.from_json({"params": []}, V2013)
    assert ei.value.field == "seq"


def test_json_value_types_follow_the_id() -> None:
    body = SetParameters.of({1: 60, 0x31: 5, 0x84: 1, 0x10: "cmnet", 0x110: b"\1" * 8, 0xF001: b"\2", 0x75: b"\3"})
    values = [x["value"] for x in body.to_json(V2013)["params"]]
    assert values == [60, 5, 1, "cmnet", b64(b"\1" * 8), b64(b"\2"), b64(b"\3")]
    # seed 004's example
    ex = {"length": 3, "params": [{"id": 1, "value": 60}, {"id": 16, "value": "cmnet"},
                                  {"id": 272, "value": "AQIDBAUG"}]}
    s = SetParameters.from_json(ex, V2013)
    assert s.params[2].value == RawValue(b"\1\2\3\4\5\6")  # 6 bytes where 0x0110 takes 8: raw
    assert s.to_json(V2013) == ex
    assert encode_body(s, V2013).hex().endswith("00000110" "06" "010203040506")


_int_ids = [d.id for d in PARAMS.values() if d.type.is_int]
_str_ids = [d.id for d in PARAMS.values() if d.type is ParamType.STRING and d.since is None]


@st.composite
def _param(draw: st.DrawFn) -> Param:
    kind = draw(st.sampled_from(["int", "str", "can", "vendor", "raw"]))
    if kind == "int":
        pid = draw(st.sampled_from(_int_ids))
        return Param(pid, draw(st.integers(0, (1 << (8 * (PARAMS[pid].size or 4))) - 1)))
    if kind == "str":
        return Param(draw(st.sampled_from(_str_ids)), draw(st.text(st.characters(codec="gbk"), max_size=20)))
    if kind == "can":
        return Param(draw(st.integers(0x110, 0x1FF)), draw(st.binary(min_size=8, max_size=8)))
    if kind == "vendor":
        return Param(draw(st.integers(0xF000, 0xFFFF)), draw(st.binary(max_size=40)))
    return Param(draw(st.sampled_from(_int_ids)), RawValue(draw(st.binary(min_size=5, max_size=9))))


@settings(max_examples=150, deadline=None)
@given(params=st.lists(_param(), max_size=12), version=st.sampled_from([V2011, V2013, V2019]),
       seq=st.integers(0, 0xFFFF))
def test_property_params_roundtrip(params: list[Param], version: Version, seq: int) -> None:
    for body in (SetParameters(params), ParametersReply(seq, params)):
        data = encode_body(body, version)
        back, tail, _ = decode_body(body.msg_id, version, data)
        assert back == body and tail == b""
        j = json.loads(json.dumps(body.to_json(version)))
        assert encode_body(type(body).from_json(j, version), version) == data


# -- compound values -------------------------------------------------------------------------------
def test_time_window_0032() -> None:
    v = pack_time_window(22, 50, 10, 30)
    assert v == bytes.fromhex("16320a1e")  # S001's example: 22:50 to 10:30 the next day
    assert unpack_time_window(v) == (22, 50, 10, 30)
    assert describe_param(0x0032, v, V2019) == "0x0032 illegal_driving_window = 22:50 to 10:30"
    with pytest.raises(EncodeError):
        pack_time_window(24, 0, 0, 0)
    with pytest.raises(BodyError):
        unpack_time_window(b"\x01\x02")


def test_collision_005d() -> None:
    v = pack_collision(time=25, acceleration=10)  # 100 ms, 1.0 g
    assert v == 0x0A19
    c = unpack_collision(v)
    assert (c.time, c.acceleration, c.time_ms, c.acceleration_g) == (25, 10, 100, 1.0)
    assert describe_param(0x005D, v) == "0x005D collision_setting = collision time 100 ms, acceleration 1 g"


def test_photo_control_0064_0065() -> None:
    v = pack_photo_control(channels=[1, 3], upload=[3], large_unit=True, interval=10)
    assert v == 0b101 | 0b100 << 8 | 1 << 16 | 10 << 17
    pc = unpack_photo_control(v)
    assert pc.channels == {1, 3} and pc.upload == {3} and pc.large_unit and pc.interval == 10
    assert describe_param(0x0064, v).endswith("channels [1, 3], upload [3], every 10 min")
    assert describe_param(0x0065, pack_photo_control([2], interval=200)).endswith("every 200 m")
    with pytest.raises(EncodeError):
        pack_photo_control([6])


def test_can_sampling_0110() -> None:
    v = pack_can_sampling(1000, 1, extended=False, computed=True, can_id=0x123)
    assert v == bytes.fromhex("000003e8a0000123")
    assert unpack_can_sampling(v) == (1000, 1, False, True, 0x123)
    assert "CAN2 id 0x123 standard, computed, every 1000 ms" in describe_param(0x0110, v)
    with pytest.raises(EncodeError):
        pack_can_sampling(0, 2, False, False, 0)


def test_describe_plain_and_raw() -> None:
    assert describe_param(1, 60) == "0x0001 heartbeat_interval = 60 (heartbeat interval, s)"
    assert describe_param(0x90, RawValue(b"\0\0\0\3")) == "0x0090 gnss_mode = raw 00000003"
    assert describe_param(0x33, b"\1") == "0x0033 reserved = raw 01"
