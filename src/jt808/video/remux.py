"""Remuxing a camera's frames for browsers with PyAV (FFmpeg inside the wheel): FLV for HTTP-FLV and
WebSocket-FLV, HLS (MPEG-TS segments cut at key frames) — video copied, never transcoded; G.711 /
AAC / MP3 audio decoded and encoded to AAC (browsers' MSE plays AAC, not G.711).

One :class:`FlvOutput` per stream, shared by all its viewers: FFmpeg's FLV muxer writes into
:class:`_TagSink`, which reads the tag boundaries back (11-byte tag headers; writing FLV stays
FFmpeg's job) so that a viewer joining late gets the FLV header and sequence headers, then the tags
from the last key frame on. ``flush_packets`` makes FFmpeg hand over each tag as soon as it is muxed;
``max_interleave_delta`` (1 µs) keeps FFmpeg from holding video back to interleave it with the AAC
encoder's later packets: a tag waits at most for the next packet of the stream (one frame interval).
"""

from __future__ import annotations

import contextlib
import io
import logging
import struct
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av

from jt808.video.h26x import CODECS

__all__ = ["AUDIO_DECODERS", "AudioDecoder", "FlvOutput", "HlsOutput", "video_template"]

log = logging.getLogger("jt808.video")

MS = Fraction(1, 1000)
AAC_RATE = 16000
#: JT/T 1078 payload type -> (FFmpeg decoder, input sample rate); others are dropped (video only)
AUDIO_DECODERS: dict[int, tuple[str, int]] = {6: ("pcm_alaw", 8000), 7: ("pcm_mulaw", 8000), 19: ("aac", 0),
                                              24: ("aac", 0), 25: ("mp3", 0)}
_MAX_INTERLEAVE_US = "1"


def video_template(payload_type: int, keyframe: bytes) -> Any:
    """A stream describing the camera's video (size, profile, parameter sets), read by FFmpeg from a key
    frame that carries its parameter sets; outputs copy it (``add_stream_from_template``)."""
    container = av.open(io.BytesIO(keyframe), format=CODECS[payload_type])
    stream = container.streams.video[0]
    if not stream.codec_context.width:
        container.close()
        raise ValueError("the key frame does not describe the picture (no SPS?)")
    return container, stream


def strip_hisilicon(payload: bytes) -> bytes:
    """Many terminals prefix each audio frame with HiSilicon's 4-byte header ``00 01 LL 00`` (LL = the
    frame length in 16-bit words); the decoders need the bare frame."""
    if len(payload) > 4 and payload[0] == 0 and payload[1] == 1 and payload[2] * 2 == len(payload) - 4:
        return payload[4:]
    return payload


class AudioDecoder:
    """Camera audio frames -> mono float frames at :data:`AAC_RATE` with pts in samples."""

    def __init__(self, payload_type: int) -> None:
        name, rate = AUDIO_DECODERS[payload_type]
        self.ctx: Any = cast(Any, av.CodecContext.create(name, "r"))  # an audio decoder (PyAV types it generically)
        if rate:
            self.ctx.sample_rate = rate
            self.ctx.layout = "mono"
        self.resampler = av.AudioResampler(format="fltp", layout="mono", rate=AAC_RATE)
        self.next_pts: int | None = None
        self.hisilicon = 0

    def decode(self, payload: bytes, ts_ms: int) -> list[Any]:
        bare = strip_hisilicon(payload)
        if bare is not payload:
            self.hisilicon += 1
        out = []
        for frame in self.ctx.decode(av.Packet(bare)):
            for f in self.resampler.resample(frame):
                want = ts_ms * AAC_RATE // 1000
                if self.next_pts is None or abs(want - self.next_pts) > AAC_RATE // 5:
                    self.next_pts = want  # first frame, or a jump (gap, clock reset): follow the camera
                f.pts = self.next_pts
                f.time_base = Fraction(1, AAC_RATE)
                self.next_pts += f.samples
                out.append(f)
        return out


class _TagSink:
    """The file FFmpeg writes FLV into: splits it back into the header part (FLV header, metadata,
    sequence headers) and media tags, each reported with whether it starts a key frame."""

    def __init__(self, on_tag: Callable[[bytes, str], None]) -> None:
        self.on_tag = on_tag
        self.buf = bytearray()
        self.header_done = False

    def write(self, data: Any) -> int:
        b = self.buf
        b += data
        if not self.header_done:
            if len(b) < 13:
                return len(data)
            self.on_tag(bytes(b[:13]), "config")
            del b[:13]
            self.header_done = True
        while len(b) >= 11:
            size = int.from_bytes(b[1:4], "big")
            end = 11 + size + 4
            if len(b) < end:
                break
            tag = bytes(b[:end])
            del b[:end]
            self.on_tag(tag, _classify(tag))
        return len(data)

    def flush(self) -> None:
        pass


def _classify(tag: bytes) -> str:
    """'config' (metadata, sequence header), 'key' (video key frame), 'media' (anything else)."""
    kind = tag[0] & 0x1F
    if kind == 18:
        return "config"
    if len(tag) < 13:
        return "media"
    b0, b1 = tag[11], tag[12]
    if kind == 8:  # audio: AAC sequence header
        return "config" if b0 >> 4 == 10 and b1 == 0 else "media"
    if kind != 9:
        return "media"
    if b0 & 0x80:  # enhanced FLV (H.265): frame type in bits 4-6, packet type in bits 0-3
        if b0 & 0x0F == 0:
            return "config"
        if b0 & 0x0F == 2:  # sequence end
            return "media"
        return "key" if (b0 >> 4) & 0x07 == 1 else "media"
    if b1 == 0:  # AVC sequence header
        return "config"
    return "key" if b0 >> 4 == 1 and b1 == 1 else "media"  # (packet type 2: end of sequence)


class _Output:
    """A PyAV output container fed with copied video packets and encoded audio."""

    container: Any

    def _setup(self, template: Any, audio: bool) -> None:
        self.vs = self.container.add_stream_from_template(template)
        self.vs.time_base = MS
        self.audio = None
        if audio:
            a = self.container.add_stream("aac", rate=AAC_RATE, layout="mono")
            a.codec_context.bit_rate = 32000
            a.codec_context.options = {"aac_coder": "fast"}  # 4x cheaper than the default "twoloop" (speech)
            self.audio = a
        self.closed = False

    def video(self, payload: bytes, ts: int, key: bool) -> None:
        pk = av.Packet(payload)
        pk.stream = self.vs
        pk.time_base = MS
        pk.pts = pk.dts = ts
        pk.is_keyframe = key
        self.container.mux(pk)

    def audio_frames(self, frames: list[Any]) -> None:
        if self.audio is None:
            return
        for f in frames:
            for pk in self.audio.encode(f):
                if pk.dts is not None and pk.dts < 0:
                    continue  # the encoder's priming packet, before the stream's time 0: FLV cannot start there
                self.container.mux(pk)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            if self.audio is not None:
                for pk in self.audio.encode(None):
                    self.container.mux(pk)
        try:
            self.container.close()
        except Exception as e:  # a stream that never got a packet, a full disk …
            log.debug("closing %s: %s", type(self).__name__, e)


class FlvOutput(_Output):
    """``on_tag(bytes, kind)`` receives the FLV header ('config'), sequence headers ('config') and tags
    ('key' for a video key frame, else 'media') as FFmpeg writes them."""

    def __init__(self, template: Any, audio: bool, on_tag: Callable[[bytes, str], None]) -> None:
        self.sink = _TagSink(on_tag)
        self.container = av.open(self.sink, "w", format="flv", options={"flvflags": "no_duration_filesize"},
                                 container_options={"flush_packets": "1",
                                                    "max_interleave_delta": _MAX_INTERLEAVE_US})
        self._setup(template, audio)


class HlsOutput(_Output):
    """``live.m3u8`` and ``segN.ts`` in ``directory``: segments of about ``segment`` seconds, cut at key
    frames, the last ``size`` listed, older ones deleted; files appear only once complete."""

    def __init__(self, template: Any, audio: bool, directory: Path, segment: float = 1.0, size: int = 6) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.container = av.open(str(directory / "live.m3u8"), "w", format="hls", options={
            "hls_time": f"{segment:g}", "hls_list_size": str(size),
            "hls_flags": "delete_segments+independent_segments+omit_endlist+temp_file",
            "hls_segment_filename": str(directory / "seg%d.ts")},
            container_options={"max_interleave_delta": _MAX_INTERLEAVE_US})
        self._setup(template, audio)


def flv_timestamp(tag: bytes) -> int:
    """The timestamp (ms) of an FLV tag."""
    (low,) = struct.unpack(">I", b"\x00" + tag[4:7])
    return low | tag[7] << 24
