"""Live streams and their life cycle: one :class:`LiveStream` per (terminal, channel), shared by all
its viewers.

- The first viewer (an HTTP-FLV / WebSocket-FLV client, an HLS player, or an API hold from
  ``POST …/live`` / MQTT) makes the hub send 0x9101 (the media server's address, the channel, audio
  and video, main stream) and wait for the camera's first key frame; later viewers share the stream
  and start at the last key frame.
- When the last viewer has left, the stream stays up for ``grace`` seconds (a page reload does not
  restart the camera), then 0x9102 (close audio and video) is sent.
- A stream whose packets stop for ``idle_timeout`` seconds has stopped: its viewers' responses end
  cleanly (the FLV is finished), 0x9102 is sent in case the camera is still half there.
- Every ``status_interval`` seconds a live stream's packet loss goes to the terminal as 0x9105 (the
  standard's 实时音视频传输状态通知); the rate is kept in the stream's stats and the command log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jt808.protocol.header import canonical_phone
from jt808.protocol.media1078 import MediaFrame, payload_name
from jt808.video.h26x import CODECS, has_parameter_sets, is_keyframe

if TYPE_CHECKING:
    from jt808.config import VideoConfig
    from jt808.gateway.server import Gateway

__all__ = ["LiveStream", "StreamError", "VideoHub", "Viewer", "sim_key"]

log = logging.getLogger("jt808.video")

AUDIO_WAIT_MS = 500  # after the first key frame, how long (stream time) to wait for audio to appear


def sim_key(phone: str) -> str:
    """The 1078 SIM (BCD[6] or BCD[10]) and the terminal's phone meet in the platform's one phone form
    (:func:`~jt808.protocol.header.canonical_phone`); ``""`` for a SIM that is no phone."""
    try:
        return canonical_phone(phone)
    except ValueError:
        return ""


class StreamError(Exception):
    """A stream could not be started: ``code`` is the API's error code, ``status`` its HTTP status."""

    def __init__(self, code: str, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class Viewer:
    """One consumer of a stream's FLV bytes (bounded: a viewer that cannot keep up is dropped)."""

    def __init__(self, stream: LiveStream, kind: str, max_bytes: int) -> None:
        self.stream = stream
        self.kind = kind
        self.max_bytes = max_bytes
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.queued = 0
        self.sent = 0
        self.closed = False
        self.reason = ""
        self.since = time.time()

    def push(self, chunk: bytes) -> None:
        if self.closed:
            return
        if self.queued + len(chunk) > self.max_bytes:
            self.end(f"viewer too slow ({self.queued} bytes waiting)")
            return
        self.queued += len(chunk)
        self.queue.put_nowait(chunk)

    def end(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.reason = reason
            self.queue.put_nowait(None)

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self.queue.get()
            if chunk is None:
                return
            self.queued -= len(chunk)
            self.sent += len(chunk)
            yield chunk


class LiveStream:
    """One (terminal, channel): state, viewers, and the remuxers fed by its frames."""

    def __init__(self, hub: VideoHub, phone: str, channel: int) -> None:
        self.hub = hub
        self.phone = phone
        self.channel = channel
        self.key = (sim_key(phone), channel)
        self.state = "starting"  # starting -> live -> stopped
        self.reason = ""
        self.viewers: set[Viewer] = set()
        self.holds = 0
        self.hls_seen = 0.0  # last time an HLS client fetched something (monotonic)
        self.request: asyncio.Task[None] | None = None  # the 0x9101 exchange
        self.stream_type = 0  # 0 main, 1 sub (asked in 0x9101)
        self.ready = asyncio.Event()
        self.stopped = asyncio.Event()
        self.created = time.monotonic()
        self.started_at: float | None = None
        self.stopped_at = 0.0
        self.last_packet = time.monotonic()
        self.idle_since: float | None = None
        self.last_status = time.monotonic()
        # media
        self.codec = ""
        self.audio_codec = ""
        self.width = self.height = 0
        self._template: Any = None
        self._flv: Any = None
        self._hls: Any = None
        self.hls_wanted = False
        self._audio_dec: Any = None
        self._pending: list[MediaFrame] = []
        self._base: int | None = None
        self._last_ts = -1
        self._audio_offset: int | None = None
        self.header: list[bytes] = []
        self.gop: list[bytes] = []
        self._gop_bytes = 0
        # numbers
        self.frames = self.keyframes = self.audio_frames = 0
        self.bytes_in = 0
        self.packets_lost = 0
        self.packets = 0
        self.frames_dropped = 0
        self.ts_repaired = 0
        self.loss_rate = 0.0
        self.problems: list[str] = []
        self.latency: list[float] = []  # seconds from a frame's last packet to its FLV tag (recent ones)

    # -- viewers ---------------------------------------------------------------------------------
    @property
    def watched(self) -> bool:
        return bool(self.viewers) or self.holds > 0 or (
            self.hls_wanted and time.monotonic() - self.hls_seen < self.hub.config.grace)

    def add_viewer(self, kind: str) -> Viewer:
        v = Viewer(self, kind, self.hub.config.max_viewer_buffer)
        self.viewers.add(v)
        self.idle_since = None
        if self.ready.is_set():
            for chunk in self.header:
                v.push(chunk)
            for chunk in self.gop:
                v.push(chunk)
        if self.state == "stopped":
            v.end(self.reason)
        return v

    def remove_viewer(self, v: Viewer) -> None:
        self.viewers.discard(v)
        v.end("left")
        if not self.watched:
            self.idle_since = time.monotonic()

    def info(self) -> dict[str, Any]:
        lat = sorted(self.latency)
        return {"phone": self.phone, "channel": self.channel, "state": self.state, "reason": self.reason or None,
                "codec": self.codec or None, "audio": self.audio_codec or None, "width": self.width or None,
                "height": self.height or None, "viewers": len(self.viewers), "holds": self.holds,
                "hls": self.hls_wanted, "frames": self.frames, "keyframes": self.keyframes,
                "audio_frames": self.audio_frames, "bytes_in": self.bytes_in, "packets": self.packets,
                "packets_lost": self.packets_lost, "frames_dropped": self.frames_dropped,
                "loss_rate": round(self.loss_rate, 4), "timestamps_repaired": self.ts_repaired,
                "problems": self.problems[-10:],
                "uptime": round(time.monotonic() - self.started_at, 3) if self.started_at else 0.0,
                "relay_ms_p50": round(lat[len(lat) // 2] * 1000, 3) if lat else None,
                "urls": self.hub.urls(self.phone, self.channel)}

    def _problem(self, text: str) -> None:
        if text not in self.problems[-10:]:
            self.problems.append(text)
            del self.problems[:-50]
            log.info("stream %s/%d: %s", self.phone, self.channel, text)

    # -- frames ----------------------------------------------------------------------------------
    def on_frame(self, f: MediaFrame, received: float) -> None:
        self.last_packet = time.monotonic()
        self.bytes_in += len(f.payload)
        if self.state == "stopped":
            return
        if f.is_video:
            if f.payload_type not in CODECS:
                self._problem(f"video payload type {payload_name(f.payload_type)} cannot be relayed (H.264/H.265 only)")
                return
            self.frames += 1
            if self._flv is None:
                self._before_start(f)
            else:
                self._video(f, received)
        elif f.data_type == 3:
            self.audio_frames += 1
            if self._flv is None:
                if self._pending:
                    self._pending.append(f)
                    self._maybe_start()
            else:
                self._audio(f)

    def _before_start(self, f: MediaFrame) -> None:
        codec = CODECS[f.payload_type]
        key = is_keyframe(f.payload, codec)
        if not self._pending:
            if not (key and has_parameter_sets(f.payload, codec)):
                return  # wait for a key frame a decoder can start at
            self.codec = codec
        self._pending.append(f)
        self._maybe_start()

    def _maybe_start(self) -> None:
        first = self._pending[0]
        want_audio = self.hub.config.audio and self.hub.audio_requested
        audio = [f for f in self._pending if f.data_type == 3]
        last = self._pending[-1]
        if want_audio and not audio and last.timestamp - first.timestamp < AUDIO_WAIT_MS:
            return
        from jt808.video.remux import AUDIO_DECODERS, AudioDecoder, FlvOutput, video_template

        try:
            container, template = video_template(first.payload_type, first.payload)
        except Exception as e:
            self._pending.clear()
            self._problem(f"key frame not readable: {e}")
            return
        self._template = (container, template)
        cc = template.codec_context
        self.width, self.height = cc.width, cc.height
        has_audio = False
        if audio and want_audio:
            pt = audio[0].payload_type
            if pt in AUDIO_DECODERS:
                self._audio_dec = AudioDecoder(pt)
                self.audio_codec = payload_name(pt)
                has_audio = True
            else:
                self._problem(f"audio {payload_name(pt)} not supported: video only")
        self._has_audio = has_audio
        self._flv = FlvOutput(template, has_audio, self._on_tag)
        self._base = first.timestamp
        pending, self._pending = self._pending, []
        now = time.monotonic()
        for f in pending:
            if f.is_video:
                self._video(f, now)
            else:
                self._audio(f)
        self.state = "live"
        self.started_at = now
        log.info("stream %s/%d live: %s %dx%d%s", self.phone, self.channel, self.codec, self.width, self.height,
                 f", audio {self.audio_codec} -> AAC" if has_audio else "")

    def _ts(self, ts: int) -> int:
        t = ts - (self._base or 0)
        if t <= self._last_ts:
            if self._last_ts - t > 10_000:  # the camera's clock went back: re-base on it
                self._base = ts - self._last_ts - 40
                self._problem("camera timestamps jumped back: re-based")
            t = self._last_ts + 1
            self.ts_repaired += 1
        elif t - self._last_ts > 60_000 and self._last_ts >= 0:
            self._base = ts - self._last_ts - 40
            self._problem("camera timestamps jumped ahead: re-based")
            t = self._last_ts + 40
        self._last_ts = t
        return t

    def _video(self, f: MediaFrame, received: float) -> None:
        key = is_keyframe(f.payload, self.codec)
        if key != f.is_key and f.data_type != 2:
            self._problem("data type disagrees with the NAL units on key frames (NAL units win)")
        if key:
            self.keyframes += 1
            if self.hls_wanted and self._hls is None:
                self._start_hls()
        t = self._ts(f.timestamp)
        self._tag_received = received
        try:
            self._flv.video(f.payload, t, key)
            if self._hls is not None:
                self._hls.video(f.payload, t, key)
        except Exception as e:  # FFmpeg refused the packet: note it, keep the stream
            self._problem(f"muxer refused a frame: {e}")

    def _audio(self, f: MediaFrame) -> None:
        if self._audio_dec is None or self._base is None:
            return
        ts = f.timestamp
        if self._audio_offset is None:
            vt = self._last_ts + self._base
            self._audio_offset = ts - vt if abs(ts - vt) > 5000 else 0
        t = ts - self._audio_offset - self._base
        if t < 0:
            return
        try:
            frames = self._audio_dec.decode(f.payload, t)
            self._flv.audio_frames(frames)
            if self._hls is not None:
                self._hls.audio_frames(frames)
        except Exception as e:
            self._problem(f"audio frame not decodable: {e}")

    def _on_tag(self, tag: bytes, kind: str) -> None:
        if kind == "config" and not self.ready.is_set():
            self.header.append(tag)  # given to each viewer when the first media tag comes (or it joins)
            return
        if not self.ready.is_set():
            self.ready.set()
            for v in self.viewers:
                for chunk in self.header:
                    v.push(chunk)
        if kind == "key" or self._gop_bytes > 32 << 20:
            self.gop = []
            self._gop_bytes = 0
        self.gop.append(tag)
        self._gop_bytes += len(tag)
        if kind != "config" and tag[0] == 9:
            rec = getattr(self, "_tag_received", None)
            if rec is not None:
                self.latency.append(time.monotonic() - rec)
                if len(self.latency) > 2000:
                    del self.latency[:1000]
        for v in list(self.viewers):
            v.push(tag)
            if v.closed and v.reason.startswith("viewer too slow"):
                self.viewers.discard(v)
                log.info("stream %s/%d: %s dropped: %s", self.phone, self.channel, v.kind, v.reason)

    # -- HLS -------------------------------------------------------------------------------------
    @property
    def hls_dir(self) -> Path:
        return self.hub.hls_root / f"{self.phone}_{self.channel}"

    def _start_hls(self) -> None:
        from jt808.video.remux import HlsOutput

        self.hub.ended.pop(self.key, None)
        shutil.rmtree(self.hls_dir, ignore_errors=True)
        try:
            self._hls = HlsOutput(self._template[1], self._has_audio, self.hls_dir, self.hub.config.hls_segment)
        except Exception as e:
            self._problem(f"HLS output could not start: {e}")
            self.hls_wanted = False

    def want_hls(self) -> None:
        self.hls_seen = time.monotonic()
        self.idle_since = None
        self.hls_wanted = True

    # -- end -------------------------------------------------------------------------------------
    def stop(self, reason: str) -> None:
        if self.state == "stopped":
            return
        self.state = "stopped"
        self.reason = reason
        for out in (self._flv, self._hls):
            if out is not None:
                out.close()  # the FLV trailer still reaches the viewers
        if self._hls is not None:
            with contextlib.suppress(OSError), (self.hls_dir / "live.m3u8").open("a") as f:
                f.write("#EXT-X-ENDLIST\n")  # players stop polling (the directory stays for `grace` s)
            self.hub.ended[self.key] = self
        if self._template is not None:
            with contextlib.suppress(Exception):
                self._template[0].close()
        for v in list(self.viewers):
            v.end(reason)
        self.ready.set()
        self.stopped.set()
        self.stopped_at = time.monotonic()
        log.info("stream %s/%d stopped: %s (%d frames, %d packets lost)", self.phone, self.channel, reason,
                 self.frames, self.packets_lost)


class VideoHub:
    """All live streams of a gateway; the media listener feeds it, HTTP/MQTT open and close streams."""

    def __init__(self, gateway: Gateway, config: VideoConfig, hls_root: Path) -> None:
        self.gw = gateway
        self.config = config
        self.hls_root = hls_root
        self.streams: dict[tuple[str, int], LiveStream] = {}
        self.media_tcp_port = 0
        self.media_udp_port = 0
        self.audio_requested = config.audio
        self.unsolicited = 0
        self.started = 0
        self.http_base = ""  # e.g. "http://host:8808" when known, for the URLs in stream info
        self._task: asyncio.Task[None] | None = None
        self.ended: dict[tuple[str, int], LiveStream] = {}  # stopped streams whose last HLS files remain

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="jt808-video-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for s in list(self.streams.values()):
            await self.close(s, "gateway shutting down", send_stop=False)
        for s in self.ended.values():
            shutil.rmtree(s.hls_dir, ignore_errors=True)
        self.ended.clear()

    def urls(self, phone: str, channel: int) -> dict[str, str]:
        base = f"{self.http_base}/api/v1/terminals/{phone}/channels/{channel}"
        ws = base.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return {"flv": f"{base}/live.flv", "ws_flv": f"{ws}/live.flv", "hls": f"{base}/live.m3u8",
                "player": f"{self.http_base}/player/{phone}/{channel}"}

    # -- media in --------------------------------------------------------------------------------
    def on_frame(self, f: MediaFrame, received: float) -> bool:
        s = self.streams.get((sim_key(f.sim), f.channel))
        if s is None:
            self.unsolicited += 1
            return False
        s.on_frame(f, received)
        return True

    def on_packets(self, sim: str, channel: int, packets: int, lost: int, dropped: int) -> None:
        s = self.streams.get((sim_key(sim), channel))
        if s is not None:
            s.packets += packets
            s.packets_lost += lost
            s.frames_dropped += dropped
            s.last_packet = time.monotonic()

    # -- life cycle ------------------------------------------------------------------------------
    def ended_hls(self, phone: str, channel: int) -> LiveStream | None:
        """A stream that stopped less than ``grace`` seconds ago: its finished playlist is still served."""
        return self.ended.get((sim_key(phone), channel))

    def find(self, phone: str, channel: int) -> LiveStream | None:
        s = self.streams.get((sim_key(phone), channel))
        return s if s is not None and s.state != "stopped" else None

    def advertised_ip(self, phone: str) -> str:
        if self.config.advertise_ip:
            return self.config.advertise_ip
        conn = self.gw.connection(phone)
        ip = ""
        t = getattr(conn, "transport", None)
        if t is not None:
            sock = t.get_extra_info("sockname")
            if isinstance(sock, tuple) and sock[0] not in ("0.0.0.0", "::"):
                ip = sock[0]
        if not ip and conn is not None:
            peer = conn.peer.rsplit(":", 1)[0].strip("[]")
            with contextlib.suppress(OSError), socket.socket(socket.AF_INET6 if ":" in peer else socket.AF_INET,
                                                             socket.SOCK_DGRAM) as s:
                s.connect((peer, 9))
                ip = s.getsockname()[0]
        if ip.startswith("::ffff:"):
            ip = ip[7:]
        return ip or "127.0.0.1"

    async def open(self, phone: str, channel: int, kind: str = "viewer", *,
                   stream_type: int = 0) -> tuple[LiveStream, Viewer | None]:
        """Join (or start) the stream. ``kind``: "flv"/"ws" (a viewer is returned), "hold" (an API hold),
        "hls"; ``stream_type`` (0 main, 1 sub) when this call starts it. Raises :class:`StreamError` when
        the terminal is offline, refuses, or never streams."""
        phone = canonical_phone(phone)
        s = self.find(phone, channel)
        if s is None:  # the stream exists (and wants what this viewer wants) before 0x9101 leaves
            s = LiveStream(self, phone, channel)
            s.stream_type = stream_type
            self.streams[s.key] = s
            s.request = asyncio.get_running_loop().create_task(self._request(s))
            s.request.add_done_callback(lambda t: t.cancelled() or t.exception())  # each waiter gets it
        viewer = None
        if kind == "hold":
            s.holds += 1
            s.idle_since = None
        elif kind == "hls":
            s.want_hls()
        else:
            viewer = s.add_viewer(kind)
        try:
            if s.request is not None:
                await asyncio.shield(s.request)
            if not s.ready.is_set():
                try:
                    await asyncio.wait_for(s.ready.wait(), self.config.start_timeout)
                except TimeoutError:
                    await self.close(s, f"no video within {self.config.start_timeout:g} s")
                    raise StreamError("stream_timeout", f"terminal {phone} channel {channel} sent no video within "
                                      f"{self.config.start_timeout:g} s", 504) from None
            if s.state == "stopped" and not s.header:
                raise StreamError("stream_stopped", f"stream stopped: {s.reason}", 502)
        except BaseException:
            if viewer is not None:
                s.remove_viewer(viewer)
            elif kind == "hold":
                s.holds -= 1
            raise
        return s, viewer

    async def _request(self, s: LiveStream) -> None:
        """0x9101 for a new stream; a failure ends it (and every viewer waiting) with a :class:`StreamError`."""
        from jt808.errors import ReplyTimeout
        from jt808.gateway.errors import CommandFailed, TerminalOffline

        phone, channel = s.phone, s.channel
        body = {"ip": self.advertised_ip(phone), "tcp_port": self.config.advertise_port or self.media_tcp_port,
                "udp_port": (self.config.advertise_port or self.media_udp_port) if self.media_udp_port else 0,
                "channel": channel, "data_type": 0 if self.audio_requested else 1, "stream_type": s.stream_type}
        try:
            await self.command(phone, 0x9101, body)
        except TerminalOffline as e:
            self._forget(s, str(e))
            raise StreamError("terminal_offline", str(e), 404) from None
        except ReplyTimeout as e:
            self._forget(s, str(e))
            raise StreamError("reply_timeout", f"0x9101: {e}", 504) from None
        except CommandFailed as e:
            self._forget(s, f"terminal refused 0x9101 (result {e.result})")
            raise StreamError("camera_refused", f"terminal {phone} refused 0x9101 (result {e.result})", 409) from None
        except Exception as e:
            self._forget(s, str(e))
            raise StreamError("bad_command", f"0x9101 could not be sent: {e}", 500) from None
        self.started += 1
        log.info("stream %s/%d requested (0x9101 to %s:%s)", phone, channel, body["ip"], body["tcp_port"])

    async def command(self, phone: str, msg_id: int, body: dict[str, Any], *, wait: bool = True,
                      timeout: float | None = None) -> Any:
        """Send a 1078 command to the terminal, here or (``serve --workers``) through the worker holding it."""
        obj = {"header": {"msg_id": msg_id}, "body": body}
        return await self.gw.commands.route(phone, obj, wait=wait, timeout=timeout)

    def _forget(self, s: LiveStream, reason: str) -> None:
        s.stop(reason)
        if self.streams.get(s.key) is s:
            del self.streams[s.key]

    def release(self, viewer: Viewer) -> None:
        viewer.stream.remove_viewer(viewer)

    def unhold(self, phone: str, channel: int) -> LiveStream | None:
        s = self.find(phone, channel)
        if s is not None and s.holds > 0:
            s.holds -= 1
            if not s.watched:
                s.idle_since = time.monotonic()
        return s

    async def close(self, s: LiveStream, reason: str, send_stop: bool = True) -> None:
        """End the stream: viewers finish, 0x9102 (close audio and video) goes to the terminal."""
        first = s.state != "stopped"
        self._forget(s, reason)
        if send_stop and first:
            body = {"channel": s.channel, "command": 0, "close_type": 0, "stream_type": 0}
            try:
                await self.command(s.phone, 0x9102, body, timeout=10)
            except Exception as e:
                log.info("stream %s/%d: 0x9102 not answered: %s", s.phone, s.channel, e)

    def _spawn_close(self, s: LiveStream, reason: str) -> None:
        task = asyncio.get_running_loop().create_task(self.close(s, reason))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _watch(self) -> None:
        cfg = self.config
        tick = max(0.05, min(0.5, cfg.idle_timeout / 4, cfg.grace / 4 if cfg.grace else 0.5))
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for key, s in list(self.ended.items()):
                if now - s.stopped_at > max(cfg.grace, 3 * cfg.hls_segment, 5.0):
                    del self.ended[key]
                    shutil.rmtree(s.hls_dir, ignore_errors=True)
            for s in list(self.streams.values()):
                if s.state == "stopped":
                    continue
                if s.state == "live" and now - s.last_packet > cfg.idle_timeout:
                    self._spawn_close(s, f"no packets for {cfg.idle_timeout:g} s")
                    continue
                if s.state == "starting" and now - s.created > cfg.start_timeout + 1 and not s.watched:
                    self._spawn_close(s, "never started")
                    continue
                if not s.watched:
                    if s.idle_since is None:
                        s.idle_since = now
                    elif now - s.idle_since >= cfg.grace:
                        self._spawn_close(s, f"no viewer for {cfg.grace:g} s")
                        continue
                if s._hls is not None and not (s.hls_wanted and now - s.hls_seen < cfg.grace):
                    s._hls.close()
                    s._hls = None
                    s.hls_wanted = False
                if cfg.status_interval and s.state == "live" and now - s.last_status >= cfg.status_interval:
                    s.last_status = now
                    total = s.packets + s.packets_lost
                    s.loss_rate = s.packets_lost / total if total else 0.0
                    self._status(s)

    def _status(self, s: LiveStream) -> None:
        """0x9105: the loss rate (percent, integer part) the platform sees on this channel."""
        body = {"channel": s.channel, "loss_rate": min(100, int(s.loss_rate * 100))}

        async def send() -> None:
            try:
                await self.command(s.phone, 0x9105, body, wait=False)
            except Exception as e:
                log.debug("0x9105 to %s: %s", s.phone, e)

        asyncio.get_running_loop().create_task(send())

    def stats(self) -> dict[str, Any]:
        live = [s for s in self.streams.values() if s.state == "live"]
        return {"streams": len(self.streams), "live": len(live), "viewers": sum(len(s.viewers) for s in live),
                "started": self.started, "unsolicited_frames": self.unsolicited,
                "bytes_in": sum(s.bytes_in for s in self.streams.values()),
                "packets_lost": sum(s.packets_lost for s in self.streams.values())}
