"""``jt808 decode`` / ``jt808 encode``: through click's CliRunner and through the installed console script."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

from click.testing import CliRunner

import jt808
from console_script import jt808_script
from jt808.cli import main
from jt808.protocol.framing import frame
from jt808.protocol.header import Header, pack_header

HEARTBEAT = "7e000200000857502162890001c67e"
REPLY = "7e8001000508575021628900010001000200437e"
LOCATION = ("7e020000386857502162891ac000000100000c100101d5c86a0732c2610000000000001903131538032b040000000030011e"
            "310100e10400000000e20804600036583a8e7a657e")
REGISTER = ("7e0100002e0188554850150025002c0133373039363054372d54383038000000000000000000000000003033323931373001"
            "e6b599413636363636557e")
HEARTBEAT_JSON = {"header": {"msg_id": 2, "encrypt": 0, "len": 0, "phone": "085750216289", "msg_sn": 1}, "body": {}}
REPLY_JSON = {"header": {"msg_id": 0x8001, "encrypt": 0, "len": 5, "phone": "085750216289", "msg_sn": 1},
              "body": {"seq": 1, "id": 2, "result": 0}}


def run(*args: str, input: str | bytes | None = None) -> tuple[int, list[str]]:
    res = CliRunner().invoke(main, list(args), input=input)
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.output.splitlines()


# -- decode ------------------------------------------------------------------------------------
def test_two_stdin_lines_give_two_json_lines() -> None:
    code, lines = run("decode", input=f"{HEARTBEAT}\n{REPLY}\n")
    assert code == 0
    assert [json.loads(x) for x in lines] == [HEARTBEAT_JSON, REPLY_JSON]
    assert all("\n" not in x and ": " not in x for x in lines)  # compact, one line each


def test_garbage_line_prints_error_and_goes_on() -> None:
    code, lines = run("decode", input=f"garbage\n{HEARTBEAT}\n7e0002\n7e000200000857502162890001c77e\n{REPLY}")
    assert code == 1  # some lines failed (the others are still decoded)
    out = [json.loads(x) for x in lines]
    assert len(out) == 5
    assert set(out[0]) == {"error"} and "hex" in out[0]["error"]
    assert out[1] == HEARTBEAT_JSON
    assert set(out[2]) == {"error"}
    assert set(out[3]) == {"error"} and "check code" in out[3]["error"]
    assert out[4] == REPLY_JSON  # last line without a newline


def test_console_script_pipe() -> None:
    proc = subprocess.run([jt808_script(), "decode"], input=f"{HEARTBEAT}\nnot a frame\n{REPLY}\n",
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1, proc.stderr  # "not a frame" failed
    lines = proc.stdout.splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0]) == HEARTBEAT_JSON
    assert "error" in json.loads(lines[1])
    assert json.loads(lines[2]) == REPLY_JSON


def test_console_script_arguments_and_many_lines() -> None:
    frames = [HEARTBEAT, REPLY, LOCATION] * 700  # more than one read chunk
    proc = subprocess.run([jt808_script(), "decode"], input="\n".join(frames) + "\n", capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(frames)
    for hx, line in zip(frames, lines, strict=True):
        assert jt808.encode(jt808.from_json(json.loads(line))).hex() == hx
    proc = subprocess.run([jt808_script(), "decode", HEARTBEAT, REPLY], capture_output=True, text=True,
                          timeout=60, check=False)
    assert [json.loads(x) for x in proc.stdout.splitlines()] == [HEARTBEAT_JSON, REPLY_JSON]


def test_hex_forms_tolerated_and_blank_lines_skipped() -> None:
    spaced = " ".join(HEARTBEAT[i:i + 2] for i in range(0, len(HEARTBEAT), 2))
    _code, lines = run("decode", input=f"\n0x{HEARTBEAT}\n   \n{spaced.upper()}\n{HEARTBEAT[2:-2]}\r\n")
    assert [json.loads(x) for x in lines] == [HEARTBEAT_JSON] * 3
    _code, lines = run("decode", "0X7E:00:02:00:00:08:57:50:21:62:89:00:01:C6:7E")
    assert json.loads(lines[0]) == HEARTBEAT_JSON


def test_version_and_encoding_options() -> None:
    _code, lines = run("decode", "--encoding", "utf-8", REGISTER)
    body = json.loads(lines[0])["body"]
    assert body["license_number"] == "浙A66666"
    _code, lines = run("decode", REGISTER)
    assert json.loads(lines[0])["body"]["license_number"] == "娴橝66666"  # GBK, the standard's default
    # SC Demo14 sets bit 14 on a 2013 frame; forcing 2013 says so in problems
    demo14 = "7e0102400c01003000068109024a3130303330303030363831857e"
    _code, lines = run("decode", "--version", "2013", demo14)
    j = json.loads(lines[0])
    assert "proto_ver" not in j["header"] and j["problems"]
    _code, lines = run("decode", "--version", "2019", HEARTBEAT)
    assert "error" in json.loads(lines[0])  # a 2013 heartbeat cannot be read with a 2019 header


def test_lenient_accepts_bad_check_code() -> None:
    bad = HEARTBEAT[:-4] + "00" + "7e"
    _code, lines = run("decode", bad)
    assert "error" in json.loads(lines[0])
    _code, lines = run("decode", "--lenient", bad)
    j = json.loads(lines[0])
    assert j["header"] == HEARTBEAT_JSON["header"] and any("check code" in p for p in j["problems"])


def test_undecodable_text_bytes_stay_valid_utf8_and_roundtrip() -> None:
    f = frame(pack_header(Header(0x0102, "013912345678", 3), 4) + b"ab\xff\xfe")  # not GBK
    proc = subprocess.run([jt808_script(), "decode", f.hex()], capture_output=True, timeout=60, check=False)
    out = proc.stdout.decode("utf-8")  # strict UTF-8
    j = json.loads(out)
    assert j["body"]["code"] == "ab\udcff\udcfe"
    assert jt808.encode(jt808.from_json(j)) == f


def test_pretty_and_explain() -> None:
    _code, lines = run("decode", "--pretty", LOCATION)
    text = "\n".join(lines)
    assert '"alarm": 256,' in text and "power_lost" in text
    assert "acc" in text and "gps" in text and "beidou" in text
    assert "// 0x0200 LocationReport" in text
    assert "network signal strength" in text
    _code, lines = run("decode", "--explain", LOCATION)
    text = "\n".join(lines)
    assert "header (2011/2013 layout)" in text and "extra 0x2b" in text and "check code: 65 (ok)" in text
    assert json.loads(lines[-2] if not lines[-1] else lines[-1])["header"]["msg_id"] == 512
    _code, lines = run("decode", "--explain", "--pretty", REPLY)
    text = "\n".join(lines)
    assert "seq" in text and "WORD = 1" in text and "// 0x8001" in text


def test_parameters_are_explained_from_the_parameter_table() -> None:
    """0x0104 with a DWORD, a STRING and a compound WORD (0x005D): names, types and meanings come from
    the parameter rows, the compound value is spelt out."""
    frame = "7e0104001b013912345678000800090300000001040000003c0000001303612e620000005d020a0a777e"
    _code, lines = run("decode", "--pretty", frame)
    text = "\n".join(lines)
    assert "// 0x0001 heartbeat_interval (DWORD)" in text and "// heartbeat interval, s" in text
    assert "// 0x005D collision_setting (WORD)" in text and "collision time 40 ms, acceleration 1 g" in text
    _code, lines = run("decode", "--explain", frame)
    text = "\n".join(lines)
    assert "count              BYTE = 3" in text
    assert "param 0x0013       len 3 main_server_address (STRING)" in text


# -- encode ------------------------------------------------------------------------------------
def test_encode_roundtrip_and_errors() -> None:
    code, lines = run("encode", json.dumps(REPLY_JSON))
    assert code == 0 and lines == [REPLY]
    code, lines = run("encode", input=json.dumps(HEARTBEAT_JSON) + "\n{bad json\n" + json.dumps(
        {"header": {"msg_id": 1, "phone": 1, "msg_sn": 0}, "body": {"seq": 1}}) + "\n")
    assert code == 1
    assert lines[0] == HEARTBEAT
    assert "invalid JSON" in json.loads(lines[1])["error"]
    err = json.loads(lines[2])["error"]
    assert "0x0001" in err and "'id'" in err
    code, lines = run("encode", "--upper", json.dumps(HEARTBEAT_JSON))
    assert lines == [HEARTBEAT.upper()]


def test_encode_subpackages_one_per_line() -> None:
    data = bytes(range(256)) * 10  # 2560 bytes of pass-through data
    import base64

    doc = {"header": {"msg_id": 0x0900, "encrypt": 0, "phone": "013912345678", "msg_sn": 100},
           "body": {"type": 0xF0, "data": base64.b64encode(data).decode()}}
    code, lines = run("encode", json.dumps(doc))
    assert code == 0 and len(lines) == 3
    body = b""
    for i, hx in enumerate(lines, 1):
        p = jt808.decode(bytes.fromhex(hx))
        assert (p.header.frag_total, p.header.frag_sn, p.header.msg_sn) == (3, i, 99 + i)
        body += p.body.data
    assert body == b"\xf0" + data
    proc = subprocess.run([jt808_script(), "decode"], input="\n".join(lines), capture_output=True, text=True,
                          timeout=60, check=False)
    outs = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [o["header"]["frag_sn"] for o in outs] == [1, 2, 3] and all(o["body"]["unknown_id"] for o in outs)
    code, lines = run("encode", "--max-body", "512", json.dumps(doc))
    assert len(lines) == 6


# -- captures ----------------------------------------------------------------------------------
def _tcp_packet(src: bytes, dst: bytes, sport: int, dport: int, seq: int, payload: bytes, flags: int = 0x18) -> bytes:
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, dst) + tcp
    return b"\x00" * 12 + b"\x08\x00" + ip


def _pcap(packets: list[bytes]) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, p in enumerate(packets):
        out += struct.pack("<IIII", 1700000000 + i, 0, len(p), len(p)) + p
    return out


def _pcapng(packets: list[bytes]) -> bytes:
    def block(btype: int, body: bytes) -> bytes:
        body += b"\x00" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", 1, 0, 65535))
    for p in packets:
        out += block(6, struct.pack("<IIIII", 0, 0, 0, len(p), len(p)) + p)
    return out


def test_pcap(tmp_path: Path) -> None:
    a, b = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    up = bytes.fromhex(HEARTBEAT) + bytes.fromhex(LOCATION)
    down = bytes.fromhex(REPLY)
    packets = [
        _tcp_packet(a, b, 40000, 7611, 999, b"", 0x02),  # SYN
        _tcp_packet(a, b, 40000, 7611, 1000, up[:20]),
        _tcp_packet(a, b, 40000, 7611, 1000, up[:20]),  # retransmission
        _tcp_packet(b, a, 7611, 40000, 5000, down),
        _tcp_packet(a, b, 40000, 7611, 1010, up[10:]),  # overlaps 10 bytes already seen
    ]
    for name, data in (("c.pcap", _pcap(packets)), ("c.pcapng", _pcapng(packets))):
        path = tmp_path / name
        path.write_bytes(data)
        _code, lines = run("decode", "--pcap", str(path))
        out = [json.loads(x) for x in lines]
        assert [o["header"]["msg_id"] for o in out] == [0x0002, 0x8001, 0x0200], name
        assert out[0]["flow"] == "tcp 10.0.0.1:40000>10.0.0.2:7611"
        assert out[1]["flow"] == "tcp 10.0.0.2:7611>10.0.0.1:40000"
        assert {k: v for k, v in out[0].items() if k != "flow"} == HEARTBEAT_JSON
    bad = tmp_path / "x.pcap"
    bad.write_bytes(b"not a capture at all, really not")
    res = CliRunner().invoke(main, ["decode", "--pcap", str(bad)])
    assert res.exit_code != 0 and "capture" in res.output


def test_profile_items_through_pretty_and_encode() -> None:
    """``--profile jt1078``: the 0x14 video-alarm item is named and explained by the profile's row in
    ``--pretty`` (it had no comment: the standard table was asked), and ``encode`` takes that JSON back
    (its check refused ``video_alarm`` as an unknown key)."""
    body = bytes.fromhex("00000000 00000002 01BA7F0E 07E4F11C 0028 003C 0000 181116202020 010400000064 140400000005")
    f = frame(bytes.fromhex("0200") + len(body).to_bytes(2, "big") + bytes.fromhex("0139123456780001") + body)
    _code, lines = run("decode", "--profile", "jt1078", "--pretty", f.hex())
    [line] = [x for x in lines if '"video_alarm"' in x]
    assert "// 0x14 JT/T 1078 video alarms" in line
    code, lines = run("decode", "--profile", "jt1078", f.hex())
    assert code == 0
    code, out = run("encode", "--profile", "jt1078", lines[0])
    assert code == 0 and out == [f.hex()]


def test_pretty_names_the_video_alarms_of_a_64_bit_alarm_word() -> None:
    """JT/T 1078 alarm flags are 64 bits (0x1205 resource items, 0x9205 queries): ``--pretty`` named the low
    32 bits only and failed on the rest ("expects an unsigned 32-bit integer")."""
    vector = Path(__file__).parent / "vectors" / "1205" / "2019-snapshot.hex"
    code, lines = run("decode", "--pretty", vector.read_text().strip())
    [line] = [x for x in lines if '"alarm": 8589934603' in x]
    assert code == 0 and line.endswith("set: emergency, overspeed, dangerous_driving, video_signal_blocked")


def test_profile_parameter_fields_in_pretty_and_explain() -> None:
    """A JT/T 1078 parameter (0x007B, two BYTE fields) on ``--profile jt1078``: ``--pretty`` spells its fields out
    from the profile's row (it said "raw bytes, base64") and ``--explain`` uses that row's name and meaning."""
    body = bytes.fromhex("0005 01 0000007B 02 050A")
    f = frame(bytes.fromhex("0104") + len(body).to_bytes(2, "big") + bytes.fromhex("0139123456780001") + body)
    _code, lines = run("decode", "--profile", "jt1078", "--pretty", f.hex())
    assert any(x.endswith("// passenger_limit 5, fatigue_threshold 10") for x in lines)
    _code, lines = run("decode", "--profile", "jt1078", "--explain", f.hex())
    assert any("param 0x007b" in x and "图像分析报警参数设置" in x for x in lines)
