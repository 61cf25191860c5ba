"""Reassembly bounds against hostile fragments: lazy missing lists, a budget shared by many reassemblers,
resend requests split so that each one fits its message (docs/security.md)."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

import jt808
from jt808 import V2013, V2019, Header, Packet, RawBody, Reassembler
from jt808.errors import ReassemblyError
from jt808.protocol.messages.general import ResendRequest
from jt808.protocol.messages.media import MediaDataReply
from jt808.protocol.packet import encode_body
from jt808.protocol.subpackage import Incomplete, Missing, ReassemblyBudget

PHONE = "013912345678"
PHONE19 = "00000000013912345678"


def fragment(total: int, index: int, msg_id: int = 0x0900, sn: int = 1, version: jt808.Version = V2013,
             data: bytes = b"\x01\x02\x03\x04") -> Packet:
    phone = PHONE19 if version is V2019 else PHONE
    h = Header(msg_id, phone, sn, version, frag_total=total, frag_sn=index)
    return Packet(h, RawBody(data, "fragment"), data)


@given(st.integers(1, 300), st.sets(st.integers(-3, 310), max_size=40))
def test_missing_equals_the_list_it_stands_for(total: int, present: set[int]) -> None:
    expected = [k for k in range(1, total + 1) if k not in present]
    m = Missing(total, present)
    assert m == expected and list(m) == expected and len(m) == len(expected)
    assert m[:7] == expected[:7] and m[3:9] == expected[3:9]
    if expected:
        assert m[0] == expected[0] and m[-1] == expected[-1]


def test_sets_announcing_65535_fragments_cost_what_they_hold() -> None:
    r = Reassembler(timeout=1, retries=0, max_sets=8)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for k in range(300):  # every new set evicts an older one: its report must not list 65,534 numbers
            r.add(fragment(65535 - k, 1 + k, sn=k), 0.0)
        reports = r.expire(5.0)
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert len(reports) == 300 and all(x.dropped for x in reports)
    assert used < 2 << 20, f"{used} bytes for 300 reports"
    assert len(reports[0].missing) == 65534 and reports[0].missing[:3] == [2, 3, 4]


def test_budget_shared_by_reassemblers_bounds_sets_and_bytes() -> None:
    budget = ReassemblyBudget(max_sets=3, max_bytes=100)
    a, b = Reassembler(budget=budget), Reassembler(budget=budget)
    a.add(fragment(5, 1, msg_id=0x0901), 0.0)
    a.add(fragment(5, 1, msg_id=0x0902), 0.0)
    b.add(fragment(5, 1, msg_id=0x0903), 0.0)
    assert (budget.sets, budget.bytes) == (3, 12)
    with pytest.raises(ReassemblyError, match="3 fragment sets open in all"):
        b.add(fragment(5, 1, msg_id=0x0904), 0.0)
    b.add(fragment(5, 2, msg_id=0x0903, data=b"x" * 80), 0.0)  # an open set may grow …
    with pytest.raises(ReassemblyError, match="100 bytes"):
        b.add(fragment(5, 3, msg_id=0x0903, data=b"x" * 20), 0.0)  # … up to the byte budget
    assert budget.refused == 2
    a.clear()  # a connection goes away: its share comes back
    assert (budget.sets, budget.bytes) == (1, 84)
    b.add(fragment(5, 1, msg_id=0x0904), 0.0)
    for k in (3, 4, 5):
        b.add(fragment(5, k, msg_id=0x0903), 0.0)
    assert (budget.sets, budget.bytes) == (1, 4)  # the completed message gave its bytes back


@pytest.mark.parametrize(("version", "per_request"), [(V2013, 255), (V2019, 509)])
def test_resend_requests_split_to_fit(version: jt808.Version, per_request: int) -> None:
    missing = list(range(2, 1201))
    inc = Incomplete((PHONE, 0x0900, 1200), 7, True, Missing(1200, [1]), 1, version)
    reqs = inc.resend_requests(max_requests=10)
    assert [len(q.ids) for q in reqs][:-1] == [per_request] * (len(reqs) - 1)
    assert [i for q in reqs for i in q.ids] == missing and all(q.seq == 7 for q in reqs)
    for q in reqs:  # every one encodes within the 1023-byte body
        assert len(encode_body(q, version)) <= 1023
    assert inc.resend_requests(max_requests=2) == reqs[:2]
    assert inc.reply() == reqs[0] and isinstance(reqs[0], ResendRequest)


def test_media_replies_split_at_255() -> None:
    inc = Incomplete((PHONE, 0x0801, 600), 7, True, Missing(600, [1]), 1, V2013, media_id=9)
    replies = inc.replies(4)
    assert [len(r.retx_ids) for r in replies] == [255, 255, 89]
    assert all(isinstance(r, MediaDataReply) and r.mm_id == 9 for r in replies)
    assert [i for r in replies for i in r.retx_ids] == list(range(2, 601))


def test_session_asks_for_more_than_510_fragments_in_several_2019_requests() -> None:
    from jt808.protocol.messages.register import TerminalAuth
    from jt808.session import PlatformSession

    s = PlatformSession(fragment_timeout=1.0, resend_frames=4)
    [ev] = s.receive_data(jt808.encode(Packet(Header(0x0102, PHONE19, 0, V2019),
                                              TerminalAuth(code="c", imei="1" * 15, software_version="1"))), 0.0)
    s.accept_auth(ev)
    s.data_to_send()
    s.receive_data(jt808.encode(Packet(fragment(1200, 1, sn=40, version=V2019).header, RawBody(b"ab", "fragment"))),
                   0.5)
    assert jt808.decode(s.data_to_send()).header.msg_id == 0x8001
    s.handle_timer(2.0)
    out = s.data_to_send()
    asks = [jt808.decode(f) for f in jt808.protocol.framing.FrameSplitter().feed(out)]
    assert [a.header.msg_id for a in asks] == [0x8003] * 3
    assert [i for a in asks for i in a.body.ids] == list(range(2, 1201)) and {a.body.seq for a in asks} == {40}
