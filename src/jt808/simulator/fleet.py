"""A fleet of virtual terminals for load tests: register, authenticate, heartbeat, report locations.

Lean by design, so that one process drives thousands of terminals: each terminal is a bare asyncio
protocol (no :class:`~jt808.client.aio.AsyncTerminal`, no session object); frames are built from a
pre-packed header prefix and a ``struct`` for the 0x0200 basic block, and replies are read by the one
frame decoder (:func:`jt808.protocol.frame.read_frame`) just far enough to match them (0x8001
``seq``/``result``, 0x8100 ``seq``/``result``/code). Every other platform message is answered as a
real terminal answers it (:mod:`jt808.simulator.answers`: 0x0201 for 0x8201, 0x0104 for 0x8104 …).

``quirks`` (0..1) makes that share of the fleet misbehave like field devices do, each terminal in one
way: ``check`` (the QuecPython client's lost one-digit check code), ``length`` (a body-length field
one byte over), ``padding`` (0x0100 strings and plate NUL-padded on the left), ``2011`` (a 2011
terminal among 2013 ones: 2011 field widths). The platform must repair each and answer as usual.

Counters are shared (:class:`Stats`); ack latency is measured from the write of a frame to the
arrival of the 0x8001 that quotes its serial. A message without a reply within ``ack_timeout`` seconds
counts as an error (``timeout``); so does a negative reply (``nack``), a refused registration or
authentication, a failed connection, a frame that cannot be read, and a connection the server closes.

Dash-cams (``profile="dashcam"``) also raise ADAS / DSM alarm items with three attachments every
``alarm_interval`` seconds on average and upload the evidence to the attachment server when the platform sends
0x9208 (:mod:`jt808.simulator.dashcam`); an upload that does not complete is an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jt808.errors import JT808Error
from jt808.protocol.frame import decode_payload, read_frame
from jt808.protocol.framing import FrameSplitter, check_code, escape, unescape
from jt808.protocol.header import V2011, V2019, Version, bcd_encode
from jt808.protocol.messages.general import TerminalGeneralReply
from jt808.protocol.messages.location import BASIC, LocationReport, time_bcd
from jt808.protocol.packet import Packet, RawBody, encode_body
from jt808.simulator.answers import answer, default_params
from jt808.simulator.route import Route

__all__ = ["QUIRKS", "Fleet", "FleetConfig", "Stats", "VirtualTerminal", "percentile"]

_STATUS = 0b11 | 1 << 18 | 1 << 19  # ACC on, fixed, GPS + BeiDou


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-quantile (0..1) of an already sorted list (nearest rank); 0.0 when empty."""
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


@dataclass
class FleetConfig:
    host: str = "127.0.0.1"
    port: int = 6808
    terminals: int = 10
    rate: float = 1.0  # location reports per second per terminal
    duration: float = 10.0  # seconds of reporting (after the ramp-up)
    version: Version = Version.V2013
    udp: bool = False
    heartbeat: float = 30.0  # seconds between heartbeats
    ack_timeout: float = 10.0
    connect_rate: float = 500.0  # new connections per second during ramp-up
    phone_base: int = 13_900_000_000
    center: tuple[float, float] = (31.8206, 117.2272)  # Hefei
    radius_km: float = 30.0
    seed: int = 808
    reconnect: bool = True
    drain: float | None = None  # seconds to wait for outstanding acks at the end (default ack_timeout)
    profile: str = "basic"  # "dashcam": answers 0x9101/0x9102 by streaming a clip (jt808.simulator.camera)
    camera_clip: tuple[float, int, int, int, int] = (4.0, 25, 320, 240, 0)  # seconds, fps, w, h, bit/s (0 = x264)
    live: int = 0  # dashcam: ask the platform's HTTP API (``api``) to hold channel 1 of this many terminals live
    api: str = ""  # e.g. http://127.0.0.1:8808
    token: str = ""
    quirks: float = 0.0  # share of the fleet that misbehaves like field devices (see QUIRKS)
    alarm_interval: float = 20.0  # dashcam: mean seconds between ADAS/DSM alarms of one terminal (0: none)


#: How a misbehaving terminal misbehaves (one each; ``FleetConfig.quirks`` sets the share).
QUIRKS = ("check", "length", "padding", "2011")


@dataclass
class Stats:
    """Shared counters of a fleet run."""

    started: float = field(default_factory=time.monotonic)
    connected: int = 0
    peak_connected: int = 0
    registered: int = 0
    authenticated: int = 0
    sent: int = 0
    acked: int = 0
    locations: int = 0
    heartbeats: int = 0
    reconnects: int = 0
    streams: int = 0  # camera streams started on the platform's request (dashcam profile)
    answered: int = 0  # platform messages answered (commands)
    alarms: int = 0  # dashcam: ADAS/DSM alarm items sent
    uploads: int = 0  # dashcam: 0x9208 requests whose evidence files were all uploaded
    uploaded_files: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    connect_failures: Counter[str] = field(default_factory=Counter)  # reason -> times
    latencies: list[float] = field(default_factory=list)
    interrupted: str | None = None  # the signal that ended the run early

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        elapsed = time.monotonic() - self.started
        return {
            "terminals_connected": self.peak_connected, "registered": self.registered,
            "authenticated": self.authenticated, "sent": self.sent, "acked": self.acked,
            "location_reports": self.locations, "heartbeats": self.heartbeats,
            "errors": self.error_count, "error_kinds": dict(self.errors), "reconnects": self.reconnects,
            "connect_failures": dict(self.connect_failures), "interrupted": self.interrupted,
            "commands_answered": self.answered,
            "ack_latency_ms_p50": round(percentile(lat, 0.50) * 1000, 3),
            "ack_latency_ms_p99": round(percentile(lat, 0.99) * 1000, 3),
            "ack_latency_ms_max": round(lat[-1] * 1000, 3) if lat else 0.0,
            "elapsed_s": round(elapsed, 2), "acked_per_s": round(self.acked / elapsed, 1) if elapsed else 0.0,
            "bytes_out": self.bytes_out, "bytes_in": self.bytes_in, "camera_streams": self.streams,
            "alarms": self.alarms, "uploads": self.uploads, "uploaded_files": self.uploaded_files,
        }


class VirtualTerminal(asyncio.Protocol, asyncio.DatagramProtocol):
    """One simulated terminal (TCP stream or UDP datagrams). With the ``dashcam`` profile it has four
    camera channels that stream when the platform asks (0x9101) until it says stop (0x9102)."""

    def __init__(self, fleet: Fleet, index: int) -> None:
        cfg = fleet.config
        self.fleet = fleet
        self.stats = fleet.stats
        self.index = index
        self.v2019 = cfg.version is V2019
        rng = random.Random(cfg.seed * 7919 + index)
        self.quirk: str | None = rng.choice(QUIRKS) if rng.random() < cfg.quirks else None
        if self.quirk == "2011" and self.v2019:
            self.quirk = "padding"  # a 2019 header says its version: pad instead
        self.version: Version = V2011 if self.quirk == "2011" else cfg.version
        self.params = default_params(cfg.heartbeat)
        self.media_ids = 0
        digits = str(cfg.phone_base + index)
        self.phone = digits.rjust(20 if self.v2019 else 12, "0")
        self.phone_bcd = bcd_encode(self.phone, 10 if self.v2019 else 6)
        self.route = Route.around(cfg.center[0], cfg.center[1], cfg.radius_km, cfg.seed * 100_003 + index)
        self.sn = 0
        self.pending: dict[int, tuple[float, int]] = {}  # serial -> (sent at, msg id)
        self.camera: Any = None  # jt808.simulator.camera.CameraResponder (dashcam profile, once asked)
        self.transport: Any = None
        self.splitter = FrameSplitter()
        self.auth_code: str | None = None
        self.state = "idle"  # idle, connecting, registering, authenticating, running, closed
        self.mileage = 0.0
        self.ready: asyncio.Future[bool] | None = None
        self.timers: list[asyncio.TimerHandle] = []
        self.closing = False
        self.alarm_rnd = random.Random(cfg.seed * 7919 + index)
        self.alarm_seq = 0
        self.alarm_types: dict[str, str] = {}  # alarm id (AlarmSign.key()) -> alarm type code, for file names

    # -- frames -----------------------------------------------------------------------------------
    def frame(self, msg_id: int, body: bytes) -> tuple[bytes, int]:
        sn = self.sn
        self.sn = (sn + 1) & 0xFFFF
        n = len(body)
        quirk = self.quirk
        if quirk == "length" and n < 0x3FF:
            n += 1  # the body-length field says one byte more than the frame holds
        if self.v2019:
            head = struct.pack(">HHB", msg_id, n | 0x4000, 1) + self.phone_bcd + sn.to_bytes(2, "big")
        else:
            head = struct.pack(">HH", msg_id, n) + self.phone_bcd + sn.to_bytes(2, "big")
        content = head + body
        cc = check_code(content)
        if quirk == "check" and 0 < cc < 0x10:
            return b"\x7e" + escape(content) + b"\x7e", sn  # its one hex digit was lost
        return b"\x7e" + escape(content + bytes((cc,))) + b"\x7e", sn

    def send(self, msg_id: int, body: bytes, expect_ack: bool = True) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        frame, sn = self.frame(msg_id, body)
        if expect_ack:
            self.pending[sn] = (time.monotonic(), msg_id)
        if self.fleet.config.udp:
            t.sendto(frame)
        else:
            t.write(frame)
        st = self.stats
        st.sent += 1
        st.bytes_out += len(frame)

    # -- protocol callbacks -----------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        st = self.stats
        st.connected += 1
        if st.connected > st.peak_connected:
            st.peak_connected = st.connected
        self.splitter = FrameSplitter()
        if self.auth_code is None:
            self.state = "registering"
            self.send(0x0100, self.fleet.register_body(self))
        else:
            self.authenticate()

    def authenticate(self) -> None:
        self.state = "authenticating"
        self.send(0x0102, self.fleet.auth_body(self))

    def data_received(self, data: bytes) -> None:
        self.stats.bytes_in += len(data)
        for frame in self.splitter.feed(data):
            self.handle(frame)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.stats.bytes_in += len(data)
        for frame in FrameSplitter().feed(data):
            self.handle(frame)

    def error_received(self, exc: Exception) -> None:
        self.stats.errors["udp_error"] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats.connected -= 1
        self.transport = None
        for h in self.timers:
            h.cancel()
        self.timers.clear()
        lost = len(self.pending)
        self.pending.clear()
        if self.closing:
            return
        self.stats.errors["disconnected"] += 1
        if lost:
            self.stats.errors["lost_in_flight"] += lost
        if self.ready is not None and not self.ready.done():
            self.ready.set_result(False)
        if self.fleet.config.reconnect and not self.fleet.stopping:
            self.state = "connecting"
            asyncio.get_running_loop().create_task(self.fleet.reconnect(self))

    # -- replies ----------------------------------------------------------------------------------
    def handle(self, frame: bytes) -> None:
        try:
            header, body, _problems = read_frame(unescape(frame[1:-1]), version=self.version)
        except JT808Error as e:
            self.stats.errors["bad_frame"] += 1
            if e.header is not None:  # answer "message error" as a terminal does
                self.reply(e.header, None)
            return
        msg_id = header.msg_id
        if msg_id == 0x8001:
            if len(body) < 5:
                self.stats.errors["bad_frame"] += 1
                return
            seq, _, result = struct.unpack_from(">HHB", body)
            self.acked(seq, result)
        elif msg_id == 0x8100:
            if len(body) < 3:
                self.stats.errors["bad_frame"] += 1
                return
            seq, result = struct.unpack_from(">HB", body)
            if self.acked(seq, result, kind="register_refused") and result == 0:
                self.stats.registered += 1
                self.auth_code = body[3:].decode("gbk", "replace")
                self.authenticate()
        else:
            self.reply(header, body)

    def reply(self, header: Any, body: bytes | None) -> None:
        """Answer a platform message as a real terminal does (its declared reply; 0x0001 otherwise)."""
        if body is None:
            packet, error = Packet(header, RawBody(b"", "error")), True
        else:
            if header.msg_id == 0x9208 and self.fleet.config.profile == "dashcam":
                self.send(0x0001, encode_body(TerminalGeneralReply(header.msg_sn, header.msg_id, 0), self.version),
                          expect_ack=False)
                self.fleet.upload(self, body)
                self.stats.answered += 1
                return
            if header.msg_id in (0x9101, 0x9102) and self.fleet.config.profile == "dashcam":
                result = self.camera_command(header.msg_id, body)
                self.send(0x0001, encode_body(TerminalGeneralReply(header.msg_sn, header.msg_id, result),
                                              self.version), expect_ack=False)
                return
            try:
                packet, error = decode_payload(header, body, []), False
            except JT808Error:
                packet, error = Packet(header, RawBody(body, "error")), True
        for mid, data in answer(self, packet, self.version, error):
            self.send(mid, data, expect_ack=False)
        self.stats.answered += 1

    def location_report(self) -> LocationReport:
        """Where the terminal is now (0x0201 / 0x0500 replies)."""
        r = self.route
        return LocationReport(alarm=0, status=self.status(), latitude=round(abs(r.lat) * 1e6),
                              longitude=round(abs(r.lng) * 1e6), altitude=r.altitude, speed=round(r.speed * 10),
                              direction=int(r.heading) % 360, time=self.fleet.now_bcd().hex(),
                              extras=[(0x01, round(self.mileage * 10))])

    def status(self) -> int:
        """The 0x0200 status word: fixed, ACC on, GPS + BeiDou, the hemisphere bits of the route's position."""
        r = self.route
        return _STATUS | (0b100 if r.lat < 0 else 0) | (0b1000 if r.lng < 0 else 0)

    def camera_command(self, msg_id: int, body: bytes) -> int:
        from jt808.errors import DecodeError
        from jt808.protocol.packet import decode_body
        from jt808.simulator.camera import CameraResponder, make_clip

        try:
            decoded, _, _ = decode_body(msg_id, V2019 if self.v2019 else Version.V2013, body)
        except DecodeError:
            self.stats.errors["bad_frame"] += 1
            return 2
        if self.camera is None:
            self.camera = CameraResponder(self.phone, make_clip(*self.fleet.config.camera_clip), loop=True,
                                          prefer_udp=self.fleet.config.udp, sim_len=10 if self.v2019 else 6)
        result = self.camera.handle(msg_id, decoded)
        if msg_id == 0x9101 and result == 0:
            self.stats.streams += 1
        return result

    def acked(self, seq: int, result: int, kind: str = "nack") -> bool:
        entry = self.pending.pop(seq, None)
        if entry is None:
            return False  # late (already timed out) or unsolicited
        sent_at, msg_id = entry
        st = self.stats
        if result != 0:
            st.errors[kind if msg_id != 0x0102 else "auth_refused"] += 1
            if msg_id == 0x0102 and self.state == "authenticating":
                # as terminals do: a refused code is forgotten and the terminal registers again (the
                # operator reset it, or the platform lost it), instead of retrying the dead code forever
                self.auth_code = None
                self.state = "registering"
                self.send(0x0100, self.fleet.register_body(self))
            return True
        st.acked += 1
        st.latencies.append(time.monotonic() - sent_at)
        if msg_id == 0x0102:
            st.authenticated += 1
            self.state = "running"
            if self.ready is not None and not self.ready.done():
                self.ready.set_result(True)
            self.fleet.start_reporting(self)
        return True

    # -- periodic work ----------------------------------------------------------------------------
    def report(self) -> None:
        cfg = self.fleet.config
        dt = 1.0 / cfg.rate if cfg.rate > 0 else 1.0
        r = self.route
        r.advance(dt)
        self.mileage += r.speed * dt / 3600
        body = BASIC.pack(0, self.status(), round(abs(r.lat) * 1e6), round(abs(r.lng) * 1e6), r.altitude,
                           round(r.speed * 10), int(r.heading) % 360, self.fleet.now_bcd())
        body += b"\x01\x04" + round(self.mileage * 10).to_bytes(4, "big") + b"\x30\x01\x1f\x31\x01\x0c"
        if cfg.profile == "dashcam" and cfg.alarm_interval > 0 and self.alarm_rnd.random() < dt / cfg.alarm_interval:
            body += self.alarm(body)
        self.send(0x0200, body)
        self.stats.locations += 1

    def alarm(self, body: bytes) -> bytes:
        """An ADAS or DSM alarm item (id · length · value) for the report ``body`` (jt808.simulator.dashcam)."""
        from jt808.protocol.messages.subiao import AlarmSign
        from jt808.simulator.dashcam import alarm_item

        time_bcd = body[22:28].hex()
        sign = AlarmSign(f"D{self.index:06d}"[-7:], time_bcd, self.alarm_seq & 0xFF, 3, 0)
        lat, lng = struct.unpack_from(">II", body, 8)
        eid, item, alarm_type = alarm_item(self.alarm_rnd, self.alarm_seq, sign, lat, lng, round(self.route.speed),
                                           time_bcd)
        self.alarm_seq += 1
        self.alarm_types[sign.key()] = alarm_type
        if len(self.alarm_types) > 64:
            self.alarm_types.pop(next(iter(self.alarm_types)))
        self.stats.alarms += 1
        return bytes((eid, len(item))) + item

    def heartbeat(self) -> None:
        self.send(0x0002, b"")
        self.stats.heartbeats += 1

    def expire(self, now: float, timeout: float) -> None:
        if not self.pending:
            return
        late = [sn for sn, (t, _) in self.pending.items() if now - t > timeout]
        for sn in late:
            _, msg_id = self.pending.pop(sn)
            self.stats.errors["timeout" if msg_id not in (0x0100, 0x0102) else "login_timeout"] += 1
        if late and self.state in ("registering", "authenticating") and self.ready is not None \
                and not self.ready.done():
            self.ready.set_result(False)

    def close(self) -> None:
        self.closing = True
        if self.camera is not None:
            self.camera.stop()
        for h in self.timers:
            h.cancel()
        self.timers.clear()
        if self.transport is not None:
            self.transport.close()


def connect_reason(e: OSError) -> str:
    """Why a connection failed, in words (``connection refused``, ``name or service not known`` …)."""
    if isinstance(e, TimeoutError):
        return "timed out"
    text = e.strerror or str(e) or type(e).__name__
    return text[:1].lower() + text[1:]


class Fleet:
    """Runs ``config.terminals`` virtual terminals; :meth:`run` returns the :class:`Stats`."""

    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self.stats = Stats()
        self.terminals = [VirtualTerminal(self, i) for i in range(config.terminals)]
        self.stopping = False
        self._interrupt: asyncio.Event | None = None
        self._uploads: set[asyncio.Task[None]] = set()
        self._bcd_at = -1
        self._bcd = b""

    def interrupt(self, why: str = "interrupted") -> None:
        """End the run early (Ctrl-C, SIGTERM): drain briefly, close, and return the stats as usual."""
        self.stats.interrupted = why
        if self._interrupt is None:
            self._interrupt = asyncio.Event()
        self._interrupt.set()

    # -- bodies -----------------------------------------------------------------------------------
    def now_bcd(self) -> bytes:
        sec = int(time.time())
        if sec != self._bcd_at:
            self._bcd_at = sec
            self._bcd = bytes.fromhex(time_bcd(datetime.fromtimestamp(sec, UTC)))
        return self._bcd

    def register_body(self, t: VirtualTerminal) -> bytes:
        from jt808.protocol.messages.register import TerminalRegister

        dev_id = f"S{t.index:06d}"
        plate = f"皖A{t.index % 100000:05d}"
        if t.quirk == "padding":  # the QuecPython client's layout: strings and plate NUL-padded on the left
            widths = (11, 30, 30) if t.v2019 else (5, 20, 7)
            return (struct.pack(">HH", 34, 100) + b"JT808".rjust(widths[0], b"\0") + b"SIM-1".rjust(widths[1], b"\0")
                    + dev_id.encode().rjust(widths[2], b"\0") + b"\x01" + b"\0" + plate.encode("gbk") + b"\0")
        body = TerminalRegister(province=34, city=100, manufacturer="JT808", model="SIM-1",
                                dev_id=dev_id, color=1, license_number=plate)
        return encode_body(body, t.version)

    def auth_body(self, t: VirtualTerminal) -> bytes:
        from jt808.protocol.messages.register import TerminalAuth

        code = t.auth_code or ""
        if t.version is V2019:
            return encode_body(TerminalAuth(code=code, imei=f"86{t.index:013d}", software_version="sim-1.0"),
                               t.version)
        return encode_body(TerminalAuth(code=code), t.version)

    # -- dash-cam evidence -------------------------------------------------------------------------
    def upload(self, t: VirtualTerminal, body: bytes) -> None:
        """Upload the evidence of the alarm an 0x9208 ``body`` names (in the background)."""
        task = asyncio.get_running_loop().create_task(self._upload(t, body))
        self._uploads.add(task)
        task.add_done_callback(self._uploads.discard)

    async def _upload(self, t: VirtualTerminal, body: bytes) -> None:
        from jt808.client.attachments import upload_attachments
        from jt808.protocol.packet import decode_body
        from jt808.simulator.dashcam import evidence_files

        cfg = self.config
        st = self.stats
        try:
            request: Any = decode_body(0x9208, t.version, body)[0]  # an AlarmAttachmentRequest
            alarm_type = t.alarm_types.get(request.alarm_sign.key(), "6501")
            files = evidence_files(request, alarm_type, t.index * 1000 + request.alarm_sign.seq)
            host = request.ip if request.ip not in ("0.0.0.0", "::") else cfg.host
            result = await upload_attachments(request, t.phone, files, version=t.version, timeout=cfg.ack_timeout,
                                              host=host)
        except (OSError, TimeoutError, JT808Error) as e:
            st.errors[f"upload_{type(e).__name__}"] += 1
            return
        st.uploaded_files += len(result.completed)
        if result.failed:
            st.errors["upload_incomplete"] += 1
        else:
            st.uploads += 1

    # -- lifecycle --------------------------------------------------------------------------------
    async def open(self, t: VirtualTerminal) -> bool:
        loop = asyncio.get_running_loop()
        cfg = self.config
        t.closing = False
        t.state = "connecting"
        try:
            if cfg.udp:
                await loop.create_datagram_endpoint(lambda: t, remote_addr=(cfg.host, cfg.port))
            else:
                await loop.create_connection(lambda: t, cfg.host, cfg.port)
        except OSError as e:
            self.stats.errors["connect_failed"] += 1
            self.stats.connect_failures[f"{cfg.host}:{cfg.port}: {connect_reason(e)}"] += 1
            return False
        return True

    async def reconnect(self, t: VirtualTerminal) -> None:
        delay = 0.5
        while not self.stopping:
            await asyncio.sleep(delay * (0.5 + random.random()))
            if self.stopping:
                return
            if await self.open(t):
                self.stats.reconnects += 1
                return
            delay = min(delay * 2, 10.0)

    def start_reporting(self, t: VirtualTerminal) -> None:
        cfg = self.config
        for h in t.timers:
            h.cancel()
        t.timers.clear()
        if cfg.rate > 0:
            period = 1.0 / cfg.rate
            self._every(t, period, random.uniform(0, period), t.report)
        if cfg.heartbeat > 0:
            self._every(t, cfg.heartbeat, random.uniform(0, cfg.heartbeat), t.heartbeat)

    def _every(self, t: VirtualTerminal, period: float, first: float, fn: Any) -> None:
        """Call ``fn`` every ``period`` s on a fixed schedule (no drift under load) while ``t`` is up."""
        loop = asyncio.get_running_loop()
        slot = len(t.timers)
        start = loop.time() + first

        def tick(k: int) -> None:
            if self.stopping or t.transport is None:
                return
            fn()
            t.timers[slot] = loop.call_at(max(start + (k + 1) * period, loop.time()), tick, k + 1)

        t.timers.append(loop.call_at(start, tick, 0))

    async def _sweeper(self) -> None:
        timeout = self.config.ack_timeout
        while True:
            await asyncio.sleep(min(1.0, timeout / 4))
            now = time.monotonic()
            for t in self.terminals:
                t.expire(now, timeout)

    async def ramp_up(self) -> None:
        """Connect every terminal, ``connect_rate`` per second; each registers and authenticates."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        gap = 1.0 / cfg.connect_rate if cfg.connect_rate > 0 else 0.0
        start = loop.time()
        opens = []
        for i, t in enumerate(self.terminals):
            t.ready = loop.create_future()
            delay = start + i * gap - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            opens.append(loop.create_task(self.open(t)))
        results = await asyncio.gather(*opens)
        waits = [t.ready for t, ok in zip(self.terminals, results, strict=True) if ok and t.ready is not None]
        if waits:
            await asyncio.wait(waits, timeout=cfg.ack_timeout * 2)

    async def run(self, on_tick: Any = None, tick: float = 0.5) -> Stats:
        """Ramp up, report for ``duration`` seconds, drain outstanding acks, close. ``on_tick(stats,
        phase)`` is called every ``tick`` seconds (progress display)."""
        cfg = self.config
        sweeper = asyncio.get_running_loop().create_task(self._sweeper())
        ticker = None
        if on_tick is not None:
            async def ticking() -> None:
                while True:
                    on_tick(self.stats, self.phase)
                    await asyncio.sleep(tick)

            ticker = asyncio.get_running_loop().create_task(ticking())
        loop = asyncio.get_running_loop()
        interrupt = self._interrupt = self._interrupt or asyncio.Event()
        try:
            self.phase = "ramp-up"
            ramp = loop.create_task(self.ramp_up())
            stop = loop.create_task(interrupt.wait())
            await asyncio.wait({ramp, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not ramp.done():
                ramp.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ramp
            if not interrupt.is_set():
                self.phase = "running"
                if cfg.live:
                    await self.hold_streams(True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(stop), cfg.duration)
                if cfg.live:
                    await self.hold_streams(False)
            stop.cancel()
            self.phase = "draining"
            self.stopping = True
            drain = cfg.ack_timeout if cfg.drain is None else cfg.drain
            if interrupt.is_set():
                drain = min(drain, 1.0)  # interrupted: a short look for the acks in flight, then the summary
            deadline = time.monotonic() + drain
            while (any(t.pending for t in self.terminals) or self._uploads) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            for task in list(self._uploads):
                task.cancel()
                self.stats.errors["upload_unfinished"] += 1
            now = time.monotonic() + cfg.ack_timeout + 1  # whatever is still pending now is late
            for t in self.terminals:
                t.expire(now, cfg.ack_timeout)
        finally:
            self.phase = "done"
            self.stopping = True
            sweeper.cancel()
            for t in self.terminals:
                t.close()
            await asyncio.sleep(0.05)
            if ticker is not None:
                ticker.cancel()
                on_tick(self.stats, self.phase)
        never = sum(1 for t in self.terminals if t.auth_code is None or t.state not in ("running",))
        if never and self.stats.interrupted is None:  # interrupted: the summary's counts say how far it got
            self.stats.errors["not_authenticated"] += never
        return self.stats

    phase = "idle"

    async def hold_streams(self, start: bool) -> None:
        """``POST`` (``DELETE``) ``/api/v1/terminals/{phone}/channels/1/live`` for the first ``live``
        authenticated terminals: the platform sends 0x9101 (0x9102) and they stream (stop)."""
        import httpx

        cfg = self.config
        phones = [t.phone for t in self.terminals if t.state == "running"][:cfg.live]
        headers = {"Authorization": f"Bearer {cfg.token}"} if cfg.token else {}
        async with httpx.AsyncClient(base_url=cfg.api, headers=headers, timeout=30) as client:
            async def one(phone: str) -> None:
                url = f"/api/v1/terminals/{phone}/channels/1/live"
                try:
                    r = await (client.post(url) if start else client.delete(url))
                except httpx.HTTPError as e:
                    self.stats.errors[f"live_{type(e).__name__}"] += 1
                    return
                if r.status_code != 200:
                    self.stats.errors[f"live_http_{r.status_code}"] += 1

            await asyncio.gather(*(one(p) for p in phones))
