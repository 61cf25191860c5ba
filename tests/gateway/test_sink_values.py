"""The session's values-only 0x0200 path (no listener, acks after the durable write) and the sink's
``values_row``: every stored value must equal what the general path (``LocationReport`` +
``location_row``) gives for the same frame, layout by layout and in both versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import jt808
from jt808 import V2013, V2019, Header, Packet
from jt808.gateway.sink import StorageSink, location_row, values_row
from jt808.protocol.messages.location import LocationReport, LocationValues
from jt808.session.events import MessageReceived
from jt808.session.platform import PlatformSession
from jt808.storage.sqlite import _location_params_many

NOW = datetime(2024, 3, 11, 4, 0, 1, tzinfo=UTC)

LAYOUTS = [
    [(0x01, 12345), (0x02, 500), (0x03, 600), (0x30, 25), (0x31, 12)],  # plain integers
    [(0x30, 7), (0x01, 1)],  # another order
    [(0x01, 1), (0x25, 0b101)],  # a bit map: general rendering
    [(0x01, 1), (0x01, 2)],  # a duplicate id
    [(0x01, 1), (0xE1, b"\x01\x02")],  # a custom item (bytes)
    [(0x01, 1), (0x2A, 3), (0x2B, 0x00010002)],  # IO status and analog maps
    [(0x11, {"type": 0})],  # an overspeed dict
    [(0x01, 4_000_000_000), (0x04, 65535), (0x30, 255)],  # large values
]


def frame(extras: list[tuple[int, Any]], version: Any, i: int) -> bytes:
    phone = "013912345678" if version is not V2019 else "01391234567800000000"
    ex = [(eid, v + i if type(v) is int and eid not in (0x25,) and v + i < 255 else v) for eid, v in extras]
    body = LocationReport(alarm=i & 3, status=0x000C0003 if i % 2 else 0x00000003, latitude=31_230_000 + i,
                          longitude=121_470_000 + i, altitude=12 + i, speed=605 + i, direction=90,
                          time="240311120000" if i != 2 else "991399999999", extras=ex)
    return jt808.encode(Packet(Header(0x0200, phone, i, version), body))


def session(quiet: dict[int, int] | None) -> PlatformSession:
    return PlatformSession(anonymous=True, deferred_acks={0x0200}, quiet=quiet)


def received(s: PlatformSession, f: bytes) -> Packet:
    evs = [e for e in s.receive_data(f, 1.0) if type(e) is MessageReceived]
    assert len(evs) == 1 and evs[0].deferred
    return evs[0].packet


@pytest.mark.parametrize("version", [V2013, V2019])
@pytest.mark.parametrize("extras", LAYOUTS, ids=range(len(LAYOUTS)))
def test_values_rows_equal_the_general_rows(extras: list[tuple[int, Any]], version: Any) -> None:
    s = session({0x0002: 0})
    fast = 0
    for i in range(6):
        f = frame(extras, version, i)
        p = received(s, f)
        assert not s.data_to_send() or i == 0  # no ack before the write (i == 0: nothing but auth)
        g = jt808.decode(f)  # the general decode of the same frame
        h = p.header
        want = location_row(h.phone, g.body, 0x0200, h.msg_sn, NOW, 8, False, h.version)
        if type(p.body) is LocationValues:
            fast += 1
            assert p.body.report() == g.body
            row = values_row(h.phone, p.body, h.msg_sn, NOW, 8, h.version)
        else:
            assert type(p.body) is LocationReport
            row = location_row(h.phone, p.body, 0x0200, h.msg_sn, NOW, 8, False, h.version)
        assert row == want and list(row.extras) == list(want.extras)
        assert _location_params_many([row]) == _location_params_many([want])  # what SQLite binds, JSON text too
        # the sink takes either body
        locs: list[Any] = []
        StorageSink(None, tz_offset=8).collect(p, NOW, locs, [])  # type: ignore[arg-type]
        assert _location_params_many(locs) == _location_params_many([want])
    # once the layout is remembered (by the first decodes) the values path is taken; items of other
    # shapes (the overspeed dict) leave no layout to remember
    assert fast >= 4 if extras is not LAYOUTS[6] else fast == 0


def test_listener_or_immediate_acks_keep_the_report() -> None:
    for s in (session(None), PlatformSession(anonymous=True, quiet={0x0002: 0})):
        for i in range(4):
            evs = [e for e in s.receive_data(frame(LAYOUTS[0], V2013, i), 1.0) if type(e) is MessageReceived]
            assert type(evs[0].packet.body) is LocationReport


def test_acks_of_values_packets() -> None:
    s = session({0x0002: 0})
    packets = [received(s, frame(LAYOUTS[0], V2013, i)) for i in range(4)]
    assert type(packets[-1].body) is LocationValues
    s.data_to_send()
    s.ack_many(packets[1:], 0)
    acks = jt808.protocol.framing.FrameSplitter().feed(s.data_to_send())
    got = [jt808.decode(a).body for a in acks]
    assert [(b.seq, b.id, b.result) for b in got] == [(i, 0x0200, 0) for i in (1, 2, 3)]
