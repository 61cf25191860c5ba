"""The one fast path (remembered 0x0200 item layouts, ``jt808.protocol.layouts``) pinned to the general
path: for random item layouts, versions and profiles, the report decoded through a remembered layout
(whole-body unpack in ``jt808.decode`` and in the platform session, item unpack for an embedded
location) equals the general decode, and so do its EMQX JSON and its storage row (down to the
parameters SQLite binds, JSON text included)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jt808
from hypothesis_profiles import examples, wider
from jt808 import V2011, V2013, V2019, Header, Packet, Profile, Version
from jt808.gateway.sink import StorageSink, location_row
from jt808.protocol import layouts
from jt808.protocol.messages.location import LocationReport, extras_table, location_to_json
from jt808.protocol.messages.tracking import LocationQueryReply
from jt808.protocol.registry import DEFAULT_PROFILE, ExtraCodec
from jt808.session.events import MessageReceived
from jt808.session.platform import PlatformSession
from jt808.storage.sqlite import _location_params_many

NOW = datetime(2024, 3, 11, 4, 0, 1, tzinfo=UTC)

# profiles: the default, derived ones (the gateway derives one when its default version differs), and
# one with rows of its own (plain integers, a key shared with nothing, a map)
_OWN = DEFAULT_PROFILE.derive("own rows")
_OWN.register_extras([
    ExtraCodec("fuel_percent", lambda b: int.from_bytes(b, "big"), lambda v: v.to_bytes(2, "big"), (2,), uint=2,
               id=0xE2),
    ExtraCodec("door", lambda b: {"open": b[0]}, lambda v: bytes((v["open"],)), (1,), id=0xE3),
    ExtraCodec("probe", lambda b: int.from_bytes(b, "big"), lambda v: v.to_bytes(4, "big"), (4,), uint=4, id=0x64),
])
PROFILES = [DEFAULT_PROFILE, DEFAULT_PROFILE.derive("2011 gateway", default_version=V2011),
            Profile("fresh"), _OWN, _OWN.derive("child of own rows")]

_U = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF}


def items(version: Version, profile: Profile) -> st.SearchStrategy[list[tuple[int, Any]]]:
    tbl = extras_table(profile, version)
    choices: list[st.SearchStrategy[tuple[int, Any]]] = []
    for eid, row in tbl.items():
        if row.uint:
            choices.append(st.tuples(st.just(eid), st.integers(0, _U[row.uint])))
    choices += [
        st.tuples(st.just(0x11), st.just({"type": 0})),
        st.tuples(st.sampled_from([0x08, 0x33, 0xE1, 0xEE]), st.binary(max_size=6)),  # unknown / custom bytes
        st.tuples(st.just(0x30), st.binary(min_size=2, max_size=2)),  # a known id with a bad length
    ]
    if 0xE3 in tbl:
        choices.append(st.tuples(st.just(0xE3), st.builds(lambda x: {"open": x}, st.integers(0, 255))))
    return st.lists(st.one_of(choices), min_size=1, max_size=wider(8))


@st.composite
def cases(draw: Any) -> tuple[Profile, Version, list[LocationReport]]:
    profile = draw(st.sampled_from(PROFILES))
    version = draw(st.sampled_from([V2011, V2013, V2019]))
    extras = draw(items(version, profile))
    u32, u16 = st.integers(0, 2**32 - 1), st.integers(0, 0xFFFF)
    tbl = extras_table(profile, version)
    reports = []
    for i in range(draw(st.integers(2, 4))):  # the same layout, other values
        ex = [(eid, draw(st.integers(0, _U[tbl[eid].uint])) if type(v) is int and i else v) for eid, v in extras]
        reports.append(LocationReport(draw(u32), draw(u32), draw(u32), draw(u32), draw(u16), draw(u16), draw(u16),
                                      draw(st.sampled_from(["240311120000", "991399999999", "000000000000"])), ex))
    return profile, version, reports


def frame(report: LocationReport, version: Version, sn: int, msg_id: int = 0x0200,
          profile: Profile = DEFAULT_PROFILE) -> bytes:
    phone = "01391234567800000000" if version is V2019 else "013912345678"
    body: Any = report if msg_id == 0x0200 else LocationQueryReply(sn, report)
    return jt808.encode(Packet(Header(msg_id, phone, sn, version), body), profile=profile)


def general(f: bytes, profile: Profile) -> Packet:
    layouts.clear_all()  # nothing remembered: the general item loop
    return jt808.decode(f, profile)


def row_params(report: LocationReport, version: Version, profile: Profile, msg_id: int = 0x0200) -> Any:
    row = location_row("013912345678", report, msg_id, 7, NOW, 8, False, version, profile)
    return row, _location_params_many([row])


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_remembered_layouts_give_what_the_general_path_gives(case: Any) -> None:
    profile, version, reports = case
    for sn, rep in enumerate(reports):
        for msg_id in (0x0200, 0x0201):
            f = frame(rep, version, sn, msg_id, profile)
            want = general(f, profile)
            jt808.decode(f, profile)  # remembers the layout (when it is one)
            got = jt808.decode(f, profile)
            wb, gb = (want.body, got.body) if msg_id == 0x0200 else (want.body.location, got.body.location)
            assert gb == wb and gb.extras == wb.extras and gb.bad_tail == wb.bad_tail
            assert gb.layout is wb.layout  # the second decode went through the layout the first remembered
            assert [type(v) for _, v in gb.extras] == [type(v) for _, v in wb.extras]
            assert location_to_json(gb, want.header.version, profile) == location_to_json(wb, want.header.version,
                                                                                         profile)
            if msg_id == 0x0200:  # (an embedded location renders with the default profile's rows)
                assert jt808.to_json(got, profile) == jt808.to_json(want, profile)
            assert row_params(gb, want.header.version, profile, msg_id) == row_params(wb, want.header.version,
                                                                                      profile, msg_id)
            assert jt808.encode(got, profile=profile) == f


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_session_and_the_sink_take_the_same_path(case: Any) -> None:
    """The platform session decodes a deferred 0x0200 through the remembered layout; the sink's rows equal
    the general rows, for any profile (derived ones included)."""
    profile, version, reports = case
    s = PlatformSession(profile, anonymous=True, deferred_acks={0x0200}, quiet={0x0002: 0})
    sink = StorageSink(None, tz_offset=8, profile=profile)  # type: ignore[arg-type]
    for sn, rep in enumerate(reports * 2):
        f = frame(rep, version, sn, profile=profile)
        evs = [e for e in s.receive_data(f, 1.0) if type(e) is MessageReceived]
        assert len(evs) == 1 and evs[0].deferred
        p = evs[0].packet
        want = general(f, profile)
        assert p.body == want.body
        locs: list[Any] = []
        sink.collect(p, NOW, locs, [])
        h = want.header
        row = location_row(h.phone, want.body, 0x0200, h.msg_sn, NOW, 8, False, h.version, profile)
        assert _location_params_many(locs) == _location_params_many([row])


def test_plain_layouts_are_remembered_for_derived_profiles() -> None:
    """A derived profile (the gateway derives one for a 2011 default) uses the fast path too."""
    derived = DEFAULT_PROFILE.derive("derived", default_version=V2011)
    rep = LocationReport(0, 3, 1, 2, 3, 4, 5, "240311120000", [(0x01, 5), (0x30, 20), (0xE1, b"\x01")])
    f = frame(rep, V2013, 1)
    jt808.decode(f, derived)
    again = jt808.decode(f, derived)
    assert again.body.layout is not None and again.body.layout.ids == (0x01, 0x30, 0xE1)
    rep2 = LocationReport(0, 3, 1, 2, 3, 4, 5, "240311120000", [(0x01, 5), (0x30, 20)])
    f2 = frame(rep2, V2013, 2)
    jt808.decode(f2, derived)
    body = jt808.decode(f2, derived).body
    assert body.layout is not None and body.layout.json_format == '{"mileage":%d,"rssi":%d}'
    row = location_row("013912345678", body, 0x0200, 1, NOW, 8, False, V2013, derived)
    assert row.extras_json == '{"mileage":5,"rssi":20}'


def test_a_report_changed_by_hand_is_rendered_the_general_way() -> None:
    rep = LocationReport(0, 3, 1, 2, 3, 4, 5, "240311120000", [(0x01, 5), (0x30, 20)])
    f = frame(rep, V2013, 1)
    jt808.decode(f)
    body = jt808.decode(f).body
    assert body.layout is not None
    body.extras.append((0x31, 9))
    row = location_row("013912345678", body, 0x0200, 1, NOW)
    assert row.extras == {"mileage": 5, "rssi": 20, "gnss_sat_num": 9} and row.extras_json is None
    body.extras[:] = [(0x01, "x"), (0x30, 20)]  # type: ignore[list-item]
    assert location_row("013912345678", body, 0x0200, 1, NOW).extras_json is None


def test_reports_read_through_a_layout_copy_and_pickle() -> None:
    import copy
    import pickle

    rep = LocationReport(0, 3, 1, 2, 3, 4, 5, "240311120000", [(0x01, 5), (0x30, 20)])
    f = frame(rep, V2013, 1)
    jt808.decode(f)
    body = jt808.decode(f).body
    assert body.layout is not None
    assert copy.deepcopy(body) == body and copy.deepcopy(body).layout is body.layout
    back = pickle.loads(pickle.dumps(body))
    assert back == body and back.layout is None  # the cache is not carried along
    assert location_row("013912345678", back, 0x0200, 1, NOW) == location_row("013912345678", body, 0x0200, 1, NOW)
