"""Text, events, questions, information on demand, phone: 0x8300-0x8304, 0x0301-0x0303, 0x8400, 0x8401.

0x8300 文本信息下发, 0x8301 事件设置, 0x0301 事件报告, 0x8302 提问下发, 0x0302 提问应答,
0x8303 信息点播菜单设置, 0x0303 信息点播/取消, 0x8304 信息服务, 0x8400 电话回拨, 0x8401 设置电话本.

JT/T 808-2019 deleted 0x8301-0x8304 and 0x0301-0x0303, but EMQX still handles them in every
version, so they are registered for 2011, 2013 and 2019 alike.

Seed 004 puts the byte length of each length-prefixed string next to it in the JSON (``length``,
``len``, ``phone_len``, ``name_len``). ``to_json`` writes it (the GBK byte count, the standard's
encoding); ``from_json`` accepts and ignores it: the encoder always writes the true length of the
text in the device's encoding.
"""

from __future__ import annotations

from typing import Any, ClassVar

from jt808.errors import EncodeError
from jt808.protocol.buffer import Reader, Writer
from jt808.protocol.header import V2019, Version
from jt808.protocol.jsonutil import LengthKeys as _Lengths
from jt808.protocol.spec import (
    BYTE,
    LIST,
    STR8,
    STR16,
    STR_REST,
    WORD,
    Body,
    message,
    record,
    wire,
)

__all__ = [
    "QUESTION_FLAGS",
    "TEXT_FLAGS",
    "TEXT_FLAGS_2019",
    "Answer",
    "CallBack",
    "Contact",
    "Event",
    "EventReport",
    "InfoDemand",
    "InfoMenu",
    "InfoService",
    "MenuItem",
    "Question",
    "QuestionAnswer",
    "SetEvents",
    "SetPhoneBook",
    "TextMessage",
]

#: 0x8300 flag bits in 2011/2013 (bit -> meaning).
TEXT_FLAGS: dict[int, str] = {
    0: "emergency", 2: "terminal display", 3: "terminal TTS read-out", 4: "advertising screen",
    5: "0 navigation info / 1 CAN fault-code info",
}
#: 0x8300 flag bits in 2019: bits 0-1 are a type (1 service, 2 emergency, 3 notice).
TEXT_FLAGS_2019: dict[int, str] = {
    0: "type (bits 0-1): 1 service, 2 emergency, 3 notice", 2: "terminal display", 3: "terminal TTS read-out",
    5: "0 navigation info / 1 CAN fault-code info",
}
#: 0x8302 flag bits (S001; yezhihao's reuse of the 0x8300 bits is not followed).
QUESTION_FLAGS: dict[int, str] = {0: "emergency", 3: "terminal TTS read-out", 4: "advertising screen"}


# ---------------------------------------------------------------------------------------------
# 0x8300 text
# ---------------------------------------------------------------------------------------------
@message(0x8300)
class TextMessage(Body):
    """文本信息下发 — text message: ``flag BYTE · [text_type BYTE (2019)] · text STRING``.

    ``flag`` bits: :data:`TEXT_FLAGS` (2011/2013), :data:`TEXT_FLAGS_2019`. ``text_type`` (2019):
    1 notice, 2 service (go-jt808 omits it; SmallChi, yezhihao, EMQX, QuecPython send it).
    """

    flag: int = wire(BYTE)
    text_type: int = wire(BYTE, since=V2019, default=1, doc="2019: 1 notice, 2 service")
    text: str = wire(STR_REST)

    msg_id: ClassVar[int]

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> TextMessage:
        """As generated, but a 2019 ``text_type`` may be left out (1, notice, as EMQX defaults)."""
        if isinstance(obj, dict) and version is V2019 and "text_type" not in obj:
            obj = {**obj, "text_type": 1}
        # explicit: the slotted dataclass is a new class, so a bare super() would not find it
        return super(TextMessage, cls).from_json(obj, version)  # noqa: UP008


# ---------------------------------------------------------------------------------------------
# 0x8301 / 0x0301 events
# ---------------------------------------------------------------------------------------------
@record
class Event(_Lengths):
    """One event of 0x8301: ``id BYTE · length BYTE · content STRING[length]``."""

    id: int = wire(BYTE)
    content: str = wire(STR8)

    _lengths: ClassVar[dict[str, str]] = {"content": "length"}


_EVENTS = LIST(Event, BYTE, count_key="length")


@message(0x8301)
class SetEvents(Body):
    """事件设置 — set events: ``type BYTE · length BYTE · [event]*length``.

    ``type``: 0 delete all events (nothing follows the type byte: decoding stops there, so any bytes
    a platform added stay in the packet's tail), 1 update, 2 append, 3 modify, 4 delete the listed
    events (their content empty). Deleted in 2019; still decoded in every version.
    """

    type: int = wire(BYTE)
    events: list[Event] = wire(_EVENTS)

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> SetEvents:
        typ = r.u8("type")
        if typ == 0:
            return cls(0, [])
        return cls(typ, _EVENTS.read(r, "events"))

    def encode(self, w: Writer) -> None:
        w.u8(self.type, "type")
        if self.type == 0:
            if self.events:
                raise EncodeError("type 0 (delete all) carries no events", field="events", msg_id=w.msg_id)
            return
        _EVENTS.write(w, self.events, "events")


@message(0x0301)
class EventReport(Body):
    """事件报告 — event report (terminal): ``id BYTE`` of an event set by 0x8301."""

    id: int = wire(BYTE)

    msg_id: ClassVar[int]


# ---------------------------------------------------------------------------------------------
# 0x8302 / 0x0302 questions
# ---------------------------------------------------------------------------------------------
@record
class Answer(_Lengths):
    """A candidate answer of 0x8302: ``id BYTE · len WORD · answer STRING[len]`` (WORD length: EMQX,
    SmallChi, yezhihao, go-jt808; seed 004 says BYTE)."""

    id: int = wire(BYTE)
    answer: str = wire(STR16)

    _lengths: ClassVar[dict[str, str]] = {"answer": "len"}


@message(0x8302, answered_by=(0x0302,))
class Question(_Lengths, Body):
    """提问下发 — question: ``flag BYTE · length BYTE · question STRING[length] · [answer]…`` with the
    answers running to the end of the body (there is no count). ``flag`` bits: :data:`QUESTION_FLAGS`.
    A truncated answer raises :class:`~jt808.errors.TruncatedError` naming it."""

    flag: int = wire(BYTE)
    question: str = wire(STR8)
    answers: list[Answer] = wire(LIST(Answer, None))

    _lengths: ClassVar[dict[str, str]] = {"question": "length"}
    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> Question:
        flag = r.u8("flag")
        question = r.str_len8("question")
        answers: list[Answer] = []
        while r.pos < r.end:
            i = len(answers)
            aid = r.u8(f"answers[{i}].id")
            answers.append(Answer(aid, r.str_len16(f"answers[{i}].answer")))
        return cls(flag, question, answers)


@message(0x0302, quotes="seq")
class QuestionAnswer(Body):
    """提问应答 — question answer (terminal): ``seq WORD`` (serial of the 0x8302) ``· id BYTE`` (answer)."""

    seq: int = wire(WORD)
    id: int = wire(BYTE)

    msg_id: ClassVar[int]


# ---------------------------------------------------------------------------------------------
# 0x8303 / 0x0303 / 0x8304 information on demand
# ---------------------------------------------------------------------------------------------
@record
class MenuItem(_Lengths):
    """An information item of 0x8303: ``type BYTE · length WORD · info STRING[length]``."""

    type: int = wire(BYTE)
    info: str = wire(STR16)

    _lengths: ClassVar[dict[str, str]] = {"info": "length"}


@message(0x8303)
class InfoMenu(Body):
    """信息点播菜单设置 — information-on-demand menu: ``type BYTE · length BYTE · [item]*length``.
    ``type``: 0 delete all items, 1 update, 2 append, 3 modify."""

    type: int = wire(BYTE)
    menus: list[MenuItem] = wire(LIST(MenuItem, BYTE, count_key="length"))

    msg_id: ClassVar[int]


@message(0x0303)
class InfoDemand(Body):
    """信息点播/取消 — subscribe to / cancel an information type (terminal): ``id BYTE`` (info type)
    ``· flag BYTE`` (1 subscribe, 0 cancel)."""

    id: int = wire(BYTE)
    flag: int = wire(BYTE)

    msg_id: ClassVar[int]


@message(0x8304)
class InfoService(_Lengths, Body):
    """信息服务 — information service: ``type BYTE · length WORD · info STRING[length]``."""

    type: int = wire(BYTE)
    info: str = wire(STR16)

    _lengths: ClassVar[dict[str, str]] = {"info": "length"}
    msg_id: ClassVar[int]


# ---------------------------------------------------------------------------------------------
# 0x8400 / 0x8401 phone
# ---------------------------------------------------------------------------------------------
@message(0x8400)
class CallBack(Body):
    """电话回拨 — call back: ``type BYTE`` (0 normal call, 1 listen-in) ``· phone STRING`` (≤ 20 bytes,
    to the end of the body). yezhihao pads a fixed BYTE[20]: NULs are stripped on decode; the encoder
    writes the bare number (SmallChi, EMQX)."""

    type: int = wire(BYTE)
    phone: str = wire(STR_REST)

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> CallBack:
        typ = r.u8("type")
        if r.end - r.pos > 20:
            r.note(f"0x{r.msg_id:04X}: phone of {r.end - r.pos} bytes, the standard allows 20 (the encoder refuses it)")
        return cls(typ, r.str_rest("phone"))  # NUL padding stripped and noted (a re-encode drops it)

    def encode(self, w: Writer) -> None:
        w.u8(self.type, "type")
        raw = w.encode_text(self.phone, "phone")
        if len(raw) > 20:
            raise EncodeError(f"{len(raw)} bytes, at most 20", field="phone", value=self.phone, msg_id=w.msg_id)
        w.out += raw


@record
class Contact(_Lengths):
    """A phone-book contact of 0x8401: ``type BYTE`` (1 incoming only, 2 outgoing only, 3 both)
    ``· phone_len BYTE · phone STRING · name_len BYTE · name STRING``."""

    type: int = wire(BYTE)
    phone: str = wire(STR8)
    name: str = wire(STR8)

    _lengths: ClassVar[dict[str, str]] = {"phone": "phone_len", "name": "name_len"}


@message(0x8401)
class SetPhoneBook(Body):
    """设置电话本 — set phone book: ``type BYTE · length BYTE · [contact]*length``.
    ``type``: 0 delete all contacts, 1 update (delete all, then add), 2 append, 3 modify."""

    type: int = wire(BYTE)
    contacts: list[Contact] = wire(LIST(Contact, BYTE, count_key="length"))

    msg_id: ClassVar[int]
