"""Registration and authentication: 0x0100 终端注册, 0x8100 终端注册应答, 0x0102 终端鉴权.

Layouts (PROTOCOL.md §3.2 "Registration and authentication"):

- 0x0100: ``province WORD · city WORD · manufacturer · model · dev_id · color BYTE · license_number rest``;
  the three id strings are NUL-padded BYTE[n] whose widths grow with the version: 5/8/7 (2011),
  5/20/7 (2013), 11/30/30 (2019). JSON key ``manufacturer`` (EMQX), not seed 004's ``manufacture``.
- 0x8100: ``seq WORD · result BYTE · auth_code rest`` — the code only when ``result == 0``.
- 0x0102: 2011/2013 ``code`` = the whole body; 2019 ``code_len BYTE · code · imei BYTE[15] ·
  software_version BYTE[20]`` (fixed, NUL-padded: EMQX, SmallChi, yezhihao and go-jt808 agree;
  seed 004's length-prefixed ``sw_version`` is not followed). JSON keys ``code, imei, software_version``.

Fixed-width text is NUL-stripped at both ends on decode and NUL-padded at the end on encode.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

from jt808.protocol.header import V2019
from jt808.protocol.spec import BYTE, STR, STR8, STR_REST, WORD, Body, by_version, message, wire

__all__ = [
    "PlateColor",
    "RegisterReply",
    "RegisterResult",
    "TerminalAuth",
    "TerminalRegister",
]


class RegisterResult(IntEnum):
    """0x8100 ``result`` (PROTOCOL.md §6.2)."""

    SUCCESS = 0
    VEHICLE_REGISTERED = 1
    VEHICLE_UNKNOWN = 2
    TERMINAL_REGISTERED = 3
    TERMINAL_UNKNOWN = 4


class PlateColor(IntEnum):
    """Plate colour (JT/T 697.7-2014, PROTOCOL.md §6.14). ``UNPLATED``: 0x0100 carries the VIN."""

    UNPLATED = 0
    BLUE = 1
    YELLOW = 2
    BLACK = 3
    WHITE = 4
    GREEN = 5
    OTHER = 9


@message(0x0100)
class TerminalRegister(Body):
    """终端注册 — terminal registration.

    The id strings widen across versions: manufacturer 5/5/11, model 8/20/30, dev_id 7/7/30 bytes
    (2011/2013/2019); fixed part 25/37/76 bytes. ``color`` 0 means no plate: ``license_number`` then
    holds the VIN. Answered by 0x8100.
    """

    province: int = wire(WORD, doc="GB/T 2260 province code")
    city: int = wire(WORD, doc="GB/T 2260 city / county code")
    manufacturer: str = wire(by_version(V2011=STR(5), V2013=STR(5), V2019=STR(11)), doc="maker id")
    model: str = wire(by_version(V2011=STR(8), V2013=STR(20), V2019=STR(30)), doc="terminal model")
    dev_id: str = wire(by_version(V2011=STR(7), V2013=STR(7), V2019=STR(30)), doc="terminal id")
    color: int = wire(BYTE, doc="plate colour, PlateColor")
    license_number: str = wire(STR_REST, doc="plate number, or the VIN when color is 0")

    msg_id: ClassVar[int]


def _success(v: object) -> bool:
    return v["result"] == 0  # type: ignore[index]


@message(0x8100)
class RegisterReply(Body):
    """终端注册应答 — registration reply.

    ``seq`` is the serial of the 0x0100 answered; ``result`` a :class:`RegisterResult`; ``auth_code``
    follows (no length prefix, to the end of the body) only when ``result`` is 0, and is then
    present in the JSON. Platforms should never send an empty code (many devices cannot parse it);
    the codec itself writes what it is given.
    """

    seq: int = wire(WORD)
    result: int = wire(BYTE)
    auth_code: str = wire(STR_REST, when=_success)

    msg_id: ClassVar[int]


@message(0x0102)
class TerminalAuth(Body):
    """终端鉴权 — terminal authentication.

    2011/2013: the body is the auth code. 2019: ``code_len BYTE · code · imei BYTE[15] ·
    software_version BYTE[20]`` (NUL-padded). Answered by 0x8001 (0 ok, 1 failure).
    """

    code: str = wire(by_version(V2011=STR_REST, V2013=STR_REST, V2019=STR8), doc="auth code from 0x8100")
    imei: str = wire(STR(15), since=V2019)
    software_version: str = wire(STR(20), since=V2019)

    msg_id: ClassVar[int]
