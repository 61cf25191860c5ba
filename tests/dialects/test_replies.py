"""Replies declared on the messages (issue 12 item 4) and the session's hand-packed 0x8001 pinned to the
encoder (issue 12 item 8)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import jt808
from jt808 import V2013, Header, Packet
from jt808.client.jt_message import GENERAL_ANSWER_MSG_ID
from jt808.gateway.downlink import NO_REPLY, NOSEQ_REPLIES, SEQ_REPLIES
from jt808.protocol.messages.general import PlatformGeneralReply
from jt808.protocol.messages.params import ParametersReply
from jt808.protocol.replies import answers, general_answered, quoted_serial, reply_ids
from jt808.session.platform import NO_GENERAL_REPLY, REPLY_IDS, PlatformSession

SEQS = (0, 1, 0x7D, 0x7E, 0x7D7E, 0x7E7D, 0x7E7E, 0x7D7D, 0x017E, 0xFFFF)
IDS = (0x0002, 0x0200, 0x0704, 0x7E7D, 0x7D02)


def _session(phone: str) -> PlatformSession:
    s = PlatformSession()
    s.phone = phone
    s._set_phone_raw(bytes.fromhex(phone))
    return s


def test_hand_packed_ack_equals_the_encoder_for_every_platform_serial() -> None:
    """Every platform serial 0..0xFFFF, terminal serials and ids with 0x7D/0x7E bytes: the session's
    one-pack 0x8001 is byte for byte what jt808.encode makes of PlatformGeneralReply, and decodes
    strictly (dropping `sn >> 8` from its XOR, or escaping only 0x7E, fails here)."""
    s = _session("013912345678")
    for sn in range(0x10000):
        seq, mid, result = SEQS[sn % len(SEQS)], IDS[(sn // 7) % len(IDS)], sn % 5
        s._sn = sn
        fast = s._ack13(seq, mid, result)
        ref = jt808.encode(Packet(Header(0x8001, "013912345678", sn, V2013), PlatformGeneralReply(seq, mid, result)))
        assert fast == ref, (sn, seq, mid, result)
    back = jt808.decode(ref)
    assert back.body == PlatformGeneralReply(seq, mid, result) and back.header.msg_sn == 0xFFFF


@settings(max_examples=400, deadline=None)
@given(phone=st.text("0123456789abcdef", min_size=12, max_size=12), sn=st.integers(0, 0xFFFF),
       seq=st.integers(0, 0xFFFF), mid=st.integers(0, 0xFFFF), result=st.integers(0, 255))
def test_hand_packed_ack_property(phone: str, sn: int, seq: int, mid: int, result: int) -> None:
    s = _session(phone)
    s._sn = sn
    fast = s._ack13(seq, mid, result)
    assert fast == jt808.encode(Packet(Header(0x8001, phone, sn, V2013), PlatformGeneralReply(seq, mid, result)))
    p = jt808.decode(fast)
    assert (p.body.seq, p.body.id, p.body.result, p.header.msg_sn) == (seq, mid, result, sn)


def test_reply_rules_read_from_the_declarations() -> None:
    # PROTOCOL.md §3.1 "answered by", as the standard has it
    assert REPLY_IDS == {0x8104: (0x0104,), 0x8106: (0x0104,), 0x8107: (0x0107,), 0x8201: (0x0201,),
                         0x8302: (0x0302,), 0x8500: (0x0500,), 0x8608: (0x0608,), 0x8700: (0x0700,),
                         0x8702: (0x0702,), 0x8801: (0x0805, 0x0001), 0x8802: (0x0802,),
                         0x8A00: (0x0001, 0x0A00), 0x9003: (0x1003,), 0x9205: (0x1205,),
                         0x9201: (0x1205, 0x0001)}  # JT/T 1078: a playback request is answered by the list
    # SuBiao: 0x1212 is answered by 0x9212 (on the attachment connection), which nobody answers
    assert {0x0001, 0x0100, 0x0102, 0x0003, 0x0004, 0x0801, 0x0005, 0x1212} == NO_GENERAL_REPLY
    assert {0x0104, 0x0201, 0x0302, 0x0500, 0x0700, 0x0802, 0x0805, 0x1205} == SEQ_REPLIES
    assert {0x0107, 0x0702, 0x0608, 0x0A00, 0x1003} == NOSEQ_REPLIES
    assert {0x8001, 0x8003, 0x8004, 0x8100, 0x8800, 0x9212} == NO_REPLY
    assert answers(0x0200) == (0x8001,) and answers(0x8103) == (0x0001,) and answers(0x0001) == ()
    assert answers(0x0100) == (0x8100,) and answers(0x0801) == (0x8800,) and answers(0x0004) == (0x8004,)
    assert answers(0x7FFF) == (0x8001,) and answers(0xFFFF) == (0x0001,)  # unknown ids: the general reply
    assert reply_ids()[0x8001] == "seq" and reply_ids()[0x0107] == ""
    assert quoted_serial(ParametersReply(seq=77, params=[])) == 77
    assert quoted_serial(PlatformGeneralReply(9, 2, 0)) == 9
    # seed 001 section 4: the ids the QuecPython client answers with general_answer
    assert set(GENERAL_ANSWER_MSG_ID) == {
        0x8103, 0x8105, 0x8108, 0x8202, 0x8203, 0x8204, 0x8300, 0x8301, 0x8303, 0x8304, 0x8400, 0x8401,
        0x8600, 0x8601, 0x8602, 0x8603, 0x8604, 0x8605, 0x8606, 0x8607, 0x8701, 0x8803, 0x8804, 0x8805,
        0x8900, 0x8A00}
    assert set(GENERAL_ANSWER_MSG_ID) <= set(general_answered())
