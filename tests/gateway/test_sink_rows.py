"""Storage rows built by the gateway's sink: the "extra" map and the JSON text prepared for flat maps of
integers must equal the general rendering (location_to_json + the storage JSON encoder) exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import jt808
from jt808 import V2013, V2019, Header, Packet
from jt808.gateway.sink import location_row
from jt808.protocol.exchange import location_to_json
from jt808.protocol.messages.location import LocationReport
from jt808.storage._util import dumps_or_none
from jt808.storage.sqlite import SQLiteStorage

NOW = datetime(2024, 3, 11, 4, 0, 1, tzinfo=UTC)
PHONE = "013912345678"


def decoded(extras: list[tuple[int, Any]], version: Any = V2013, **kw: Any) -> LocationReport:
    """A report as the gateway sees it: encoded, then decoded by the codec."""
    body = LocationReport(alarm=kw.get("alarm", 0), status=0x000C0003, latitude=31_230_000, longitude=121_470_000,
                          altitude=12, speed=605, direction=90, time="240311120000", extras=extras)
    frame = jt808.encode(Packet(Header(0x0200, PHONE, 7, version), body))
    p = jt808.decode(frame)
    assert type(p.body) is LocationReport
    return p.body


def general(loc: LocationReport, version: Any) -> dict[str, Any]:
    j = location_to_json(loc, version)
    out = j.get("extra") or {}
    if "bad_tail" in j:
        out = {**out, "bad_tail": j["bad_tail"]}
    return out


LAYOUTS = [
    [(0x01, 12345), (0x02, 500), (0x03, 600), (0x30, 25), (0x31, 12)],  # plain integers: fast path
    [(0x30, 7), (0x01, 1)],  # another order
    [(0x01, 1), (0x25, 0b101)],  # a bit map (rendered as a dict): general path
    [(0x01, 1), (0x01, 2)],  # a duplicate id: general path (extra_dups)
    [(0x01, 1), (0xE1, b"\x01\x02")],  # a custom item (bytes)
    [(0x01, 1), (0x2A, 3), (0x2B, 0x00010002)],  # IO status and analog maps
    [(0x11, {"type": 0})],  # an overspeed dict
]


@pytest.mark.parametrize("version", [V2013, V2019])
@pytest.mark.parametrize("extras", LAYOUTS, ids=range(len(LAYOUTS)))
def test_row_extras_equal_the_general_rendering(extras: list[tuple[int, Any]], version: Any) -> None:
    for _ in range(2):  # (nothing is remembered between reports: the second one reads the same)
        loc = decoded(extras, version)
        row = location_row(PHONE, loc, 0x0200, 7, NOW, 8, False, version)
        want = general(loc, version)
        assert row.extras == want and list(row.extras) == list(want)
        assert (row.extras_json if row.extras_json is not None else dumps_or_none(row.extras)) == dumps_or_none(want)


def test_plain_integers_render_as_text_and_values_change() -> None:
    ex = [(0x01, 12345), (0x02, 500), (0x30, 25)]
    row = location_row(PHONE, decoded(ex), 0x0200, 1, NOW)
    assert row.extras_json == '{"mileage":12345,"fuel_meter":500,"rssi":25}'
    loc = decoded([(0x01, 99), (0x02, 1), (0x30, 0)])
    row = location_row(PHONE, loc, 0x0200, 2, NOW)
    assert row.extras_json == '{"mileage":99,"fuel_meter":1,"rssi":0}'
    assert row.extras == {"mileage": 99, "fuel_meter": 1, "rssi": 0}


def test_item_with_unexpected_length_falls_back_to_the_general_rendering() -> None:
    loc = LocationReport(alarm=0, status=0, latitude=1, longitude=2, altitude=0, speed=0, direction=0,
                         time="240311120000", extras=[(0x01, 5), (0x30, b"\x00\x14")])  # 0x30 is one byte
    p = jt808.decode(jt808.encode(Packet(Header(0x0200, PHONE, 1), loc)))
    row = location_row(PHONE, p.body, 0x0200, 1, NOW)
    assert row.extras == general(p.body, V2013)
    assert row.extras_json is None
    assert row.extras["mileage"] == 5 and "48" in row.extras  # the raw item under its decimal id


def test_bad_tail_kept() -> None:
    frame = jt808.encode(Packet(Header(0x0200, PHONE, 1), decoded([(0x01, 5)])))
    # append a truncated item (id 0x30 claiming 4 bytes, 1 present) and fix length and check code
    content = bytearray(jt808.protocol.framing.unescape(frame[1:-1])[:-1])
    content += b"\x30\x04\x01"
    content[2:4] = ((content[2] << 8 | content[3]) + 3).to_bytes(2, "big")
    raw = bytes(content) + bytes((jt808.protocol.framing.check_code(bytes(content)),))
    p = jt808.decode(b"\x7e" + jt808.protocol.framing.escape(raw) + b"\x7e", strict=False)
    row = location_row(PHONE, p.body, 0x0200, 1, NOW)
    assert row.extras["bad_tail"] and row.extras["mileage"] == 5 and row.extras_json is None


async def test_sqlite_stores_the_rendered_json_and_reads_it_back(tmp_path: Path) -> None:
    st = SQLiteStorage(tmp_path / "t.db")
    await st.open()
    try:
        rows = [location_row(PHONE, decoded(ex), 0x0200, i, NOW) for i, ex in enumerate(LAYOUTS)]
        rows += [location_row(PHONE, decoded(LAYOUTS[0]), 0x0200, 99, NOW)]
        await st.add_locations(rows)
        back = await st.query_locations(PHONE, limit=100)
        assert back == rows  # every field, extras included (extras_json is not part of equality)
        assert all(r.extras_json is None for r in back)
    finally:
        await st.close()


def test_event_rows_name_profile_items() -> None:
    """A 0x0201 (stored as an event row besides its location row) on the jt1078 profile: the 0x14 item of its
    location is ``video_alarm`` in the event JSON as in the API's and the bridge's JSON (it was ``"20": 5``)."""
    from jt808.gateway.sink import StorageSink
    from jt808.protocol.profiles import builtin_profile

    prof = builtin_profile("jt1078")
    body = bytes.fromhex("0005 00000000 00000002 01BA7F0E 07E4F11C 0028 003C 0000 181116202020 140400000005")
    raw = bytes.fromhex("0201") + len(body).to_bytes(2, "big") + bytes.fromhex("0139123456780001") + body
    packet = jt808.decode(jt808.protocol.framing.frame(raw), prof)
    sink = StorageSink(None, profile=prof)  # type: ignore[arg-type]  # collect() does not reach the writer
    locs: list[Any] = []
    events: list[Any] = []
    sink.collect(packet, datetime.now(UTC), locs, events)
    [event] = events
    assert event.body["params"]["extra"] == {"video_alarm": 5} == jt808.to_json(packet, prof)["body"]["params"]["extra"]
    assert len(locs) == 1
