"""Message header: 2011/2013 (12 or 16 bytes) and 2019 (17 or 21 bytes) layouts.

Body properties (WORD): bits 0-9 body length, 10-12 encryption (bit 10 = RSA), 13 sub-package,
14 version flag (2019), 15 reserved.
"""

from __future__ import annotations

import struct
from enum import IntEnum

from jt808.errors import EncodeError, HeaderError

__all__ = [
    "ENCRYPT_RSA",
    "MAX_BODY",
    "Header",
    "Version",
    "bcd_encode",
    "canonical_phone",
    "frame_layout",
    "header_length",
    "pack_header",
    "phone_forms",
    "phone_of",
    "properties",
    "unpack_header",
]

MAX_BODY = 0x3FF
ENCRYPT_RSA = 0b001
_LEN_MASK = 0x3FF
_FRAG_BIT = 0x2000
_VER_BIT = 0x4000

_H13 = struct.Struct(">HH6sH")  # id, props, phone, serial
_H19 = struct.Struct(">HHB10sH")  # id, props, proto_ver, phone, serial
_FRAG = struct.Struct(">HH")


class Version(IntEnum):
    """Protocol version. 2011 and 2013 share a header; only some bodies differ."""

    V2011 = 2011
    V2013 = 2013
    V2019 = 2019

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def parse(cls, value: object) -> Version:
        """Accept 2013, "2013", "V2013", "2019" … and the enum itself."""
        if isinstance(value, Version):
            return value
        text = str(value).strip().upper().lstrip("V")
        try:
            return cls(int(text))
        except (ValueError, TypeError):
            raise ValueError(f"unknown JT/T 808 version {value!r} (use 2011, 2013 or 2019)") from None


V2011, V2013, V2019 = Version.V2011, Version.V2013, Version.V2019


def bcd_encode(digits: str, width: int, *, field: str = "bcd", pad: bool = True) -> bytes:
    """Digit string -> BCD[width]. Left-pads with '0' when ``pad``; refuses too-long input."""
    n = width * 2
    if len(digits) != n:
        if len(digits) > n or not pad:
            raise EncodeError(f"needs {n} BCD digits, got {len(digits)}", field=field, value=digits)
        digits = digits.rjust(n, "0")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise EncodeError("BCD accepts only digits (and hex digits for non-standard ids)",
                          field=field, value=digits) from None


def header_length(version: Version, fragmented: bool) -> int:
    return (17 if version is V2019 else 12) + (4 if fragmented else 0)


class Header:
    """A decoded message header. ``phone`` keeps every BCD digit (12 or 20), leading zeros included.

    ``length`` is the body-length field as sent (of this frame's body, i.e. of the fragment when
    sub-packaged). ``frag_total``/``frag_sn`` are 0 when the message is not sub-packaged.
    """

    __slots__ = ("encrypt", "frag_sn", "frag_total", "length", "msg_id", "msg_sn", "phone", "proto_ver",
                 "reserved", "version")

    def __init__(self, msg_id: int, phone: str, msg_sn: int = 0, version: Version = V2013,
                 encrypt: int = 0, length: int = 0, frag_total: int = 0, frag_sn: int = 0,
                 proto_ver: int = 1, reserved: int = 0) -> None:
        self.msg_id = msg_id
        self.phone = phone
        self.msg_sn = msg_sn
        self.version = version
        self.encrypt = encrypt
        self.length = length
        self.frag_total = frag_total
        self.frag_sn = frag_sn
        self.proto_ver = proto_ver
        self.reserved = reserved  # bit 15 (and bit 14 on 2011/2013), kept so frames re-encode exactly

    @property
    def fragmented(self) -> bool:
        return self.frag_total > 0

    def copy(self, **changes: object) -> Header:
        h = Header(self.msg_id, self.phone, self.msg_sn, self.version, encrypt=self.encrypt,
                   length=self.length, frag_total=self.frag_total, frag_sn=self.frag_sn,
                   proto_ver=self.proto_ver, reserved=self.reserved)
        for k, v in changes.items():
            setattr(h, k, v)
        return h

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Header):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __repr__(self) -> str:
        frag = f" frag={self.frag_sn}/{self.frag_total}" if self.frag_total else ""
        enc = f" encrypt={self.encrypt}" if self.encrypt else ""
        return (f"Header(0x{self.msg_id:04X} v{int(self.version)} phone={self.phone} sn={self.msg_sn}"
                f" len={self.length}{frag}{enc})")


def unpack_header(data: bytes, props: int, is2019: bool, fragmented: bool,
                  version: Version = V2013) -> tuple[Header, int]:
    """The header codec's reading: ``data`` laid out as the 2019 (``is2019``) or 2011/2013 header, with
    the properties word ``props`` (as read, or as repaired by the frame decoder). ``version`` is what a
    2011/2013 header is taken for. Returns ``(header, body offset)``."""
    n = len(data)
    frag = 4 if fragmented else 0
    msg_id = data[0] << 8 | data[1] if n >= 2 else 0
    if is2019:
        if n < 17 + frag:
            raise HeaderError(f"2019 header needs {17 + frag} bytes, frame has {n}", msg_id=msg_id, offset=0)
        _, _, proto_ver, phone, sn = _H19.unpack_from(data)
        version = V2019
        off = 17
    else:
        if n < 12 + frag:
            raise HeaderError(f"header needs {12 + frag} bytes, frame has {n}", msg_id=msg_id, offset=0)
        _, _, phone, sn = _H13.unpack_from(data)
        proto_ver = 0
        if version is V2019:
            version = V2013
        off = 12
    frag_total = frag_sn = 0
    if frag:
        frag_total, frag_sn = _FRAG.unpack_from(data, off)
        off += 4
    header = Header(msg_id, phone.hex(), sn, version, (props >> 10) & 0b111, props & _LEN_MASK, frag_total,
                    frag_sn, proto_ver, props & (0x8000 if is2019 else 0xC000))
    return header, off


def frame_layout(n: int, props: int, xor: int | None = None) -> tuple[bool, int, int, bool, str | None] | None:
    """How an unescaped frame of ``n`` bytes (check code included when present) with properties ``props``
    is laid out, tolerating the dialects in the module docstring.

    Returns ``(is2019, fragment header bytes, body length, has check code, repair kind or None)`` or
    ``None`` when no reading adds up (the caller decides whether to decode what the frame holds).
    ``xor`` is the XOR of all ``n`` bytes when known: a missing check code is recognised only when it is
    1..0x0F (the lost one-hex-digit code); without it (``None``), only the length test is made.
    """
    length = props & 0x3FF
    bit14 = bool(props & 0x4000)
    frag = 4 if props & 0x2000 else 0
    # 1. as the standard says (and bit 14 lying about 2019)
    if n == (17 if bit14 else 12) + frag + length + 1:
        return bit14, frag, length, True, None
    if bit14 and n == 12 + frag + length + 1:
        return False, frag, length, True, "version_bit"
    # 2. a length >= 1024 OR-ed into the flag bits (read the flags that remain after taking the length)
    for has_cc in (True, False):
        for is19 in ((True, False) if bit14 else (False,)):
            for fr in (0, 4):
                size = n - (17 if is19 else 12) - fr - (1 if has_cc else 0)
                high = size & ~0x3FF
                if (size < 1024 or size & 0x3FF != length or props & high != high
                        or bool((props & ~high) & 0x2000) != bool(fr)
                        or (is19 and not (props & ~high) & 0x4000)):
                    continue
                if not has_cc and xor is not None and xor >= 0x10:
                    continue  # (a zero XOR too: the overflow test is strong evidence by itself)
                return is19, fr, size, has_cc, "length_overflow"
    # 3. the check code is missing (one hex digit lost)
    if _lost_digit(xor):
        if n == (17 if bit14 else 12) + frag + length:
            return bit14, frag, length, False, "check_code_missing"
        if bit14 and n == 12 + frag + length:
            return False, frag, length, False, "check_code_missing"
    return None


def _lost_digit(xor: int | None) -> bool:
    """A check code written as one hex digit (1..F) and lost. A zero XOR means the last byte is a valid
    check code of the rest: the frame is then read as carrying one (a length-field disagreement)."""
    return xor is None or 0 < xor < 0x10


def canonical_phone(phone: str) -> str:
    """The one form of a terminal's phone used everywhere on the platform side (storage, sessions, HTTP,
    MQTT topics, CLI, events): the BCD digits left-padded with zeros to 12 when they fit in 12 (the
    2011/2013 header's width), else to 20 (the 2019 width). So ``13912345678``, ``013912345678`` and
    ``00000000013912345678`` are all ``013912345678``. Hex letters (the non-standard ids some devices put
    in the BCD field) are taken, in lower case, only in a full 12- or 20-character form. Raises
    :class:`ValueError` for anything else (empty, other characters, more than 20 digits)."""
    p = phone.strip().lower()
    if not (p.isdigit() and p.isascii() and len(p) <= 20) and not (
            len(p) in (12, 20) and all(c in "0123456789abcdef" for c in p)):
        raise ValueError(f"{phone!r} is not a terminal phone (1 to 20 digits)")
    significant = p.lstrip("0")
    return significant.rjust(12 if len(significant) <= 12 else 20, "0")


def phone_forms(phone: str) -> tuple[str, ...]:
    """The forms people type for one terminal: without leading zeros, the 12-digit and the 20-digit
    form (for matching typed topics); the canonical form first."""
    c = canonical_phone(phone)
    forms = [c, c.lstrip("0") or "0", c.rjust(20, "0")]
    return tuple(dict.fromkeys(forms))


def phone_of(head: bytes) -> str | None:
    """The phone of an unescaped header start (at least 10 bytes; 15 when bit 14 says 2019), or ``None``."""
    if len(head) < 10:
        return None
    if head[2] & 0x40 and len(head) >= 15:
        return head[5:15].hex()
    return head[4:10].hex()


def properties(h: Header, body_length: int) -> int:
    """The properties word of ``h`` for a body of ``body_length`` bytes (length, encryption, sub-package
    and version bits, and the reserved bits ``h`` keeps)."""
    props = (body_length & _LEN_MASK) | (h.encrypt & 0b111) << 10 | h.reserved
    if h.frag_total:
        props |= _FRAG_BIT
    if h.version is V2019:
        props |= _VER_BIT
    return props


def pack_header(h: Header, body_length: int) -> bytes:
    """Encode a header for a body of ``body_length`` bytes (strict: widths and ranges checked)."""
    if body_length > MAX_BODY:
        raise EncodeError(f"body of {body_length} bytes exceeds {MAX_BODY}: sub-package it",
                          field="len", msg_id=h.msg_id)
    props = properties(h, body_length)
    try:
        if h.version is V2019:
            out = _H19.pack(h.msg_id, props, h.proto_ver, bcd_encode(h.phone, 10, field="phone"), h.msg_sn)
        else:
            out = _H13.pack(h.msg_id, props, bcd_encode(h.phone, 6, field="phone"), h.msg_sn)
        if h.frag_total:
            out += _FRAG.pack(h.frag_total, h.frag_sn)
    except struct.error as e:
        raise EncodeError(f"header value out of range: {e}", msg_id=h.msg_id) from None
    return out
