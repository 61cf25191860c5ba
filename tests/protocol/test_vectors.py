"""Golden vectors: every ``tests/vectors/<msg_id>/<version>-<source>.hex`` decodes to the body JSON of its
``.json`` sibling and re-encodes byte for byte; and every registered ``(msg_id, version)`` has a vector.

Naming: ``<msg_id>`` is four lowercase hex digits; ``<version>`` is 2011, 2013 or 2019; ``<source>`` says
where the frame comes from — one of the independent sources of :data:`INDEPENDENT` (the repository and file
the frame was taken from are named there), or ``snapshot``.

``snapshot`` vectors (and ``computed``, the older name) were produced by this code from a hand-written
layout: they are **regression snapshots**, not evidence that the layout is right — they only say the
bytes have not changed. Evidence comes from the independent sources above and ``INDEPENDENT`` below,
which :func:`test_independent_sources_cover_both_versions` checks.

Every registered message id has at least one independent vector. 2011 ones: 0x0100 (go-jt808, SmallChi, a real
device in traccar), 0x0102 (traccar), 0x0200 (jt-framework) and the ids whose 2011 body differs in SmallChi's tests
(0x0801, 0x0802, 0x8800; their 2011 0x0702 is read in a test below but cannot be reproduced byte for byte).
Searched for 2011 frames of other ids without finding any: go-jt808 (``parse_test.go`` has only the 0x0100),
xtream-codec (2013/2019 only), jt-framework (no other frame found read as 2011), EMQX's ``emqx_jt808`` suites (the
gateway speaks 2013/2019 only), traccar (its other frames are from devices of unknown version) and the seeds.

A source containing ``utf8`` marks a device that sends UTF-8 strings; 2011 frames need a profile whose
default version is 2011 (their header is the 2013 one). Device regressions live in
``tests/vectors/devices/`` and are tested in test_devices.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import jt808
from jt808 import V2011, Profile, Version
from jt808.protocol.registry import DEFAULT_MESSAGES

VECTOR_DIR = Path(__file__).resolve().parent.parent / "vectors"
NAME = re.compile(r"^(?P<version>2011|2013|2019)-(?P<source>[a-z0-9][a-z0-9-]*)$")
ID_DIR = re.compile(r"^[0-9a-f]{4}$")

VECTORS = sorted(p for p in VECTOR_DIR.glob("*/*.hex") if ID_DIR.match(p.parent.name))

_PROFILES = {
    (False, False): jt808.DEFAULT_PROFILE,
    (False, True): Profile("utf-8 device", encoding="utf-8"),
    (True, False): Profile("2011 device", default_version=V2011),
    (True, True): Profile("2011 utf-8 device", default_version=V2011, encoding="utf-8"),
}


#: Independent sources (source tag or tag prefix -> where the frames come from). The frames are facts taken
#: from these public test suites and documents; the ``.json`` beside each is what this code decodes, and
#: :data:`STATED` holds values the sources themselves state, checked against that decode.
INDEPENDENT: dict[str, str] = {
    "s002": "seed 002 (a platform server's session log in /work/shared/seeds)",
    "s003": "seed 003 (SmallChi/JT808 README: escaping example)",
    "sc-demo": "SmallChi/JT808 README demos",
    "sc-issue": "SmallChi/JT808 GitHub issues (number in the tag)",
    "sc-t": "SmallChi/JT808 src/JT808.Protocol.Test/MessageBody/JT808_0x<id>Test.cs (the id in the tag): their "
            "whole frames, or their body hex in a header made here (0108 0301 0302 0303 0608 0701 0702 0901 8900, "
            "0700 8700 8701, and the 2011 bodies of 0801 0802); 0100: Test1_1 and Test2019_2, b: Test2019_4_2, "
            "2011: Test2011_1 (= Simples/Demo15.cs); 0702 2013: Test3_1, 2019: Test_2019_2; 0700: Test_Serialize_0x00 "
            "(2013) and _0x01 (2019); 8700: Test_Serilize_0x08 (2013) and _0x00 (2019); 8701: _0xC3 (2013) and "
            "_0x82 (2019); 0801/0802/8800 2011: Test2011_1",
    "sc1078": "SmallChi/JT1078 JT808.Protocol.Extensions.JT1078.Test (bodies, in a header made here)",
    "scas": "SmallChi/JTActiveSafety tests (SuBiao bodies, in a header made here)",
    "scyb": "SmallChi/JT808.Protocol.Extensions.YueBiao tests (bodies, in a header made here)",
    "gojt808": "cuteLittleDevil/go-jt808 protocol/model/parse_test.go and reply_test.go (TestParse frames)",
    "traccar": "traccar src/test/java/org/traccar/protocol/HuabaoProtocolDecoderTest.java (real devices; 2011: the "
               "BSJ-M7B 0x0100 with a 33-byte body, and the 0x0102 of phone 094027849470 whose 0x0100 there is a "
               "25-byte 2011 body)",
    "jtfw": "hylexus/jt-framework SampleDecoderTest.java (package io.github.hylexus.jt808.codec): the 233-byte 0x0200 "
            "of testDecodeLocationUploadMsg, which it parses with Jt808ProtocolVersion.VERSION_2011 (hex given "
            "unescaped and without flags; escaped and flagged here)",
    "xtream-t": "hylexus xtream-codec ext/jt jt-808 tests: BuiltinMessage<id>Test.java (the id is the directory)",
    "xtream": "hylexus xtream-codec (makeclan/xtream-codec) debug/jt/jt-808-server-spring-boot-starter-debug-ui/"
              "src/utils/codec-utils.ts (codecMockData: the BuiltinMessageXXXX samples; xtream2 = the second "
              "sample of an id)",
}
SNAPSHOT = ("snapshot", "computed")

#: Values the independent sources state for their frames (transcribed from their assertions / sample JSON),
#: checked against this code's decode: ``vector -> {JSON path: value}``.
STATED: dict[str, dict[str, object]] = {
    "0100/2011-gojt808": {"province": 31, "city": 115, "manufacturer": "cd", "model": "www.808.",
                          "dev_id": "7654321", "color": 1, "license_number": "测A1234"},
    "0100/2013-gojt808": {"province": 31, "city": 115, "manufacturer": "cd", "model": "www.808.com",
                          "dev_id": "7654321", "color": 1, "license_number": "测A1234"},
    "0100/2019-gojt808": {"province": 31, "city": 115, "manufacturer": "cd", "model": "www.808.com",
                          "dev_id": "7654321", "color": 1, "license_number": "测A1234"},
    "0100/2013-sc-t0100": {"province": 40, "city": 50, "color": 1, "license_number": "粤A12345"},
    "0100/2019-sc-t0100b": {"province": 0, "city": 0, "color": 2, "license_number": "粤A12346"},
    "0102/2019-gojt808": {"code": "17299841738", "imei": "123456789012345", "software_version": "3.7.15"},
    "0001/2013-gojt808": {"seq": 123, "id": 456, "result": 3},
    "8001/2013-gojt808": {"seq": 32767, "id": 2, "result": 0},
    "8100/2013-gojt808": {"seq": 0, "result": 0, "auth_code": "12345678901"},
    "0200/2013-gojt808": {"alarm": 1024, "status": 2048, "latitude": 119552894, "longitude": 40058359,
                          "altitude": 312, "speed": 3, "direction": 99, "time": "241001235959"},
    "0200/2019-xtream": {"alarm": 111, "status": 22, "latitude": 31234567, "longitude": 121987654, "altitude": 123,
                         "speed": 66, "direction": 3, "time": "250129223344", "extra.mileage": 12,
                         "extra.fuel_meter": 100},
    "0704/2019-xtream": {"type": 0, "location.0.latitude": 31000562, "location.1.altitude": 777},
    "8100/2019-xtream": {"seq": 111, "result": 0, "auth_code": "ok..ok..ok"},
    "8300/2019-xtream": {"flag": 1, "text_type": 1, "text": "HelloWorld 汉字 GBK 编码"},
    "8300/2013-xtream": {"flag": 1, "text": "HelloWorld 汉字 GBK 编码"},
    "8401/2019-xtream": {"type": 1, "contacts.1.phone": "13911113333", "contacts.1.name": "张三疯子"},
    "8203/2019-xtream": {"seq": 321, "type": 270532608},
    "8202/2019-xtream": {"period": 30, "expiry": 1000},
    "0801/2019-xtream": {"id": 111, "event": 7, "channel": 123, "location.latitude": 31000562},
    "8600/2013-xtream": {"areas.0.id": 111, "areas.0.radius": 666, "areas.1.id": 222},
    "8001/2019-xtream": {"seq": 111, "id": 512, "result": 0},
    "8003/2019-xtream": {"seq": 111, "ids": [2, 3, 4]},
    "8804/2019-xtream": {"command": 1, "time": 10, "save": 0, "rate": 3},
    "0201/2013-sc-t0201": {"seq": 12345, "params.alarm": 1, "params.status": 2, "params.latitude": 12222222,
                           "params.longitude": 132444444, "params.speed": 60, "params.time": "180715101010",
                           "params.extra.mileage": 100, "params.extra.fuel_meter": 55},
    "0500/2013-sc-t0500": {"seq": 1000, "location.latitude": 12222222, "location.longitude": 132444444,
                           "location.direction": 0, "location.extra.mileage": 100, "location.extra.fuel_meter": 55},
    "0302/2013-sc-t0302": {"seq": 4521, "id": 123},
    "0303/2013-sc-t0303": {"id": 12, "flag": 123},
    "0108/2013-sc-t0108": {"type": 0x34, "result": 0},
    "0702/2013-sc-t0702": {"status": 1, "time": "180816091616", "ic_result": 0, "driver_name": "koike",
                           "certificate": "qwe123456aaa", "organization": "qwertx", "cert_expiry": "20180816"},
    "0702/2019-sc-t0702": {"driver_name": "koike", "cert_expiry": "20191201", "id_card": "12345678901234567"},
    "0900/2013-sc-t0900": {"type": 0x83},
    "8900/2013-sc-t8900": {"type": 0x0B},
    "0901/2013-sc-t0901": {"length": 31},
    "0700/2013-sc-t0700": {"seq": 1, "command": 0},
    "0700/2019-sc-t0700": {"seq": 1, "command": 1},
    "8700/2013-sc-t8700": {"command": 0x08},
    "8700/2019-sc-t8700": {"command": 0x00},
    "8701/2013-sc-t8701": {"command": 0xC3},
    "8701/2019-sc-t8701": {"command": 0x82},
    "9303/2013-sc1078": {"channel": 1, "direction": 2},  # LogicChannelNo, IrisAdjustment
    "9304/2013-sc1078": {"channel": 1, "command": 2},  # LogicChannelNo, StartOrStop
    "9305/2013-sc1078": {"channel": 1, "command": 2},  # LogicChannelNo, StartOrStop
    "9306/2013-sc1078": {"channel": 1, "command": 2},  # LogicChannelNo, ChangeMultipleControl
    "0100/2011-sc-t0100": {"province": 40, "city": 50, "manufacturer": "1234", "model": "tk12345", "dev_id": "CHI123",
                           "color": 1, "license_number": "粤A12345"},
    "0801/2011-sc-t0801": {"id": 2567, "type": 0, "format": 0, "event": 1, "channel": 123, "multimedia": "AQIDBA=="},
    "0802/2011-sc-t0802": {"seq": 12369, "length": 2, "result.0.type": 0, "result.0.channel": 123, "result.0.event": 1,
                           "result.0.location.alarm": 1, "result.0.location.status": 2,
                           "result.0.location.latitude": 12222222, "result.0.location.longitude": 132444444,
                           "result.0.location.altitude": 40, "result.0.location.speed": 60,
                           "result.0.location.time": "181116202020", "result.1.type": 2, "result.1.channel": 124,
                           "result.1.event": 0, "result.1.location.time": "181116222222"},
    "8800/2011-sc-t8800": {"mm_id": 129, "retx_ids": []},
}


def parse_name(path: Path) -> tuple[int, Version, str]:
    m = NAME.match(path.stem)
    assert m, f"{path.relative_to(VECTOR_DIR)}: name is not <version>-<source>.hex"
    return int(path.parent.name, 16), Version(int(m["version"])), m["source"]


def profile_for(path: Path) -> Profile:
    _, version, source = parse_name(path)
    return _PROFILES[(version is V2011, "utf8" in source)]


def read_frame(path: Path) -> bytes:
    words = path.read_text().split()
    assert len(words) == 1, f"{path.name}: one hex frame per file"
    return bytes.fromhex(words[0])


def vector_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_vectors_are_well_named_and_paired() -> None:
    assert len(VECTORS) > 150
    for path in VECTORS:
        parse_name(path)
        assert path.with_suffix(".json").exists(), f"{vector_id(path)} has no .json"
    strays = [p for p in VECTOR_DIR.glob("*/*.json") if not p.with_suffix(".hex").exists()]
    assert not strays, strays
    devices = sorted((VECTOR_DIR / "devices").glob("*.hex"))
    assert devices and all(re.match(r"^\d{3}-[a-z0-9-]+$", p.stem) and p.with_suffix(".json").exists()
                           for p in devices), "devices/<issue>-<name>.hex + .json"


@pytest.mark.parametrize("path", VECTORS, ids=vector_id)
def test_vector(path: Path) -> None:
    msg_id, version, _ = parse_name(path)
    frame = read_frame(path)
    profile = profile_for(path)
    packet = jt808.decode(frame, profile)
    assert packet.msg_id == msg_id
    assert packet.version is version
    expected = json.loads(path.with_suffix(".json").read_text())
    body = jt808.to_json(packet, profile)["body"]
    assert body == expected
    assert not isinstance(packet.body, jt808.RawBody), packet.body
    assert jt808.encode(packet, profile).hex() == frame.hex()
    if not packet.problems:  # a repaired layout (noted in problems) is not in the JSON
        # the header JSON of 2011 and 2013 is the same (EMQX's has no 2011): the version is given
        again = jt808.from_json(json.loads(json.dumps(jt808.to_json(packet, profile))), profile, version=version)
        assert jt808.encode(again, profile).hex() == frame.hex(), "through JSON"


def test_every_registered_message_has_a_vector() -> None:
    have = {parse_name(p)[:2] for p in VECTORS}
    missing = [f"0x{mid:04X} v{int(v)}" for (mid, v), _ in DEFAULT_MESSAGES if (mid, v) not in have]
    assert not missing, f"registered (msg_id, version) without a golden vector: {missing}"
    stale = sorted(f"0x{mid:04X} v{int(v)}" for mid, v in have if (mid, v) not in DEFAULT_MESSAGES)
    assert not stale, f"vectors for ids not registered in that version: {stale}"


def _source_of(tag: str) -> str | None:
    if tag in SNAPSHOT:
        return None
    for key in sorted(INDEPENDENT, key=len, reverse=True):
        if tag == key or tag.startswith(key) or (tag.rstrip("0123456789b") == key):
            return key
    raise AssertionError(f"vector source {tag!r} is neither a snapshot nor named in INDEPENDENT")


def test_every_vector_names_its_source() -> None:
    for path in VECTORS:
        _source_of(parse_name(path)[2])


def test_independent_sources_cover_both_versions() -> None:
    by_version: dict[Version, set[int]] = {}
    for path in VECTORS:
        msg_id, version, tag = parse_name(path)
        if _source_of(tag) is not None:
            by_version.setdefault(version, set()).add(msg_id)
    # 2011: registers from go-jt808, SmallChi and a real device (traccar), that device family's 0x0102, a 0x0200
    # jt-framework reads as 2011, and
    # SmallChi's 2011 bodies of the ids whose 2011 layout differs (0x0801 without location, 0x0802 without media
    # id, 0x8800's count byte)
    assert by_version.get(V2011, set()) >= {0x0100, 0x0102, 0x0200, 0x0801, 0x0802, 0x8800}
    assert len(by_version.get(jt808.V2019, set())) >= 45
    assert len(by_version.get(jt808.V2013, set())) >= 40


def test_every_registered_id_has_an_independent_vector() -> None:
    """At least one frame from outside for each message id this code registers (in some version)."""
    independent = {parse_name(p)[0] for p in VECTORS if _source_of(parse_name(p)[2]) is not None}
    missing = sorted(f"0x{mid:04X}" for (mid, _), _ in DEFAULT_MESSAGES if mid not in independent)
    assert missing == []


def test_smallchi_2011_driver_identity_read_but_not_reproduced() -> None:
    """SmallChi JT808_0x0702Test.cs Test2011_1: a 2011 0x0702 whose ``STRING[20]`` / ``STRING[40]`` are padded
    with NULs on the *left* (their 2011 writer uses ``PadLeft``; their 2013/2019 writers and go-jt808 and EMQX
    pad on the right, as the 2013 text says: 后补 0x00). So it is no byte-for-byte vector: we read it (left padding
    stripped and noted) and would send the right-padded form."""
    body = ("02" "746B" "0000" "313233343536373839313233343536373839" + "00" * 28 + "717765313233343536616161"
            "06" "717765727478")  # name length, name, id card (20), certificate (40), organization length, name
    head = bytes.fromhex("0702") + (len(body) // 2).to_bytes(2, "big") + bytes.fromhex("0139123456780001")
    frame = jt808.protocol.framing.frame(head + bytes.fromhex(body))
    profile = _PROFILES[(True, False)]
    packet = jt808.decode(frame, profile)
    assert jt808.to_json(packet, profile)["body"] == {"driver_name": "tk", "id_card": "123456789123456789",
                                                     "certificate": "qwe123456aaa", "organization": "qwertx"}
    assert sum("padding on the left" in str(p) for p in packet.problems) == 2


def _at(obj: object, path: str) -> object:
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


@pytest.mark.parametrize("name", sorted(STATED))
def test_values_stated_by_the_sources(name: str) -> None:
    path = VECTOR_DIR / f"{name}.hex"
    body = jt808.to_json(jt808.decode(read_frame(path), profile_for(path)), profile_for(path))["body"]
    for key, want in STATED[name].items():
        assert _at(body, key) == want, f"{name}: {key}"
