"""The sans-I/O PlatformSession alone: bytes in, events and queued answers out (no sockets, no clock)."""

from __future__ import annotations

import pytest

import jt808
from jt808 import V2013, V2019, Header, Packet
from jt808.errors import BadCheckCode, EncodeError
from jt808.protocol.messages.general import HeartBeat, QueryServerTime
from jt808.protocol.messages.register import TerminalAuth, TerminalRegister
from jt808.protocol.messages.text import TextMessage
from jt808.protocol.subpackage import split
from jt808.session import (
    Authenticated,
    AuthRequested,
    FragmentsMissing,
    FrameRejected,
    IdleTimeout,
    LoggedOut,
    MessageReceived,
    MessageRefused,
    PlatformSession,
    ReassemblyAbandoned,
    RegisterRequested,
)

from .helpers import location

PHONE = "013912345678"
# seed 002 frames
S002_HEARTBEAT = bytes.fromhex("7e000200000857502162890001c67e")
S002_REPLY = bytes.fromhex("7e8001000508575021628900010001000200437e")
S002_REGISTER = bytes.fromhex("7e0100002e0188554850150025002c0133373039363054372d54383038000000000000000000000000"
                              "003033323931373001e6b599413636363636557e")
S002_AUTH = bytes.fromhex("7e010200060188554850150001323835313131db7e")
S002_AUTH_REPLY = bytes.fromhex("7e8001000501885548501500010001010200567e")
S002_LOCATION = bytes.fromhex("7e020000386857502162891ac000000100000c100101d5c86a0732c2610000000000001903131538032b04"
                              "0000000030011e310100e10400000000e20804600036583a8e7a657e")
S002_LOCATION_ACK = bytes.fromhex("7e800100056857502162891ac01ac0020000ea7e")


def frame(body: object, sn: int = 0, phone: str = PHONE, version: jt808.Version = V2013, **h: object) -> bytes:
    return jt808.encode(Packet(Header(body.msg_id, phone, sn, version, **h), body))


def authed(**kw: object) -> PlatformSession:
    s = PlatformSession(**kw)
    ev = s.receive_data(frame(TerminalAuth(code="c"), 0), 0.0)
    s.accept_auth(ev[0])
    s.data_to_send()
    return s


def test_seed_002_flow_bytes() -> None:
    s = PlatformSession(now=0.0)
    [ev] = s.receive_data(S002_REGISTER, 0.0)
    assert isinstance(ev, RegisterRequested) and ev.phone == "018855485015"
    assert ev.packet.body.license_number  # decoded 0x0100
    s.accept_register(ev, "1552955987470")
    reply = jt808.decode(s.data_to_send())
    assert (reply.header.msg_id, reply.body.seq, reply.body.result, reply.body.auth_code) == (
        0x8100, 0x25, 0, "1552955987470")
    [ev] = s.receive_data(S002_AUTH, 0.0)
    assert isinstance(ev, AuthRequested) and ev.code == "285111"
    s._sn = 1  # the seed's platform serial
    s.accept_auth(ev)
    assert s.data_to_send() == S002_AUTH_REPLY  # the exact frame of seed 002
    assert s.authenticated


def test_seed_002_heartbeat_answer_is_byte_exact() -> None:
    s = PlatformSession(anonymous=True)
    s._sn = 1
    events = s.receive_data(S002_HEARTBEAT, 0.0)
    assert isinstance(events[0], Authenticated) and isinstance(events[1], MessageReceived)
    assert s.data_to_send() == S002_REPLY


def test_quiet_location_answer_equals_the_decoding_path() -> None:
    loud = PlatformSession(anonymous=True)
    quiet = PlatformSession(anonymous=True, quiet={0x0200: 28, 0x0002: 0})
    hb = frame(HeartBeat(), 1, phone="685750216289")  # the seed's location comes from this phone
    for s in (loud, quiet):
        s.receive_data(hb, 0.0)
        s.data_to_send()
    s_loud = loud.receive_data(S002_LOCATION, 0.0)
    assert quiet.receive_data(S002_LOCATION, 0.0) == []  # answered without an event
    assert isinstance(s_loud[0], MessageReceived)
    a, b = loud.data_to_send(), quiet.data_to_send()
    assert a == b
    p = jt808.decode(a)
    assert (p.body.seq, p.body.id, p.body.result) == (0x1AC0, 0x0200, 0)
    # a too-short body is still refused with "message error"
    short = jt808.encode(Packet(Header(0x0200, "685750216289", 5), jt808.RawBody(b"\x00" * 27)))
    [ev] = quiet.receive_data(short, 0.0)
    assert isinstance(ev, FrameRejected) and ev.replied
    assert jt808.decode(quiet.data_to_send()).body.result == 2


@pytest.mark.parametrize("cut", ["whole", "bytewise", "sticky"])
def test_stream_cuts_give_the_same_answers(cut: str) -> None:
    frames = [frame(location(i), 10 + i) for i in range(5)] + [frame(HeartBeat(), 20)]
    data = b"".join(frames)
    s = authed()
    events = []
    if cut == "whole":
        events += s.receive_data(data, 1.0)
    elif cut == "bytewise":
        for i in range(len(data)):
            events += s.receive_data(data[i:i + 1], 1.0)
    else:
        cut3 = sum(len(f) for f in frames[:3])
        events += s.receive_data(data[:37], 1.0)
        events += s.receive_data(data[37:cut3] + b"\x00junk", 1.0)
        events += s.receive_data(data[cut3:], 1.0)
    got = [e.packet.header.msg_sn for e in events if isinstance(e, MessageReceived)]
    assert got == [10, 11, 12, 13, 14, 20]
    out = s.data_to_send()
    acks = jt808.FrameSplitter().feed(out)
    assert [jt808.decode(a).body.seq for a in acks] == [10, 11, 12, 13, 14, 20]


def test_bad_frame_is_an_event_and_the_session_goes_on() -> None:
    s = authed()
    bad = bytearray(frame(HeartBeat(), 3))
    bad[-2] ^= 1
    events = s.receive_data(bytes(bad) + frame(HeartBeat(), 4), 1.0)
    assert isinstance(events[0], FrameRejected) and isinstance(events[0].error, BadCheckCode)
    assert events[0].raw == bytes(bad)
    assert isinstance(events[1], MessageReceived)
    # the frame with the bad check code has a plausible header: answered "message error" (issue 9.4)
    out = s.data_to_send()
    nack, ack = (jt808.decode(b"\x7e" + x + b"\x7e") for x in out[1:-1].split(b"\x7e\x7e"))
    assert (nack.body.seq, nack.body.id, nack.body.result) == (3, 0x0002, 2) and events[0].replied
    assert (ack.body.seq, ack.body.result) == (4, 0)


def test_state_table_before_authentication() -> None:
    s = PlatformSession()
    [ev] = s.receive_data(frame(location(), 1), 0.0)
    assert isinstance(ev, MessageRefused) and s.data_to_send() == b""
    s2 = PlatformSession(unauth_reply="fail")
    s2.receive_data(frame(HeartBeat(), 1), 0.0)
    assert jt808.decode(s2.data_to_send()).body.result == 1


def test_phone_is_bound_after_authentication() -> None:
    s = authed()
    [ev] = s.receive_data(frame(HeartBeat(), 1, phone="013900000000"), 1.0)
    assert isinstance(ev, FrameRejected) and "authenticated as" in str(ev.error)
    assert s.data_to_send() == b""


def test_deferred_ack_and_logout() -> None:
    s = authed(deferred_acks={0x0200})
    [ev] = s.receive_data(frame(location(), 9), 1.0)
    assert isinstance(ev, MessageReceived) and ev.deferred and s.data_to_send() == b""
    s.ack(ev.packet, 1)
    assert jt808.decode(s.data_to_send()).body.result == 1
    [ev] = s.receive_data(frame(jt808.protocol.messages.general.TerminalLogout(), 10), 1.0)
    assert isinstance(ev, LoggedOut) and not s.authenticated
    assert jt808.decode(s.data_to_send()).body.id == 0x0003


def test_register_rejections_and_never_an_empty_code() -> None:
    s = PlatformSession()
    [ev] = s.receive_data(frame(TerminalRegister(1, 2, "M", "X", "1", 1, "A")), 0.0)
    with pytest.raises(EncodeError):
        s.accept_register(ev, "")
    s.reject_register(ev, 3)
    p = jt808.decode(s.data_to_send())
    assert (p.body.result, getattr(p.body, "auth_code", "")) == (3, "")


def test_2019_replies_in_2019_and_server_time() -> None:
    phone = "00000000013912345678"
    s = PlatformSession(now=0.0, wall_offset=1_700_000_000.0)  # 2023-11-14 22:13:20 UTC
    [ev] = s.receive_data(frame(TerminalAuth(code="c", imei="1" * 15, software_version="v"), 0, phone, V2019), 0.0)
    assert ev.imei == "1" * 15
    s.accept_auth(ev)
    assert jt808.decode(s.data_to_send()).version is V2019
    s.receive_data(frame(QueryServerTime(), 1, phone, V2019), 5.0)
    p = jt808.decode(s.data_to_send())
    assert p.header.msg_id == 0x8004 and p.body.time == "231114221325"


def test_media_fragments_then_timeout_asks_then_completes() -> None:
    s = authed(fragment_timeout=2.0)
    from jt808.protocol.messages.location import LocationBasic
    from jt808.protocol.messages.media import MediaData

    data = bytes(range(256)) * 10
    body = MediaData(5, 0, 0, 0, 1, LocationBasic(), data)
    parts = [jt808.encode(p) for p in split(Packet(Header(0x0801, PHONE, 100), body), 600)]
    assert len(parts) == 5
    for i in (0, 1, 3, 4):
        assert s.receive_data(parts[i], 1.0) == []
        assert jt808.decode(s.data_to_send()).header.msg_id == 0x8001  # never 0x8800 before the end
    assert s.get_timer() == pytest.approx(3.0)
    [ev] = s.handle_timer(3.5)
    assert isinstance(ev, FragmentsMissing) and ev.missing == [3] and ev.seq == 100
    ask = jt808.decode(s.data_to_send())
    assert (ask.header.msg_id, ask.body.mm_id, ask.body.retx_ids) == (0x8800, 5, [3])
    [ev] = s.receive_data(parts[2], 4.0)
    assert isinstance(ev, MessageReceived) and ev.packet.body.multimedia == data
    assert ev.packet.header.msg_sn == 100
    done = jt808.decode(s.data_to_send())
    assert (done.header.msg_id, done.body.retx_ids) == (0x8800, [])


def test_stalled_message_is_abandoned_after_the_asks() -> None:
    s = authed(fragment_timeout=1.0, fragment_asks=1)
    from jt808.protocol.messages.tracking import BatchLocations

    parts = [jt808.encode(p) for p in split(Packet(Header(0x0704, PHONE, 7),
                                                   BatchLocations(0, [location(i) for i in range(30)])), 400)]
    s.receive_data(parts[0], 0.0)
    s.data_to_send()
    [ev] = s.handle_timer(1.5)
    ask = jt808.decode(s.data_to_send())
    assert ask.header.msg_id == 0x8003 and ask.body.seq == 7 and ask.body.ids == list(range(2, len(parts) + 1))
    [ev] = s.handle_timer(3.0)
    assert isinstance(ev, ReassemblyAbandoned)


def test_split_downlink_serials_and_idle() -> None:
    s = authed(idle_timeout=10.0)
    serials = s.send(TextMessage(flag=0, text="x" * 2500))
    frames = jt808.FrameSplitter().feed(s.data_to_send())
    assert len(frames) == len(serials) == 3
    packets = [jt808.decode(f) for f in frames]
    assert [p.header.msg_sn for p in packets] == serials == [serials[0] + i for i in range(3)]
    assert [(p.header.frag_sn, p.header.frag_total) for p in packets] == [(1, 3), (2, 3), (3, 3)]
    assert s.get_timer() == pytest.approx(10.0)
    assert s.handle_timer(5.0) == []
    [ev] = s.handle_timer(10.5)
    assert isinstance(ev, IdleTimeout)
