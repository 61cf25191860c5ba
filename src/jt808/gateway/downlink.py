"""Downlink commands to one terminal: in-flight window, bounded queue, retries, reply matching.

EMQX's gateway names and defaults: ``retry_interval`` 8 s, ``max_retry_times`` 3, 128 commands in
flight per terminal; past the window commands wait in a bounded queue (``queue_len``).

A command is matched to its reply by the reply's message id and the serial it quotes, as the message
classes declare them (:mod:`jt808.protocol.replies`): 0x0001 quotes serial and id; 0x0104, 0x0201,
0x0302, 0x0500, 0x0700, 0x0802, 0x0805 (and 0x1205) quote the serial as their first WORD; 0x0107,
0x0702, 0x0608, 0x0A00 (and 0x1003) quote nothing and are matched to the oldest command waiting for
that id. A sub-packaged command is registered under every serial of its split (terminals
quote the first or the last). A 0x0001 with a failure result ends any command; a 0x0001 "ok" for a
command that expects a specific answer (0x8104 → 0x0104 …) is not its reply.

Awaited replies sit in a dict ``(reply id, serial) -> Command`` and are removed in every outcome.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

from jt808.errors import ReplyTimeout
from jt808.gateway.errors import DownlinkQueueFull, TerminalOffline
from jt808.protocol.registry import DEFAULT_PROFILE
from jt808.protocol.replies import answers, reply_ids

if TYPE_CHECKING:
    from jt808.config import DownlinkConfig
    from jt808.gateway.connection import Connection
    from jt808.protocol.packet import Packet
    from jt808.protocol.spec import Body

__all__ = ["NOSEQ_REPLIES", "NO_REPLY", "SEQ_REPLIES", "Command", "Downlink"]

_QUOTES = reply_ids()
#: replies that quote the command's serial (as their first WORD), from the message declarations
SEQ_REPLIES = frozenset(mid for mid, q in _QUOTES.items() if q == "seq" and 0x0001 < mid < 0x8000)
#: replies that quote no serial
NOSEQ_REPLIES = frozenset(mid for mid, q in _QUOTES.items() if q == "" and mid < 0x8000)
#: platform messages that are themselves answers: nobody replies to them
NO_REPLY = frozenset(mid for (mid, _) in DEFAULT_PROFILE.messages.table if mid >= 0x8000 and not answers(mid))
#: every uplink id that may answer a command
REPLY_MATCH = frozenset({0x0001}) | SEQ_REPLIES | NOSEQ_REPLIES


class Command:
    """One downlink message and its fate. ``future`` resolves to ``(reply, result)``."""

    __slots__ = ("attempts", "body", "frames", "future", "keys", "msg_id", "replies", "serials", "timer", "version")

    def __init__(self, msg_id: int, body: Body, future: asyncio.Future[tuple[Packet, int]]) -> None:
        self.msg_id = msg_id
        self.body = body
        self.future = future
        self.replies = answers(msg_id) or (0x0001,)
        self.serials: list[int] = []
        self.frames = b""
        self.keys: list[tuple[int, int]] = []
        self.attempts = 0
        self.timer: asyncio.TimerHandle | None = None
        self.version: Any = None

    @property
    def expects_reply(self) -> bool:
        return self.msg_id not in NO_REPLY

    def __repr__(self) -> str:
        return f"<Command 0x{self.msg_id:04X} serials={self.serials} attempts={self.attempts}>"


class Downlink:
    """The downlink state of one connection."""

    __slots__ = ("_noseq", "active", "conn", "inflight", "loop", "max_inflight", "max_retry_times", "queue",
                 "queue_len", "retry_interval")

    def __init__(self, conn: Connection, cfg: DownlinkConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.conn = conn
        self.loop = loop
        self.retry_interval = cfg.retry_interval
        self.max_retry_times = cfg.max_retry_times
        self.max_inflight = cfg.max_inflight
        self.queue_len = cfg.queue_len
        self.inflight: dict[tuple[int, int], Command] = {}
        self.active: set[Command] = set()
        self.queue: deque[Command] = deque()
        self._noseq: dict[int, deque[Command]] = {}

    # -- sending ---------------------------------------------------------------------------------
    def submit(self, body: Body, msg_id: int, version: Any = None) -> Command:
        """Send now when the window has room, else queue (bounded). Returns the command (its future
        resolves when the reply arrives; replies to answers such as 0x8001 are not awaited)."""
        fut: asyncio.Future[tuple[Packet, int]] = self.loop.create_future()
        cmd = Command(msg_id, body, fut)
        cmd.version = version
        if not cmd.expects_reply:
            self._transmit(cmd)
            fut.cancel()  # nothing to wait for
            return cmd
        if len(self.active) < self.max_inflight:
            self._transmit(cmd)
        elif len(self.queue) < self.queue_len:
            self.queue.append(cmd)
        else:
            raise DownlinkQueueFull(f"terminal {self.conn.phone}: {len(self.active)} commands in flight and "
                                    f"{len(self.queue)} queued (downlink.queue_len)")
        return cmd

    def _transmit(self, cmd: Command) -> None:
        conn = self.conn
        session = conn.session
        pending = session.data_to_send()
        if pending:
            conn.write(pending)
        cmd.serials = session.send(cmd.body, msg_id=cmd.msg_id, version=cmd.version)
        cmd.frames = session.data_to_send()
        cmd.attempts = 1
        conn.send_downlink(cmd.frames)
        if not cmd.expects_reply:
            return
        self.active.add(cmd)
        inflight = self.inflight
        for rid in cmd.replies:
            if rid in NOSEQ_REPLIES:
                self._noseq.setdefault(rid, deque()).append(cmd)
                continue
            for sn in cmd.serials:
                key = (rid, sn)
                inflight[key] = cmd
                cmd.keys.append(key)
        if 0x0001 not in cmd.replies:  # a general reply with a failure result still ends it
            for sn in cmd.serials:
                key = (0x0001, sn)
                inflight[key] = cmd
                cmd.keys.append(key)
        cmd.timer = self.loop.call_later(self.retry_interval, self._retry, cmd)

    def _retry(self, cmd: Command) -> None:
        if cmd.future.done():
            return
        if cmd.attempts > self.max_retry_times:
            self._finish(cmd)
            cmd.future.set_exception(ReplyTimeout(
                f"terminal {self.conn.phone} did not answer 0x{cmd.msg_id:04X} (serial {cmd.serials[0]}) after "
                f"{cmd.attempts} sends, {self.retry_interval:g} s apart"))
            cmd.future.exception()  # retrieved: a caller that stopped waiting does not leave a warning
            return
        cmd.attempts += 1
        self.conn.send_downlink(cmd.frames)
        cmd.timer = self.loop.call_later(self.retry_interval, self._retry, cmd)

    def _finish(self, cmd: Command) -> None:
        """Forget ``cmd`` everywhere; let a queued command into the window."""
        if cmd.timer is not None:
            cmd.timer.cancel()
            cmd.timer = None
        inflight = self.inflight
        for key in cmd.keys:
            if inflight.get(key) is cmd:
                del inflight[key]
        cmd.keys.clear()
        for rid in cmd.replies:
            q = self._noseq.get(rid)
            if q is not None and cmd in q:
                q.remove(cmd)
                if not q:
                    del self._noseq[rid]
        self.active.discard(cmd)
        while self.queue and len(self.active) < self.max_inflight:
            nxt = self.queue.popleft()
            if not nxt.future.done():
                self._transmit(nxt)

    def cancel(self, cmd: Command) -> None:
        """The caller gave up (timeout): stop retrying it."""
        if cmd in self.active:
            self._finish(cmd)
        elif cmd in self.queue:
            self.queue.remove(cmd)

    # -- replies ---------------------------------------------------------------------------------
    def on_reply(self, packet: Packet) -> bool:
        """An uplink that may answer a command; True when it did."""
        mid = packet.header.msg_id
        raw = packet.raw_body or b""
        cmd: Command | None
        result = 0
        if mid == 0x0001:
            body = packet.body
            seq = getattr(body, "seq", None)
            rid = getattr(body, "id", None)
            result = getattr(body, "result", 0)
            cmd = self.inflight.get((0x0001, seq)) if seq is not None else None
            if cmd is None or cmd.msg_id != rid:
                return False
            if 0x0001 not in cmd.replies and result == 0:
                return False  # "received": the real answer comes in its own message
        elif mid in SEQ_REPLIES:
            if len(raw) < 2:
                return False
            cmd = self.inflight.get((mid, raw[0] << 8 | raw[1]))
            if cmd is None:
                return False
            if mid == 0x0805 and len(raw) >= 3:
                result = raw[2]
        elif mid in NOSEQ_REPLIES:
            q = self._noseq.get(mid)
            if not q:
                return False
            cmd = q[0]
        else:
            return False
        self._finish(cmd)
        if not cmd.future.done():
            cmd.future.set_result((packet, result))
        return True

    def close(self, reason: str) -> None:
        """The connection is gone: every command fails with :class:`TerminalOffline`."""
        err = TerminalOffline(self.conn.phone, f"went offline ({reason}) before answering")
        for cmd in list(self.active) + list(self.queue):
            if cmd.timer is not None:
                cmd.timer.cancel()
            if not cmd.future.done():
                cmd.future.set_exception(err)
                cmd.future.exception()
        self.active.clear()
        self.queue.clear()
        self.inflight.clear()
        self._noseq.clear()

    @property
    def pending(self) -> int:
        return len(self.active) + len(self.queue)
