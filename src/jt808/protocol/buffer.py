"""Reader / Writer over a message body: big-endian BYTE/WORD/DWORD, BCD[n], fixed and variable strings.

The reader raises :class:`TruncatedError` with the offset when a field runs past the body; the body
codec boundary adds the message id and version. It also carries the decode context (version, device
profile, string encoding, problems found while decoding leniently).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from jt808.errors import EncodeError, TruncatedError
from jt808.protocol.problems import Problem

if TYPE_CHECKING:
    from jt808.protocol.header import Version
    from jt808.protocol.registry import Profile

__all__ = ["Reader", "Writer"]

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


_Bytes = bytes  # (the readers and writers have a method named ``bytes``)


class Reader:
    """Cursor over one body. ``data`` is the body; ``pos`` the next offset to read."""

    __slots__ = ("data", "encoding", "end", "msg_id", "pos", "problems", "profile", "version")

    def __init__(self, data: bytes, version: Version, profile: Profile, msg_id: int = -1,
                 pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.version = version
        self.profile = profile
        self.encoding = profile.encoding
        self.msg_id = msg_id
        self.problems: list[str] = []

    # -- helpers -------------------------------------------------------------------------------
    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def need(self, n: int, field: str = "") -> int:
        """Reserve ``n`` bytes; return their start offset."""
        p = self.pos
        if p + n > self.end:
            raise TruncatedError(f"needs {n} byte{'s' if n != 1 else ''}, {self.end - p} left",
                                 offset=p, field=field or None)
        self.pos = p + n
        return p

    def note(self, problem: str) -> None:
        self.problems.append(problem)

    def sub(self, n: int) -> Reader:
        """A reader limited to the next ``n`` bytes (advances this one past them)."""
        p = self.need(n)
        r = Reader(self.data, self.version, self.profile, self.msg_id, p, p + n)
        r.problems = self.problems
        return r

    # -- integers ------------------------------------------------------------------------------
    def u8(self, field: str = "") -> int:
        return self.data[self.need(1, field)]

    def u16(self, field: str = "") -> int:
        v: int = _U16.unpack_from(self.data, self.need(2, field))[0]
        return v

    def u32(self, field: str = "") -> int:
        v: int = _U32.unpack_from(self.data, self.need(4, field))[0]
        return v

    def uint(self, size: int, field: str = "") -> int:
        p = self.need(size, field)
        return int.from_bytes(self.data[p:p + size], "big")

    # -- byte strings --------------------------------------------------------------------------
    def bytes(self, n: int, field: str = "") -> _Bytes:
        p = self.need(n, field)
        return self.data[p:p + n]

    def rest(self) -> _Bytes:
        p, self.pos = self.pos, self.end
        return self.data[p:self.end]

    def bcd(self, n: int, field: str = "") -> str:
        p = self.need(n, field)
        return self.data[p:p + n].hex()

    # -- text ----------------------------------------------------------------------------------
    def text(self, raw: _Bytes) -> str:
        """Bytes -> str in the profile's encoding; undecodable bytes survive as surrogates."""
        return raw.decode(self.encoding, "surrogateescape")

    def str_fixed(self, n: int, field: str = "") -> str:
        """BYTE[n] text: NUL padding stripped at both ends (padding on the left is noted)."""
        raw = self.bytes(n, field)
        if raw[:1] == b"\x00" and raw.strip(b"\x00"):
            self.pad_note(field, "left")
        return self.text(raw.strip(b"\x00"))

    def str_rest(self, field: str = "") -> str:
        """Text to the end of the body; NUL padding on either side is stripped and noted."""
        raw = self.rest()
        if raw[:1] == b"\x00" or raw[-1:] == b"\x00":
            self.pad_note(field, "either")
            raw = raw.strip(b"\x00")
        return self.text(raw)

    def pad_note(self, field: str, side: str) -> None:
        """Note NUL padding that a re-encode would not reproduce (kind ``string_padding``)."""
        where = f" field '{field}'" if field else ""
        self.problems.append(Problem("string_padding", f"0x{self.msg_id:04X}{where}: NUL padding on the "
                                     f"{'left' if side == 'left' else 'ends'} stripped"))

    def str_len8(self, field: str = "") -> str:
        return self.text(self.bytes(self.u8(field), field))

    def str_len16(self, field: str = "") -> str:
        return self.text(self.bytes(self.u16(field), field))


class Writer:
    """Append-only body builder with strict range and width checks."""

    __slots__ = ("encoding", "msg_id", "out", "profile", "version")

    def __init__(self, version: Version, encoding: str = "gbk", msg_id: int = -1,
                 profile: Profile | None = None) -> None:
        self.out = bytearray()
        self.version = version
        self.encoding = encoding
        self.msg_id = msg_id
        self.profile = profile

    def getvalue(self) -> _Bytes:
        return bytes(self.out)

    def _range(self, v: Any, lo: int, hi: int, field: str) -> int:
        if type(v) is not int and (isinstance(v, bool) or not isinstance(v, int)):
            raise EncodeError("needs an integer", field=field, value=v, msg_id=self.msg_id)
        if v < lo or v > hi:
            raise EncodeError(f"out of range {lo}..{hi}", field=field, value=v, msg_id=self.msg_id)
        return v

    def u8(self, v: int, field: str = "") -> None:
        self.out.append(self._range(v, 0, 0xFF, field))

    def u16(self, v: int, field: str = "") -> None:
        self.out += self._range(v, 0, 0xFFFF, field).to_bytes(2, "big")

    def u32(self, v: int, field: str = "") -> None:
        self.out += self._range(v, 0, 0xFFFFFFFF, field).to_bytes(4, "big")

    def uint(self, v: int, size: int, field: str = "") -> None:
        self.out += self._range(v, 0, (1 << (8 * size)) - 1, field).to_bytes(size, "big")

    def bytes(self, v: _Bytes, field: str = "", size: int | None = None) -> None:
        if not isinstance(v, bytes | bytearray | memoryview):
            raise EncodeError("needs bytes", field=field, value=v, msg_id=self.msg_id)
        if size is not None:
            if len(v) > size:
                raise EncodeError(f"{len(v)} bytes do not fit in BYTE[{size}]", field=field, value=v,
                                  msg_id=self.msg_id)
            v = bytes(v).ljust(size, b"\x00")
        self.out += v

    def bcd(self, v: str, n: int, field: str = "", pad: bool = False) -> None:
        if not isinstance(v, str):
            raise EncodeError("needs a string of digits", field=field, value=v, msg_id=self.msg_id)
        if len(v) != 2 * n:
            if len(v) > 2 * n or not pad:
                raise EncodeError(f"needs {2 * n} BCD digits, got {len(v)}", field=field, value=v,
                                  msg_id=self.msg_id)
            v = v.rjust(2 * n, "0")
        try:
            self.out += bytes.fromhex(v)
        except ValueError:
            raise EncodeError("BCD accepts only digits", field=field, value=v, msg_id=self.msg_id) from None

    def encode_text(self, v: str, field: str = "") -> _Bytes:
        if not isinstance(v, str):
            raise EncodeError("needs a string", field=field, value=v, msg_id=self.msg_id)
        try:
            return v.encode(self.encoding, "surrogateescape")
        except UnicodeEncodeError as e:
            raise EncodeError(f"not encodable as {self.encoding}: {e.reason}", field=field, value=v,
                              msg_id=self.msg_id) from None

    def str_fixed(self, v: str, n: int, field: str = "") -> None:
        self.bytes(self.encode_text(v, field), field, size=n)

    def str_rest(self, v: str, field: str = "") -> None:
        self.out += self.encode_text(v, field)

    def str_len8(self, v: str, field: str = "") -> None:
        raw = self.encode_text(v, field)
        self.u8(len(raw), field)
        self.out += raw

    def str_len16(self, v: str, field: str = "") -> None:
        raw = self.encode_text(v, field)
        self.u16(len(raw), field)
        self.out += raw
