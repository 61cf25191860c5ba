"""The outage state of a store: ``ok``, or ``failing`` since a time, for a reason.

The batch writer keeps it (:mod:`jt808.storage.batch`): the first write that fails because the
database is unavailable (not because of a row's content) turns the state to ``failing`` and logs ONE
line; while failing, every row is refused at once (the terminals send again: see docs/deployment.md,
"Database outages") and the writer probes the database with a backoff (``retry_min`` doubling up
to ``retry_max``); the first probe that succeeds (and settles the writes in doubt) turns it back to
``ok`` and logs one line with the outage's duration and how many rows were refused meanwhile.

Readers (``/healthz``, ``/metrics``) use :meth:`StorageHealth.snapshot` or the attributes::

    h = gateway.storage.health
    h.ok            # False while failing
    h.snapshot()    # {"state": "failing", "since": "2026-12-06T03:01:02.123+00:00", "reason": "…",
                    #  "failed_attempts": 7, "outages": 1, "refused_rows": 1234, "retry_in": 1.6}
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

__all__ = ["FAILING", "OK", "StorageHealth"]

log = logging.getLogger("jt808.storage")

OK = "ok"
FAILING = "failing"


class StorageHealth:
    """State of one store, changed only by :meth:`failed` and :meth:`recovered`."""

    def __init__(self, retry_min: float = 0.05, retry_max: float = 1.0) -> None:
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.state = OK
        self.since = time.time()  #: wall time of the last change of state
        self.reason = ""
        self.failed_attempts = 0  #: consecutive failed writes/probes of the current outage
        self.outages = 0  #: times the state turned to failing
        self.refused_rows = 0  #: rows refused during the current outage
        self.refused_total = 0  #: rows refused during every outage
        self.failing_seconds = 0.0  #: time spent failing in finished outages
        self._retry_at = 0.0  # monotonic time of the next attempt while failing
        self._waiters: list[asyncio.Future[None]] = []  # futures of wait_state()

    @property
    def ok(self) -> bool:
        return self.state == OK

    def failed(self, reason: str) -> None:
        """A write or probe failed because the store is unavailable."""
        now = time.monotonic()
        self.failed_attempts += 1
        self.reason = reason
        self._retry_at = now + min(self.retry_max, self.retry_min * 2 ** min(self.failed_attempts - 1, 30))
        if self.state == OK:
            self.state = FAILING
            self.since = time.time()
            self.outages += 1
            self.refused_rows = 0
            self._wake()
            log.error("storage unavailable: %s (new rows are refused with result 1 until it answers again; "
                      "retrying every %g–%g s)", reason, self.retry_min, self.retry_max)

    def recovered(self) -> None:
        """A probe succeeded (and nothing is in doubt)."""
        if self.state == OK:
            return
        now = time.time()
        duration = now - self.since
        self.failing_seconds += duration
        log.warning("storage available again after %.1f s (%d failed attempts, %d rows refused meanwhile)",
                    duration, self.failed_attempts, self.refused_rows)
        self.state = OK
        self.since = now
        self.reason = ""
        self.failed_attempts = 0
        self._retry_at = 0.0
        self._wake()

    async def wait_state(self, state: str) -> None:
        """Return once the state is ``state`` (``"ok"`` or ``"failing"``)."""
        while self.state != state:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            await fut

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def refused(self, n: int) -> None:
        """``n`` rows were refused without trying because the store is failing."""
        self.refused_rows += n
        self.refused_total += n

    def retry_in(self) -> float:
        """Seconds until the next attempt (0 when ok or due)."""
        return max(0.0, self._retry_at - time.monotonic()) if self.state != OK else 0.0

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON-ready values."""
        return {"state": self.state,
                "since": datetime.fromtimestamp(self.since, UTC).isoformat(timespec="milliseconds"),
                "reason": self.reason, "failed_attempts": self.failed_attempts, "outages": self.outages,
                "refused_rows": self.refused_rows, "retry_in": round(self.retry_in(), 3)}
