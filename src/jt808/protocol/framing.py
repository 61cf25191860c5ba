"""Framing: 0x7E flags, 0x7D escaping, the XOR check code and a streaming frame splitter.

A frame on the wire is ``7E | escape(header + body + check) | 7E``. Escaping maps ``7D`` to
``7D 01`` and ``7E`` to ``7D 02``; the check code is the XOR of every header and body byte.
"""

from __future__ import annotations

from collections.abc import Callable

from jt808.errors import BadEscape
from jt808.protocol.header import frame_layout

__all__ = [
    "DEFAULT_MAX_FRAME",
    "FrameSplitter",
    "check_code",
    "escape",
    "frame",
    "unescape",
]

#: Longest escaped frame accepted by default: a 2019 fragment header (21) + 1023-byte body + check,
#: every byte escaped, plus the two flags, rounded up.
DEFAULT_MAX_FRAME = 4096

_FLAG = 0x7E
_from_bytes = int.from_bytes
_XOR16 = bytes((i >> 8) ^ (i & 0xFF) for i in range(0x10000))  # XOR of the two bytes of a WORD


def check_code(data: bytes | bytearray | memoryview) -> int:
    """XOR of all bytes: a folded big integer (each shift halves the span that still matters)."""
    n = len(data)
    if n <= 8:
        x = 0
        for b in data:
            x ^= b
        return x
    x = _from_bytes(data, "little")
    if n > 16:
        if n > 32:
            if n > 64:
                if n > 128:
                    s = 2048
                    while s < n << 3:
                        s <<= 1
                    while s > 1024:
                        s >>= 1
                        x ^= x >> s
                x ^= x >> 512
            x ^= x >> 256
        x ^= x >> 128
    x ^= x >> 64
    x ^= x >> 32
    x ^= x >> 16
    return _XOR16[x & 0xFFFF]


def escape(data: bytes) -> bytes:
    """Escape 0x7D then 0x7E (the order matters)."""
    if b"\x7d" in data:
        data = data.replace(b"\x7d", b"\x7d\x01")
    if b"\x7e" in data:
        data = data.replace(b"\x7e", b"\x7d\x02")
    return data


def unescape(data: bytes) -> bytes:
    """Undo :func:`escape`. Raises :class:`BadEscape` on 0x7D not followed by 0x01/0x02."""
    if b"\x7d" not in data:
        return data
    n7d = data.count(b"\x7d")
    if n7d != data.count(b"\x7d\x01") + data.count(b"\x7d\x02"):
        i = 0
        while True:
            i = data.index(b"\x7d", i)
            if i + 1 >= len(data):
                raise BadEscape("frame ends with a lone 0x7D escape byte", offset=i)
            if data[i + 1] not in (1, 2):
                raise BadEscape(f"invalid escape 7D {data[i + 1]:02X} (only 7D 01 and 7D 02 exist)", offset=i)
            i += 2
    # 7D 02 -> 7E first, then 7D 01 -> 7D: data 7D 02 is sent as 7D 01 02 and must not become 7E.
    return data.replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")


def frame(content: bytes) -> bytes:
    """Header + body (unescaped) -> complete frame with check code, escaping and flags."""
    return b"\x7e" + escape(content + bytes((check_code(content),))) + b"\x7e"


def _plausible(piece: bytes | bytearray) -> bool:
    """Cheap length test of an escaped frame ``7E … 7E`` without decoding it: True when its unescaped
    length is one the frame decoder reads as a whole frame (:func:`jt808.protocol.header.frame_layout`:
    the standard layouts, bit 14 on a 2013 frame, a body length overflowing into the flag bits, a
    missing check code)."""
    head = piece[1:8]
    if b"\x7d" in head:
        try:
            head = unescape(bytes(piece[1:-1]))[:7]
        except BadEscape:
            return False
    if len(head) < 4:
        return False
    ulen = len(piece) - 2 - piece.count(b"\x7d")
    return frame_layout(ulen, head[2] << 8 | head[3]) is not None


class FrameSplitter:
    """Cut a byte stream into complete frames. Sans-I/O: :meth:`feed` takes any chunk.

    Handles sticky and half packets, junk between frames (skipped to the next 0x7E and counted),
    doubled 0x7E flags, a missing start flag (bytes right after a frame's end flag that form a
    plausible frame by themselves), and a body that contains an unescaped 0x7E (a piece whose
    length does not add up is tried joined with the piece that follows before it is given up).

    Frames are returned whole, flags included, ready for :func:`jt808.decode`. A frame that is
    still not plausible is returned anyway (the decoder names the problem); junk is not.
    """

    __slots__ = ("_buf", "_pending", "frames", "junk_bytes", "junk_runs", "max_frame", "on_junk", "oversize")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME,
                 on_junk: Callable[[bytes, str], None] | None = None) -> None:
        self.max_frame = max_frame
        self.on_junk = on_junk
        self._buf = bytearray()
        self._pending: bytes | None = None  # an implausible piece waiting for its continuation
        self.frames = 0
        self.junk_bytes = 0
        self.junk_runs = 0
        self.oversize = 0

    def __repr__(self) -> str:
        return (f"<FrameSplitter buffered={len(self._buf)} frames={self.frames} "
                f"junk_bytes={self.junk_bytes} oversize={self.oversize}>")

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf) + (len(self._pending) if self._pending else 0)

    def _junk(self, data: bytes, why: str) -> None:
        if not data:
            return
        self.junk_bytes += len(data)
        self.junk_runs += 1
        if self.on_junk is not None:
            self.on_junk(bytes(data), why)

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add received bytes; return the frames completed by them, in order."""
        buf = self._buf
        # Fast path: nothing buffered and the chunk is exactly one plausible frame.
        if not buf and self._pending is None:
            n = len(chunk)
            if (n >= 3 and chunk[0] == _FLAG and chunk[-1] == _FLAG and chunk.find(b"\x7e", 1) == n - 1
                    and n <= self.max_frame and _plausible(chunk)):
                self.frames += 1
                return [bytes(chunk)]
        buf += chunk
        out: list[bytes] = []
        max_frame = self.max_frame
        pos = 0
        n = len(buf)
        while pos < n:
            if buf[pos] != _FLAG:
                # Bytes without a start flag: a frame whose start flag is missing, or junk.
                end = buf.find(b"\x7e", pos)
                if end < 0:
                    if n - pos > max_frame:
                        self._flush_pending(out)
                        self._junk(bytes(buf[pos:]), "no 0x7E within the maximum frame length")
                        pos = n
                    break
                candidate = b"\x7e" + bytes(buf[pos:end + 1])
                if self._pending is not None:
                    joined = self._pending + candidate[1:]
                    if _plausible(joined) and len(joined) <= max_frame:
                        self._pending = None
                        self._emit(out, joined)
                        pos = end + 1
                        continue
                    self._flush_pending(out)
                if 3 < len(candidate) <= max_frame and _plausible(candidate):
                    self._emit(out, candidate)
                    pos = end + 1
                else:
                    self._junk(bytes(buf[pos:end]), "bytes outside a frame")
                    pos = end  # the 0x7E may start the next frame
                continue
            # buf[pos] is a flag: look for the closing one.
            end = buf.find(b"\x7e", pos + 1)
            if end < 0:
                if n - pos > max_frame:
                    self._flush_pending(out)
                    self.oversize += 1
                    self._junk(bytes(buf[pos:]), "frame longer than the maximum without an end flag")
                    pos = n
                break
            if end == pos + 1:  # doubled flag "7E 7E": the second one starts the frame
                pos = end
                continue
            piece = bytes(buf[pos:end + 1])
            pos = end + 1
            if len(piece) > max_frame:
                self._flush_pending(out)
                self.oversize += 1
                self._junk(piece, "frame longer than the maximum")
                continue
            if self._pending is not None:
                # The pending piece was followed by a proper start flag: it stays broken.
                self._flush_pending(out)
            if _plausible(piece):
                self._emit(out, piece)
            elif pos < n:
                nxt = buf[pos]
                if nxt == _FLAG:
                    self._emit(out, piece)  # followed by a proper frame: give it to the decoder as is
                else:
                    self._pending = piece
            else:
                self._pending = piece  # wait for the next bytes to know whether it continues
        if pos:
            del buf[:pos]
        return out

    def _emit(self, out: list[bytes], piece: bytes) -> None:
        self.frames += 1
        out.append(piece)

    def _flush_pending(self, out: list[bytes]) -> None:
        if self._pending is not None:
            self._emit(out, self._pending)
            self._pending = None

    def flush(self) -> list[bytes]:
        """End of stream: return a held (implausible) piece; count what is left as junk."""
        out: list[bytes] = []
        self._flush_pending(out)
        if self._buf:
            self._junk(bytes(self._buf), "incomplete frame at end of stream")
            self._buf.clear()
        return out
