"""The registry of online (authenticated) terminals: phone -> connection.

A second connection authenticating with the same phone replaces the older one (which is closed).
Counters of connections that are gone are kept here so that totals survive disconnects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from jt808.protocol.header import canonical_phone

if TYPE_CHECKING:
    from jt808.gateway.connection import Connection
    from jt808.session.platform import PlatformSession

__all__ = ["SessionRegistry", "add_counters"]

_COUNTERS = ("rx_frames", "tx_frames", "rx_bytes", "rejected")


def add_counters(totals: dict[str, int], repairs: dict[str, int], s: PlatformSession) -> None:
    """Add the frame counters and the frame repairs of session ``s`` to ``totals`` / ``repairs``."""
    for key in _COUNTERS:
        totals[key] += getattr(s, key)
    for kind, n in s.repairs.items():
        repairs[kind] = repairs.get(kind, 0) + n


def _key(phone: str) -> str:
    """Sessions are held under the canonical phone (:func:`jt808.protocol.header.canonical_phone`)."""
    try:
        return canonical_phone(phone)
    except ValueError:
        return phone


class SessionRegistry:
    def __init__(self) -> None:
        self._by_phone: dict[str, Connection] = {}
        self.closed_totals = dict.fromkeys(_COUNTERS, 0)
        self.closed_repairs: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._by_phone)

    def __contains__(self, phone: object) -> bool:
        return isinstance(phone, str) and _key(phone) in self._by_phone

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._by_phone.values()))

    def get(self, phone: str) -> Connection | None:
        """The connection of ``phone`` in any of its typed forms (``13912345678``, ``013912345678``,
        ``00000000013912345678``), or ``None``."""
        conn = self._by_phone.get(_key(phone))
        if conn is not None and conn.closed:
            return None
        return conn

    def bind(self, conn: Connection) -> Connection | None:
        """Register ``conn`` under its phone; returns the connection it replaces, if any."""
        old = self._by_phone.get(conn.phone)
        self._by_phone[conn.phone] = conn
        return old if old is not None and old is not conn else None

    def unbind(self, conn: Connection) -> bool:
        """Remove ``conn`` if it is the one registered under its phone."""
        phone = conn.phone
        if phone and self._by_phone.get(phone) is conn:
            del self._by_phone[phone]
            return True
        return False

    def account(self, conn: Connection) -> None:
        """Fold the counters of a closed connection into the totals."""
        add_counters(self.closed_totals, self.closed_repairs, conn.session)
