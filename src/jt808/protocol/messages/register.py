"""Registration and authentication: 0x0100 终端注册, 0x8100 终端注册应答, 0x0102 终端鉴权.

Layouts (PROTOCOL.md §3.2 "Registration and authentication"):

- 0x0100: ``province WORD · city WORD · manufacturer · model · dev_id · color BYTE · license_number rest``;
  the three id strings are NUL-padded BYTE[n] whose widths grow with the version: 5/8/7 (2011),
  5/20/7 (2013), 11/30/30 (2019). JSON key ``manufacturer`` (EMQX), not seed 004's ``manufacture``.
- 0x8100: ``seq WORD · result BYTE · auth_code rest`` — the code when ``result == 0``; a code sent with
  another result is kept too (decoded and re-encoded; in the JSON as ``auth_code``, as EMQX does).
- 0x0102: 2011/2013 ``code`` = the whole body; 2019 ``code_len BYTE · code · imei BYTE[15] ·
  software_version BYTE[20]`` (fixed, NUL-padded: EMQX, SmallChi, yezhihao and go-jt808 agree). Seed
  004's length-prefixed form (``sw_version_len BYTE · sw_version``) is read too, noted in the packet's
  problems (kind ``layout``); encoding writes the standard's fixed field. JSON keys ``code, imei,
  software_version``.

Fixed-width text is NUL-stripped at both ends on decode (padding on the left is noted) and NUL-padded
at the end on encode; the plate and other text to the end of the body lose NULs on either side (noted).
"""

from __future__ import annotations

import re
import struct
from enum import IntEnum
from typing import Any, ClassVar, Self

from jt808.protocol.buffer import Reader
from jt808.protocol.header import V2013, V2019, Version
from jt808.protocol.problems import Problem
from jt808.protocol.spec import BYTE, STR, STR8, STR_REST, WORD, Body, _Str, by_version, message, wire

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


@message(0x0100, answered_by=(0x8100,))
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

    @classmethod
    def fast_decode(cls, data: bytes, profile: Any, version: Version) -> Self | None:
        """A 2013 body of ASCII text, without NUL padding on the left (or around the plate) and without control
        characters: what the general path reads (its 2011/2013 detection keeps the 2013 reading of such a
        body, nothing is noted) in one unpack. Anything else takes the general path."""
        if version is not V2013 or cls is not TerminalRegister or len(data) < 37 \
                or profile.encoding.lower() not in ASCII_COMPATIBLE:
            return None
        province, city, maker, model, dev_id, color = _REG13.unpack_from(data)
        plate = data[37:]
        if not (data[4:36].isascii() and plate.isascii()):
            return None
        if maker[:1] == b"\0" or model[:1] == b"\0" or dev_id[:1] == b"\0" or plate[:1] == b"\0" \
                or plate[-1:] == b"\0":
            return None
        maker, model, dev_id = maker.strip(b"\0"), model.strip(b"\0"), dev_id.strip(b"\0")
        if _CONTROL.search(maker) or _CONTROL.search(model) or _CONTROL.search(dev_id) or _CONTROL.search(plate):
            return None
        return cls(province, city, maker.decode(), model.decode(), dev_id.decode(), color, plate.decode())


_REG13 = struct.Struct(">HH5s20s7sB")  # the 2013 fixed part (37 bytes); the plate follows
_CONTROL = re.compile(b"[\x00-\x1f]")
#: encodings in which ASCII bytes are the ASCII characters (the fast decoders apply to them only)
ASCII_COMPATIBLE = frozenset({"gbk", "gb2312", "gb18030", "utf-8", "utf8", "ascii", "latin-1", "iso-8859-1",
                               "cp936", "big5"})


def _has_code(v: Any) -> bool:
    return v["result"] == 0 or bool(v.get("auth_code"))


@message(0x8100, quotes="seq", unanswered=True)
class RegisterReply(Body):
    """终端注册应答 — registration reply.

    ``seq`` is the serial of the 0x0100 answered; ``result`` a :class:`RegisterResult`; ``auth_code``
    follows (no length prefix, to the end of the body) only when ``result`` is 0, and is then
    present in the JSON. Platforms should never send an empty code (many devices cannot parse it);
    the codec itself writes what it is given.
    """

    seq: int = wire(WORD)
    result: int = wire(BYTE)
    auth_code: str = wire(STR_REST, when=_has_code)

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> RegisterReply:
        body = super(RegisterReply, cls).decode(r)  # noqa: UP008 (@message classes: see STYLE)
        if body.result != 0 and r.pos < r.end:  # a code with a refusal: kept (EMQX's JSON keeps it too)
            body.auth_code = r.str_rest("auth_code")
        return body

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> RegisterReply:
        body = super(RegisterReply, cls).from_json(obj, version)  # noqa: UP008
        if body.result != 0 and isinstance(obj, dict) and obj.get("auth_code"):
            body.auth_code = STR_REST.from_json(obj["auth_code"], "auth_code", version)
        return body


class _SoftwareVersion(_Str):
    """0x0102 2019 software version: the standard's BYTE[20], or seed 004's ``len BYTE · text`` (read when
    the bytes left say so: a first byte that counts exactly the rest, which no text starts with)."""

    def __init__(self) -> None:
        super().__init__(20)
        self.fmt = None  # read one by one: the layout is decided by the bytes left

    def read(self, r: Reader, field: str) -> str:
        left = r.end - r.pos
        if left >= 1 and r.data[r.pos] == left - 1 and r.data[r.pos] < 0x20:
            n = r.u8(field)
            r.problems.append(Problem("layout", f"0x0102: software version sent length-prefixed ({n} bytes, "
                                      "seed 004's layout) instead of BYTE[20]"))
            return r.text(r.bytes(n, field).strip(b"\x00"))
        return r.str_fixed(20, field)


@message(0x0102)
class TerminalAuth(Body):
    """终端鉴权 — terminal authentication.

    2011/2013: the body is the auth code. 2019: ``code_len BYTE · code · imei BYTE[15] ·
    software_version BYTE[20]`` (NUL-padded; seed 004's length-prefixed version is read too).
    Answered by 0x8001 (0 ok, 1 failure).
    """

    code: str = wire(by_version(V2011=STR_REST, V2013=STR_REST, V2019=STR8), doc="auth code from 0x8100")
    imei: str = wire(STR(15), since=V2019)
    software_version: str = wire(_SoftwareVersion(), since=V2019)

    msg_id: ClassVar[int]

    @classmethod
    def fast_decode(cls, data: bytes, profile: Any, version: Version) -> Self | None:
        """A 2011/2013 code of ASCII text without NUL padding: the whole body, as the general path reads it."""
        if version is V2019 or cls is not TerminalAuth or not data.isascii() or data[:1] == b"\0" \
                or data[-1:] == b"\0" or profile.encoding.lower() not in ASCII_COMPATIBLE:
            return None
        return cls(data.decode())
