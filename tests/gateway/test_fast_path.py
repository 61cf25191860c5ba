"""The 0x0200 routes pinned to the plain reading of the item table, for random item layouts (clean, raw,
malformed, custom, duplicate), versions and profiles:

- the item plans (one ``Struct`` unpack of id and value per plain integer, compiled once per table) read
  what a per-item reading of the rows (:data:`~jt808.protocol.messages.location.ITEMS` and the profile's)
  reads, problems included;
- the whole-body ``LocationReport.fast_decode`` (no ``Reader``; tried by the frame decoder and the platform
  session) gives the ``Reader`` decode's report, and declines exactly when that one notes a problem, whether
  it reads the body by the item plans or by the item layout it remembers for the body's length;
- ``location_to_json``'s common-case loop gives what the general item rendering gives;
- the storage row's map and JSON text (``location_extra``) equal the general map and the storage encoder's
  text, down to the parameters SQLite binds, also through the session and the sink;
- a body given as its values (``read_layout_values``: the remembered layout, for a location that is only
  stored) makes the same report, map, text and row (``values_row``), also through the session and the sink.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jt808
from hypothesis_profiles import examples, wider
from jt808 import V2011, V2013, V2019, Header, Packet, Profile, Version
from jt808.gateway.sink import StorageSink, location_row, values_row
from jt808.protocol.buffer import Reader
from jt808.protocol.jsonutil import b64
from jt808.protocol.messages.location import (
    LocationReport,
    RawExtra,
    _render_items,
    extras_table,
    location_extra,
    location_to_json,
    read_layout_values,
)
from jt808.protocol.messages.tracking import LocationQueryReply
from jt808.protocol.packet import encode_body
from jt808.protocol.registry import DEFAULT_PROFILE, ExtraCodec
from jt808.session.events import LocationValuesReceived, MessageReceived
from jt808.session.platform import PlatformSession
from jt808.storage._util import dumps_or_none
from jt808.storage.sqlite import _location_params_many

NOW = datetime(2024, 3, 11, 4, 0, 1, tzinfo=UTC)

# profiles: the default, derived ones (the gateway derives one when its default version differs), and
# one with rows of its own (plain integers, a key shared with nothing, a map, a row that fails to decode)
_OWN = DEFAULT_PROFILE.derive("own rows")


def _door(b: bytes) -> dict[str, int]:
    if b[0] > 200:
        raise ValueError("no such door state")
    return {"open": b[0]}


_OWN.register_extras([
    ExtraCodec("fuel_percent", lambda b: int.from_bytes(b, "big"), lambda v: v.to_bytes(2, "big"), (2,), uint=2,
               id=0xE2),
    ExtraCodec("door", _door, lambda v: bytes((v["open"],)), (1,), id=0xE3),
    ExtraCodec("probe", lambda b: int.from_bytes(b, "big"), lambda v: v.to_bytes(4, "big"), (4,), uint=4, id=0x64),
    ExtraCodec("odd", lambda b: int.from_bytes(b, "big"), lambda v: v.to_bytes(3, "big"), (3,), uint=3, id=0x65),
    ExtraCodec("any", lambda b: b.hex(), bytes.fromhex, id=0x66),  # any length
])
PROFILES = [DEFAULT_PROFILE, DEFAULT_PROFILE.derive("2011 gateway", default_version=V2011),
            DEFAULT_PROFILE.derive("sign-magnitude", carriage_temp_sign_magnitude=True),
            Profile("fresh"), _OWN, _OWN.derive("child of own rows")]

_U = {1: 0xFF, 2: 0xFFFF, 3: 0xFFFFFF, 4: 0xFFFFFFFF}


def items(version: Version, profile: Profile) -> st.SearchStrategy[list[tuple[int, Any]]]:
    tbl = extras_table(profile, version)
    choices: list[st.SearchStrategy[tuple[int, Any]]] = []
    for eid, row in tbl.items():
        if row.uint:
            choices.append(st.tuples(st.just(eid), st.integers(0, _U[row.uint])))
    choices += [
        st.tuples(st.just(0x11), st.just({"type": 0})),
        st.tuples(st.just(0x12), st.builds(lambda t, i: {"type": t, "id": i, "direction": 1}, st.integers(0, 255),
                                           st.integers(0, 2**32 - 1))),
        st.tuples(st.sampled_from([0x05, 0x06, 0x08, 0x33, 0xE0, 0xE1, 0xEE, 0xFF]), st.binary(max_size=6)),
        st.tuples(st.sampled_from([0x01, 0x11, 0x30, 0x2B, 0x64]), st.binary(max_size=7)),  # a known id, any length
    ]
    if 0xE3 in tbl:
        choices.append(st.tuples(st.just(0xE3), st.builds(lambda x: {"open": x}, st.integers(0, 255))))
        choices.append(st.tuples(st.just(0x66), st.binary(max_size=3).map(bytes.hex)))
    return st.lists(st.one_of(choices), min_size=0, max_size=wider(8))


@st.composite
def cases(draw: Any) -> tuple[Profile, Version, LocationReport, bytes]:
    profile = draw(st.sampled_from(PROFILES))
    version = draw(st.sampled_from([V2011, V2013, V2019]))
    u32, u16 = st.integers(0, 2**32 - 1), st.integers(0, 0xFFFF)
    rep = LocationReport(draw(u32), draw(u32), draw(u32), draw(u32), draw(u16), draw(u16), draw(u16),
                         draw(st.sampled_from(["240311120000", "991399999999", "000000000000"])),
                         draw(items(version, profile)))
    tail = draw(st.sampled_from([b"", b"\x30", b"\x01\x04\x00", b"\x2b\x09" + bytes(8)]))  # items running past
    return profile, version, rep, tail


def body_of(rep: LocationReport, version: Version, profile: Profile) -> bytes:
    return encode_body(rep, version, profile)


def per_row(data: bytes, p: int, end: int, profile: Profile, version: Version) -> tuple[list[Any], bytes, int]:
    """The items read row by row (what the item plans compile): (items, bad tail, problems)."""
    tbl = extras_table(profile, version)
    out: list[Any] = []
    problems = 0
    while p < end:
        if p + 2 > end or p + 2 + data[p + 1] > end:
            return out, data[p:end], problems + 1
        eid, n = data[p], data[p + 1]
        raw = data[p + 2:p + 2 + n]
        c = tbl.get(eid)
        if c is None:
            out.append((eid, raw))
        elif n and c.uint == n:
            out.append((eid, int.from_bytes(raw, "big")))
        elif c.sizes is not None and n not in c.sizes:
            out.append((eid, RawExtra(raw)))
            problems += 1
        else:
            try:
                out.append((eid, c.decode(raw)))
            except (ValueError, IndexError, KeyError):
                out.append((eid, RawExtra(raw)))
                problems += 1
        p += 2 + n
    return out, b"", problems


def general_json(rep: LocationReport, version: Version, profile: Profile) -> dict[str, Any]:
    out = location_to_json(LocationReport(rep.alarm, rep.status, rep.latitude, rep.longitude, rep.altitude, rep.speed,
                                          rep.direction, rep.time), version, profile)
    if rep.extras:
        _render_items(out, rep.extras, extras_table(profile, version))
    if rep.bad_tail:
        out["bad_tail"] = b64(rep.bad_tail)
    return out


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_every_route_gives_what_the_rows_say(case: Any) -> None:
    profile, version, rep, tail = case
    data = body_of(rep, version, profile) + tail
    r = Reader(data, version, profile, 0x0200)
    general = LocationReport.decode(r)
    items_, bad, problems = per_row(data, 28, len(data), profile, version)
    assert general.extras == items_ and general.bad_tail == bad and len(r.problems) == problems
    assert [type(v) for _, v in general.extras] == [type(v) for _, v in items_]
    for _ in range(2):  # the first read remembers the body's item layout, the second is read by it
        fast = LocationReport.fast_decode(data, profile, version)
        if r.problems:
            assert fast is None
        else:
            assert fast == general and [type(v) for _, v in fast.extras] == [type(v) for _, v in general.extras]
    j = location_to_json(general, version, profile)
    assert j == general_json(general, version, profile)
    assert list(j.get("extra", {})) == list(general_json(general, version, profile).get("extra", {}))  # key order
    extra, text = location_extra(general, version, profile)
    want = {**j.get("extra", {}), **({"bad_tail": j["bad_tail"]} if "bad_tail" in j else {})}
    assert extra == want and list(extra) == list(want)
    if text is not None:
        assert text == dumps_or_none(want)
    lv = read_layout_values(data, profile, version)  # the layout remembered above, if it renders a row
    if lv is not None:
        assert not r.problems and lv.report() == general
        assert lv.extra() == (extra, text) and list(lv.extra()[0]) == list(extra)
        [by_values] = _location_params_many([values_row("013912345678", lv, 9, NOW, 8)])
        [by_report] = _location_params_many([location_row("013912345678", general, 0x0200, 9, NOW, 8, False, version,
                                                          profile)])
        assert by_values == by_report


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_frames_rows_and_embedded_locations(case: Any) -> None:
    """Through whole frames (``jt808.decode``, 0x0200 and an embedded 0x0201): the report, its JSON and its
    storage row (the parameters SQLite binds, JSON text included) equal the general ones."""
    profile, version, rep, _ = case
    phone = "01391234567800000000" if version is V2019 else "013912345678"
    for msg_id in (0x0200, 0x0201):
        body: Any = rep if msg_id == 0x0200 else LocationQueryReply(5, rep)
        f = jt808.encode(Packet(Header(msg_id, phone, 7, version), body), profile=profile)
        got = jt808.decode(f, profile)
        loc = got.body if msg_id == 0x0200 else got.body.location
        assert loc == LocationReport.decode(Reader(body_of(rep, version, profile), version, profile, 0x0200))
        assert jt808.encode(got, profile=profile) == f
        assert location_to_json(loc, version, profile) == general_json(loc, version, profile)
        row = location_row(phone, loc, msg_id, 7, NOW, 8, False, version, profile)
        j = general_json(loc, version, profile)
        assert row.extras == j.get("extra", {})
        [params] = _location_params_many([row])
        assert params[-1] == dumps_or_none(j.get("extra", {}))


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_session_and_the_sink_take_the_same_path(case: Any) -> None:
    """The platform session decodes a deferred 0x0200 with the whole-body decoder; the sink's rows equal the
    rows of the ``Reader`` decode, for any profile (derived ones included)."""
    profile, version, rep, _ = case
    s = PlatformSession(profile, anonymous=True, deferred_acks={0x0200}, quiet={0x0002: 0})
    sink = StorageSink(None, tz_offset=8, profile=profile)
    phone = "01391234567800000000" if version is V2019 else "013912345678"
    for sn in range(2):
        f = jt808.encode(Packet(Header(0x0200, phone, sn, version), rep), profile=profile)
        evs = [e for e in s.receive_data(f, 1.0) if type(e) is MessageReceived]
        assert len(evs) == 1 and evs[0].deferred
        p = evs[0].packet
        general = LocationReport.decode(Reader(body_of(rep, version, profile), p.header.version, profile, 0x0200))
        assert p.body == general
        locs: list[Any] = []
        sink.collect(p, NOW, locs, [])
        h = p.header
        row = location_row(h.phone, general, 0x0200, h.msg_sn, NOW, 8, False, h.version, profile)
        assert _location_params_many(locs) == _location_params_many([row])


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_locations_only_stored_are_given_as_their_values(case: Any) -> None:
    """A session that gives stored-only locations as values (``location_values``): the first report of a layout
    is a report (it teaches the layout), the next ones are values when the layout renders a row; the sink's rows
    are the rows of the ``Reader`` decode either way, and each is deferred (acknowledged by its header)."""
    profile, version, rep, _ = case
    s = PlatformSession(profile, anonymous=True, deferred_acks={0x0200}, quiet={0x0002: 0}, location_values=True)
    sink = StorageSink(None, tz_offset=8, profile=profile)
    phone = "01391234567800000000" if version is V2019 else "013912345678"
    general = LocationReport.decode(Reader(body_of(rep, version, profile), version, profile, 0x0200))
    kinds = []
    for sn in range(3):
        f = jt808.encode(Packet(Header(0x0200, phone, sn, version), rep), profile=profile)
        evs = [e for e in s.receive_data(f, 1.0) if type(e) in (MessageReceived, LocationValuesReceived)]
        assert len(evs) == 1
        locs: list[Any] = []
        ev = evs[0]
        if type(ev) is LocationValuesReceived:
            h = ev.header
            assert ev.values.report() == general and ev.body == body_of(rep, version, profile)
            sink.collect_values(h, ev.values, NOW, locs)
        else:
            assert type(ev) is MessageReceived and ev.deferred
            h = ev.packet.header
            sink.collect(ev.packet, NOW, locs, [])
        kinds.append(type(ev))
        assert (h.msg_id, h.msg_sn) == (0x0200, sn)
        row = location_row(h.phone, general, 0x0200, sn, NOW, 8, False, h.version, profile)
        assert _location_params_many(locs) == _location_params_many([row])
        s.ack_many([h])
    assert kinds[1] is kinds[2]  # (the first teaches the layout: a report, or values when an earlier case did)
    assert len(s.data_to_send().split(b"\x7e\x7e")) == 3  # three acks


def test_plain_integers_give_the_row_text() -> None:
    """A derived profile (the gateway derives one for a 2011 default) gets the row text too."""
    derived = DEFAULT_PROFILE.derive("derived", default_version=V2011)
    rep = LocationReport(0, 3, 1, 2, 3, 4, 5, "240311120000", [(0x01, 5), (0x30, 20)])
    body = jt808.decode(jt808.encode(Packet(Header(0x0200, "013912345678", 1, V2013), rep)), derived).body
    row = location_row("013912345678", body, 0x0200, 1, NOW, 8, False, V2013, derived)
    assert row.extras_json == '{"mileage":5,"rssi":20}' and row.extras == {"mileage": 5, "rssi": 20}
    for extras in ([(0x01, 5), (0x30, 20), (0x31, True)], [(0x01, "x")], [(0x01, 5), (0x01, 6)],
                   [(0xE1, b"\x01")]):
        rep.extras = extras
        row = location_row("013912345678", rep, 0x0200, 1, NOW)
        assert row.extras_json is None and row.extras == general_json(rep, V2013, DEFAULT_PROFILE)["extra"]
    # bit maps (signal, analog) rendered once per distinct word, their text too; each row has its own map
    rep.extras = [(0x01, 5), (0x25, 3), (0x2B, 0x00010002)]
    first = location_row("013912345678", rep, 0x0200, 1, NOW)
    again = location_row("013912345678", rep, 0x0200, 2, NOW)
    want = general_json(rep, V2013, DEFAULT_PROFILE)["extra"]
    assert first.extras == again.extras == want and first.extras_json == again.extras_json == dumps_or_none(want)
    first.extras["signal"]["low_beam"] = "changed"
    assert again.extras["signal"] == want["signal"] and first.extras["signal"] is not again.extras["signal"]


def test_one_layout_is_remembered_per_body_length() -> None:
    """The item layout remembered for a body length: read by it while it lasts; another layout of the same
    length is read by the item plans (the remembered one gives way after 256 of them); a layout with an item
    its row decodes (a map) is remembered as such and read by the plans; bodies with a problem teach nothing."""
    tbl = extras_table(DEFAULT_PROFILE, V2013)

    def body(extras: list[tuple[int, Any]]) -> bytes:
        return body_of(LocationReport(1, 2, 3, 4, 5, 6, 7, "240311120000", extras), V2013, DEFAULT_PROFILE)

    a = body([(0x01, 5), (0x30, 20), (0xE5, b"\x01\x02")])
    b = body([(0x30, 20), (0x01, 5), (0xE5, b"\x01\x02")])  # same length, another order
    assert len(a) == len(b)
    got = LocationReport.fast_decode(a, DEFAULT_PROFILE, V2013)
    lay = tbl.layouts[len(a)]
    assert got is not None and got.extras == [(0x01, 5), (0x30, 20), (0xE5, b"\x01\x02")] and lay.unpack is not None
    for data in (a, b) * 3:
        assert LocationReport.fast_decode(data, DEFAULT_PROFILE, V2013) == LocationReport.decode(
            Reader(data, V2013, DEFAULT_PROFILE, 0x0200))
    assert tbl.layouts[len(a)] is lay and lay.misses == 3
    for _ in range(253):
        LocationReport.fast_decode(b, DEFAULT_PROFILE, V2013)
    assert tbl.layouts[len(a)] is not lay and tbl.layouts[len(a)].want == (0x30, 1, 0x01, 4, 0xE5, 2)
    m = body([(0x01, 5), (0x11, {"type": 0})])  # 0x11 is read by its row: not one Struct
    assert len(m) not in tbl.layouts
    for _ in range(2):
        assert LocationReport.fast_decode(m, DEFAULT_PROFILE, V2013) == LocationReport.decode(
            Reader(m, V2013, DEFAULT_PROFILE, 0x0200))
        assert tbl.layouts[len(m)].unpack is None
    bad = body([(0x01, 5)])[:-1] + b"\x30\x00"  # 0x30 of no length: kept raw, noted
    assert LocationReport.fast_decode(bad, DEFAULT_PROFILE, V2013) is None and len(bad) not in tbl.layouts


def test_which_layouts_give_values() -> None:
    """Values only for a remembered layout of plain integers under keys of their own, whose id and length bytes
    match: not for an unseen length, a rendered item (a bit map), an item without a row (bytes), a key twice,
    another layout of the same length, nor a body the layout was not learned from."""
    def body(extras: list[tuple[int, Any]]) -> bytes:
        return body_of(LocationReport(1, 2, 3, 4, 5, 6, 7, "240311120000", extras), V2013, DEFAULT_PROFILE)

    plain = body([(0x01, 5), (0x30, 20), (0x31, 7)])
    assert read_layout_values(plain, DEFAULT_PROFILE, V2013) is None  # nothing remembered yet
    LocationReport.fast_decode(plain, DEFAULT_PROFILE, V2013)
    lv = read_layout_values(plain, DEFAULT_PROFILE, V2013)
    assert lv is not None and lv.extra() == ({"mileage": 5, "rssi": 20, "gnss_sat_num": 7},
                                             '{"mileage":5,"rssi":20,"gnss_sat_num":7}')
    other = body([(0x30, 20), (0x01, 5), (0x31, 7)])  # same length, another order
    assert len(other) == len(plain) and read_layout_values(other, DEFAULT_PROFILE, V2013) is None
    for extras in ([(0x01, 5), (0x25, 3)], [(0x01, 5), (0xE5, b"\x01")], [(0x01, 5), (0x01, 6)]):
        data = body(extras)
        LocationReport.fast_decode(data, DEFAULT_PROFILE, V2013)
        assert read_layout_values(data, DEFAULT_PROFILE, V2013) is None, extras
    # a derived profile's table learns its own layouts
    derived = DEFAULT_PROFILE.derive("values", default_version=V2011)
    assert read_layout_values(plain, derived, V2013) is None
    LocationReport.fast_decode(plain, derived, V2013)
    assert read_layout_values(plain, derived, V2013) is not None


def test_vendor_item_layouts_take_the_reader() -> None:
    vendor = Profile("vendor", extra_id_size=2, extra_len_size=2)
    rep = LocationReport(0, 3, 1, 2, 3, 4, 5, "240311120000", [(0x0101, b"\x05"), (0x30, b"\x14")])
    f = jt808.encode(Packet(Header(0x0200, "013912345678", 1, V2013), rep), profile=vendor)
    assert LocationReport.fast_decode(jt808.decode(f, vendor).raw_body or b"", vendor, V2013) is None
    assert jt808.decode(f, vendor).body == rep


def test_values_the_renderers_refuse_get_the_general_error() -> None:
    """Hand-built values a renderer refuses (also in a repeated id, which the general rendering encodes):
    ``location_to_json`` raises what the general rendering raises."""
    for extras in ([(0x25, 1 << 40)], [(0x25, 3), (0x25, -1)], [(0x01, 5), (0x2B, "x")], [(0x11, 7)]):
        rep = LocationReport(0, 3, 1, 2, 3, 4, 5, "240311120000", extras)
        errors = []
        for render in (location_to_json, general_json):
            try:
                render(rep, V2013, DEFAULT_PROFILE)
            except Exception as e:
                errors.append((type(e), str(e)))
        assert len(errors) == 2 and errors[0] == errors[1], extras
