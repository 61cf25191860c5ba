"""JT/T 1078 real-time media packets (the "01cd" RTP-style stream), sans-I/O.

A terminal asked with 0x9101 opens a TCP connection (or sends UDP datagrams) to the media port and
writes packets laid out as JT/T 1078-2016 table 19::

    offset  size  field
    0       4     frame header 0x30316364 ("01cd")
    4       1     V(2 bits, = 2) P(1) X(1) CC(4)                      usually 0x81
    5       1     M(1: last packet of a frame) PT(7: payload type)    H.264 = 98, G.711A = 6 …
    6       2     packet sequence number (wraps at 65536)
    8       6     SIM card number, BCD[6]   (BCD[10] in the variant 2019 terminals use: +4 below)
    14      1     logical channel
    15      1     data type (high nibble: 0 I, 1 P, 2 B frame, 3 audio, 4 transparent data)
                  + sub-package flag (low nibble: 0 atomic, 1 first, 2 last, 3 middle)
    16      8     timestamp, ms                     absent for transparent data
    24      2     interval since the last I frame   video only
    26      2     interval since the last frame     video only
    28      2     body length (at most 950)
    30      n     body

Facts checked against SmallChi/JT1078 (``JT1078Serializer.cs``: the optional fields by data type, the
sub-package values, payload type table ``JT1078AVType.cs``) whose test packets are our golden vectors.

- :class:`MediaParser` turns a byte stream (TCP) or datagrams (UDP) into :class:`MediaPacket`, skipping
  garbage up to the next header, deciding the SIM width (6 or 10) from the bytes, counting what it skipped.
- :class:`FrameAssembler` joins sub-packages into :class:`MediaFrame` per (SIM, channel, kind) and counts
  losses from sequence gaps (one numbering per channel, or per kind when a terminal numbers audio and
  video apart: it notices).
- :func:`packetize` / :func:`encode_packet` write packets (strict: the simulator and tests use them).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from jt808.errors import DecodeError, EncodeError

__all__ = [
    "MAGIC",
    "MAX_BODY",
    "DataType",
    "FrameAssembler",
    "MediaFrame",
    "MediaPacket",
    "MediaParser",
    "PayloadType",
    "SubPackage",
    "decode_packet",
    "encode_packet",
    "header_length",
    "packetize",
]

MAGIC = b"01cd"  # 0x30316364
MAX_BODY = 950  # the standard's limit on one packet's body
#: longest body accepted when decoding (devices exceed 950; anything longer is taken for garbage)
TOLERATED_BODY = 4096


class DataType(IntEnum):
    I_FRAME = 0
    P_FRAME = 1
    B_FRAME = 2
    AUDIO = 3
    TRANSPARENT = 4

    @property
    def is_video(self) -> bool:
        return self <= 2


class SubPackage(IntEnum):
    ATOMIC = 0
    FIRST = 1
    LAST = 2
    MIDDLE = 3


class PayloadType(IntEnum):
    """JT/T 1078-2016 table 12 (音视频编码类型)."""

    G721 = 1
    G722 = 2
    G723 = 3
    G728 = 4
    G729 = 5
    G711A = 6
    G711U = 7
    G726 = 8
    G729A = 9
    DVI4_3 = 10
    DVI4_4 = 11
    DVI4_8K = 12
    DVI4_16K = 13
    LPC = 14
    S16BE_STEREO = 15
    S16BE_MONO = 16
    MPEGAUDIO = 17
    LPCM = 18
    AAC = 19
    WMA9STD = 20
    HEAAC = 21
    PCM_VOICE = 22
    PCM_AUDIO = 23
    AACLC = 24
    MP3 = 25
    ADPCMA = 26
    MP4AUDIO = 27
    AMR = 28
    TRANSPARENT = 91
    H264 = 98
    H265 = 99
    AVS = 100
    SVAC = 101


def payload_name(pt: int) -> str:
    try:
        return PayloadType(pt).name
    except ValueError:
        return f"PT{pt}"


def header_length(data_type: int, sim_len: int = 6) -> int:
    """Bytes before the body for this data type and SIM width."""
    n = 4 + 1 + 1 + 2 + sim_len + 1 + 1
    if data_type != DataType.TRANSPARENT:
        n += 8
        if data_type <= DataType.B_FRAME:
            n += 4
    return n + 2


@dataclass(slots=True)
class MediaPacket:
    """One JT/T 1078 media packet. ``timestamp`` is None for transparent data, the intervals are None
    except for video. ``problems`` lists what a lenient decode repaired or tolerated."""

    sim: str
    channel: int
    payload_type: int
    data_type: DataType
    subpackage: SubPackage
    seq: int
    body: bytes
    timestamp: int | None = 0
    last_i_interval: int | None = None
    last_interval: int | None = None
    marker: bool = False
    label1: int = 0x81  # V=2 P=0 X=0 CC=1
    sim_len: int = 6
    problems: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "video" if self.data_type <= 2 else ("audio" if self.data_type == 3 else "data")


def _bcd(raw: bytes) -> str:
    return raw.hex()


def encode_packet(p: MediaPacket) -> bytes:
    """Strict: the body at most :data:`MAX_BODY`, the SIM all digits fitting its width, fields in range."""
    sim_len = p.sim_len
    if sim_len not in (6, 10):
        raise EncodeError(f"sim_len must be 6 or 10, not {sim_len}", field="sim", value=sim_len)
    digits = p.sim.rjust(sim_len * 2, "0")
    if len(digits) != sim_len * 2 or not digits.isdigit():
        raise EncodeError(f"SIM {p.sim!r} is not up to {sim_len * 2} decimal digits", field="sim", value=p.sim)
    if len(p.body) > MAX_BODY:
        raise EncodeError(f"body of {len(p.body)} bytes exceeds {MAX_BODY}", field="body", value=len(p.body))
    for name, v, hi in (("channel", p.channel, 255), ("payload_type", p.payload_type, 127), ("seq", p.seq, 65535),
                        ("label1", p.label1, 255)):
        if not 0 <= v <= hi:
            raise EncodeError(f"{name} {v} out of range 0..{hi}", field=name, value=v)
    dt = DataType(p.data_type)
    out = bytearray(MAGIC)
    out += struct.pack(">BBH", p.label1, (0x80 if p.marker else 0) | p.payload_type, p.seq)
    out += bytes.fromhex(digits)
    out += struct.pack(">BB", p.channel, (int(dt) << 4) | int(SubPackage(p.subpackage)))
    if dt != DataType.TRANSPARENT:
        out += struct.pack(">Q", p.timestamp or 0)
        if dt.is_video:
            out += struct.pack(">HH", p.last_i_interval or 0, p.last_interval or 0)
    out += struct.pack(">H", len(p.body))
    out += p.body
    return bytes(out)


def _parse_at(buf: bytes | bytearray, i: int, sim_len: int) -> tuple[MediaPacket | None, int, str]:
    """Try a packet at ``buf[i]`` (which starts with MAGIC). Returns (packet, end, "") when complete,
    (None, needed_end, "") when more bytes are needed, (None, 0, reason) when the bytes are no packet."""
    n = len(buf)
    fixed = i + 10 + sim_len  # through the data type byte
    if n < fixed:
        return None, fixed, ""
    label1 = buf[i + 4]
    if label1 >> 6 != 2:
        return None, 0, f"RTP version {label1 >> 6} (expected 2)"
    dtb = buf[fixed - 1]
    dt_raw, sp_raw = dtb >> 4, dtb & 0x0F
    if dt_raw > 4 or sp_raw > 3:
        return None, 0, f"data type/sub-package byte 0x{dtb:02X} out of range"
    hlen = header_length(dt_raw, sim_len)
    if n < i + hlen:
        return None, i + hlen, ""
    o = fixed
    ts = lii = li = None
    if dt_raw != 4:
        (ts,) = struct.unpack_from(">Q", buf, o)
        o += 8
        if dt_raw <= 2:
            lii, li = struct.unpack_from(">HH", buf, o)
            o += 4
    (blen,) = struct.unpack_from(">H", buf, o)
    o += 2
    if blen > TOLERATED_BODY:
        return None, 0, f"body length {blen} exceeds {TOLERATED_BODY}"
    end = o + blen
    if n < end:
        return None, end, ""
    sim_raw = bytes(buf[i + 8:i + 8 + sim_len])
    problems: list[str] = []
    if blen > MAX_BODY:
        problems.append(f"body of {blen} bytes exceeds the standard's {MAX_BODY}")
    if label1 != 0x81:
        problems.append(f"label byte 0x{label1:02X} (V/P/X/CC) differs from 0x81")
    b5 = buf[i + 5]
    pkt = MediaPacket(sim=_bcd(sim_raw), channel=buf[fixed - 2], payload_type=b5 & 0x7F, data_type=DataType(dt_raw),
                      subpackage=SubPackage(sp_raw), seq=(buf[i + 6] << 8) | buf[i + 7], body=bytes(buf[o:end]),
                      timestamp=ts, last_i_interval=lii, last_interval=li, marker=bool(b5 & 0x80), label1=label1,
                      sim_len=sim_len, problems=problems)
    if not all(c in "0123456789" for c in pkt.sim):
        problems.append(f"SIM {pkt.sim} has non-decimal BCD digits")
    return pkt, end, ""


def decode_packet(data: bytes, sim_len: int = 6) -> MediaPacket:
    """Decode exactly one packet (raises :class:`DecodeError` naming the problem)."""
    if not data.startswith(MAGIC):
        raise DecodeError(f"media packet does not start with 0x30316364 (got {data[:4].hex()})", offset=0)
    pkt, end, reason = _parse_at(data, 0, sim_len)
    if reason:
        raise DecodeError(f"media packet: {reason}")
    if pkt is None:
        raise DecodeError(f"media packet truncated: needs {end} bytes, has {len(data)}")
    if end != len(data):
        pkt.problems.append(f"{len(data) - end} bytes after the body ignored")
    return pkt


class MediaParser:
    """Bytes in, packets out. ``sim_len`` 6 or 10 fixes the SIM width; None decides it from the first
    packet whose end is followed by another header (or ends the data exactly) and keeps it.

    Garbage (bytes that are not a packet) is skipped up to the next "01cd" that starts a valid packet;
    ``garbage_bytes`` counts it, ``resyncs`` the times it happened. The buffer is bounded: a header
    claiming more than :data:`TOLERATED_BODY` is garbage, so at most one packet is ever held.
    """

    def __init__(self, sim_len: int | None = None) -> None:
        if sim_len not in (None, 6, 10):
            raise ValueError("sim_len must be 6, 10 or None")
        self.sim_len = sim_len
        self._buf = bytearray()
        self.packets = 0
        self.bytes = 0
        self.garbage_bytes = 0
        self.resyncs = 0
        self.last_problem = ""

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a packet."""
        return len(self._buf)

    def _skip(self, n: int, reason: str) -> None:
        if n > 0:
            self.garbage_bytes += n
            self.resyncs += 1
            self.last_problem = reason
            del self._buf[:n]

    def feed(self, data: bytes, final: bool = False) -> list[MediaPacket]:
        """The packets completed by ``data``. ``final``: nothing follows it (a UDP datagram), so a packet
        ending exactly where the data ends is taken even if a header seems to start inside it."""
        self.bytes += len(data)
        buf = self._buf
        buf += data
        out: list[MediaPacket] = []
        while buf:
            i = buf.find(MAGIC)
            if i < 0:
                keep = next((k for k in (3, 2, 1) if buf.endswith(MAGIC[:k])), 0)
                self._skip(len(buf) - keep, "no 01cd header")
                break
            if i > 0:
                self._skip(i, "bytes before the 01cd header")
                continue
            pkt, end, reason = self._try(buf)
            if reason:
                nxt = buf.find(MAGIC, 1)
                self._skip(nxt if nxt > 0 else max(1, len(buf) - 3), reason)
                continue
            if pkt is None:
                break  # incomplete
            if end < len(buf) and not buf.startswith(MAGIC[:len(buf) - end], end):
                # not followed by a header: a cut packet whose length swallowed the start of the next one?
                j = buf.find(MAGIC, 1, end)
                if j > 0:
                    self._skip(j, "packet cut short (a header inside it)")
                    continue
                pkt.problems.append("not followed by a 01cd header")
            elif end == len(buf) and not final and buf.find(MAGIC, 1, end) > 0:
                break  # a header inside it and nothing after it yet: what follows decides (see above)
            del buf[:end]
            self.packets += 1
            out.append(pkt)
        return out

    def end_datagram(self) -> None:
        """UDP: whatever is left of a datagram cannot continue in the next one."""
        self._skip(len(self._buf), "truncated packet at the end of a datagram")

    def _try(self, buf: bytearray) -> tuple[MediaPacket | None, int, str]:
        if self.sim_len is not None:
            return _parse_at(buf, 0, self.sim_len)
        results = [(w, *_parse_at(buf, 0, w)) for w in (6, 10)]
        valid = [r for r in results if not r[3]]
        if not valid:
            return None, 0, results[0][3]
        confirmed = [r for r in valid if r[1] is not None and (r[2] == len(buf) or buf.startswith(MAGIC, r[2]))]
        if len(confirmed) == 1:
            w, pkt, end, _ = confirmed[0]
            self.sim_len = w
            return pkt, end, ""
        def open_end(r: tuple[Any, ...]) -> bool:  # needs more bytes, or its end is followed by a partial header
            return r[1] is None or (len(buf) - r[2] < 4 and MAGIC.startswith(bytes(buf[r[2]:])))

        if any(open_end(r) for r in valid) and len(buf) < 2 * (TOLERATED_BODY + 40):
            return None, 1 << 30, ""  # wait: one candidate needs more bytes to decide
        # undecidable (both or none confirmed with plenty of data): the 2016 width, not remembered
        w, pkt, end, _ = valid[0]
        if pkt is None:
            return None, 0, "packet length cannot be decided"
        pkt.problems.append("SIM width guessed (6 bytes)")
        return pkt, end, ""


@dataclass(slots=True)
class MediaFrame:
    """A whole frame: the joined bodies of its packets. ``payload`` is H.264/H.265 Annex B for video,
    the codec's bytes for audio."""

    sim: str
    channel: int
    payload_type: int
    data_type: DataType
    timestamp: int
    payload: bytes
    last_i_interval: int | None = None
    last_interval: int | None = None
    packets: int = 1
    seq: int = 0  # sequence number of the last packet
    problems: list[str] = field(default_factory=list)

    @property
    def is_video(self) -> bool:
        return self.data_type <= 2

    @property
    def is_key(self) -> bool:
        return self.data_type == DataType.I_FRAME


def _kind(dt: int) -> int:
    return 0 if dt <= 2 else dt - 2  # 0 video, 1 audio, 2 transparent


class _Partial:
    __slots__ = ("first", "parts", "seq", "size")

    def __init__(self, first: MediaPacket) -> None:
        self.first = first
        self.parts = [first.body]
        self.size = len(first.body)
        self.seq = first.seq


class FrameAssembler:
    """Packets in, frames out, per (SIM, channel, kind). A frame whose packets were not all received
    (a sequence gap inside it, a middle/last without a first, a first while another was open) is dropped
    and counted in ``frames_dropped``; ``lost`` counts the packets the sequence numbers say are missing.
    ``max_frame`` bounds a frame (bytes) against a terminal that never sends "last"."""

    def __init__(self, max_frame: int = 4 << 20) -> None:
        self.max_frame = max_frame
        self._partial: dict[tuple[str, int, int], _Partial] = {}
        self._last_chan: dict[tuple[str, int], int] = {}
        self._last_kind: dict[tuple[str, int, int], int] = {}
        self._per_kind: set[tuple[str, int]] = set()
        self.received = 0
        self.lost = 0
        self.frames = 0
        self.frames_dropped = 0
        self.reordered = 0

    def _gap(self, p: MediaPacket, kind: int) -> int:
        """Packets missing before ``p`` by the sequence numbers (0 when in order)."""
        ck = (p.sim, p.channel)
        kk = (p.sim, p.channel, kind)
        last_c = self._last_chan.get(ck)
        last_k = self._last_kind.get(kk)
        self._last_chan[ck] = p.seq
        self._last_kind[kk] = p.seq
        if last_c is None or (last_c + 1) & 0xFFFF == p.seq:
            return 0
        if last_k is not None and (last_k + 1) & 0xFFFF == p.seq:
            self._per_kind.add(ck)  # this terminal numbers each kind apart
            return 0
        ref = last_k if ck in self._per_kind else last_c
        if ref is None:
            return 0
        gap = (p.seq - ref - 1) & 0xFFFF
        if gap >= 0x8000:  # behind: a duplicate or a late packet, not a loss
            self.reordered += 1
            return 0
        return gap

    def add(self, p: MediaPacket) -> MediaFrame | None:
        self.received += 1
        kind = _kind(p.data_type)
        gap = self._gap(p, kind)
        self.lost += gap
        key = (p.sim, p.channel, kind)
        part = self._partial.get(key)
        if gap and part is not None:
            del self._partial[key]
            self.frames_dropped += 1
            part = None
        sp = p.subpackage
        if sp == SubPackage.ATOMIC:
            if part is not None:
                del self._partial[key]
                self.frames_dropped += 1
            return self._frame(p, p.body, 1, p.problems)
        if sp == SubPackage.FIRST:
            if part is not None:
                self.frames_dropped += 1
            self._partial[key] = _Partial(p)
            return None
        if part is None:  # middle/last without its first
            if sp == SubPackage.LAST:
                self.frames_dropped += 1
            return None
        part.parts.append(p.body)
        part.size += len(p.body)
        part.seq = p.seq
        if part.size > self.max_frame:
            del self._partial[key]
            self.frames_dropped += 1
            return None
        if sp == SubPackage.MIDDLE:
            return None
        del self._partial[key]
        first = part.first
        return self._frame(first, b"".join(part.parts), len(part.parts), first.problems, p.seq)

    def _frame(self, p: MediaPacket, payload: bytes, packets: int, problems: list[str],
               seq: int | None = None) -> MediaFrame:
        self.frames += 1
        return MediaFrame(p.sim, p.channel, p.payload_type, p.data_type, p.timestamp or 0, payload, p.last_i_interval,
                          p.last_interval, packets, p.seq if seq is None else seq, list(problems))

    @property
    def loss_rate(self) -> float:
        total = self.received + self.lost
        return self.lost / total if total else 0.0


def packetize(sim: str, channel: int, payload_type: int, data_type: DataType | int, timestamp: int, payload: bytes,
              seq: int, *, last_i_interval: int = 0, last_interval: int = 0, sim_len: int = 6,
              max_body: int = MAX_BODY) -> list[MediaPacket]:
    """Split one frame into packets of at most ``max_body`` bytes, numbered from ``seq`` (mod 65536)."""
    dt = DataType(data_type)
    chunks = [payload[i:i + max_body] for i in range(0, len(payload), max_body)] or [b""]
    n = len(chunks)
    out = []
    for k, chunk in enumerate(chunks):
        sp = SubPackage.ATOMIC if n == 1 else SubPackage.FIRST if k == 0 else SubPackage.LAST if k == n - 1 \
            else SubPackage.MIDDLE
        video = dt.is_video
        out.append(MediaPacket(sim=sim, channel=channel, payload_type=payload_type, data_type=dt, subpackage=sp,
                               seq=(seq + k) & 0xFFFF, body=chunk,
                               timestamp=None if dt == DataType.TRANSPARENT else timestamp,
                               last_i_interval=last_i_interval if video else None,
                               last_interval=last_interval if video else None, marker=k == n - 1, sim_len=sim_len))
    return out
