"""The asyncio terminal client: one :class:`AsyncTerminal` per virtual or real terminal.

An adapter over :class:`~jt808.session.terminal.TerminalSession` (which does the protocol work):
it owns the socket (TCP stream or UDP datagrams), the clock and the tasks::

    async with AsyncTerminal("127.0.0.1", 6808, "13912345678", version="2019") as t:
        reply = await t.register(province=34, city=100, manufacturer="QUEC", model="EC200U",
                                 dev_id="T0001", color=1, license_number="皖A88888")
        await t.authenticate(reply.auth_code, imei="865306057798238", software_version="1.0.0")
        await t.report_location(LocationReport(latitude=31824845, longitude=117240910, time="220617082544"))

Beyond the seed's blocking client (whose notes leave these to the application):

- **replies and re-transmission**: :meth:`request` waits for the matching reply; without one it sends
  the same frames again after ``timeout × (n + 1)`` seconds (the standard's rule), ``retries`` times,
  then raises :class:`~jt808.errors.ReplyTimeout`;
- **heartbeat**: started after a successful authentication, every ``heartbeat_interval`` seconds (the
  0x0001 parameter; a 0x8103 setting it changes the interval); an unanswered heartbeat closes the link;
- **reconnection**: when the link drops, reconnect with exponential backoff (``backoff_initial`` doubling
  up to ``backoff_max``, with jitter) and re-authenticate with the last accepted code;
- **store-and-forward**: with a :class:`~jt808.client.store.ReportStore` (``store=``), location reports
  that cannot be delivered (no link, no reply) are kept on disk and sent after the next authentication
  as 0x0704 blind-area batches (type 1), oldest first;
- **RSA**: :meth:`set_platform_key` (from 0x8A00) encrypts the encryptable uplinks; :meth:`generate_key`
  creates the terminal key pair whose public half :meth:`report_public_key` sends (0x0A00).

Server messages that are not replies reach ``on_message(packet)`` (a function or a coroutine function).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from jt808.errors import ReplyTimeout, SessionError
from jt808.protocol.header import MAX_BODY, V2019, Version
from jt808.protocol.messages.general import HeartBeat, QueryServerTime, TerminalGeneralReply, TerminalLogout
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.register import TerminalAuth, TerminalRegister
from jt808.protocol.packet import Packet, RawBody, encode_body
from jt808.protocol.registry import Profile
from jt808.protocol.spec import Body
from jt808.session.events import Event, FrameRejected
from jt808.session.terminal import (
    DownlinkReceived,
    FragmentsRequested,
    ReassemblyFailed,
    ReplyReceived,
    TerminalSession,
)

__all__ = ["AsyncTerminal", "Status"]

log = logging.getLogger("jt808.client")

MessageHandler = Callable[[Packet], Any] | Callable[[Packet], Awaitable[Any]]


class Status:
    """Link states, numbered as seed 001's ``JTT808.status()``."""

    ERROR = -1
    CONNECTED = 0
    CONNECTING = 1
    DISCONNECTED = 2


class _Link(asyncio.Protocol, asyncio.DatagramProtocol):
    """The socket's callbacks, for a TCP stream or UDP datagrams."""

    def __init__(self, owner: AsyncTerminal) -> None:
        self.owner = owner

    def data_received(self, data: bytes) -> None:
        self.owner._received(data, stream=True)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.owner._received(data, stream=False)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable etc.: the datagram is lost
        self.owner.errors += 1
        log.debug("%s: UDP error %s", self.owner.phone, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._lost(self, exc)


class AsyncTerminal:
    """One terminal's link to a platform (see the module docstring for what it does).

    :param host, port: the platform.
    :param phone: the terminal phone / client id.
    :param version: 2011, 2013 or 2019.
    :param transport: ``"tcp"`` or ``"udp"``.
    :param timeout: seconds to wait for a reply before the first re-transmission.
    :param retries: re-transmissions before :class:`ReplyTimeout`.
    :param heartbeat_interval: seconds between heartbeats once authenticated (``0``: none).
    :param reconnect: reconnect (and re-authenticate) when the link drops.
    :param store: a :class:`~jt808.client.store.ReportStore` (or a path for one) for store-and-forward.
    :param auto_answer: server message ids the session answers with 0x0001 by itself.
    :param on_message: called with each server message that is not a reply.
    :param on_reply: called with each platform reply (0x8001, 0x8100, 0x8004, 0x8800), matched or not.
    """

    def __init__(self, host: str, port: int, phone: str, *, version: Version | int | str = "2013",
                 transport: str = "tcp", timeout: float = 10.0, retries: int = 2, profile: Profile | None = None,
                 heartbeat_interval: float = 60.0, reconnect: bool = True, backoff_initial: float = 0.5,
                 backoff_max: float = 30.0, store: Any = None, store_limit: int = 10_000,
                 auto_answer: Iterable[int] = (), on_message: MessageHandler | None = None,
                 on_reply: Callable[[Packet], Any] | None = None, max_body: int = MAX_BODY) -> None:
        if transport.lower() not in ("tcp", "udp"):
            raise ValueError("transport is 'tcp' or 'udp'")
        self.host = host
        self.port = port
        self.transport_kind = transport.lower()
        self.session = TerminalSession(phone, version, profile, auto_answer=auto_answer, max_body=max_body)
        self.phone = self.session.phone
        self.version = self.session.version
        self.timeout = timeout
        self.retries = retries
        self.heartbeat_interval = heartbeat_interval
        self.reconnect = reconnect
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        if store is not None and not hasattr(store, "put"):
            from jt808.client.store import ReportStore

            store = ReportStore(store, store_limit)
        self.store = store
        self.on_message = on_message
        self.on_reply = on_reply
        self.status = Status.DISCONNECTED
        self.authenticated = False
        self.auth_code: str | None = None
        self.auth_imei = ""
        self.auth_software_version = ""
        # counters
        self.reconnects = 0
        self.errors = 0
        self.rejected = 0
        self.stored = 0
        self.forwarded = 0
        self._transport: Any = None
        self._protocol: Any = None
        self._waiters: dict[int, asyncio.Future[Packet]] = {}
        self._closing = False
        self._logged_out = False  # after 0x0003 the platform may hang up: no reconnection then
        self._loop: asyncio.AbstractEventLoop | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._connected = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return (f"<AsyncTerminal {self.phone} v{int(self.version)} {self.transport_kind} "
                f"{self.host}:{self.port} status={self.status}>")

    async def __aenter__(self) -> AsyncTerminal:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- link -------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.status == Status.CONNECTED

    async def connect(self) -> None:
        """Open the link (raises ``OSError`` when the platform cannot be reached)."""
        self._closing = False
        self._logged_out = False
        self._loop = asyncio.get_running_loop()
        self.status = Status.CONNECTING
        try:
            await self._open()
        except OSError:
            self.status = Status.ERROR
            raise

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        transport: asyncio.BaseTransport
        protocol: _Link
        if self.transport_kind == "tcp":
            transport, protocol = await loop.create_connection(lambda: _Link(self), self.host, self.port)
        else:
            transport, protocol = await loop.create_datagram_endpoint(lambda: _Link(self),
                                                                      remote_addr=(self.host, self.port))
        self._transport, self._protocol = transport, protocol
        self.session._splitter = type(self.session._splitter)()  # a new stream starts clean
        self.status = Status.CONNECTED
        self._connected.set()

    async def close(self) -> None:
        """Close the link for good (no reconnection); pending requests fail with ``ConnectionError``."""
        self._closing = True
        for task in (self._heartbeat_task, self._reconnect_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self._heartbeat_task = self._reconnect_task = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._fail_waiters(ConnectionError("connection closed"))
        self.authenticated = False
        self._connected.clear()
        self.status = Status.DISCONNECTED
        for t in list(self._tasks):
            t.cancel()
        await asyncio.sleep(0)

    def drop(self) -> None:
        """Abort the link as if the network failed (reconnection follows when enabled)."""
        t = self._transport
        if t is not None:
            if hasattr(t, "abort"):
                t.abort()
            else:
                t.close()

    def _lost(self, protocol: Any, exc: Exception | None) -> None:
        if protocol is not self._protocol:
            return
        self._transport = self._protocol = None
        self._connected.clear()
        self.authenticated = False
        self._fail_waiters(ConnectionError(f"connection lost: {exc}" if exc else "connection closed by the server"))
        self._stop_heartbeat()
        if self._closing or self._logged_out:
            self.status = Status.DISCONNECTED
            return
        if self.reconnect:
            self.status = Status.CONNECTING
            if self._reconnect_task is None or self._reconnect_task.done():
                self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect_loop())
        else:
            self.status = Status.ERROR

    async def _reconnect_loop(self) -> None:
        delay = self.backoff_initial
        while not self._closing:
            await asyncio.sleep(delay * (0.5 + random.random()))
            try:
                await self._open()
            except OSError as e:
                log.debug("%s: reconnect failed: %s", self.phone, e)
                delay = min(delay * 2, self.backoff_max)
                continue
            self.reconnects += 1
            if self.auth_code is not None:
                try:
                    await self.authenticate(self.auth_code, self.auth_imei, self.auth_software_version)
                except (ReplyTimeout, ConnectionError) as e:
                    log.debug("%s: re-authentication failed: %s", self.phone, e)
                    self._reconnect_task = None
                    self.drop()  # _lost starts a new loop
                    return
            break
        self._reconnect_task = None

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until the link is up (and re-authenticated when a code is known)."""
        try:
            await asyncio.wait_for(self._wait_ready(), timeout)
        except TimeoutError:
            return False
        return True

    async def _wait_ready(self) -> None:
        while not (self.connected and (self.auth_code is None or self.authenticated)):
            await self._connected.wait()
            if self.auth_code is not None and not self.authenticated:
                await asyncio.sleep(0.01)

    def _fail_waiters(self, exc: Exception) -> None:
        waiters, self._waiters = self._waiters, {}
        for sn, fut in waiters.items():
            self.session.forget(sn)
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: a caller that gave up must not log it

    # -- bytes in ---------------------------------------------------------------------------------
    def _received(self, data: bytes, *, stream: bool) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        s = self.session
        events = s.receive_data(data, now) if stream else s.receive_datagram(data, now)
        for event in events:
            self._dispatch(event)
        self._flush()
        self._arm_timer()

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, ReplyReceived):
            if self.on_reply is not None:
                try:
                    self.on_reply(event.packet)
                except Exception:
                    log.exception("%s: on_reply failed", self.phone)
            if event.request_id is None:
                return  # a late reply (after a re-transmission was answered) or an unsolicited one
            if not event.final:
                body = event.packet.body
                retx = getattr(body, "retx_ids", None)
                if event.packet.header.msg_id == 0x8800 and retx:
                    self.session.resend(event.request_sn, retx)
                return
            fut = self._waiters.pop(event.request_sn, None)
            if fut is not None and not fut.done():
                fut.set_result(event.packet)
        elif isinstance(event, DownlinkReceived):
            self._downlink(event.packet)
        elif isinstance(event, FrameRejected):
            self.rejected += 1
            log.warning("%s: frame rejected: %s", self.phone, event.error)
        elif isinstance(event, FragmentsRequested | ReassemblyFailed):
            log.info("%s: %s", self.phone, event)

    def _downlink(self, packet: Packet) -> None:
        if packet.header.msg_id == 0x8103:
            for param in getattr(packet.body, "params", None) or []:
                value = getattr(param, "value", None)
                if getattr(param, "id", None) == 0x0001 and isinstance(value, int) and value > 0:
                    self.heartbeat_interval = float(value)
        handler = self.on_message
        if handler is None:
            return
        try:
            result = handler(packet)
        except Exception:  # a handler's bug must not break the link
            log.exception("%s: on_message failed", self.phone)
            return
        if asyncio.iscoroutine(result):
            self._spawn(result)

    def _flush(self) -> None:
        if self._transport is not None:
            self._write_frames(self.session.frames_to_send())

    def _arm_timer(self) -> None:
        deadline = self.session.get_timer()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadline is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(max(deadline, loop.time()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        for event in self.session.handle_timer(asyncio.get_running_loop().time()):
            self._dispatch(event)
        self._flush()
        self._arm_timer()

    # -- bytes out --------------------------------------------------------------------------------
    def _write_frames(self, frames: list[bytes]) -> None:
        t = self._transport
        if t is None:
            raise ConnectionError("not connected")
        if self.transport_kind == "tcp":
            t.write(b"".join(frames))
        else:
            for f in frames:
                t.sendto(f)

    async def send(self, body: Body, *, msg_id: int | None = None, encrypt: bool | None = None) -> int:
        """Send without waiting for a reply (general answers, replies to server queries). Returns the
        serial (fragment 1's when split)."""
        if self._transport is None:
            raise ConnectionError("not connected")
        serials = self.session.send(body, msg_id=msg_id, encrypt=encrypt)
        self._flush()
        return serials[0]

    async def request(self, body: Body, *, msg_id: int | None = None, timeout: float | None = None,
                      retries: int | None = None, encrypt: bool | None = None) -> Packet:
        """Send ``body`` and return the platform's reply packet (0x8001, 0x8100, 0x8004 or 0x8800).

        Re-sends the same frames after ``timeout × (n + 1)`` s, ``retries`` times; then raises
        :class:`ReplyTimeout`. Raises ``ConnectionError`` when the link is (or goes) down.
        """
        if self._transport is None:
            raise ConnectionError("not connected")
        timeout = self.timeout if timeout is None else timeout
        retries = self.retries if retries is None else retries
        s = self.session
        self._flush()  # anything queued before belongs to someone else
        serials = s.send(body, msg_id=msg_id, encrypt=encrypt, expect_reply=True)
        frames = s.frames_to_send()
        sn = serials[0]
        fut: asyncio.Future[Packet] = asyncio.get_running_loop().create_future()
        self._waiters[sn] = fut
        try:
            for attempt in range(retries + 1):
                if attempt:
                    if self._transport is None:
                        raise ConnectionError("connection lost")
                    log.debug("%s: re-sending serial %d (attempt %d)", self.phone, sn, attempt + 1)
                self._write_frames(frames)
                try:
                    return await asyncio.wait_for(asyncio.shield(fut), timeout * (attempt + 1))
                except TimeoutError:
                    continue
            mid = body.msg_id if msg_id is None else msg_id
            raise ReplyTimeout(f"0x{mid:04X} serial {sn}: no reply after {retries + 1} attempt(s)")
        finally:
            if self._waiters.get(sn) is fut:
                del self._waiters[sn]
            s.forget(sn)

    # -- messages ---------------------------------------------------------------------------------
    async def register(self, province: int, city: int, manufacturer: str, model: str, dev_id: str,
                       color: int, license_number: str, **kw: Any) -> Any:
        """0x0100 → the 0x8100 body (``result``, ``auth_code``)."""
        body = TerminalRegister(province=province, city=city, manufacturer=manufacturer, model=model,
                                dev_id=dev_id, color=color, license_number=license_number)
        return (await self.request(body, **kw)).body

    async def authenticate(self, code: str, imei: str = "", software_version: str = "", **kw: Any) -> Any:
        """0x0102 → the 0x8001 body. On success the code is kept for re-authentication after a
        reconnection, the heartbeat starts and stored reports are forwarded."""
        if self.version is V2019:
            body = TerminalAuth(code=code, imei=imei, software_version=software_version)
        else:
            body = TerminalAuth(code=code)
        reply = (await self.request(body, **kw)).body
        if getattr(reply, "result", 1) == 0:
            self.auth_code, self.auth_imei, self.auth_software_version = code, imei, software_version
            self.authenticated = True
            self._logged_out = False
            self._start_heartbeat()
            if self.store is not None and self.store.count(self.phone):
                self._spawn(self.forward_stored())
        return reply

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def heartbeat(self, **kw: Any) -> Any:
        """0x0002 → the 0x8001 body."""
        return (await self.request(HeartBeat(), **kw)).body

    def _stop_heartbeat(self) -> None:
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            self._heartbeat_task = None

    def _start_heartbeat(self) -> None:
        self._stop_heartbeat()
        if self.heartbeat_interval > 0:
            self._heartbeat_task = asyncio.get_running_loop().create_task(self._heartbeat_loop())

    async def _heartbeat_loop(self) -> None:
        while self.connected and self.authenticated:
            await asyncio.sleep(self.heartbeat_interval)
            if not self.connected:
                return
            try:
                await self.heartbeat()
            except ReplyTimeout:
                log.info("%s: heartbeat unanswered: dropping the link", self.phone)
                self.errors += 1
                self.drop()
                return
            except ConnectionError:
                return

    async def logout(self, **kw: Any) -> Any:
        """0x0003. Returns the 0x8001 body, or ``None`` when the platform closed the link instead."""
        self.auth_code = None
        self.authenticated = False
        self._logged_out = True
        self._stop_heartbeat()
        try:
            return (await self.request(TerminalLogout(), **kw)).body
        except (ConnectionError, ReplyTimeout):
            return None

    async def query_server_time(self, **kw: Any) -> Any:
        """0x0004 (2019) → the 0x8004 body (``time``: UTC ``YYMMDDhhmmss``)."""
        return (await self.request(QueryServerTime(), **kw)).body

    async def answer(self, packet: Packet, result: int = 0) -> int:
        """0x0001 general answer to a server message."""
        return await self.send(TerminalGeneralReply(packet.header.msg_sn, packet.header.msg_id, result))

    async def report_location(self, report: LocationReport, **kw: Any) -> Any:
        """0x0200 → the 0x8001 body; ``None`` when it could not be delivered and was stored for later
        (with a store; without one the error is raised)."""
        if self.store is not None and not (self.connected and self.authenticated):
            self._keep(report)
            return None
        try:
            return (await self.request(report, **kw)).body
        except (ReplyTimeout, ConnectionError):
            if self.store is None:
                raise
            self._keep(report)
            return None

    def _keep(self, report: LocationReport) -> None:
        assert self.store is not None
        self.store.put(self.phone, encode_body(report, self.version, self.session.profile))
        self.stored += 1

    async def forward_stored(self, batch_items: int = 100) -> int:
        """Send stored reports as 0x0704 blind-area batches (type 1) until the store is empty or a batch
        fails. Returns how many were delivered."""
        if self.store is None:
            return 0
        from jt808.client.store import batch_body

        delivered = 0
        async with self._flush_lock:
            while self.connected and self.authenticated:
                rows = self.store.peek(self.phone, batch_items, self.session.max_body)
                if not rows:
                    break
                body = RawBody(batch_body([b for _, b in rows], 1), "encoded")
                try:
                    reply = (await self.request(body, msg_id=0x0704)).body
                except (ReplyTimeout, ConnectionError) as e:
                    log.info("%s: forwarding stored reports failed: %s", self.phone, e)
                    break
                if getattr(reply, "result", 1) != 0:
                    log.warning("%s: 0x0704 refused (result %s)", self.phone, getattr(reply, "result", "?"))
                    break
                self.store.delete([i for i, _ in rows])
                delivered += len(rows)
        self.forwarded += delivered
        return delivered

    # -- RSA --------------------------------------------------------------------------------------
    def set_platform_key(self, e: int, n: bytes | int, enabled: bool = True) -> None:
        """Encrypt the encryptable uplinks with the platform's public key ``{e, n}`` (from 0x8A00)."""
        from jt808.protocol.crypto import public_key_from_en

        self.session.set_platform_key(public_key_from_en(e, n), enabled)

    def generate_key(self, bits: int = 1024) -> tuple[int, bytes]:
        """Create the terminal's key pair (downlinks encrypted with it are decrypted); returns ``(e, n)``."""
        from jt808.protocol.crypto import generate_private_key, public_key_to_en

        key = generate_private_key(bits)
        self.session.set_private_key(key)
        return public_key_to_en(key.public_key(), bits // 8)

    async def report_public_key(self, e: int, n: bytes, **kw: Any) -> Any:
        """0x0A00 terminal public key → the 0x8001 body."""
        body = RawBody(int(e).to_bytes(4, "big") + bytes(n).rjust(128, b"\x00"), "encoded")
        if len(n) > 128:
            raise SessionError("0x0A00 carries a 1024-bit modulus (128 bytes)")
        return (await self.request(body, msg_id=0x0A00, encrypt=False, **kw)).body

