"""The sans-I/O terminal session, wired back to back with the platform session (no sockets)."""

from __future__ import annotations

import pytest

from jt808.client.jt_message import GENERAL_ANSWER_MSG_ID
from jt808.errors import SessionError
from jt808.protocol import V2013, V2019, Header, Packet, decode, encode
from jt808.protocol.messages.general import (
    HeartBeat,
    PlatformGeneralReply,
    QueryServerTime,
    ResendRequest,
    ServerTimeReply,
    TerminalResendRequest,
)
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.media import MediaData, MediaDataReply
from jt808.protocol.messages.text import TextMessage
from jt808.protocol.subpackage import encode_many
from jt808.session.events import AuthRequested, FrameRejected, MessageReceived, RegisterRequested
from jt808.session.platform import PlatformSession
from jt808.session.terminal import (
    DownlinkReceived,
    FragmentsRequested,
    ReassemblyFailed,
    ReplyReceived,
    TerminalSession,
)

PHONE = "13912345678"


def frames(data: bytes) -> list[Packet]:
    out = []
    for piece in data.split(b"\x7e"):
        if piece:
            out.append(decode(b"\x7e" + piece + b"\x7e"))
    return out


def login(version) -> tuple[TerminalSession, PlatformSession]:
    from jt808.protocol.messages.register import TerminalAuth

    t = TerminalSession(PHONE, version)
    p = PlatformSession()
    t.send(TerminalAuth(code="abc", imei="1" * 15, software_version="1") if version is V2019 else TerminalAuth("abc"),
           expect_reply=True)
    (ev,) = p.receive_data(t.data_to_send(), 0.0)
    assert isinstance(ev, AuthRequested)
    p.accept_auth(ev)
    (reply,) = [e for e in t.receive_data(p.data_to_send(), 0.0)]
    assert isinstance(reply, ReplyReceived) and reply.request_id == 0x0102
    return t, p


def long_report(n: int = 3000) -> LocationReport:
    return LocationReport(latitude=31824845, longitude=117240910, time="220617082544",
                          extras=[(0xE1, bytes(range(200)))] * (n // 202))


def test_serials_wrap_at_65535() -> None:
    t = TerminalSession(PHONE)
    t._sn = 0xFFFE
    assert [t.send(HeartBeat())[0] for _ in range(3)] == [0xFFFE, 0xFFFF, 0]
    assert [p.header.msg_sn for p in frames(t.data_to_send())] == [0xFFFE, 0xFFFF, 0]


def test_phone_is_validated_and_padded() -> None:
    assert TerminalSession("123", V2019).phone == "00000000000000000123"
    with pytest.raises(SessionError):
        TerminalSession("1" * 13, V2013)
    with pytest.raises(SessionError):
        TerminalSession("12ab")


@pytest.mark.parametrize("version", [V2013, V2019])
def test_long_uplink_is_split_reassembled_and_answered_once(version) -> None:
    t, p = login(version)
    body = long_report()
    serials = t.send(body, expect_reply=True)
    out = t.data_to_send()
    parts = frames(out)
    assert len(parts) == len(serials) == 3
    assert [x.header.frag_sn for x in parts] == [1, 2, 3]
    assert {x.header.frag_total for x in parts} == {3}
    assert [x.header.msg_sn for x in parts] == serials == list(range(serials[0], serials[0] + 3))
    events = p.receive_data(out, 1.0)
    (msg,) = [e for e in events if isinstance(e, MessageReceived)]
    assert msg.packet.body == body
    replies = t.receive_data(p.data_to_send(), 1.0)
    finals = [e for e in replies if isinstance(e, ReplyReceived) and e.final and e.request_id == 0x0200]
    assert len(finals) == 1 and finals[0].request_sn == serials[0]
    assert t.pending == 0


def test_platform_resend_request_gets_exactly_the_named_fragments() -> None:
    t = TerminalSession(PHONE, V2019)
    serials = t.send(long_report(5000))
    original = frames(t.data_to_send())
    assert len(original) == 5
    ask = encode(Packet(Header(0x8003, t.phone, 9, V2019), ResendRequest(serials[0], [2, 5])))
    (ev,) = t.receive_data(ask, 0.0)
    assert isinstance(ev, FragmentsRequested) and ev.resent == [2, 5] and ev.unknown == []
    again = frames(t.data_to_send())
    assert [(x.header.frag_sn, x.header.msg_sn) for x in again] == [(2, serials[1]), (5, serials[4])]
    unknown = encode(Packet(Header(0x8003, t.phone, 10, V2019), ResendRequest(4242, [1])))
    (ev,) = t.receive_data(unknown, 0.0)
    assert ev.resent == [] and ev.unknown == [1]


def _split_downlink(version, text_len: int = 2500, sn: int = 100) -> list[bytes]:
    phone = PHONE.rjust(20 if version is V2019 else 12, "0")
    packet = Packet(Header(0x8300, phone, sn, version), TextMessage(flag=0x0C, text="字" * (text_len // 2)))
    return encode_many(packet, max_body=512)


@pytest.mark.parametrize("version", [V2013, V2019])
def test_split_downlink_reassembled_in_any_order_and_auto_answered(version) -> None:
    t = TerminalSession(PHONE, version, auto_answer=GENERAL_ANSWER_MSG_ID)
    parts = _split_downlink(version)
    assert len(parts) == 5
    events = []
    for i in (3, 0, 4, 1, 1, 2):  # out of order, one duplicate
        events += t.receive_data(parts[i], 0.0)
    (ev,) = [e for e in events if isinstance(e, DownlinkReceived)]
    assert ev.answered and ev.packet.body.text == "字" * 1250
    (ack,) = frames(t.data_to_send())
    assert ack.header.msg_id == 0x0001
    assert (ack.body.seq, ack.body.id, ack.body.result) == (100, 0x8300, 0)


def test_missing_downlink_fragments_are_all_named_in_0x0005() -> None:
    t = TerminalSession(PHONE, V2019, reassembly_timeout=5)
    parts = _split_downlink(V2019, sn=200)
    for i in (0, 2):  # fragments 1 and 3 of 5: 2, 4 and the last one (5) are missing
        assert t.receive_data(parts[i], 10.0) == []
    assert t.get_timer() == pytest.approx(15.0)
    assert t.handle_timer(12.0) == []
    (ev,) = t.handle_timer(16.0)
    assert isinstance(ev, ReassemblyFailed) and ev.requested and ev.missing == [2, 4, 5] and ev.seq == 200
    (req,) = frames(t.data_to_send())
    assert req.header.msg_id == 0x0005
    assert isinstance(req.body, TerminalResendRequest)
    assert (req.body.seq, req.body.ids) == (200, [2, 4, 5])
    # the platform re-sends them: the message completes
    events = []
    for i in (1, 3, 4):
        events += t.receive_data(parts[i], 17.0)
    assert [type(e) for e in events] == [DownlinkReceived]


def test_2013_has_no_terminal_resend_request() -> None:
    t = TerminalSession(PHONE, V2013, reassembly_timeout=1)
    t.receive_data(_split_downlink(V2013)[0], 0.0)
    (ev,) = t.handle_timer(2.0)
    assert isinstance(ev, ReassemblyFailed) and not ev.requested and ev.missing == [2, 3, 4, 5]
    assert t.data_to_send() == b""


def test_server_time_and_media_replies_are_matched() -> None:
    t = TerminalSession(PHONE, V2019)
    (sn,) = t.send(QueryServerTime(), expect_reply=True)
    t.data_to_send()
    reply = encode(Packet(Header(0x8004, t.phone, 5, V2019), ServerTimeReply("261123120000")))
    (ev,) = t.receive_data(reply, 0.0)
    assert (ev.request_sn, ev.request_id, ev.final) == (sn, 0x0004, True)
    media = MediaData(id=7, type=0, format=0, event=0, channel=1, multimedia=bytes(3000))
    serials = t.send(media, expect_reply=True)
    t.data_to_send()
    # per-fragment 0x8001s do not close a media upload; 0x8800 naming missing fragments does not either
    ack = encode(Packet(Header(0x8001, t.phone, 6, V2019), PlatformGeneralReply(serials[-1], 0x0801, 0)))
    (ev,) = t.receive_data(ack, 0.0)
    assert ev.request_sn == serials[0] and not ev.final
    missing = encode(Packet(Header(0x8800, t.phone, 7, V2019), MediaDataReply(7, [2])))
    (ev,) = t.receive_data(missing, 0.0)
    assert not ev.final and t.pending == 1
    done = encode(Packet(Header(0x8800, t.phone, 8, V2019), MediaDataReply(7, [])))
    (ev,) = t.receive_data(done, 0.0)
    assert ev.final and ev.request_id == 0x0801 and t.pending == 0


def test_a_bad_frame_is_an_event_and_the_session_goes_on() -> None:
    t = TerminalSession(PHONE)
    (sn,) = t.send(HeartBeat(), expect_reply=True)
    good = encode(Packet(Header(0x8001, t.phone, 1), PlatformGeneralReply(sn, 2, 0)))
    bad = bytearray(good)
    bad[-2] ^= 0xFF  # check code
    events = t.receive_data(bytes(bad) + good, 0.0)
    assert [type(e) for e in events] == [FrameRejected, ReplyReceived]


def test_register_flow_against_platform_session() -> None:
    from jt808.protocol.messages.register import TerminalRegister

    t = TerminalSession(PHONE, V2019)
    p = PlatformSession()
    (sn,) = t.send(TerminalRegister(34, 100, "QUEC", "EC200U", "T1", 1, "皖A88888"), expect_reply=True)
    (ev,) = p.receive_data(t.data_to_send(), 0.0)
    assert isinstance(ev, RegisterRequested)
    p.accept_register(ev, "code-1")
    (reply,) = t.receive_data(p.data_to_send(), 0.0)
    assert reply.request_sn == sn and reply.packet.body.auth_code == "code-1"


def test_rsa_encrypted_uplink_decrypts_on_the_platform() -> None:
    from jt808.protocol.crypto import generate_private_key
    from jt808.protocol.registry import DEFAULT_PROFILE

    key = generate_private_key()
    t, _ = login(V2019)
    platform_profile = DEFAULT_PROFILE.derive("rsa-platform")
    platform_profile.rsa_private_key = key
    t.set_platform_key(key.public_key())
    body = LocationReport(latitude=1, longitude=2, time="220617082544", extras=[(0x01, 5)])
    t.send(body)
    t.send(HeartBeat())  # not encryptable: stays plain
    loc, hb = frames(t.data_to_send())
    assert loc.header.encrypt == 1 and hb.header.encrypt == 0
    t.send(body)
    raw = t.data_to_send()
    assert decode(raw, platform_profile).body == body
