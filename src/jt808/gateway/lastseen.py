"""``last_seen`` of the terminals: the wall time of their last frame, kept without a write per frame.

The sessions already note when each frame arrived; :class:`LastSeen` reads them every :data:`FLUSH`
seconds (the gateway's sweeper calls :meth:`LastSeen.tick`) and writes the terminals heard from since
the previous flush in one ``storage.touch_terminals`` call; a terminal that leaves is written with the
next flush, and everything still pending at :meth:`LastSeen.close`. A terminal held by this process
shows its live value (:meth:`LastSeen.live`).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jt808.gateway.connection import Connection
    from jt808.gateway.server import Gateway

__all__ = ["FLUSH", "LastSeen"]

log = logging.getLogger("jt808.gateway")

#: seconds between flushes of the terminals' last_seen times to storage
FLUSH = 10.0


class LastSeen:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self._pending: dict[str, float] = {}  # phone -> wall time of its last frame, not yet in storage
        self._written: dict[str, float] = {}  # phone -> last_seen already written (held terminals)
        self._flushed_at = 0.0

    def live(self, phone: str) -> datetime | None:
        """When the last frame of ``phone`` arrived, if it is connected here (else None: storage has it,
        at most :data:`FLUSH` seconds old)."""
        conn = self.gw.sessions.get(phone)
        if conn is None:
            return None
        s = conn.session
        return datetime.fromtimestamp(s.last_seen + s.wall_offset, UTC)

    def left(self, conn: Connection) -> None:
        """``conn`` is gone: its last frame is written with the next flush."""
        s = conn.session
        phone = conn.phone
        if s.authenticated and phone:
            self._pending[phone] = max(self._pending.get(phone, 0.0), s.last_seen + s.wall_offset)
            self._written.pop(phone, None)

    def tick(self) -> None:
        """Called often; writes at most every :data:`FLUSH` seconds (in a task of the gateway)."""
        now = time.monotonic()
        if now - self._flushed_at >= FLUSH:
            self._flushed_at = now
            seen = self._collect()
            if seen:
                self.gw.spawn(self._write(seen))

    async def close(self) -> None:
        """Write whatever is pending (the gateway is stopping)."""
        seen = self._collect()
        if seen:
            await self._write(seen)

    def _collect(self) -> dict[str, datetime] | None:
        gw = self.gw
        pending, written = self._pending, self._written
        for conn in gw.connections:
            s = conn.session
            phone = s.phone
            if s.authenticated and phone:
                t = s.last_seen + s.wall_offset
                if t > written.get(phone, 0.0) + 0.5:
                    pending[phone] = t
                    written[phone] = t
        if not pending or gw.storage is None or gw.data_off:
            pending.clear()
            return None
        self._pending = {}
        return {p: datetime.fromtimestamp(t, UTC) for p, t in pending.items()}

    async def _write(self, seen: dict[str, datetime]) -> None:
        try:
            await self.gw.storage.touch_terminals(seen)  # type: ignore[union-attr]  # started only with storage
        except Exception as e:
            log.warning("could not record last_seen of %d terminals: %s", len(seen), e)
