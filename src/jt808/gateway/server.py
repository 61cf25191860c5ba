"""The platform gateway: TCP and UDP listeners, the session registry, auth policy, storage sink,
media files, graceful shutdown. Downlink commands live in :mod:`jt808.gateway.commands`, metrics in
:mod:`jt808.gateway.metrics`; listeners, media/command observers, command routes and health checks are
attached through the protocols of :mod:`jt808.gateway.listeners` (``jt808 serve`` composes them in
:mod:`jt808.node`). The gateway knows nothing of HTTP.

::

    gw = Gateway(Config.load("jt808.toml"))
    await gw.start()                       # storage open, ports bound, serving
    reply = await gw.send("013912345678", {"header": {"msg_id": 0x8104}, "body": {}})
    await gw.stop()                        # stop listening, close terminals, flush every write

Per message the gateway does the least it can: the session answers and decodes, the events of one
read are dispatched in one loop, storage rows of one read are one batch submission, counters live
on the sessions and are summed only when ``/metrics`` is read. Nothing is logged per message;
connects, registrations, authentications, disconnects (with the reason) and bad frames (with the hex)
are.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from jt808.config import Config, StartupError
from jt808.gateway.commands import Commands
from jt808.gateway.connection import Connection, TcpConnection, UdpEndpoint
from jt808.gateway.downlink import REPLY_MATCH
from jt808.gateway.hooks import AnonymousPolicy, AuthPolicy, BuiltinRegistry, HttpHooks, Registration
from jt808.gateway.lastseen import LastSeen
from jt808.gateway.limits import Guard, peer_host
from jt808.gateway.listeners import FrameObserver, GatewayListener, HealthCheck, LocationObserver, MediaObserver, tell
from jt808.gateway.media import MediaStore
from jt808.gateway.metrics import Metrics, gateway_samples
from jt808.gateway.sessions import SessionRegistry, add_counters
from jt808.gateway.sink import StorageSink, frame_of
from jt808.protocol.header import V2011, V2019, Header, Version
from jt808.protocol.packet import Packet
from jt808.protocol.registry import DEFAULT_PROFILE, Profile
from jt808.session.events import (
    Authenticated,
    AuthRequested,
    Event,
    FragmentsMissing,
    FrameRejected,
    IdleTimeout,
    LocationValuesReceived,
    LoggedOut,
    MessageReceived,
    MessageRefused,
    ReassemblyAbandoned,
    RegisterRequested,
)
from jt808.session.platform import PlatformSession
from jt808.storage.base import RowsRejected, Storage
from jt808.storage.cache import TerminalCache
from jt808.storage.sanitize import repairs

if TYPE_CHECKING:
    from jt808.storage.batch import BatchWriter

__all__ = ["Gateway", "GatewayListener"]

if TYPE_CHECKING:
    from jt808.gateway.alarms import AlarmService
    from jt808.gateway.attachments import AttachmentServer

FILE_RESERVE = 64  # descriptors kept for the database, logs, the HTTP API … beyond those open when serving


def _nofile() -> tuple[int, int]:
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)


def tcp_budget() -> int:
    """TCP connections this process can hold: its file limit less the descriptors open now and a reserve.
    Connections past it are closed at once by the gateway itself, and said (the event loop would accept and
    close them silently, or log every refused accept)."""
    soft, _ = _nofile()
    if soft == -1:  # RLIM_INFINITY
        return 1 << 62
    try:
        open_now = len(os.listdir("/proc/self/fd"))
    except OSError:
        open_now = 64
    return max(1, soft - open_now - FILE_RESERVE)


SUMMARY_INTERVAL = 60.0  # seconds between the INFO lines summing up connections and logins

log = logging.getLogger("jt808.gateway")

_HEX_MAX = 512  # bytes of a bad frame shown in the log


class Gateway:
    """See the module docstring. ``storage`` may be given already opened (tests); otherwise it is
    created from ``config.storage.db`` and opened by :meth:`open`.

    :meth:`start` is :meth:`open` (data dir, storage, policy), :meth:`bind` (the terminal ports, not
    accepting yet: a port in use fails here, named) and :meth:`serve` (accept): ``jt808 serve`` attaches
    the listeners between the steps, so nothing is accepted before every part is ready."""

    def __init__(self, config: Config | None = None, *, storage: Storage | None = None,
                 profile: Profile = DEFAULT_PROFILE, own_storage: bool | None = None) -> None:
        self.config = cfg = config or Config()
        if profile is DEFAULT_PROFILE and cfg.session.profile != "default":
            from jt808.protocol.profiles import builtin_profile

            profile = builtin_profile(cfg.session.profile)
        self.profile = profile if cfg.session.default_version == int(profile.default_version) else \
            profile.derive(f"{profile.name}-{cfg.session.default_version}",
                           default_version=cfg.session.default_version)
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]  # set by open()
        self.storage: Storage | None = storage
        self._own_storage = storage is None if own_storage is None else own_storage  # closed by stop()
        self.data_off = cfg.storage.db.strip().lower() == "none"
        self.writer: BatchWriter | None = None
        self.sink: StorageSink | None = None
        self.policy: AuthPolicy | None = None
        self.terminals: Storage | None = None  # the storage behind a TerminalCache, for the login path
        self.sessions = SessionRegistry()
        self.connections: set[Connection] = set()
        self.media: MediaStore | None = None
        self.commands = Commands(self)
        self.metrics = Metrics()
        self.metrics.add_source(lambda: gateway_samples(self.stats()))
        self.health: list[HealthCheck] = []
        self._listeners: list[GatewayListener] = []
        self._media_observers: list[MediaObserver] = []
        self._frame_observers: list[FrameObserver] = []
        self._location_observers: list[LocationObserver] = []
        self.alarms: AlarmService | None = None  # alarms from location reports (attachments.enabled)
        self.attachments: AttachmentServer | None = None  # the alarm-attachment server (attachments.enabled)
        self.attachment_port = 0
        self._tcp: list[asyncio.base_events.Server] = []
        self._udp_socks: list[socket.socket] = []
        self._udp: list[tuple[asyncio.DatagramTransport, UdpEndpoint]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._deferred: frozenset[int] = frozenset()
        self._quiet: dict[int, int] = {}
        self._location_values = False  # sessions give stored-only locations as values (_update_quiet)
        self._idle = cfg.session.idle_timeout
        self.seen = LastSeen(self)
        self.tcp_port = self.udp_port = 0
        self.started_at = 0.0
        self.opened = False
        self.stopping = False
        self.counters: Counter[str] = Counter()
        self.guard = Guard(cfg.limits, log)
        self.guard.admission.busy = _mid_login
        self.metrics.add_source(self.guard.metric_samples)

    # ------------------------------------------------------------------------------------------
    # lifecycle
    # ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """:meth:`open`, :meth:`bind`, :meth:`serve`."""
        await self.open()
        await self.bind()
        await self.serve()

    async def open(self) -> None:
        """Data dir, storage (opened: an unreachable database fails here), writer, auth policy, media."""
        if self.opened:
            return
        cfg = self.config
        self.loop = asyncio.get_running_loop()
        data_dir = Path(cfg.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        if self.storage is None:
            from jt808.storage import create_storage

            db = cfg.storage.db.strip()
            url = "memory" if self.data_off else (db or None)
            self.storage = create_storage(url, data_dir)
            await self.storage.open()
        self.opened = True
        storage = self.storage
        if not self.data_off:
            from jt808.storage.batch import BatchWriter

            self.writer = BatchWriter(storage, max_rows=cfg.storage.batch_max_rows,
                                      max_delay=cfg.storage.batch_max_delay, frame_of=frame_of)
            self.sink = StorageSink(self.writer, save_events=cfg.storage.save_events,
                                    tz_offset=self.profile.tz_offset, profile=self.profile)
        deferred = {0x0801}
        if self.sink is not None and cfg.storage.ack_after_durable:
            deferred |= {0x0200, 0x0704}
        self._deferred = frozenset(deferred)
        self._update_quiet()
        a = cfg.auth
        # logins read a record up to three times: from memory after the first (jt808.storage.cache)
        self.terminals = terminals = cast(Storage, TerminalCache(storage))
        if a.mode == "anonymous":
            self.policy = AnonymousPolicy(terminals)
        elif a.mode == "http":
            self.policy = HttpHooks(terminals, a.registry_url, a.auth_url, a.hook_timeout,
                                    BuiltinRegistry(terminals, a.auto_register, a.reregister_match))
        else:
            self.policy = BuiltinRegistry(terminals, a.auto_register, a.reregister_match)
        self.media = MediaStore(data_dir / "media", storage)

    async def bind(self) -> None:
        """Bind the terminal ports (TCP listening but not accepting yet, UDP not read yet).
        :class:`~jt808.config.StartupError` naming the setting when a port cannot be bound."""
        s = self.config.server
        loop = self.loop or asyncio.get_running_loop()
        if s.tcp and not self._tcp:
            try:
                server = await loop.create_server(lambda: TcpConnection(self), s.host, s.port, backlog=s.backlog,
                                                  reuse_address=True, reuse_port=s.reuse_port or None,
                                                  start_serving=False)
            except OSError as e:
                raise port_error("server.port", "TCP", s.host, s.port, e) from None
            self._tcp.append(server)
            self.tcp_port = server.sockets[0].getsockname()[1]
        if s.udp and not self._udp_socks:
            udp_port = s.port if s.port or not self.tcp_port else self.tcp_port
            sock = socket.socket(socket.AF_INET6 if ":" in s.host else socket.AF_INET, socket.SOCK_DGRAM)
            try:
                if s.reuse_port:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                sock.bind((s.host, udp_port))
            except OSError as e:
                sock.close()
                self.close_ports()
                raise port_error("server.port", "UDP", s.host, udp_port, e) from None
            sock.setblocking(False)
            self._udp_socks.append(sock)
            self.udp_port = sock.getsockname()[1]
        a = self.config.attachments
        if a.enabled and s.tcp and self.attachments is None:
            from jt808.gateway.attachments import AttachmentServer

            host = a.host or s.host
            port = a.port if a.port >= 0 else (6809 if s.port == 6808 else 0)
            server_a = AttachmentServer(self, Path(self.config.data_dir) / "attachments")
            try:
                self.attachment_port = await server_a.bind(host, port, reuse_port=s.reuse_port)
            except OSError as e:
                self.close_ports()
                raise port_error("attachments.port", "TCP", host, port, e) from None
            self.attachments = server_a
            self.metrics.add_source(server_a.samples)

    def close_ports(self) -> None:
        """Release bound ports that never served (startup failed after :meth:`bind`)."""
        if self.attachments is not None and not self.started_at:
            self.attachments.close()
            self.attachments = None
        for server in self._tcp:
            server.close()
        for sock in self._udp_socks:
            sock.close()
        self._tcp.clear()
        self._udp_socks.clear()

    async def serve(self) -> None:
        """Start accepting terminals on the bound ports."""
        cfg = self.config
        s = cfg.server
        for server in self._tcp:
            await server.start_serving()
        for sock in self._udp_socks:
            transport, endpoint = await self.loop.create_datagram_endpoint(lambda: UdpEndpoint(self), sock=sock)
            self._udp.append((transport, endpoint))
        self._udp_socks.clear()
        self._tcp_budget = tcp_budget()
        self._summary_at = self.loop.time() + SUMMARY_INTERVAL
        if self.attachments is not None:
            from jt808.gateway.alarms import AlarmService

            await self.attachments.serve()
            self.alarms = AlarmService(self)
            self.alarms.start()
            self.add_location_observer(self.alarms)
            log.info("attachment server on %s:%d (0x9208 %s)", cfg.attachments.host or s.host, self.attachment_port,
                     "sent automatically" if cfg.attachments.auto_request else "sent on request only")
        self.started_at = time.time()
        self._sweeper = self.loop.create_task(self._sweep(), name="jt808-sweeper")
        a = cfg.auth
        log.info("gateway listening: tcp %s:%s udp %s:%s, auth %s%s, storage %s, acks %s",
                 s.host, self.tcp_port or "-", s.host, self.udp_port or "-", self.policy.name,  # type: ignore[union-attr]  # set just above
                 " (auto-register)" if a.mode == "builtin" and a.auto_register else "",
                 "off" if self.data_off else type(self.storage).__name__,
                 "after durable write" if 0x0200 in self._deferred else "immediate")

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, close every terminal, wait for pending decisions, flush every write."""
        if self.stopping:
            return
        self.stopping = True
        if not self.started_at:
            self.close_ports()
        if self.attachments is not None:
            await self.attachments.stop()
        for server in self._tcp:
            server.close()
        for transport, _ in self._udp:
            transport.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conn in list(self.connections):
            conn.close("gateway shutting down")
        for server in self._tcp:
            try:
                await asyncio.wait_for(server.wait_closed(), 2)
            except TimeoutError:
                pass
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        if self.alarms is not None:
            await self.alarms.stop()
        if self.opened:
            await self.seen.close()
        said = logging.INFO if self.started_at else logging.DEBUG  # a start that failed says only its error
        if self.writer is not None:
            await self.writer.close()
            log.log(said, "storage flushed: %d rows written", self.writer.rows_written)
        if self.policy is not None:
            await self.policy.close()
        if self._own_storage and self.storage is not None:
            await self.storage.close()
        log.log(said, "gateway stopped")

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` as a task the gateway waits for when it stops."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("gateway task failed: %r", task.exception(), exc_info=task.exception())

    # ------------------------------------------------------------------------------------------
    # connections
    # ------------------------------------------------------------------------------------------
    def new_session(self) -> PlatformSession:
        cfg = self.config
        now = self.loop.time()
        return PlatformSession(self.profile, anonymous=bool(self.policy and self.policy.anonymous),
                               unauth_reply=cfg.auth.unauth_reply, deferred_acks=self._deferred,
                               idle_timeout=self._idle, fragment_timeout=cfg.session.fragment_timeout,
                               fragment_asks=cfg.session.fragment_asks, max_frame=cfg.server.max_frame, now=now,
                               wall_offset=time.time() - now, quiet=self._quiet, strict=cfg.session.strict_frames,
                               location_values=self._location_values, **self.guard.session_limits)

    def _update_quiet(self) -> None:
        """Ids nobody consumes are answered without decoding: heartbeats when there is no listener,
        locations too when no data is kept either. Locations that are only stored, acknowledged once durable
        (no listener; location observers ask for the reports they want: ``wants_report``) are stored from
        their values."""
        quiet: dict[int, int] = {}
        if not self._listeners and not self.config.session.validate_bodies:
            quiet[0x0002] = 0
            if self.sink is None:
                quiet[0x0200] = 28
        self._quiet = quiet
        self._location_values = values = self.sink is not None and not self._listeners and 0x0200 in self._deferred
        for conn in self.connections:
            conn.session.quiet = dict(quiet)
            conn.session.location_values = values

    def connection_made(self, conn: Connection, authenticating: bool = False) -> None:
        """A connection arrives (TCP accept; a UDP session made by a registration, or by an authentication
        being accepted: ``authenticating``, which skips the unauthenticated caps)."""
        if self.stopping:
            conn.close("gateway shutting down")
            return
        host = peer_host(conn.peer)
        if conn.kind == "tcp":
            if self._tcp_open >= self._tcp_budget:
                self._file_limit_reached(conn)
                return
            self._tcp_open += 1
        if not authenticating:
            refusal, evicted = self.guard.admission.admit(conn, host, self.loop.time())
            for old in evicted:
                old.close("unauthenticated, closed to make room (limits.max_unauthenticated "
                          f"{self.guard.admission.max_total})")
            if refusal is not None:
                self.counters["connections_refused"] += 1
                if conn.kind == "tcp":
                    self._tcp_open -= 1
                conn.close(f"refused: {refusal}")
                return
        self.connections.add(conn)
        self.counters["connections"] += 1
        # per connection at DEBUG; INFO has one summary a minute (_log_summary)
        self.guard.peer_log.log(logging.DEBUG, host, self.loop.time(), "connect %s %s", conn.kind, conn.peer)

    _tcp_open = 0  # TCP connections held (each one file descriptor)
    _tcp_budget = 1 << 62  # how many the file limit allows (set when serving: tcp_budget())
    _file_limit_logged = False

    def _file_limit_reached(self, conn: Connection) -> None:
        """A TCP connection beyond what the process's file limit allows: closed at once, counted, and said
        ONCE per episode (until the connections drop below 90 % of the budget again, see _sweep)."""
        self.counters["connections_refused_file_limit"] += 1
        if not self._file_limit_logged:
            self._file_limit_logged = True
            soft, _ = _nofile()
            log.error("file limit reached: %d TCP connections open, the process may open %d files (ulimit -n / "
                      "LimitNOFILE): new connections are closed at once until some close (counted in "
                      "jt808_connections_refused_total{reason=\"file_limit\"})", self._tcp_open, soft)
        conn.close("refused: the process's file limit is reached")

    def connection_lost(self, conn: Connection, reason: str) -> None:
        self.guard.admission.forget(conn)
        conn.session.release()
        if conn not in self.connections:  # refused at the door: nothing to account
            self.guard.peer_log.log(logging.INFO, peer_host(conn.peer), self.loop.time(),
                                    "disconnect %s %s (%s)", conn.kind, conn.peer, reason)
            return
        self.connections.discard(conn)
        self.counters["disconnections"] += 1
        if conn.kind == "tcp":
            self._tcp_open -= 1
        self.sessions.account(conn)
        self.seen.left(conn)
        phone = conn.phone or "?"
        if conn.downlink is not None:
            conn.downlink.close(reason)
        if self.sessions.unbind(conn):
            tell(self._listeners, "on_disconnected", phone, reason)
        self.guard.peer_log.log(logging.DEBUG, peer_host(conn.peer), self.loop.time(),
                                "disconnect %s %s phone=%s reason=%s rx=%d tx=%d", conn.kind, conn.peer, phone,
                                reason, conn.session.rx_frames, conn.session.tx_frames)

    def _online(self, conn: Connection, anonymous: bool = False) -> None:
        self.guard.admission.authenticated(conn)
        old = self.sessions.bind(conn)
        if old is not None:
            log.info("phone=%s: new connection %s %s replaces %s %s", conn.phone, conn.kind, conn.peer, old.kind,
                     old.peer)
            old.close(f"replaced by a new connection from {conn.peer}")
        self.counters["authenticated"] += 1
        if not self._listeners:
            return
        info = conn.info()
        info["anonymous"] = anonymous
        tell(self._listeners, "on_connected", conn.phone, info)

    # ------------------------------------------------------------------------------------------
    # events (the hot path: one call per read)
    # ------------------------------------------------------------------------------------------
    def handle_events(self, conn: Connection, events: list[Event]) -> None:
        sink = self.sink
        listeners = self._listeners
        locs: list[Any] = []
        rows: list[Any] = []
        deferred: list[Header] = []
        received_at = None
        heads: list[Header] = []  # of the stored messages, with their bodies: the frames a quarantine keeps
        raws: list[bytes | None] = []
        for ev in events:
            if type(ev) is MessageReceived:
                p = ev.packet
                mid = p.header.msg_id
                if mid in REPLY_MATCH and conn.downlink is not None:
                    conn.downlink.on_reply(p)
                if listeners:
                    self._notify(conn.session.phone, p)
                if (mid == 0x0200 or mid == 0x0704) and self._location_observers:
                    self._observe(conn.session.phone, p)
                if mid == 0x0801:
                    self.spawn(self._save_media(conn, p, ev.deferred))
                    continue
                if sink is not None:
                    if received_at is None:
                        received_at = datetime.now(UTC)
                    sink.collect(p, received_at, locs, rows)
                    heads.append(p.header)
                    raws.append(p.raw_body)
                if ev.deferred:
                    deferred.append(p.header)
            elif type(ev) is LocationValuesReceived:  # a 0x0200 only stored (new_session: location_values)
                h = ev.header
                if self._location_observers:
                    self._observe_values(conn.session.phone, ev)
                if received_at is None:
                    received_at = datetime.now(UTC)
                sink.collect_values(h, ev.values, received_at, locs)  # type: ignore[union-attr]  # set with location_values
                heads.append(h)
                raws.append(ev.body)
                deferred.append(h)
            else:
                self._event(conn, ev)
        # Only headers and body bytes outlive this call until the rows are durable (1,600 reports in flight
        # holding their packets, reports and events kept the collector's young generation over its threshold)
        if received_at is not None:
            sink.submit(locs, rows, partial(self._durable, conn, deferred) if deferred else None,  # type: ignore[union-attr]  # set with received_at
                        (heads, raws))
        elif deferred:
            conn.session.ack_many(deferred)

    def _durable(self, conn: Connection, headers: list[Header], fut: asyncio.Future[None]) -> None:
        if fut.cancelled():
            result = 1
        else:
            err = fut.exception()
            if type(err) is RowsRejected:  # only some rows failed: answer each message for its own rows
                self._durable_partly(conn, headers, err)
                return
            result = 0 if err is None else getattr(err, "reply_result", 1)
        if conn.closed:
            return
        conn.session.ack_many(headers, result)
        conn.flush()

    def _durable_partly(self, conn: Connection, headers: list[Header], err: RowsRejected) -> None:
        results = err.results()
        if conn.closed:
            return
        for h in headers:
            conn.session.ack_many((h,), results.get((h.msg_id, h.msg_sn), 0))
        conn.flush()

    def _observe(self, phone: str, packet: Packet) -> None:
        for observer in self._location_observers:
            try:
                observer.on_location(phone, packet)
            except Exception:
                log.exception("location observer %r failed", observer)

    def _observe_values(self, phone: str, ev: LocationValuesReceived) -> None:
        packet = None
        for observer in self._location_observers:
            try:
                if observer.wants_report(phone, ev.values):
                    if packet is None:
                        packet = Packet(ev.header, ev.values.report(), ev.body, [])
                    observer.on_location(phone, packet)
            except Exception:
                log.exception("location observer %r failed", observer)

    def _notify(self, phone: str, packet: Packet) -> None:
        for listener in self._listeners:
            try:
                listener.on_uplink(phone, packet)
            except Exception:
                log.exception("listener %r failed in on_uplink", listener)

    def _event(self, conn: Connection, ev: Event) -> None:
        t = type(ev)
        if t is FrameRejected:
            rej = cast(FrameRejected, ev)
            self.counters["frames_rejected"] += 1
            n = conn.bad_frames = conn.bad_frames + 1
            if n <= 10 or n % 100 == 0:  # a terminal sending garbage does not flood the log
                raw = rej.raw
                more = f"… ({len(raw)} bytes)" if len(raw) > _HEX_MAX else ""
                nth = f" [{n} bad frames on this connection]" if n > 10 else ""
                args = ("bad frame from %s %s phone=%s: %s%s; hex=%s%s%s", conn.kind, conn.peer, conn.phone or "?",
                        rej.error, " (answered)" if rej.replied else "", raw[:_HEX_MAX].hex(), more, nth)
                if conn.session.authenticated:
                    log.warning(*args)
                else:  # nobody proven yet: many connections from one peer must not flood the log either
                    self.guard.peer_log.log(logging.WARNING, peer_host(conn.peer), self.loop.time(), *args)
            tell(self._frame_observers, "on_frame_rejected", conn.phone or "", rej.raw, str(rej.error))
        elif t is MessageRefused:
            self.counters["refused_unauthenticated"] += 1
            if conn.session.rx_frames <= 3 or log.isEnabledFor(logging.DEBUG):
                refused = cast(MessageRefused, ev)
                h = refused.header
                self.guard.peer_log.log(logging.INFO, peer_host(conn.peer), self.loop.time(),
                                        "refused 0x%04X from %s %s phone=%s: %s", h.msg_id, conn.kind, conn.peer,
                                        h.phone, refused.reason)
        elif t is RegisterRequested:
            reg = cast(RegisterRequested, ev)
            if self._may_attempt(conn, "register", reg):
                self.spawn(self._register(conn, reg))
        elif t is AuthRequested:
            auth = cast(AuthRequested, ev)
            if self._may_attempt(conn, "auth", auth):
                h = auth.packet.header
                # the code of a terminal registered a moment ago is in memory: answered now, without a task
                decide = self.policy.authenticate_now  # type: ignore[union-attr]  # set by open()
                rec = decide(h.phone, auth.code, auth.imei, auth.software_version) if auth.code else None
                if rec is None and auth.alt_code:  # the frame read the other way (AuthRequested.alt_code)
                    rec = decide(h.phone, auth.alt_code)
                if rec is None:
                    self.spawn(self._authenticate(conn, auth))
                else:
                    conn.deciding -= 1
                    self._auth_accepted(conn, auth, V2011 if rec.version == 2011 and h.version is not V2019
                                        else None)
        elif t is Authenticated:
            anon = cast(Authenticated, ev)
            log.info("phone=%s %s %s served anonymously (v%d)", anon.phone, conn.kind, conn.peer, int(anon.version))
            conn.settle(True)
            self._online(conn, anonymous=True)
        elif t is LoggedOut:
            self.spawn(self._logout(conn, cast(LoggedOut, ev)))
        elif t is IdleTimeout:
            idle = cast(IdleTimeout, ev).idle
            conn.close(f"idle for {idle:.0f} s (heartbeat interval {self.config.session.heartbeat_interval:g} s)")
        elif t is FragmentsMissing:
            miss = cast(FragmentsMissing, ev)
            self.guard.peer_log.log(logging.INFO, peer_host(conn.peer), self.loop.time(),
                                    "phone=%s: 0x%04X serial %d stalled, asked again for fragments %s", conn.phone,
                                    miss.msg_id, miss.seq, _short(miss.missing))
        elif t is ReassemblyAbandoned:
            gone = cast(ReassemblyAbandoned, ev)
            self.counters["reassembly_abandoned"] += 1
            # one kind of junk, whoever sends it: at most limits.log_lines_per_peer lines a minute, then a count
            self.guard.kind_log.log(logging.WARNING, "dropped fragment sets", self.loop.time(),
                                    "phone=%s %s: 0x%04X serial %d dropped, fragments %s never came", conn.phone,
                                    conn.peer, gone.msg_id, gone.seq, _short(gone.missing))

    # -- decisions -------------------------------------------------------------------------------
    def _may_attempt(self, conn: Connection, kind: str, ev: RegisterRequested | AuthRequested) -> bool:
        """The rate limits of 0x0100 / 0x0102 (per connection, source address, phone): an attempt
        beyond them is not decided and not answered; beyond the connection's allowance it is closed."""
        conn.attempts += 1
        now = self.loop.time()
        host = peer_host(conn.peer)
        phone = ev.packet.header.phone
        scope = self.guard.attempts.check(kind, conn.attempts, host, phone, now)
        if scope is None:
            conn.deciding += 1
            return True
        self.guard.peer_log.log(logging.WARNING, host, now, "%s phone=%s %s %s: not decided, too many attempts "
                                "per %s", kind, phone, conn.kind, conn.peer, scope)
        if scope == "connection":
            conn.close(f"more than {self.guard.attempts.per_connection} registration/authentication attempts")
        else:
            conn.settle(False)
        return False

    async def _register(self, conn: Connection, ev: RegisterRequested) -> None:
        p = ev.packet
        reg = Registration.from_body(p.header.phone, int(p.header.version), p.body)
        issued = conn.issued
        if issued is not None and issued[0] == reg.phone:
            # this very connection was given the code and asks again (its 0x8100 was lost): same answer
            result, code = 0, issued[1]
        else:
            try:
                result, code = await self.policy.register(reg)  # type: ignore[union-attr]  # set by open()
            except Exception as e:
                # the registry cannot be read: not "unknown terminal" (result 4 would make the device give
                # up or alarm); no 0x8100 at all, so the terminal sends its 0x0100 again after its timeout
                conn.deciding -= 1
                self.counters["register_retry"] += 1
                self.guard.peer_log.log(logging.WARNING, peer_host(conn.peer), self.loop.time(),
                                        "register phone=%s %s %s: not answered, the registry cannot be read now "
                                        "(%s); the terminal will try again", reg.phone, conn.kind, conn.peer, e)
                if not conn.closed:
                    conn.settle(False)
                return
        conn.deciding -= 1
        if conn.closed:
            return
        if result == 0:
            conn.issued = (reg.phone, code)
            conn.session.accept_register(ev, code)
            conn.settle(True)
            log.debug("register phone=%s %s %s: accepted (v%d, plate %r, model %r)", reg.phone, conn.kind,
                      conn.peer, reg.version, reg.license_number, reg.model)
        else:
            conn.session.reject_register(ev, result)
            self.guard.peer_log.log(logging.INFO, peer_host(conn.peer), self.loop.time(),
                                    "register phone=%s %s %s: refused, result %d", reg.phone, conn.kind, conn.peer,
                                    result)
            conn.flush()
            conn.settle(False)
        self.counters[f"register_{'ok' if result == 0 else 'refused'}"] += 1
        conn.flush()

    async def _authenticate(self, conn: Connection, ev: AuthRequested) -> None:
        h = ev.packet.header
        policy: AuthPolicy = self.policy  # type: ignore[assignment]  # set by open()
        try:
            # an empty code is never one that was issued (0x8100 never carries one): refused whatever the
            # policy or hook would say
            ok = bool(ev.code or policy.anonymous) and await policy.authenticate(
                h.phone, ev.code, int(h.version), ev.imei, ev.software_version)
            if not ok and ev.alt_code:  # the frame read the other way: one of the two may be the issued code
                ok = await policy.authenticate(h.phone, ev.alt_code, int(h.version))
        except Exception as e:
            # the registry / auth service cannot be asked now: a general failure (result 1, which terminals
            # retry), not counted as a wrong code, the connection stays
            conn.deciding -= 1
            self.counters["auth_retry"] += 1
            self.guard.peer_log.log(logging.WARNING, peer_host(conn.peer), self.loop.time(),
                                    "auth phone=%s %s %s: failed for now, the registry cannot be read (%s)",
                                    h.phone, conn.kind, conn.peer, e)
            if not conn.closed:
                conn.session.reject_auth(ev)
                conn.flush()
                conn.settle(False)
            return
        conn.deciding -= 1
        if conn.closed:
            return
        if ok:
            version = await self._remembered_version(h)
            if not conn.closed:
                self._auth_accepted(conn, ev, version)
        else:
            conn.session.reject_auth(ev)
            conn.flush()
            conn.settle(False)
            conn.auth_failures += 1
            self.counters["auth_refused"] += 1
            self.guard.peer_log.log(logging.WARNING, peer_host(conn.peer), self.loop.time(),
                                    "auth phone=%s %s %s: refused (wrong or unknown auth code)", h.phone, conn.kind,
                                    conn.peer)
            limit = self.config.auth.max_auth_failures
            if limit and conn.auth_failures >= limit:
                conn.close(f"{conn.auth_failures} failed authentications")

    def _auth_accepted(self, conn: Connection, ev: AuthRequested, version: Version | None) -> None:
        """``version``: the terminal's remembered version (:meth:`_remembered_version`)."""
        conn.session.accept_auth(ev, self.loop.time(), version)
        conn.settle(True)
        conn.flush()
        self.counters["auth_ok"] += 1
        if log.isEnabledFor(logging.DEBUG):
            h = ev.packet.header
            log.debug("auth phone=%s %s %s: accepted (v%d)", h.phone, conn.kind, conn.peer, int(h.version))
        self._online(conn)  # last_seen is written with the others' (gateway/lastseen.py), no write per login

    async def _remembered_version(self, h: Any) -> Version | None:
        """2011 for a terminal whose stored registration says so (a 2011 header cannot say it itself)."""
        if h.version is V2019 or self.storage is None:
            return None
        try:
            rec = await self.terminals.get_terminal(h.phone)  # type: ignore[union-attr]  # set with storage by open()
        except Exception as e:
            log.warning("could not read the registration of %s: %s", h.phone, e)
            return None
        return V2011 if rec is not None and rec.version == 2011 else None

    async def _logout(self, conn: Connection, ev: LoggedOut) -> None:
        phone = ev.packet.header.phone
        try:
            await self.policy.logout(phone)  # type: ignore[union-attr]  # set by open()
        except Exception as e:
            log.error("logout phone=%s: could not clear the registration: %s", phone, e)
        log.info("logout phone=%s %s %s: registration cleared", phone, conn.kind, conn.peer)
        conn.flush()
        conn.close("terminal logged out (0x0003)")

    async def _save_media(self, conn: Connection, packet: Packet, deferred: bool) -> None:
        result = 0
        row = error = None
        try:
            row = await self.media.save(packet)  # type: ignore[union-attr]  # set by open()
            log.info("media phone=%s id=%d saved: %s (%d bytes)", packet.header.phone, row.media_id, row.path,
                     row.size)
        except Exception as e:
            result, error = 1, e
            log.error("media phone=%s: could not save: %s", packet.header.phone, e)
        tell(self._media_observers, "on_media_saved", packet, row, error)
        if deferred and not conn.closed:
            conn.session.ack(packet, result)
            conn.flush()

    # -- timers ----------------------------------------------------------------------------------
    async def _sweep(self) -> None:
        """One task for all connections: idle timeouts and stalled fragment sets."""
        tick = max(0.05, min(1.0, self.config.session.fragment_timeout / 4, self._idle / 4))
        while True:
            await asyncio.sleep(tick)
            now = self.loop.time()
            self._sweep_limits(now)
            if now >= self._summary_at:
                self._log_summary(now)
            if self._file_limit_logged and self._tcp_open < 0.9 * self._tcp_budget:
                self._file_limit_logged = False
                log.warning("below the file limit again: %d TCP connections open", self._tcp_open)
            self.seen.tick()
            for conn in list(self.connections):
                s = conn.session
                t = s.get_timer()
                if t is not None and t <= now:
                    try:
                        events = s.handle_timer(now)
                        if events:
                            self.handle_events(conn, events)
                    except Exception:
                        log.exception("phone=%s: timer handling failed", conn.phone or "?")
                    conn.flush()

    _SUMMARY_KEYS = ("connections", "disconnections", "register_ok", "register_refused", "auth_ok", "auth_refused",
                     "connections_refused")
    _summary_at = float("inf")  # loop time of the next summary (set when serving)
    _summary_last: tuple[int, ...] = ()

    def _log_summary(self, now: float) -> None:
        """One INFO line a minute with the connections and logins of that minute (when there were any):
        per-connection lines are DEBUG, a fleet logging in must not write one line per terminal."""
        c = self.counters
        counts = tuple(c.get(k, 0) for k in self._SUMMARY_KEYS)
        last = self._summary_last or (0,) * len(counts)
        if counts != last:
            d = [a - b for a, b in zip(counts, last, strict=True)]
            log.info("last %.0f s: %d connections, %d closed, %d registered (%d refused), %d authenticated "
                     "(%d refused), %d refused at the door; now %d connections, %d terminals online",
                     SUMMARY_INTERVAL, d[0], d[1], d[2], d[3], d[4], d[5], d[6], len(self.connections),
                     len(self.sessions))
        self._summary_last = counts
        self._summary_at = now + SUMMARY_INTERVAL

    def _sweep_limits(self, now: float) -> None:
        adm = self.guard.admission
        for conn in adm.overdue(now):
            conn.close(f"not authenticated within {adm.deadline:g} s (limits.auth_deadline)")
        for conn in adm.stalled(now):
            conn.close(f"a frame left unfinished for {adm.frame_timeout:g} s (limits.frame_timeout)")

    async def reset_terminal(self, phone: str) -> tuple[bool, bool]:
        """The operator's reset: ``phone``'s auth code is released (its next 0x0100 gets a new code) and
        its connection here, if any, is closed. ``(known, disconnected)``."""
        known = await self.policy.release(phone)  # type: ignore[union-attr]  # set by open()
        conn = self.sessions.get(phone)
        if conn is not None:
            conn.close("reset by the operator")
        if known or conn is not None:  # an unknown phone is the caller's 404, not an event of this gateway
            log.warning("phone=%s reset by the operator (%s)", phone,
                        "disconnected" if conn is not None else "not connected here")
        return known, conn is not None

    # ------------------------------------------------------------------------------------------
    # the API other parts use (HTTP, MQTT bridge)
    # ------------------------------------------------------------------------------------------
    def add_listener(self, listener: GatewayListener) -> None:
        """``listener`` gets every terminal that comes online or goes away, and every uplink."""
        self._listeners.append(listener)
        self._update_quiet()

    def remove_listener(self, listener: GatewayListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)
            self._update_quiet()

    def add_location_observer(self, observer: LocationObserver) -> None:
        """See :class:`~jt808.gateway.listeners.LocationObserver` (unlike a listener, it keeps the no-decode
        answers of heartbeats)."""
        self._location_observers.append(observer)
        self._update_quiet()

    def emit(self, phone: str, kind: str, data: dict[str, Any]) -> None:
        """Announce a derived event (``alarm``, ``attachment`` …) to the listeners that take events
        (:class:`~jt808.gateway.listeners.EventListener`)."""
        tell(self._listeners, "on_event", phone, kind, data)

    def add_media_observer(self, observer: MediaObserver) -> None:
        """``observer`` hears of each 0x0801 upload once its file is saved (or could not be)."""
        self._media_observers.append(observer)

    def remove_media_observer(self, observer: MediaObserver) -> None:
        if observer in self._media_observers:
            self._media_observers.remove(observer)

    def add_frame_observer(self, observer: FrameObserver) -> None:
        """``observer`` hears of each frame that could not be used (with its bytes and the reason)."""
        self._frame_observers.append(observer)

    def remove_frame_observer(self, observer: FrameObserver) -> None:
        if observer in self._frame_observers:
            self._frame_observers.remove(observer)

    def add_health_check(self, check: HealthCheck) -> None:
        """A dependency whose problem makes ``/healthz`` degraded."""
        self.health.append(check)

    def problems(self) -> dict[str, str]:
        """``{dependency: reason}`` of every health check that is not healthy now."""
        out: dict[str, str] = {}
        for check in self.health:
            try:
                reason = check.problem()
            except Exception as e:
                reason = f"health check failed: {e}"
            if reason:
                out[check.name] = reason
        return out

    def last_seen(self, phone: str) -> datetime | None:
        """When the last frame of ``phone`` arrived, if it is connected here (see :mod:`jt808.gateway.lastseen`)."""
        return self.seen.live(phone)

    def is_online(self, phone: str) -> bool:
        conn = self.sessions.get(phone)
        return conn is not None and conn.session.authenticated

    def connection(self, phone: str) -> Connection | None:
        return self.sessions.get(phone)

    async def send(self, phone: str, packet_or_json: Any, *, wait: bool = True,
                   timeout: float | None = None) -> Packet | None:
        """Send a platform message to ``phone`` (held by this process) and (``wait``) return the reply.

        Raises :class:`TerminalOffline` (not connected here), :class:`~jt808.errors.ReplyTimeout`
        (sent, retried ``max_retry_times`` times ``retry_interval`` apart, no answer; or ``timeout``
        passed), :class:`CommandFailed` (answered with a failure result; ``.reply`` holds the answer),
        :class:`~jt808.gateway.errors.DownlinkQueueFull`, :class:`~jt808.errors.DecodeError` for bad JSON.
        See :mod:`jt808.gateway.commands` (``gateway.commands.route`` also reaches other processes).
        """
        return await self.commands.send(phone, packet_or_json, wait=wait, timeout=timeout)

    # ------------------------------------------------------------------------------------------
    # numbers
    # ------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        totals = dict(self.sessions.closed_totals)
        frame_repairs = dict(self.sessions.closed_repairs)
        tcp = udp = authenticated = 0
        for conn in self.connections:
            s = conn.session
            add_counters(totals, frame_repairs, s)
            if conn.kind == "tcp":
                tcp += 1
            else:
                udp += 1
            if s.authenticated:
                authenticated += 1
        out: dict[str, Any] = {"connections_tcp": tcp, "connections_udp": udp, "authenticated": authenticated,
                               "online_terminals": len(self.sessions), **totals, "frame_repairs": frame_repairs,
                               "counters": dict(self.counters),
                               "tcp_capacity": self._tcp_budget if self._tcp_budget < 1 << 62 else 0,
                               "uptime": time.time() - self.started_at if self.started_at else 0.0}
        if self.writer is not None:
            w = self.writer
            out["storage"] = {"rows_written": w.rows_written, "batches_written": w.batches_written,
                              "rows_failed": w.rows_failed, "rows_refused": w.rows_refused,
                              "rows_unavailable": w.rows_unavailable, "rows_rejected": w.rows_rejected,
                              "rows_quarantined": w.rows_quarantined, "isolations": w.isolations,
                              "values_repaired": dict(repairs), "pending_rows": w.pending_rows,
                              "health": w.health.snapshot()}
        if self.sink is not None:
            out["locations_submitted"] = self.sink.locations
            out["events_submitted"] = self.sink.events
        if self.media is not None:
            out["media_saved"] = self.media.saved
            out["media_bytes"] = self.media.bytes
        return out

    def metrics_text(self) -> str:
        """Prometheus text exposition (see :mod:`jt808.gateway.metrics`)."""
        return self.metrics.render().decode()


_NONE_WAITING = b"\0\0\0\0"


def _mid_login(conn: Connection) -> bool:
    """An unauthenticated connection in the middle of its login (not to be evicted to make room): its
    registration or authentication is being decided, or bytes wait in its socket (a TCP terminal whose
    0x0100 arrived but was not read yet: FIONREAD)."""
    if conn.deciding:
        return True
    transport = getattr(conn, "transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return False
    try:
        import fcntl  # only when the cap is reached (and not on Windows)
        import termios

        return fcntl.ioctl(sock.fileno(), termios.FIONREAD, _NONE_WAITING) != _NONE_WAITING
    except (ImportError, OSError, ValueError):
        return False


def port_error(setting: str, proto: str, host: str, port: int, e: OSError) -> StartupError:
    """A bind failure as one line naming the setting (``server.port 6808 (TCP 0.0.0.0): address already
    in use``)."""
    reason = "address already in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e)).lower()
    return StartupError(f"{setting} {port} ({proto} {host}): {reason}")


def _short(ids: Sequence[int]) -> str:
    n = len(ids)
    return str(list(ids)) if n <= 16 else f"{ids[:16]}… ({n} in all)"
