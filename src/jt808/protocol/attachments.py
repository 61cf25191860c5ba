"""The SuBiao / YueBiao alarm-attachment stream, sans-I/O.

After an 0x9208 the terminal opens a TCP connection to the attachment server and mixes two kinds of
packets on it:

- ordinary 0x7E-framed JT/T 808 messages: 0x1210 (the alarm's attachment list), 0x1211 (one file
  announced), 0x1212 (one file sent), answered by 0x8001 / 0x9212;
- raw file-data packets: ``magic "01cd" (0x30316364) · file name BYTE[50] · offset DWORD · length DWORD ·
  data BYTE[length]`` (the name NUL-padded; SmallChi pads it on the left, most on the right).

:class:`AttachmentStream` demultiplexes the bytes of such a connection: ``feed(chunk)`` returns
:class:`FrameReceived` (one whole escaped frame, for :func:`jt808.decode`) and :class:`FileData` events.
File data is handed on as it arrives (a 64 KiB packet read in four pieces gives four events, offsets
advancing), so memory per connection stays bounded by ``max_frame`` whatever the file sizes. Bytes that
start neither a frame nor a data packet are skipped and counted (``junk``) until something that does.

:class:`RangeSet` keeps the byte ranges of a file received so far and answers which ranges are missing
(the 0x9212 re-send list). :func:`file_packet` builds a data packet (for terminals and tests).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from jt808.errors import JT808Error

__all__ = [
    "FILE_HEADER",
    "FILE_MAGIC",
    "NAME_SIZE",
    "AttachmentStream",
    "AttachmentStreamError",
    "FileData",
    "FrameReceived",
    "RangeSet",
    "file_packet",
    "parse_file_name",
]

FILE_MAGIC = b"01cd"  # 0x30316364
NAME_SIZE = 50
_HEADER = struct.Struct(">4s50sII")
FILE_HEADER = _HEADER.size  # 62


class AttachmentStreamError(JT808Error):
    """The stream cannot go on: a frame or data packet over the configured limits."""


@dataclass(slots=True)
class FrameReceived:
    """One 0x7E … 0x7E frame as received (escaped), ready for :func:`jt808.decode`."""

    frame: bytes


@dataclass(slots=True)
class FileData:
    """``data`` belongs at ``offset`` of file ``name``; ``end`` is True for the last piece of its packet."""

    name: str
    offset: int
    data: bytes
    end: bool = True


def file_packet(name: str, offset: int, data: bytes, *, encoding: str = "gbk") -> bytes:
    """One "01cd" data packet (name NUL-padded on the right to 50 bytes)."""
    raw = name.encode(encoding)
    if len(raw) > NAME_SIZE:
        raise ValueError(f"file name of {len(raw)} bytes does not fit in {NAME_SIZE}")
    return _HEADER.pack(FILE_MAGIC, raw, offset, len(data)) + data


def _name(raw: bytes, encoding: str) -> str:
    return raw.strip(b"\x00").decode(encoding, "replace")


class AttachmentStream:
    """Demultiplex one attachment connection (see the module docstring).

    ``max_frame``: longest 0x7E frame accepted (bytes, escaped); ``max_packet``: largest ``length`` of a data
    packet. Either exceeded raises :class:`AttachmentStreamError` (the server closes the connection).
    """

    __slots__ = ("_buf", "_left", "_name", "_offset", "encoding", "frames", "junk", "max_frame", "max_packet",
                 "packets")

    def __init__(self, *, max_frame: int = 65536, max_packet: int = 1 << 20, encoding: str = "gbk") -> None:
        self.max_frame = max_frame
        self.max_packet = max_packet
        self.encoding = encoding
        self._buf = bytearray()
        self._left = 0  # bytes of the current data packet still to come
        self._name = ""
        self._offset = 0
        self.junk = 0  # bytes skipped
        self.frames = 0
        self.packets = 0

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame or packet header."""
        return len(self._buf)

    @property
    def in_packet(self) -> bool:
        """True while the data of a packet is being received."""
        return self._left > 0

    def feed(self, data: bytes) -> list[FrameReceived | FileData]:
        out: list[FrameReceived | FileData] = []
        buf = self._buf
        buf += data
        while buf:
            if self._left:
                n = min(self._left, len(buf))
                self._left -= n
                out.append(FileData(self._name, self._offset, bytes(buf[:n]), self._left == 0))
                self._offset += n
                del buf[:n]
                continue
            b0 = buf[0]
            if b0 == 0x7E:
                end = buf.find(0x7E, 1)
                if end == 1:  # "7e 7e": the end of a frame we lost and the start of the next one
                    del buf[:1]
                    self.junk += 1
                    continue
                if end < 0:
                    if len(buf) > self.max_frame:
                        raise AttachmentStreamError(f"a frame longer than {self.max_frame} bytes")
                    break
                if end + 1 > self.max_frame:
                    raise AttachmentStreamError(f"a frame of {end + 1} bytes (limit {self.max_frame})")
                out.append(FrameReceived(bytes(buf[:end + 1])))
                self.frames += 1
                del buf[:end + 1]
                continue
            if b0 == 0x30:
                if len(buf) < 4:
                    break
                if buf[:4] == FILE_MAGIC:
                    if len(buf) < FILE_HEADER:
                        break
                    _, raw, offset, length = _HEADER.unpack_from(buf)
                    if length > self.max_packet:
                        raise AttachmentStreamError(f"a data packet of {length} bytes (limit {self.max_packet})")
                    del buf[:FILE_HEADER]
                    self._name, self._offset, self._left = _name(raw, self.encoding), offset, length
                    self.packets += 1
                    if length == 0:
                        out.append(FileData(self._name, offset, b"", True))
                    continue
            # junk: skip to the next byte that may start something
            nxt = len(buf)
            for marker in (0x7E, 0x30):
                i = buf.find(marker, 1)
                if 0 < i < nxt:
                    nxt = i
            self.junk += nxt
            del buf[:nxt]
        return out


class RangeSet:
    """Disjoint, sorted byte ranges ``[start, end)`` received so far."""

    __slots__ = ("_r",)

    def __init__(self) -> None:
        self._r: list[list[int]] = []

    def add(self, offset: int, length: int) -> None:
        if length <= 0:
            return
        start, end = offset, offset + length
        out: list[list[int]] = []
        placed = False
        for s, e in self._r:
            if e < start:
                out.append([s, e])
            elif s > end:
                if not placed:
                    out.append([start, end])
                    placed = True
                out.append([s, e])
            else:
                start, end = min(s, start), max(e, end)
        if not placed:
            out.append([start, end])
        self._r = out

    @property
    def covered(self) -> int:
        return sum(e - s for s, e in self._r)

    def missing(self, size: int) -> list[tuple[int, int]]:
        """``(offset, length)`` of every gap in ``[0, size)``."""
        gaps: list[tuple[int, int]] = []
        pos = 0
        for s, e in self._r:
            if s >= size:
                break
            if s > pos:
                gaps.append((pos, s - pos))
            pos = max(pos, e)
        if pos < size:
            gaps.append((pos, size - pos))
        return gaps

    def complete(self, size: int) -> bool:
        return not self.missing(size)

    def __repr__(self) -> str:
        return f"RangeSet({[(s, e) for s, e in self._r]})"


def parse_file_name(name: str) -> dict[str, str | int] | None:
    """The parts of a standard attachment name ``<type>_<channel>_<alarm type>_<index>_<alarm no>.<ext>``
    (type 00 image, 01 audio, 02 video, 03 text, 04 other; alarm type = peripheral id + event code, e.g.
    ``6501``), or ``None`` for another naming."""
    stem, dot, ext = name.rpartition(".")
    parts = (stem if dot else name).split("_", 4)
    if len(parts) != 5 or not all(p.isdigit() for p in parts[:4]):
        return None
    return {"type": int(parts[0]), "channel": int(parts[1]), "alarm_type": parts[2], "index": int(parts[3]),
            "alarm_no": parts[4], "ext": ext if dot else ""}
