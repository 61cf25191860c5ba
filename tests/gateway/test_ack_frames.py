"""The platform session packs its 2011/2013 0x8001 acknowledgements by hand (one Struct, a precomputed
check code, escaping only when needed). Every such frame must be exactly what the general encoder gives for
the same message, and decode strictly: checked for every platform serial 0-0xFFFF, and for terminal serials,
message ids and phones whose bytes need escaping (0x7D, 0x7E) or make the check code 0x7D/0x7E."""

from __future__ import annotations

import jt808
from jt808 import V2013, Header, Packet
from jt808.protocol.framing import FrameSplitter
from jt808.protocol.messages.general import PlatformGeneralReply
from jt808.session.platform import PlatformSession

PHONE = "013912345678"


def session(phone: str = PHONE) -> PlatformSession:
    s = PlatformSession(anonymous=True)
    hb = jt808.encode(Packet(Header(0x0002, phone, 0, V2013), jt808.protocol.messages.general.HeartBeat()))
    s.receive_data(hb, 0.0)  # binds the phone (anonymous: authenticated at once) and acks the heartbeat
    s.data_to_send()
    return s


def acks(s: PlatformSession, quoted: list[tuple[int, int]], result: int = 0) -> list[bytes]:
    s.ack_many([Header(mid, s.phone, seq, V2013) for seq, mid in quoted], result)
    return FrameSplitter().feed(s.data_to_send())


def check(frame: bytes, sn: int, seq: int, mid: int, result: int, phone: str = PHONE) -> None:
    p = jt808.decode(frame, strict=True)
    assert not p.problems
    assert (p.header.msg_id, p.header.msg_sn, p.header.phone, p.header.version) == (0x8001, sn, phone, V2013)
    assert p.body == PlatformGeneralReply(seq, mid, result)
    want = jt808.encode(Packet(Header(0x8001, phone, sn, V2013), PlatformGeneralReply(seq, mid, result)))
    assert frame == want


def test_every_platform_serial() -> None:
    s = session()
    first = s.next_serial() + 1  # the serial the next ack takes
    frames = acks(s, [(0x1234, 0x0200)] * 0x10000)
    assert len(frames) == 0x10000
    for i, f in enumerate(frames):
        check(f, (first + i) & 0xFFFF, 0x1234, 0x0200, 0)


ESCAPED = [0x007D, 0x007E, 0x7D00, 0x7E00, 0x7D7E, 0x7E7D, 0x7E7E, 0x7D7D, 0x017E, 0x7E01, 0xFF7D, 0x0000, 0xFFFF]


def test_terminal_serials_and_ids_that_need_escaping() -> None:
    s = session()
    quoted = [(seq, mid) for seq in ESCAPED for mid in (0x0200, 0x0102, 0x7E7D, 0x007E)]
    for result in (0, 1, 2, 0x7E, 0x7D):
        first = s.next_serial() + 1
        frames = acks(s, quoted, result)
        for i, (f, (seq, mid)) in enumerate(zip(frames, quoted, strict=True)):
            check(f, (first + i) & 0xFFFF, seq, mid, result)


def test_phones_that_make_escapes() -> None:
    # the check code folds the phone in: some phones make it 0x7D / 0x7E for some serials
    for phone in ("000000000000", "013912345678", "999999999999", "017070010101"):
        s = session(phone)
        first = s.next_serial() + 1
        frames = acks(s, [(seq, 0x0200) for seq in range(0, 0x200)])
        for i, f in enumerate(frames):
            check(f, (first + i) & 0xFFFF, i, 0x0200, 0, phone)
