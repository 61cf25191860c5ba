"""Golden vectors: every ``tests/vectors/<msg_id>/<version>-<source>.hex`` decodes to the body JSON of its
``.json`` sibling and re-encodes byte for byte; and every registered ``(msg_id, version)`` has a vector.

Naming (as the family engineers wrote them): ``<msg_id>`` is four lowercase hex digits; ``<version>`` is
2011, 2013 or 2019; ``<source>`` says where the frame comes from (``s002``/``s003`` seeds, ``sc-…``
SmallChi demos and issues, ``gojt808`` frames of go-jt808's protocol/model/parse_test.go, ``sc1078``
bodies of SmallChi/JT1078's JT808.Protocol.Extensions.JT1078.Test in a computed header, ``scas`` / ``scyb``
bodies of SmallChi's JTActiveSafety (SuBiao) / JT808.Protocol.Extensions.YueBiao tests likewise).

``snapshot`` vectors (and ``computed``, the older name) were produced by this code from a hand-written
layout: they are **regression snapshots**, not evidence that the layout is right — they only say the
bytes have not changed. Evidence comes from the independent sources above and ``INDEPENDENT`` below,
which :func:`test_independent_sources_cover_both_versions` checks.

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


def test_every_registered_message_has_a_vector() -> None:
    have = {parse_name(p)[:2] for p in VECTORS}
    missing = [f"0x{mid:04X} v{int(v)}" for (mid, v), _ in DEFAULT_MESSAGES if (mid, v) not in have]
    assert not missing, f"registered (msg_id, version) without a golden vector: {missing}"
    stale = sorted(f"0x{mid:04X} v{int(v)}" for mid, v in have if (mid, v) not in DEFAULT_MESSAGES)
    assert not stale, f"vectors for ids not registered in that version: {stale}"
