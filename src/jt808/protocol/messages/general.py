"""General replies, heartbeat, logout, server time, sub-package re-send requests, empty queries.

0x0001 终端通用应答, 0x8001 平台通用应答, 0x0002 终端心跳, 0x0003 终端注销, 0x0004/0x8004 查询服务器时间
(2019), 0x8003 服务器补传分包请求, 0x0005 终端补传分包请求 (2019), 0x8204 链路检测 (2019), and the
empty-bodied queries 0x8104, 0x8107, 0x8201, 0x8702.
"""

from __future__ import annotations

import struct
from typing import Any, ClassVar, Self

from jt808.errors import TruncatedError
from jt808.protocol.buffer import Reader, Writer
from jt808.protocol.header import V2013, V2019, Version
from jt808.protocol.spec import BCD, BYTE, LIST, WORD, Body, by_version, message, wire

__all__ = [
    "HeartBeat",
    "LinkCheck",
    "PlatformGeneralReply",
    "QueryAttributes",
    "QueryDriverIdentity",
    "QueryLocation",
    "QueryParameters",
    "QueryServerTime",
    "ResendRequest",
    "ServerTimeReply",
    "TerminalGeneralReply",
    "TerminalLogout",
    "TerminalResendRequest",
]

_REPLY = struct.Struct(">HHB")


class _GeneralReply(Body):
    """Shared hand-written fast path of 0x0001 / 0x8001: ``seq WORD · id WORD · result BYTE``."""

    __slots__ = ()
    seq: int
    id: int
    result: int

    @classmethod
    def decode(cls, r: Reader) -> Self:
        p = r.pos
        if p + 5 > r.end:
            raise TruncatedError(f"general reply needs 5 bytes, {r.end - p} left", offset=p)
        r.pos = p + 5
        return cls(*_REPLY.unpack_from(r.data, p))

    @classmethod
    def fast_decode(cls, data: bytes, profile: Any, version: Version) -> Self | None:
        return cls(*_REPLY.unpack(data)) if len(data) == 5 else None

    def fast_encode(self) -> bytes | None:
        try:
            return _REPLY.pack(self.seq, self.id, self.result)
        except struct.error:
            return None

    def encode(self, w: Writer) -> None:
        try:
            w.out += _REPLY.pack(self.seq, self.id, self.result)
        except struct.error:
            w.u16(self.seq, "seq")
            w.u16(self.id, "id")
            w.u8(self.result, "result")


@message(0x0001, quotes="seq", unanswered=True)
class TerminalGeneralReply(_GeneralReply):
    """终端通用应答 — terminal general reply. ``result``: 0 ok, 1 failure, 2 message error, 3 unsupported."""

    seq: int = wire(WORD, doc="serial number of the platform message answered")
    id: int = wire(WORD, doc="id of the platform message answered")
    result: int = wire(BYTE)

    msg_id: ClassVar[int]


@message(0x8001, quotes="seq", unanswered=True)
class PlatformGeneralReply(_GeneralReply):
    """平台通用应答 — platform general reply. ``result``: 0 ok, 1 failure, 2 message error,
    3 unsupported, 4 alarm handling confirmed."""

    seq: int = wire(WORD, doc="serial number of the terminal message answered")
    id: int = wire(WORD, doc="id of the terminal message answered")
    result: int = wire(BYTE)

    msg_id: ClassVar[int]


@message(0x0002)
class HeartBeat(Body):
    """终端心跳 — heartbeat. Empty body (bytes some devices append are kept as the packet's tail)."""


@message(0x0003)
class TerminalLogout(Body):
    """终端注销 — terminal logout. Empty body."""


@message(0x0004, answered_by=(0x8004,), versions=(V2019,))
class QueryServerTime(Body):
    """查询服务器时间请求 — query server time (2019). Empty body."""


@message(0x8004, quotes="", unanswered=True, versions=(V2019,))
class ServerTimeReply(Body):
    """查询服务器时间应答 — server time reply (2019): UTC time as BCD[6] ``YYMMDDhhmmss``."""

    time: str = wire(BCD(6), doc="UTC, YYMMDDhhmmss")


@message(0x8003, unanswered=True, versions=(V2013, V2019))
class ResendRequest(Body):
    """服务器补传分包请求 — platform asks the terminal to re-send fragments.

    ``seq`` is the serial of fragment 1 of the original message; ``ids`` the missing fragment indexes.
    The count is a BYTE in 2011/2013 and a WORD in 2019.
    """

    seq: int = wire(WORD)
    ids: list[int] = wire(by_version(V2013=LIST(WORD, BYTE, count_key="length"),
                                     V2019=LIST(WORD, WORD, count_key="length")))


@message(0x0005, versions=(V2019,))
class TerminalResendRequest(Body):
    """终端补传分包请求 — terminal asks the platform to re-send fragments (2019)."""

    seq: int = wire(WORD)
    ids: list[int] = wire(LIST(WORD, WORD, count_key="count"))


@message(0x8204, versions=(V2019,))
class LinkCheck(Body):
    """服务器向终端发起链路检测请求 — link check (2019). Empty body."""


@message(0x8104, answered_by=(0x0104,))
class QueryParameters(Body):
    """查询终端参数 — query all terminal parameters. Empty body; answered by 0x0104."""


@message(0x8107, answered_by=(0x0107,), versions=(V2013, V2019))
class QueryAttributes(Body):
    """查询终端属性 — query terminal attributes. Empty body; answered by 0x0107."""


@message(0x8201, answered_by=(0x0201,))
class QueryLocation(Body):
    """位置信息查询 — query location. Empty body; answered by 0x0201."""


@message(0x8702, answered_by=(0x0702,), versions=(V2013, V2019))
class QueryDriverIdentity(Body):
    """上报驾驶员身份信息请求 — request driver identity. Empty body; answered by 0x0702."""
