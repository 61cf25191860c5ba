"""What the gateway grants a peer that has not proven anything yet, and how often it may try.

Everything here is bookkeeping in memory, driven by the gateway's monotonic clock (``now`` is always
an argument), so it is tested without sockets and costs nothing per message of an authenticated
terminal:

- :class:`RateLimiter`: token buckets keyed by connection, source address or phone, bounded in keys.
- :class:`AttemptLimits`: the three buckets every 0x0100 / 0x0102 passes through (per connection, per
  source address, per phone), with counters of what they stopped (``/metrics``).
- :class:`Admission`: unauthenticated connections, oldest first: the cap per source address (refuse the
  newcomer), the global cap (the oldest unauthenticated one makes room), the deadline to authenticate,
  and read progress (a frame that was started must be finished within ``frame_timeout``: slowloris).
- :class:`PeerLog`: at most a few log lines per peer address per window, then one line saying how many
  were left out.

The defaults and what each limit protects are listed in ``docs/security.md``.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from jt808.gateway.metrics import Metric, Sample
from jt808.protocol.subpackage import ReassemblyBudget

__all__ = ["Admission", "AttemptLimits", "Guard", "PeerLog", "RateLimiter", "Trusted", "peer_host"]

RATE_LIMITED = Metric("jt808_attempts_rate_limited", "counter",
                      "0x0100/0x0102 attempts not decided because a rate limit stopped them.", ("kind", "scope"))
UNAUTHENTICATED = Metric("jt808_unauthenticated_connections", "gauge", "Connections that have not authenticated yet.")
UNAUTH_CLOSED = Metric("jt808_unauthenticated_closed", "counter",
                       "Unauthenticated connections closed or refused, by reason.", ("reason",))
STALLED = Metric("jt808_stalled_frames_closed", "counter",
                 "Connections closed because a started frame was not finished in time (slowloris).")
UDP_REFUSED = Metric("jt808_udp_refused", "counter", "UDP datagrams not served by a session, by reason.", ("reason",))
FRAGMENT_SETS = Metric("jt808_fragment_sets", "gauge", "Sub-packaged messages being reassembled, all terminals.")
FRAGMENT_BYTES = Metric("jt808_fragment_bytes", "gauge", "Bytes of fragments buffered for reassembly, all terminals.")
FRAGMENTS_REFUSED = Metric("jt808_fragments_refused", "counter",
                           "Fragments refused because the global budget was full.")
SUPPRESSED = Metric("jt808_log_lines_suppressed", "counter", "Log lines about one peer left out (rate limit).")


def peer_host(peer: str) -> str:
    """The address part of ``"host:port"`` (``"[::1]:5"`` and ``"::1:5"`` give ``"::1"``)."""
    host, sep, _ = peer.rpartition(":")
    if not sep:
        return peer
    return host.strip("[]")


class Trusted:
    """Addresses exempt from the per-address limits (``limits.trusted_addresses``: addresses or networks,
    comma-separated; by default the loopback addresses 127.0.0.1 and ::1, where simulators and benchmarks
    run). The global caps, the deadline and the per-connection and per-phone limits still apply."""

    def __init__(self, spec: str = "") -> None:
        self.networks = [ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()]
        self._cache: dict[str, bool] = {}

    def __contains__(self, host: object) -> bool:
        if not self.networks or not isinstance(host, str):
            return False
        hit = self._cache.get(host)
        if hit is None:
            try:
                addr = ipaddress.ip_address(host)
            except ValueError:
                hit = False
            else:
                if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
                    addr = addr.ipv4_mapped
                hit = any(addr in n for n in self.networks)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[host] = hit
        return hit


class RateLimiter:
    """Token buckets: each key may spend ``burst`` tokens at once and earns ``rate`` per second.

    At most ``max_keys`` buckets are kept (the least recently used is forgotten: a forgotten bucket is
    full again, which only ever favours the key). ``rate <= 0`` disables the limiter.
    """

    __slots__ = ("_buckets", "burst", "max_keys", "rate")

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = max(1.0, float(burst))
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: Hashable, now: float, cost: float = 1.0) -> bool:
        if self.rate <= 0:
            return True
        b = self._buckets.get(key)
        if b is None:
            b = [self.burst, now]
            self._buckets[key] = b
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            b[0] = min(self.burst, b[0] + (now - b[1]) * self.rate)
            b[1] = now
        if b[0] >= cost:
            b[0] -= cost
            return True
        return False


class AttemptLimits:
    """Registration and authentication attempts (0x0100 and 0x0102 alike).

    ``per_connection``: attempts one connection may make in all (the gateway closes it beyond);
    ``address_rate`` / ``address_burst``: per source address (terminals behind one carrier NAT share
    it, hence generous); ``phone_rate`` / ``phone_burst``: per phone, whoever asks. An attempt refused
    by a limit is not decided at all (no storage, no hook call, no answer: the device retries later).
    """

    def __init__(self, per_connection: int = 10, address_rate: float = 50.0, address_burst: int = 500,
                 phone_rate: float = 0.2, phone_burst: int = 10, trusted: Trusted | None = None) -> None:
        self.per_connection = per_connection
        self.trusted = trusted if trusted is not None else Trusted()
        self.by_address = RateLimiter(address_rate, address_burst)
        self.by_phone = RateLimiter(phone_rate, phone_burst)
        self.refused: Counter[tuple[str, str]] = Counter()  # (kind, scope) -> attempts stopped

    def check(self, kind: str, attempts_on_connection: int, host: str, phone: str, now: float) -> str | None:
        """``None`` when the attempt may be decided, else the scope that stopped it
        (``"connection"``, ``"address"``, ``"phone"``). ``attempts_on_connection`` counts this one."""
        scope = None
        if self.per_connection and attempts_on_connection > self.per_connection:
            scope = "connection"
        elif host not in self.trusted and not self.by_address.allow(host, now):
            scope = "address"
        elif not self.by_phone.allow(phone, now):
            scope = "phone"
        if scope is not None:
            self.refused[(kind, scope)] += 1
        return scope


#: unauthenticated connections looked at (oldest first) for one that is not mid-login, to make room
EVICT_SCAN = 64


class Admission:
    """Connections that have not authenticated yet (TCP sockets and UDP sessions made by a registration).

    :meth:`admit` is asked when one arrives: it answers ``None`` (admitted; an older unauthenticated
    connection may be returned in ``evicted`` to make room under the global cap) or why not (the cap
    per source address). :meth:`authenticated` / :meth:`forget` take a connection out of the books;
    :meth:`overdue` lists those past the deadline. Read progress: :meth:`partial` notes that a
    connection holds a started frame (``since`` = when it started), :meth:`stalled` lists those whose
    frame has been unfinished for more than ``frame_timeout`` seconds.
    """

    def __init__(self, deadline: float = 20.0, max_total: int = 4096, max_per_address: int = 256,
                 frame_timeout: float = 15.0, trusted: Trusted | None = None,
                 busy: Callable[[Any], bool] | None = None) -> None:
        self.trusted = trusted if trusted is not None else Trusted()
        self.deadline = deadline
        self.max_total = max_total
        self.max_per_address = max_per_address
        self.frame_timeout = frame_timeout
        #: whether a connection is in the middle of its login (bytes waiting to be read, a decision in
        #: flight): not evicted to make room, see :meth:`admit`
        self.busy = busy
        self._pending: OrderedDict[Any, tuple[float, str]] = OrderedDict()  # conn -> (arrived, host)
        self._per_host: Counter[str] = Counter()
        self._partial: dict[Any, float] = {}
        self._all_busy_at: float | None = None
        self.refused = 0
        self.full = 0  # newcomers refused because every connection that could make room was mid-login
        self.evicted = 0
        self.expired = 0
        self.stalled_cut = 0

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, conn: object) -> bool:
        return conn in self._pending

    def count(self, host: str) -> int:
        return self._per_host.get(host, 0)

    def admit(self, conn: Any, host: str, now: float) -> tuple[str | None, list[Any]]:
        """``(refusal or None, connections to close to make room)``.

        Under the global cap the oldest unauthenticated connection makes room — unless it is in the middle
        of its login (``busy``: its 0x0100 waits in the socket, as after a restart when a whole fleet
        reconnects at once and the accepts run ahead of the reads; or its registration is being decided):
        then the next oldest of the first :data:`EVICT_SCAN`, and when all of those are busy the newcomer is
        refused instead (closed at once: it comes back, while the terminals already in finish). A flood of
        silent connections is evicted as before."""
        if self.max_per_address and self._per_host.get(host, 0) >= self.max_per_address and host not in self.trusted:
            self.refused += 1
            return f"{self.max_per_address} unauthenticated connections from {host} already", []
        evicted: list[Any] = []
        pending = self._pending
        while self.max_total and len(pending) >= self.max_total:
            old = self._victim(now)
            if old is None:
                self.full += 1
                return (f"{self.max_total} unauthenticated connections in the middle of their login "
                        "(limits.max_unauthenticated)"), evicted
            _, old_host = pending.pop(old)
            self._drop_host(old_host)
            self._partial.pop(old, None)
            self.evicted += 1
            evicted.append(old)
        pending[conn] = (now, host)
        self._per_host[host] += 1
        return None, evicted

    def _victim(self, now: float) -> Any:
        """The oldest connection that is not busy (of the first EVICT_SCAN), or None. Within one loop
        iteration (the same ``now``) nothing busy becomes idle: a scan that found none is not repeated."""
        busy = self.busy
        if busy is None:
            return next(iter(self._pending))
        if self._all_busy_at == now:
            return None
        for i, conn in enumerate(self._pending):
            if i >= EVICT_SCAN:
                break
            if not busy(conn):
                return conn
        self._all_busy_at = now
        return None

    def authenticated(self, conn: Any) -> None:
        self.forget(conn)

    def forget(self, conn: Any) -> None:
        entry = self._pending.pop(conn, None)
        if entry is not None:
            self._drop_host(entry[1])
        self._partial.pop(conn, None)

    def _drop_host(self, host: str) -> None:
        n = self._per_host.get(host, 0) - 1
        if n > 0:
            self._per_host[host] = n
        else:
            self._per_host.pop(host, None)

    def overdue(self, now: float) -> list[Any]:
        """Unauthenticated connections older than the deadline (taken out of the books)."""
        out: list[Any] = []
        if not self.deadline:
            return out
        limit = now - self.deadline
        pending = self._pending
        while pending:
            conn, (arrived, host) = next(iter(pending.items()))
            if arrived > limit:
                break
            del pending[conn]
            self._drop_host(host)
            self._partial.pop(conn, None)
            out.append(conn)
        self.expired += len(out)
        return out

    def partial(self, conn: Any, since: float | None) -> None:
        """``since``: when the frame now buffered started; ``None``: nothing buffered."""
        if since is None:
            self._partial.pop(conn, None)
        elif conn not in self._partial:
            self._partial[conn] = since

    def stalled(self, now: float) -> list[Any]:
        if not self.frame_timeout or not self._partial:
            return []
        limit = now - self.frame_timeout
        out = [c for c, t in self._partial.items() if t <= limit]
        for c in out:
            del self._partial[c]
        self.stalled_cut += len(out)
        return out


class PeerLog:
    """Log lines about one peer address: at most ``burst`` per ``window`` seconds, then one line saying
    how many were left out when the window ends (on the peer's next line)."""

    def __init__(self, logger: logging.Logger, burst: int = 20, window: float = 60.0, max_peers: int = 10_000) -> None:
        self.logger = logger
        self.burst = burst
        self.window = window
        self.max_peers = max_peers
        self._peers: OrderedDict[str, list[float]] = OrderedDict()  # host -> [window start, lines, suppressed]
        self.suppressed = 0

    def log(self, level: int, host: str, now: float, msg: str, *args: Any) -> None:
        if not self.logger.isEnabledFor(level):
            return
        p = self._peers.get(host)
        if p is None or now - p[0] >= self.window:
            if p is not None and p[2]:
                self.logger.log(level, "%d more lines about %s were left out in %g s", int(p[2]), host,
                                self.window)
                p[2] = 0
            p = [now, 0, 0]
            self._peers[host] = p
            self._peers.move_to_end(host)
            if len(self._peers) > self.max_peers:
                self._peers.popitem(last=False)
        if p[1] < self.burst:
            p[1] += 1
            self.logger.log(level, msg, *args)
        else:
            p[2] += 1
            self.suppressed += 1


class Guard:
    """The limits of one gateway, built from ``[limits]`` (:class:`~jt808.config.LimitsConfig`), and the
    ``/metrics`` samples of what they stopped."""

    def __init__(self, cfg: Any, logger: logging.Logger) -> None:
        self.cfg = cfg
        self.trusted = Trusted(cfg.trusted_addresses)
        self.attempts = AttemptLimits(cfg.attempts_per_connection, cfg.attempts_per_address_rate,
                                      cfg.attempts_per_address_burst, cfg.attempts_per_phone_rate,
                                      cfg.attempts_per_phone_burst, self.trusted)
        self.admission = Admission(cfg.auth_deadline, cfg.max_unauthenticated, cfg.max_unauthenticated_per_address,
                                   cfg.frame_timeout, self.trusted)
        self.peer_log = PeerLog(logger, cfg.log_lines_per_peer)
        self.kind_log = PeerLog(logger, cfg.log_lines_per_peer)  # lines about one kind of junk, whoever sends it
        self.fragments = ReassemblyBudget(cfg.fragment_sets_total, cfg.fragment_bytes_total)
        #: the PlatformSession arguments these limits set
        self.session_limits: dict[str, Any] = {
            "max_partials": cfg.fragment_sets_per_terminal, "max_partial_bytes": cfg.fragment_bytes_per_terminal,
            "fragment_budget": self.fragments, "resend_frames": cfg.resend_frames}
        self.counters: Counter[str] = Counter()  # udp_sessions_full, udp_pending_full, udp_unbound …

    def metric_samples(self) -> list[Sample]:
        """The samples of :mod:`jt808.gateway.metrics` (a source of ``gateway.metrics``)."""
        a = self.admission
        refused = self.attempts.refused
        c = self.counters
        return [*(Sample(RATE_LIMITED, (k, sc), refused.get((k, sc), 0))
                  for k in ("register", "auth") for sc in ("connection", "address", "phone")),
                Sample(UNAUTHENTICATED, (), len(a)),
                Sample(UNAUTH_CLOSED, ("per_address_cap",), a.refused), Sample(UNAUTH_CLOSED, ("evicted",), a.evicted),
                Sample(UNAUTH_CLOSED, ("full",), a.full),
                Sample(UNAUTH_CLOSED, ("auth_deadline",), a.expired), Sample(STALLED, (), a.stalled_cut),
                *(Sample(UDP_REFUSED, (r,), c.get(f"udp_{r}", 0))
                  for r in ("unbound", "sessions_full", "pending_full")),
                Sample(FRAGMENT_SETS, (), self.fragments.sets), Sample(FRAGMENT_BYTES, (), self.fragments.bytes),
                Sample(FRAGMENTS_REFUSED, (), self.fragments.refused),
                Sample(SUPPRESSED, (), self.peer_log.suppressed + self.kind_log.suppressed)]
