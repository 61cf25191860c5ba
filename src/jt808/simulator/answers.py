"""What a simulated terminal answers to a platform message: the reply a real terminal sends.

Which reply answers which message is read from the message classes' declarations
(:func:`jt808.protocol.replies.answers`: 0x0201 for 0x8201, 0x0104 for 0x8104 / 0x8106, 0x0107 for
0x8107, 0x0500 for 0x8500, 0x0302 for 0x8302, 0x0805 for 0x8801 …, the 0x0001 general reply where the
standard says so); this module only knows what to put in each reply, from the terminal's state.
A platform message the terminal cannot decode is answered 0x0001 result 2, an unknown one result 3.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jt808.protocol.header import Version
from jt808.protocol.messages.area import AreasQueryReply
from jt808.protocol.messages.general import TerminalGeneralReply
from jt808.protocol.messages.location import LocationReport, time_bcd
from jt808.protocol.messages.media import SearchMediaReply, TakePhotoReply
from jt808.protocol.messages.params import AttributesReply, ParametersReply, make_params
from jt808.protocol.messages.records import DriverIdentity, TachographUpload
from jt808.protocol.messages.text import QuestionAnswer
from jt808.protocol.messages.tracking import LocationQueryReply, VehicleControlReply
from jt808.protocol.packet import Packet, RawBody, encode_body
from jt808.protocol.replies import answers
from jt808.protocol.spec import Body

if TYPE_CHECKING:
    from jt808.simulator.fleet import VirtualTerminal

__all__ = ["answer", "default_params"]

def default_params(heartbeat: float) -> dict[int, Any]:
    """The parameters a simulated terminal starts with (0x8103 changes them, 0x8104 / 0x8106 read them)."""
    return {0x0001: int(heartbeat) or 30, 0x0002: 10, 0x0003: 3, 0x0013: "127.0.0.1", 0x0018: 6808,
            0x0020: 0, 0x0027: 60, 0x0029: 30, 0x0055: 120, 0x0056: 10, 0x0080: 0}


def _now() -> str:
    return time_bcd(datetime.now(UTC))


def _loc(t: VirtualTerminal) -> LocationReport:
    return t.location_report()


def _params(t: VirtualTerminal, p: Packet) -> Body:
    ids = getattr(p.body, "ids", None)  # 0x8106 asks for some, 0x8104 for all
    values: dict[int | str, Any] = {i: t.params[i] for i in (ids or t.params) if i in t.params}
    return ParametersReply(seq=p.header.msg_sn, params=make_params(values))


def _attributes(t: VirtualTerminal, p: Packet) -> Body:
    return AttributesReply(type=0b111, manufacturer="JT808", model="SIM-1", id=f"S{t.index:06d}",
                           iccid=f"8986{t.index:016d}", hardware_version="1.0", firmware_version="sim-1.0",
                           gnss_prop=0b11, comm_prop=0b1)


def _question(t: VirtualTerminal, p: Packet) -> Body:
    choices = getattr(p.body, "answers", None) or []
    return QuestionAnswer(seq=p.header.msg_sn, id=choices[0].id if choices else 0)


def _photo(t: VirtualTerminal, p: Packet) -> Body:
    t.media_ids += 1
    return TakePhotoReply(seq=p.header.msg_sn, result=0, ids=[t.media_ids])


#: reply id -> how the terminal fills it in (the request packet in hand)
BUILDERS: dict[int, Callable[[Any, Packet], Body]] = {
    0x0201: lambda t, p: LocationQueryReply(seq=p.header.msg_sn, location=_loc(t)),
    0x0104: _params,
    0x0107: _attributes,
    0x0500: lambda t, p: VehicleControlReply(seq=p.header.msg_sn, location=_loc(t)),
    0x0302: _question,
    0x0805: _photo,
    0x0802: lambda t, p: SearchMediaReply(seq=p.header.msg_sn, result=[]),
    0x0700: lambda t, p: TachographUpload(seq=p.header.msg_sn, command=getattr(p.body, "command", 0), data=b""),
    0x0702: lambda t, p: DriverIdentity(status=2, time=_now()),
    0x0608: lambda t, p: AreasQueryReply(type=getattr(p.body, "type", 1), count=0, items=[]),
}


def answer(t: VirtualTerminal, packet: Packet, version: Version, error: bool = False) -> list[tuple[int, bytes]]:
    """The frames' ``(msg_id, body)`` a real terminal sends back for ``packet`` (none for a reply)."""
    h = packet.header
    ids = answers(h.msg_id)
    if not ids:
        return []
    rid = ids[0]
    build = BUILDERS.get(rid)
    if error or type(packet.body) is RawBody or build is None:
        result = 2 if error else 3 if type(packet.body) is RawBody and packet.body.reason == "unknown" else 0
        if h.msg_id == 0x8103 and result == 0:
            t.params.update({p.id: p.value for p in getattr(packet.body, "params", [])})
        return [(0x0001, encode_body(TerminalGeneralReply(h.msg_sn, h.msg_id, result), version))]
    return [(rid, encode_body(build(t, packet), version))]
