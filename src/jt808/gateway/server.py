"""The platform gateway: TCP and UDP listeners, the session registry, auth policy, storage sink,
media files, downlink commands, listeners (MQTT bridge), metrics, graceful shutdown.

::

    gw = Gateway(Config.load("jt808.toml"))
    await gw.start()                       # listeners bound, storage open
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
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from jt808.config import Config
from jt808.errors import JT808Error, ReplyTimeout
from jt808.gateway.connection import Connection, TcpConnection, UdpEndpoint
from jt808.gateway.downlink import REPLY_MATCH, Downlink
from jt808.gateway.errors import CommandFailed, TerminalOffline
from jt808.gateway.hooks import AnonymousPolicy, AuthPolicy, BuiltinRegistry, HttpHooks, Registration
from jt808.gateway.limits import Guard, peer_host
from jt808.gateway.media import MediaStore
from jt808.gateway.sessions import SessionRegistry
from jt808.gateway.sink import StorageSink, frame_of
from jt808.protocol.frame import PROBLEM_KINDS
from jt808.protocol.header import V2011, V2019, Version
from jt808.protocol.packet import Packet
from jt808.protocol.registry import DEFAULT_PROFILE, Profile
from jt808.protocol.spec import Body
from jt808.session.events import (
    Authenticated,
    AuthRequested,
    Event,
    FragmentsMissing,
    FrameRejected,
    IdleTimeout,
    LoggedOut,
    MessageReceived,
    MessageRefused,
    ReassemblyAbandoned,
    RegisterRequested,
)
from jt808.session.platform import PlatformSession
from jt808.storage.base import CommandRow, RowsRejected, Storage
from jt808.storage.sanitize import repairs

__all__ = ["Gateway", "GatewayListener"]

log = logging.getLogger("jt808.gateway")

_HEX_MAX = 512  # bytes of a bad frame shown in the log


class GatewayListener(Protocol):
    """What the gateway calls on its listeners (the MQTT bridge is one). Plain, quick, non-async."""

    def on_connected(self, phone: str, info: dict[str, Any]) -> None: ...

    def on_disconnected(self, phone: str, reason: str) -> None: ...

    def on_uplink(self, phone: str, packet: Packet) -> None: ...


class Gateway:
    """See the module docstring. ``storage`` may be given already opened (tests); otherwise it is
    created from ``config.storage.db`` and opened by :meth:`start`."""

    def __init__(self, config: Config | None = None, *, storage: Storage | None = None,
                 profile: Profile = DEFAULT_PROFILE) -> None:
        self.config = cfg = config or Config()
        self.profile = profile if cfg.session.default_version == int(profile.default_version) else \
            profile.derive(f"{profile.name}-{cfg.session.default_version}",
                           default_version=cfg.session.default_version)
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]  # set by start()
        self.storage: Storage | None = storage
        self._own_storage = storage is None
        self.data_off = cfg.storage.db.strip().lower() == "none"
        self.writer: Any = None
        self.sink: StorageSink | None = None
        self.policy: AuthPolicy | None = None
        self.sessions = SessionRegistry()
        self.connections: set[Connection] = set()
        self.media: MediaStore | None = None
        self.remote_sender: Any = None
        self.remote_online: Any = None  # async () -> set of phones held by sibling workers (jt808.gateway.workers)
        self.remote_disconnect: Any = None  # async (phone) -> whether a sibling worker closed its connection
        self.bridge: Any = None  # the MQTT bridge when one runs (its counters go to /metrics)
        self._listeners: list[Any] = []
        self._tcp: list[asyncio.base_events.Server] = []
        self._udp: list[tuple[asyncio.DatagramTransport, UdpEndpoint]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._deferred: frozenset[int] = frozenset()
        self._quiet: dict[int, int] = {}
        self._idle = cfg.session.idle_timeout
        self.tcp_port = self.udp_port = self.http_port = 0
        self.http: Any = None
        self.started_at = 0.0
        self.stopping = False
        self.counters: Counter[str] = Counter()
        self.guard = Guard(cfg.limits, log)

    # ------------------------------------------------------------------------------------------
    # lifecycle
    # ------------------------------------------------------------------------------------------
    async def start(self) -> None:
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
        storage = self.storage
        if not self.data_off:
            from jt808.storage.batch import BatchWriter

            self.writer = BatchWriter(storage, max_rows=cfg.storage.batch_max_rows,
                                      max_delay=cfg.storage.batch_max_delay, frame_of=frame_of)
            self.sink = StorageSink(self.writer, save_events=cfg.storage.save_events,
                                    tz_offset=self.profile.tz_offset)
        deferred = {0x0801}
        if self.sink is not None and cfg.storage.ack_after_durable:
            deferred |= {0x0200, 0x0704}
        self._deferred = frozenset(deferred)
        self._update_quiet()
        a = cfg.auth
        if a.mode == "anonymous":
            self.policy = AnonymousPolicy(storage)
        elif a.mode == "http":
            self.policy = HttpHooks(storage, a.registry_url, a.auth_url, a.hook_timeout,
                                    BuiltinRegistry(storage, a.auto_register, a.reregister_match))
        else:
            self.policy = BuiltinRegistry(storage, a.auto_register, a.reregister_match)
        self.media = MediaStore(data_dir / "media", storage)
        s = cfg.server
        if s.tcp:
            server = await self.loop.create_server(lambda: TcpConnection(self), s.host, s.port, backlog=s.backlog,
                                                   reuse_address=True, reuse_port=s.reuse_port or None)
            self._tcp.append(server)
            self.tcp_port = server.sockets[0].getsockname()[1]
        if s.udp:
            udp_port = s.port if s.port or not self.tcp_port else self.tcp_port
            transport, endpoint = await self.loop.create_datagram_endpoint(
                lambda: UdpEndpoint(self), local_addr=(s.host, udp_port), reuse_port=s.reuse_port or None,
                family=socket.AF_INET6 if ":" in s.host else socket.AF_INET)
            self._udp.append((transport, endpoint))
            self.udp_port = transport.get_extra_info("sockname")[1]
        if cfg.http.enabled:
            from jt808.http import HttpServer

            self.http = HttpServer(self, cfg.http.host, cfg.http.port, cfg.http.token)
            await self.http.start()
            self.http_port = self.http.port
        self.started_at = time.time()
        self._sweeper = self.loop.create_task(self._sweep(), name="jt808-sweeper")
        log.info("gateway listening: tcp %s:%s udp %s:%s, auth %s%s, storage %s, acks %s",
                 s.host, self.tcp_port or "-", s.host, self.udp_port or "-", self.policy.name,
                 " (auto-register)" if a.mode == "builtin" and a.auto_register else "",
                 "off" if self.data_off else type(storage).__name__,
                 "after durable write" if 0x0200 in self._deferred else "immediate")
        if self.http is not None:
            log.info("HTTP API on http://%s:%d/api/v1 (docs /docs, metrics /metrics)%s", cfg.http.host,
                     self.http_port, ", token required" if cfg.http.token else "")

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, close every terminal, wait for pending decisions, flush every write."""
        if self.stopping:
            return
        self.stopping = True
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
        if self.http is not None:
            await self.http.stop()
        if self.writer is not None:
            await self.writer.close()
            log.info("storage flushed: %d rows written", self.writer.rows_written)
        if self.policy is not None:
            await self.policy.close()
        if self._own_storage and self.storage is not None:
            await self.storage.close()
        log.info("gateway stopped")

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Any) -> None:
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
                               wall_offset=time.time() - now, quiet=self._quiet, **self.guard.session_limits)

    def _update_quiet(self) -> None:
        """Ids nobody consumes are answered without decoding: heartbeats when there is no listener,
        locations too when no data is kept either."""
        quiet: dict[int, int] = {}
        if not self._listeners and not self.config.session.validate_bodies:
            quiet[0x0002] = 0
            if self.sink is None:
                quiet[0x0200] = 28
        self._quiet = quiet
        for conn in self.connections:
            conn.session.quiet = dict(quiet)

    def connection_made(self, conn: Connection, authenticating: bool = False) -> None:
        """A connection arrives (TCP accept; a UDP session made by a registration, or by an authentication
        being accepted: ``authenticating``, which skips the unauthenticated caps)."""
        if self.stopping:
            conn.close("gateway shutting down")
            return
        host = peer_host(conn.peer)
        if not authenticating:
            refusal, evicted = self.guard.admission.admit(conn, host, self.loop.time())
            for old in evicted:
                old.close("unauthenticated, closed to make room (limits.max_unauthenticated "
                          f"{self.guard.admission.max_total})")
            if refusal is not None:
                self.counters["connections_refused"] += 1
                conn.close(f"refused: {refusal}")
                return
        self.connections.add(conn)
        self.counters["connections"] += 1
        self.guard.peer_log.log(logging.INFO, host, self.loop.time(), "connect %s %s", conn.kind, conn.peer)

    def connection_lost(self, conn: Connection, reason: str) -> None:
        self.guard.admission.forget(conn)
        conn.session.release()
        if conn not in self.connections:  # refused at the door: nothing to account
            self.guard.peer_log.log(logging.INFO, peer_host(conn.peer), self.loop.time(),
                                    "disconnect %s %s (%s)", conn.kind, conn.peer, reason)
            return
        self.connections.discard(conn)
        self.sessions.account(conn)
        phone = conn.phone or "?"
        if conn.downlink is not None:
            conn.downlink.close(reason)
        if self.sessions.unbind(conn):
            for listener in self._listeners:
                try:
                    listener.on_disconnected(phone, reason)
                except Exception:
                    log.exception("listener %r failed in on_disconnected", listener)
        self.guard.peer_log.log(logging.INFO, peer_host(conn.peer), self.loop.time(),
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
        info = conn.info()
        info["anonymous"] = anonymous
        for listener in self._listeners:
            try:
                listener.on_connected(conn.phone, info)
            except Exception:
                log.exception("listener %r failed in on_connected", listener)

    # ------------------------------------------------------------------------------------------
    # events (the hot path: one call per read)
    # ------------------------------------------------------------------------------------------
    def handle_events(self, conn: Connection, events: list[Event]) -> None:
        sink = self.sink
        listeners = self._listeners
        locs: list[Any] | None = None
        rows: list[Any] = []
        deferred: list[Packet] | None = None
        received_at = None
        for ev in events:
            if type(ev) is MessageReceived:
                p = ev.packet
                mid = p.header.msg_id
                if mid in REPLY_MATCH and conn.downlink is not None:
                    conn.downlink.on_reply(p)
                if listeners:
                    self._notify(conn.session.phone, p)
                if mid == 0x0801:
                    self._spawn(self._save_media(conn, p, ev.deferred))
                    continue
                if sink is not None:
                    if received_at is None:
                        received_at = datetime.now(UTC)
                        locs = []
                    sink.collect(p, received_at, locs, rows)  # type: ignore[arg-type]
                if ev.deferred:
                    if deferred is None:
                        deferred = [p]
                    else:
                        deferred.append(p)
            else:
                self._event(conn, ev)
        if received_at is not None:
            sink.submit(locs, rows, partial(self._durable, conn, deferred) if deferred else None,  # type: ignore
                        events)
        elif deferred:
            conn.session.ack_many(deferred)

    def _durable(self, conn: Connection, packets: list[Packet], fut: asyncio.Future[None]) -> None:
        if fut.cancelled():
            result = 1
        else:
            err = fut.exception()
            if type(err) is RowsRejected:  # only some rows failed: answer each message for its own rows
                self._durable_partly(conn, packets, err)
                return
            result = 0 if err is None else getattr(err, "reply_result", 1)
            if err is not None and self.sink is not None:
                self.sink.failed_acks += len(packets)
        if conn.closed:
            return
        conn.session.ack_many(packets, result)
        conn.flush()

    def _durable_partly(self, conn: Connection, packets: list[Packet], err: RowsRejected) -> None:
        results = err.results()
        if self.sink is not None:
            self.sink.failed_acks += sum(1 for p in packets if (p.header.msg_id, p.header.msg_sn) in results)
        if conn.closed:
            return
        for p in packets:
            conn.session.ack_many((p,), results.get((p.header.msg_id, p.header.msg_sn), 0))
        conn.flush()

    def _notify(self, phone: str, packet: Packet) -> None:
        for listener in self._listeners:
            try:
                listener.on_uplink(phone, packet)
            except Exception:
                log.exception("listener %r failed in on_uplink", listener)

    def _event(self, conn: Connection, ev: Event) -> None:
        t = type(ev)
        if t is FrameRejected:
            self.counters["frames_rejected"] += 1
            n = conn.bad_frames = conn.bad_frames + 1
            if n <= 10 or n % 100 == 0:  # a terminal sending garbage does not flood the log
                raw = ev.raw  # type: ignore[attr-defined]
                more = f"… ({len(raw)} bytes)" if len(raw) > _HEX_MAX else ""
                nth = f" [{n} bad frames on this connection]" if n > 10 else ""
                args = ("bad frame from %s %s phone=%s: %s%s; hex=%s%s%s", conn.kind, conn.peer, conn.phone or "?",
                        ev.error, " (answered)" if ev.replied else "", raw[:_HEX_MAX].hex(), more, nth)  # type: ignore
                if conn.session.authenticated:
                    log.warning(*args)
                else:  # nobody proven yet: many connections from one peer must not flood the log either
                    self.guard.peer_log.log(logging.WARNING, peer_host(conn.peer), self.loop.time(), *args)
        elif t is MessageRefused:
            self.counters["refused_unauthenticated"] += 1
            if conn.session.rx_frames <= 3 or log.isEnabledFor(logging.DEBUG):
                h = ev.header  # type: ignore[attr-defined]
                self.guard.peer_log.log(logging.INFO, peer_host(conn.peer), self.loop.time(),
                                        "refused 0x%04X from %s %s phone=%s: %s", h.msg_id, conn.kind, conn.peer,
                                        h.phone, ev.reason)  # type: ignore[attr-defined]
        elif t is RegisterRequested:
            if self._may_attempt(conn, "register", ev):
                self._spawn(self._register(conn, ev))  # type: ignore[arg-type]
        elif t is AuthRequested:
            if self._may_attempt(conn, "auth", ev):
                self._spawn(self._authenticate(conn, ev))  # type: ignore[arg-type]
        elif t is Authenticated:
            log.info("phone=%s %s %s served anonymously (v%d)", ev.phone, conn.kind, conn.peer,  # type: ignore
                     int(ev.version))  # type: ignore[attr-defined]
            conn.settle(True)
            self._online(conn, anonymous=True)
        elif t is LoggedOut:
            self._spawn(self._logout(conn, ev))  # type: ignore[arg-type]
        elif t is IdleTimeout:
            conn.close(f"idle for {ev.idle:.0f} s (heartbeat interval {self.config.session.heartbeat_interval:g} s)")  # type: ignore
        elif t is FragmentsMissing:
            log.info("phone=%s: 0x%04X serial %d stalled, asked again for fragments %s", conn.phone,
                     ev.msg_id, ev.seq, _short(ev.missing))  # type: ignore[attr-defined]
        elif t is ReassemblyAbandoned:
            log.warning("phone=%s: 0x%04X serial %d dropped, fragments %s never came", conn.phone,
                        ev.msg_id, ev.seq, _short(ev.missing))  # type: ignore[attr-defined]

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
                result, code = await self.policy.register(reg)  # type: ignore[union-attr]
            except Exception as e:
                log.error("register phone=%s failed in the registry: %s", reg.phone, e)
                result, code = 4, ""
        conn.deciding -= 1
        if conn.closed:
            return
        if result == 0:
            conn.issued = (reg.phone, code)
            conn.session.accept_register(ev, code)
            conn.settle(True)
            log.info("register phone=%s %s %s: accepted (v%d, plate %r, model %r)", reg.phone, conn.kind, conn.peer,
                     reg.version, reg.license_number, reg.model)
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
        policy: AuthPolicy = self.policy  # type: ignore[assignment]
        try:
            # an empty code is never one that was issued (0x8100 never carries one): refused whatever the
            # policy or hook would say
            ok = bool(ev.code or policy.anonymous) and await policy.authenticate(
                h.phone, ev.code, int(h.version), ev.imei, ev.software_version)
        except Exception as e:
            log.error("authenticate phone=%s failed in the auth service: %s", h.phone, e)
            ok = False
        conn.deciding -= 1
        if conn.closed:
            return
        if ok:
            conn.session.accept_auth(ev, self.loop.time(), await self._remembered_version(h))
            conn.settle(True)
            conn.flush()
            self.counters["auth_ok"] += 1
            log.info("auth phone=%s %s %s: accepted (v%d)", h.phone, conn.kind, conn.peer, int(h.version))
            self._online(conn)
            if self.storage is not None and not self.data_off:
                try:
                    await self.storage.touch_terminal(h.phone, datetime.now(UTC))
                except Exception as e:
                    log.warning("could not record last_seen of %s: %s", h.phone, e)
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

    async def _remembered_version(self, h: Any) -> Version | None:
        """2011 for a terminal whose stored registration says so (a 2011 header cannot say it itself)."""
        if h.version is V2019 or self.storage is None:
            return None
        try:
            rec = await self.storage.get_terminal(h.phone)
        except Exception as e:
            log.warning("could not read the registration of %s: %s", h.phone, e)
            return None
        return V2011 if rec is not None and rec.version == 2011 else None

    async def _logout(self, conn: Connection, ev: LoggedOut) -> None:
        phone = ev.packet.header.phone
        try:
            await self.policy.logout(phone)  # type: ignore[union-attr]
        except Exception as e:
            log.error("logout phone=%s: could not clear the registration: %s", phone, e)
        log.info("logout phone=%s %s %s: registration cleared", phone, conn.kind, conn.peer)
        conn.flush()
        conn.close("terminal logged out (0x0003)")

    async def _save_media(self, conn: Connection, packet: Packet, deferred: bool) -> None:
        result = 0
        try:
            row = await self.media.save(packet)  # type: ignore[union-attr]
            log.info("media phone=%s id=%d saved: %s (%d bytes)", packet.header.phone, row.media_id, row.path,
                     row.size)
        except Exception as e:
            result = 1
            log.error("media phone=%s: could not save: %s", packet.header.phone, e)
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

    def _sweep_limits(self, now: float) -> None:
        adm = self.guard.admission
        for conn in adm.overdue(now):
            conn.close(f"not authenticated within {adm.deadline:g} s (limits.auth_deadline)")
        for conn in adm.stalled(now):
            conn.close(f"a frame left unfinished for {adm.frame_timeout:g} s (limits.frame_timeout)")

    async def reset_terminal(self, phone: str) -> tuple[bool, bool]:
        """The operator's reset: ``phone``'s auth code is released (its next 0x0100 gets a new code) and
        its connection here, if any, is closed. ``(known, disconnected)``."""
        known = await self.policy.release(phone)  # type: ignore[union-attr]
        conn = self.sessions.get(phone)
        if conn is not None:
            conn.close("reset by the operator")
        log.warning("phone=%s reset by the operator (%s)", phone,
                    "disconnected" if conn is not None else "not connected here")
        return known, conn is not None

    # ------------------------------------------------------------------------------------------
    # the API other parts use (HTTP, MQTT bridge)
    # ------------------------------------------------------------------------------------------
    def add_listener(self, listener: Any) -> None:
        """``listener`` has ``on_connected(phone, info)``, ``on_disconnected(phone, reason)`` and
        ``on_uplink(phone, packet)``: plain, quick, non-async methods."""
        self._listeners.append(listener)
        self._update_quiet()

    def remove_listener(self, listener: Any) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)
            self._update_quiet()

    def is_online(self, phone: str) -> bool:
        conn = self.sessions.get(phone)
        return conn is not None and conn.session.authenticated

    def connection(self, phone: str) -> Connection | None:
        return self.sessions.get(phone)

    def _body_of(self, conn: Connection, what: Any) -> tuple[Body, int]:
        if isinstance(what, Packet):
            return what.body, what.header.msg_id
        if isinstance(what, Body):
            return what, what.msg_id
        if isinstance(what, dict):
            from jt808.protocol.exchange import from_json

            version: Version = conn.session.version
            header = dict(what.get("header") or {})
            header.setdefault("phone", conn.phone)
            header.setdefault("msg_sn", 0)
            packet = from_json({**what, "header": header}, self.profile, version=version)
            return packet.body, packet.header.msg_id
        raise TypeError(f"send() takes a Packet, a Body or seed-004 JSON, not {type(what).__name__}")

    async def send(self, phone: str, packet_or_json: Any, *, wait: bool = True,
                   timeout: float | None = None) -> Packet | None:
        """Send a platform message to ``phone`` and (``wait``) return the terminal's reply.

        Raises :class:`TerminalOffline` (not connected here), :class:`~jt808.errors.ReplyTimeout`
        (sent, retried ``max_retry_times`` times ``retry_interval`` apart, no answer; or ``timeout``
        passed), :class:`CommandFailed` (answered with a failure result; ``.reply`` holds the answer),
        :class:`~jt808.gateway.errors.DownlinkQueueFull`, :class:`~jt808.errors.DecodeError` for bad JSON.
        """
        conn = self.sessions.get(phone)
        if conn is None or not conn.session.authenticated:
            self.counters["commands_offline"] += 1
            raise TerminalOffline(phone)
        body, msg_id = self._body_of(conn, packet_or_json)
        dl = conn.downlink
        if dl is None:
            dl = conn.downlink = Downlink(conn, self.config.downlink, self.loop)
        cmd = dl.submit(body, msg_id)
        self.counters["commands_sent"] += 1
        cmd_id = await self._log_command(phone, msg_id, cmd.serials[0] if cmd.serials else 0, body, conn)
        if not wait or not cmd.expects_reply:
            return None
        limit = timeout if timeout is not None else dl.retry_interval * (dl.max_retry_times + 1) + 1
        status, reply, result = "timeout", None, 0
        try:
            reply, result = await asyncio.wait_for(asyncio.shield(cmd.future), limit)
        except ReplyTimeout:
            raise
        except TimeoutError:
            dl.cancel(cmd)
            raise ReplyTimeout(f"terminal {phone} did not answer 0x{msg_id:04X} within {limit:g} s") from None
        except TerminalOffline:
            status = "offline"
            raise
        finally:
            if reply is not None:
                status = "replied" if result == 0 else "failed"
            self.counters[f"commands_{status}"] += 1
            if cmd_id is not None:
                self._spawn(self._update_command(cmd_id, status, reply))
        if result != 0:
            raise CommandFailed(reply, result)
        return reply

    async def _log_command(self, phone: str, msg_id: int, sn: int, body: Body, conn: Connection) -> int | None:
        if self.storage is None or self.data_off:
            return None
        try:
            request = body.to_json(conn.session.version)
        except Exception:
            request = {}
        try:
            return await self.storage.add_command(CommandRow(phone, msg_id, sn, datetime.now(UTC), request))
        except Exception as e:
            log.warning("command log: %s", e)
            return None

    async def _update_command(self, cmd_id: int, status: str, reply: Packet | None) -> None:
        rj = None
        if reply is not None:
            from jt808.protocol.exchange import to_json

            try:
                rj = to_json(reply)
            except JT808Error:
                rj = None
        await self.storage.update_command(cmd_id, status, rj, datetime.now(UTC) if reply else None)  # type: ignore

    # ------------------------------------------------------------------------------------------
    # numbers
    # ------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        totals = dict(self.sessions.closed_totals)
        frame_repairs = dict(self.sessions.closed_repairs)
        tcp = udp = authenticated = 0
        for conn in self.connections:
            s = conn.session
            for kind, n in s.repairs.items():
                frame_repairs[kind] = frame_repairs.get(kind, 0) + n
            totals["rx_frames"] += s.rx_frames
            totals["tx_frames"] += s.tx_frames
            totals["rx_bytes"] += s.rx_bytes
            totals["rejected"] += s.rejected
            if conn.kind == "tcp":
                tcp += 1
            else:
                udp += 1
            if s.authenticated:
                authenticated += 1
        out: dict[str, Any] = {"connections_tcp": tcp, "connections_udp": udp, "authenticated": authenticated,
                               "online_terminals": len(self.sessions), **totals, "frame_repairs": frame_repairs,
                               "counters": dict(self.counters),
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
        """Prometheus text exposition."""
        st = self.stats()
        lines: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                lines.append(f"{name}{labels} {value}")

        metric("jt808_connections", "gauge", "Open terminal connections.",
               [('{transport="tcp"}', st["connections_tcp"]), ('{transport="udp"}', st["connections_udp"])])
        metric("jt808_online_terminals", "gauge", "Authenticated terminals held by this node.",
               [("", st["online_terminals"])])
        metric("jt808_frames_received_total", "counter", "Frames received.", [("", st["rx_frames"])])
        metric("jt808_frames_sent_total", "counter", "Frames sent.", [("", st["tx_frames"])])
        metric("jt808_bytes_received_total", "counter", "Bytes received.", [("", st["rx_bytes"])])
        metric("jt808_frames_rejected_total", "counter", "Frames rejected (bad escape, check code, length, body).",
               [("", st["rejected"])])
        metric("jt808_frame_repairs_total", "counter",
               "Problems repaired or flagged by the tolerant frame decoder, by kind (docs: Device dialects).",
               [(f'{{kind="{k}"}}', st["frame_repairs"].get(k, 0)) for k in PROBLEM_KINDS])
        c = st["counters"]
        metric("jt808_connections_total", "counter", "Connections accepted.", [("", c.get("connections", 0))])
        metric("jt808_registrations_total", "counter", "0x0100 decisions.",
               [('{result="ok"}', c.get("register_ok", 0)), ('{result="refused"}', c.get("register_refused", 0))])
        metric("jt808_authentications_total", "counter", "0x0102 decisions.",
               [('{result="ok"}', c.get("auth_ok", 0)), ('{result="refused"}', c.get("auth_refused", 0))])
        metric("jt808_refused_unauthenticated_total", "counter", "Messages refused before authentication.",
               [("", c.get("refused_unauthenticated", 0))])
        metric("jt808_commands_total", "counter", "Downlink commands by outcome.",
               [(f'{{status="{k}"}}', c.get(f"commands_{k}", 0))
                for k in ("sent", "replied", "failed", "timeout", "offline")])
        if "storage" in st:
            s = st["storage"]
            metric("jt808_storage_rows_written_total", "counter", "Rows committed.", [("", s["rows_written"])])
            metric("jt808_storage_batches_total", "counter", "Batches committed.", [("", s["batches_written"])])
            metric("jt808_storage_rows_failed_total", "counter", "Rows whose write failed: store unavailable.",
                   [("", s["rows_failed"])])
            metric("jt808_storage_rows_refused_total", "counter", "Rows refused without a write, by reason.",
                   [('{reason="unavailable"}', s["rows_unavailable"]), ('{reason="overloaded"}', s["rows_refused"])])
            metric("jt808_storage_rows_rejected_total", "counter", "Rows the store refused for their content.",
                   [("", s["rows_rejected"])])
            metric("jt808_storage_rows_quarantined_total", "counter", "Rejected rows kept in the quarantine.",
                   [("", s["rows_quarantined"])])
            metric("jt808_storage_values_repaired_total", "counter", "Values cleaned to be storable, by kind.",
                   [(f'{{kind="{k}"}}', s["values_repaired"].get(k, 0)) for k in ("text", "number")])
            h = s["health"]
            metric("jt808_storage_up", "gauge", "1 while the store accepts writes, 0 during an outage.",
                   [("", 1 if h["state"] == "ok" else 0)])
            metric("jt808_storage_outages_total", "counter", "Times the store became unavailable.",
                   [("", h["outages"])])
            metric("jt808_storage_pending_rows", "gauge", "Rows waiting for the database.", [("", s["pending_rows"])])
            metric("jt808_locations_total", "counter", "Location rows submitted.", [("", st["locations_submitted"])])
        if "media_saved" in st:
            metric("jt808_media_saved_total", "counter", "Multimedia files saved.", [("", st["media_saved"])])
        if self.bridge is not None:
            b = self.bridge.stats()
            metric("jt808_mqtt_connected", "gauge", "1 while the MQTT broker connection is up.",
                   [("", 1 if b["connected"] else 0)])
            metric("jt808_mqtt_published_total", "counter", "Uplinks acknowledged by the broker.",
                   [("", b["published"])])
            metric("jt808_mqtt_dropped_total", "counter", "Uplinks dropped because the buffer was full.",
                   [("", b["dropped"])])
            metric("jt808_mqtt_buffered", "gauge", "Uplinks waiting for the broker.",
                   [("", b["buffered"] + b["inflight"])])
            metric("jt808_mqtt_downlinks_total", "counter", "Downlinks received from the broker.",
                   [('{result="ok"}', b["downlinks"]), ('{result="error"}', b["downlink_errors"])])
            metric("jt808_mqtt_reconnects_total", "counter", "Broker reconnections.", [("", b["reconnects"])])
        for name, kind, help_, samples in self.guard.metrics():
            metric(name, kind, help_, samples)
        metric("jt808_uptime_seconds", "gauge", "Seconds since start.", [("", round(st["uptime"], 3))])
        rss = _rss_bytes()
        if rss is not None:
            metric("process_resident_memory_bytes", "gauge", "Resident memory.", [("", rss)])
        return "\n".join(lines) + "\n"


def _short(ids: Sequence[int]) -> str:
    n = len(ids)
    return str(list(ids)) if n <= 16 else f"{ids[:16]}… ({n} in all)"


def _rss_bytes() -> int | None:
    try:
        with open(f"/proc/{os.getpid()}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
