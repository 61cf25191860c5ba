"""A simulated dash-cam channel: a real H.264 clip (FFmpeg's test pattern, encoded with PyAV's
libx264 when first needed) and optional G.711A audio, sent as JT/T 1078 packets at the clip's frame
rate to the media server a 0x9101 names.

::

    clip = make_clip(seconds=3, fps=25)                 # cached per parameters
    cam = CameraStream(clip, sim="013912345678", channel=1)
    await cam.run("127.0.0.1", 6810)                    # until the clip ends (loop=True: until stop())

The clip has no B-frames (JT/T 1078 carries one timestamp per frame), a key frame every ``gop``
frames, SPS/PPS repeated before each key frame (a viewer can start at any of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from jt808.protocol.media1078 import DataType, encode_packet, packetize

__all__ = ["CameraStream", "Clip", "make_clip"]

log = logging.getLogger("jt808.simulator")


@dataclass(frozen=True)
class Clip:
    """Encoded frames ready to send: ``video`` = [(annex-b access unit, key?, ms)], ``audio`` = [(G.711A
    bytes, ms)]."""

    width: int
    height: int
    fps: int
    video: tuple[tuple[bytes, bool, int], ...]
    audio: tuple[tuple[bytes, int], ...] = ()
    payload_type: int = 98

    @property
    def duration_ms(self) -> int:
        return len(self.video) * 1000 // self.fps

    @property
    def keyframes(self) -> int:
        return sum(k for _, k, _ in self.video)

    @property
    def bitrate(self) -> float:
        """Video bits per second."""
        return sum(len(v) for v, _, _ in self.video) * 8 / (self.duration_ms / 1000)


@functools.lru_cache(maxsize=8)
def make_clip(seconds: float = 3.0, fps: int = 25, width: int = 320, height: int = 240, gop: int = 25,
              audio: bool = True, bitrate: int = 0, codec: str = "h264") -> Clip:
    """Encode ``seconds`` of FFmpeg's ``testsrc`` with libx264 (``codec="hevc"``: libx265; ``bitrate``
    bit/s, 0 = the encoder's default quality) and a 440 Hz tone as G.711A in 40 ms frames."""
    import av

    n = round(seconds * fps)
    src = av.open(f"testsrc=size={width}x{height}:rate={fps}", format="lavfi")
    enc = av.CodecContext.create("libx265" if codec == "hevc" else "libx264", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base = Fraction(1, fps)
    enc.framerate = Fraction(fps)
    enc.gop_size = gop
    enc.max_b_frames = 0
    params = f"repeat-headers=1:keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0"
    if bitrate:
        enc.bit_rate = bitrate
        params += f":vbv-maxrate={bitrate // 1000}:vbv-bufsize={bitrate // 1000}"
        if codec != "hevc":
            params += ":nal-hrd=cbr"
    if codec == "hevc":
        enc.options = {"preset": "ultrafast", "tune": "zerolatency", "x265-params": params + ":log-level=error"}
    else:
        enc.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": params}
    video: list[tuple[bytes, bool, int]] = []

    def add(packets: Any) -> None:
        for p in packets:
            video.append((bytes(p), bool(p.is_keyframe), len(video) * 1000 // fps))

    for i, frame in enumerate(src.decode(video=0)):
        if i >= n:
            break
        f = frame.reformat(format="yuv420p")
        f.pts = i
        f.pict_type = av.video.frame.PictureType.NONE  # lavfi marks every frame I; let x264 decide
        add(enc.encode(f))
    add(enc.encode(None))
    src.close()
    sound: list[tuple[bytes, int]] = []
    if audio:
        tone = av.open(f"sine=frequency=440:sample_rate=8000:duration={n / fps}", format="lavfi")
        alaw = av.CodecContext.create("pcm_alaw", "w")
        alaw.sample_rate, alaw.format, alaw.layout = 8000, "s16", "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=8000)
        pcm = bytearray()
        for sound_frame in tone.decode(audio=0):
            for pcm_frame in resampler.resample(sound_frame):
                for p in alaw.encode(pcm_frame):
                    pcm += bytes(p)
        tone.close()
        step = 320  # 40 ms at 8 kHz, one byte a sample
        sound = [(bytes(pcm[k:k + step]), k // 8) for k in range(0, len(pcm) - step + 1, step)]
    return Clip(width, height, fps, tuple(video), tuple(sound), 99 if codec == "hevc" else 98)


@dataclass
class CameraStream:
    """Streams a clip for one (SIM, channel): TCP by default, UDP datagrams with ``udp=True``.
    ``loop`` repeats the clip (timestamps keep increasing) until :meth:`stop`. ``garbage`` bytes are
    written between frames every ``garbage_every`` frames and every ``drop_every``-th packet is skipped
    (tests of a gateway's tolerance)."""

    clip: Clip
    sim: str
    channel: int = 1
    udp: bool = False
    loop: bool = False
    audio: bool = True
    sim_len: int = 6
    garbage: bytes = b""
    garbage_every: int = 0
    drop_every: int = 0
    seq: int = 0
    on_sent: Any = None  # called (video timestamp ms, loop.time()) once a video frame's packets are written
    frames_sent: int = 0
    packets_sent: int = 0
    bytes_sent: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _packets(self, payload: bytes, dt: int, pt: int, ts: int, last_i: int, last: int) -> list[bytes]:
        pk = packetize(self.sim, self.channel, pt, dt, ts, payload, self.seq, last_i_interval=last_i,
                       last_interval=last, sim_len=self.sim_len)
        self.seq = (self.seq + len(pk)) & 0xFFFF
        out = []
        for p in pk:
            self.packets_sent += 1
            if self.drop_every and self.packets_sent % self.drop_every == 0:
                continue
            out.append(encode_packet(p))
        return out

    async def run(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        writer: Any = None
        transport: Any = None
        if self.udp:
            transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=(host, port))
        else:
            _, writer = await asyncio.open_connection(host, port)
        clip = self.clip
        frame_ms = 1000 / clip.fps
        audio = list(clip.audio) if self.audio else []
        start = loop.time()
        base = 0
        last_key = 0
        try:
            while not self._stop.is_set():
                ai = 0
                for k, (payload, key, ts) in enumerate(clip.video):
                    if self._stop.is_set():
                        break
                    t = base + ts
                    delay = start + t / 1000 - loop.time()
                    if delay > 0:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stop.wait(), delay)
                        if self._stop.is_set():
                            break
                    if key:
                        last_key = t
                    chunks = self._packets(payload, DataType.I_FRAME if key else DataType.P_FRAME, clip.payload_type,
                                           t, t - last_key, round(frame_ms) if k else 0)
                    while ai < len(audio) and audio[ai][1] <= ts:
                        chunks += self._packets(audio[ai][0], DataType.AUDIO, 6, base + audio[ai][1], 0, 0)
                        ai += 1
                    if self.garbage and self.garbage_every and k % self.garbage_every == self.garbage_every - 1:
                        chunks.append(self.garbage)
                    for c in chunks:
                        self.bytes_sent += len(c)
                        if transport is not None:
                            transport.sendto(c)
                        else:
                            writer.write(c)
                    if self.on_sent is not None:
                        self.on_sent(t, loop.time())
                    if writer is not None:
                        await writer.drain()
                    self.frames_sent += 1
                if not self.loop:
                    break
                base += clip.duration_ms
        except (ConnectionError, OSError) as e:
            log.info("camera %s/%d: media connection lost: %s", self.sim, self.channel, e)
        finally:
            if transport is not None:
                transport.close()
            if writer is not None:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()


class CameraResponder:
    """A dash-cam's answers to 0x9101 (start streaming ``clip`` to the address it names, TCP or UDP as
    offered) and 0x9102 (command 0: stop). One per terminal; :meth:`handle` takes the decoded body.
    ``channels`` are the cameras it has (others are refused with result 1)."""

    def __init__(self, sim: str, clip: Clip | None = None, channels: tuple[int, ...] = (1, 2, 3, 4), *,
                 loop: bool = True, prefer_udp: bool = False, host_override: str | None = None,
                 **stream: Any) -> None:
        self.sim = sim
        self.clip = clip
        self.channels = channels
        self.loop = loop
        self.prefer_udp = prefer_udp
        self.host_override = host_override
        self.stream_options = stream
        self.streams: dict[int, tuple[CameraStream, asyncio.Task[None]]] = {}
        self.requests = 0
        self.stops = 0

    def handle(self, msg_id: int, body: Any) -> int:
        """The 0x0001 result for a 0x9101 / 0x9102 (0 = done, 1 = refused)."""
        if msg_id == 0x9101:
            return self._start(body)
        if msg_id == 0x9102:
            self.stops += 1
            if body.command in (0, 4):
                self.stop(body.channel)
            return 0
        return 3

    def _start(self, body: Any) -> int:
        self.requests += 1
        ch = body.channel
        if ch not in self.channels:
            return 1
        old = self.streams.get(ch)
        if old is not None and not old[1].done():
            return 0  # already streaming there
        udp = bool(body.udp_port) and (self.prefer_udp or not body.tcp_port)
        port = body.udp_port if udp else body.tcp_port
        cam = CameraStream(self.clip or make_clip(), self.sim, ch, udp=udp, loop=self.loop,
                           audio=body.data_type in (0, 3), **self.stream_options)
        task = asyncio.get_running_loop().create_task(cam.run(self.host_override or body.ip, port))
        self.streams[ch] = (cam, task)
        return 0

    def stop(self, channel: int | None = None) -> None:
        for ch, (cam, _) in list(self.streams.items()):
            if channel is None or ch == channel:
                cam.stop()

    async def aclose(self) -> None:
        self.stop()
        tasks = [t for _, t in self.streams.values()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def on_message(self, terminal: Any) -> Any:
        """An ``on_message`` handler for :class:`~jt808.client.aio.AsyncTerminal`: answers 0x9101/0x9102
        with 0x0001 (other messages are left alone)."""

        async def handler(packet: Any) -> None:
            mid = packet.header.msg_id
            if mid in (0x9101, 0x9102):
                await terminal.answer(packet, self.handle(mid, packet.body))

        return handler
