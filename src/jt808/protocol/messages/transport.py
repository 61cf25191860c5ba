"""Pass-through, compressed data and RSA keys.

0x8900 数据下行透传 / 0x0900 数据上行透传 (``type BYTE · data BYTE[] rest``), 0x0901 数据压缩上报
(``length DWORD · data BYTE[length]``, ``data`` = a GZIP-compressed message body), 0x8A00 平台 RSA 公钥 /
0x0A00 终端 RSA 公钥 (``e DWORD · n BYTE[128]``, a 1024-bit modulus). Same layout in every version.

JSON (seed 004): ``{"type", "data"}``, ``{"length", "data"}``, ``{"e", "n"}`` with binary as base64 —
including 0x8A00's ``n`` when read from JSON (EMQX writes that string verbatim, a bug not copied).
"""

from __future__ import annotations

import gzip
import zlib
from enum import IntEnum
from typing import Any, ClassVar

from jt808.errors import BodyError, EncodeError
from jt808.protocol.buffer import Writer
from jt808.protocol.jsonutil import LengthKeys
from jt808.protocol.spec import BYTE, BYTES, BYTES32, BYTES_REST, DWORD, Body, message, wire

__all__ = [
    "MAX_INFLATED",
    "RSA_MODULUS_SIZE",
    "CompressedData",
    "DownlinkPassThrough",
    "PassThroughType",
    "PlatformRsaKey",
    "TerminalRsaKey",
    "UplinkPassThrough",
    "gunzip_body",
    "gzip_body",
]

#: Default cap on the size of a decompressed 0x0901 body (guards against compression bombs).
MAX_INFLATED = 4 * 1024 * 1024
RSA_MODULUS_SIZE = 128


class PassThroughType(IntEnum):
    """0x8900 / 0x0900 ``type`` (PROTOCOL.md §6.13); 0xF0–0xFF are user-defined."""

    GNSS_DETAIL = 0x00
    IC_CARD = 0x0B
    SERIAL_1 = 0x41
    SERIAL_2 = 0x42


@message(0x8900)
class DownlinkPassThrough(Body):
    """数据下行透传 — downlink pass-through: ``type BYTE · data rest``. Answered by 0x0001."""

    type: int = wire(BYTE, doc="PassThroughType, or 0xF0-0xFF user-defined")
    data: bytes = wire(BYTES_REST)

    msg_id: ClassVar[int]


@message(0x0900)
class UplinkPassThrough(Body):
    """数据上行透传 — uplink pass-through: ``type BYTE · data rest``. Answered by 0x8001."""

    type: int = wire(BYTE, doc="PassThroughType, or 0xF0-0xFF user-defined")
    data: bytes = wire(BYTES_REST)

    msg_id: ClassVar[int]


def gzip_body(body: bytes, level: int = 9) -> bytes:
    """GZIP-compress a message body for 0x0901 (deterministic: no timestamp in the gzip header)."""
    return gzip.compress(body, compresslevel=level, mtime=0)


def gunzip_body(data: bytes, max_size: int = MAX_INFLATED) -> bytes:
    """Inflate the ``data`` of a 0x0901 (GZIP; a zlib stream is accepted too; concatenated members are
    joined). Raises :class:`~jt808.errors.BodyError` when the data is not compressed, is truncated, or
    inflates beyond ``max_size`` bytes."""
    out = bytearray()
    rest = bytes(data)
    if not rest:
        raise BodyError("holds no compressed data", field="data")
    while rest:
        d = zlib.decompressobj(wbits=47)  # 32 + 15: gzip or zlib header, detected
        try:
            out += d.decompress(rest, max_size - len(out) + 1)
        except zlib.error as e:
            raise BodyError(f"is not GZIP data ({e})", field="data") from None
        if len(out) > max_size:
            raise BodyError(f"inflates beyond {max_size} bytes", field="data")
        if not d.eof:
            raise BodyError("GZIP stream is truncated", field="data")
        rest = d.unused_data
    return bytes(out)


@message(0x0901)
class CompressedData(LengthKeys, Body):
    """数据压缩上报 — compressed data: ``length DWORD · data BYTE[length]``; ``data`` is a GZIP-compressed
    message body. Build with :meth:`compress`, read with :meth:`decompress`. JSON ``{"length", "data"}``."""

    data: bytes = wire(BYTES32)

    msg_id: ClassVar[int]
    _lengths: ClassVar[dict[str, str]] = {"data": "length"}
    _check_lengths: ClassVar[bool] = True

    @classmethod
    def compress(cls, body: bytes, level: int = 9) -> CompressedData:
        return cls(gzip_body(body, level))

    def decompress(self, max_size: int = MAX_INFLATED) -> bytes:
        return gunzip_body(self.data, max_size)



class _RsaKey:
    """Shared behaviour of 0x8A00 / 0x0A00: ``e DWORD · n BYTE[128]`` (big-endian modulus)."""

    __slots__ = ()
    e: int
    n: bytes

    @classmethod
    def from_numbers(cls, e: int, modulus: int) -> Any:
        """From the public exponent and the modulus as integers (1024-bit at most)."""
        if isinstance(modulus, bool) or not isinstance(modulus, int) or not 0 <= modulus < 1 << 1024:
            raise EncodeError("modulus must be a non-negative integer below 2**1024", field="n", value=modulus)
        return cls(e, modulus.to_bytes(RSA_MODULUS_SIZE, "big"))  # type: ignore[call-arg]  # fields e, n (wire-declared)

    @property
    def modulus(self) -> int:
        return int.from_bytes(self.n, "big")

    def encode(self, w: Writer) -> None:
        # n is a number: padding a short value with trailing NULs (what BYTE[n] does) would change it
        if not isinstance(self.n, bytes | bytearray) or len(self.n) != RSA_MODULUS_SIZE:
            raise EncodeError(f"needs exactly {RSA_MODULUS_SIZE} bytes (use from_numbers for an int)",
                              field="n", value=self.n, msg_id=w.msg_id)
        type(self)._codec(w.version)[1](self, w)  # type: ignore[attr-defined]  # set by @message


@message(0x8A00, answered_by=(0x0001, 0x0A00))
class PlatformRsaKey(_RsaKey, Body):
    """平台 RSA 公钥 — the platform's RSA public key. Answered by 0x0001 (S001) or by the terminal's
    0x0A00 (EMQX); accept either."""

    e: int = wire(DWORD)
    n: bytes = wire(BYTES(RSA_MODULUS_SIZE))

    msg_id: ClassVar[int]


@message(0x0A00, quotes="")
class TerminalRsaKey(_RsaKey, Body):
    """终端 RSA 公钥 — the terminal's RSA public key. Answered by 0x8A00 (EMQX) or 0x8001."""

    e: int = wire(DWORD)
    n: bytes = wire(BYTES(RSA_MODULUS_SIZE))

    msg_id: ClassVar[int]
