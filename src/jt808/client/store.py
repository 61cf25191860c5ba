"""Store-and-forward: location reports that could not be delivered, kept on disk until they can be.

JT/T 808 asks terminals to keep what they could not send (blind areas, a server down) and send it later
as 0x0704 batches of type 1 (盲区补报). :class:`ReportStore` is that buffer: an SQLite file (stdlib
``sqlite3``), bounded in rows — when full, the oldest reports go first — shared by any number of
terminals (rows are keyed by phone). It stores the encoded 0x0200 bodies, oldest first.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

__all__ = ["ReportStore", "batch_body"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    phone TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_reports_phone ON pending_reports (phone, id);
"""


class ReportStore:
    """Undelivered 0x0200 bodies on disk, at most ``limit`` rows per phone (oldest dropped first).

    ``path`` may be ``":memory:"`` for tests. Thread-safe (one connection behind a lock); each call is
    one short transaction, cheap enough to run on an event loop.
    """

    def __init__(self, path: str | Path, limit: int = 10_000) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.limit = limit
        self.dropped = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def put(self, phone: str, body: bytes) -> None:
        """Keep one encoded 0x0200 body; drop the oldest of ``phone`` beyond ``limit``."""
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            db.execute("INSERT INTO pending_reports (phone, body) VALUES (?, ?)", (phone, body))
            (n,) = db.execute("SELECT COUNT(*) FROM pending_reports WHERE phone = ?", (phone,)).fetchone()
            if n > self.limit:
                extra = n - self.limit
                db.execute("DELETE FROM pending_reports WHERE id IN (SELECT id FROM pending_reports WHERE phone = ? "
                           "ORDER BY id LIMIT ?)", (phone, extra))
                self.dropped += extra
            db.execute("COMMIT")

    def peek(self, phone: str, max_items: int = 100, max_bytes: int | None = None) -> list[tuple[int, bytes]]:
        """The oldest reports of ``phone`` (``(row id, body)``), at most ``max_items`` and, when given,
        as many as fit a 0x0704 body of ``max_bytes`` (at least one)."""
        with self._lock:
            rows = self._db.execute("SELECT id, body FROM pending_reports WHERE phone = ? ORDER BY id LIMIT ?",
                                    (phone, max_items)).fetchall()
        if max_bytes is None:
            return [(int(i), bytes(b)) for i, b in rows]
        out: list[tuple[int, bytes]] = []
        size = 3
        for i, b in rows:
            size += 2 + len(b)
            if out and size > max_bytes:
                break
            out.append((int(i), bytes(b)))
        return out

    def delete(self, ids: list[int]) -> None:
        """Forget delivered reports."""
        if not ids:
            return
        with self._lock:
            self._db.executemany("DELETE FROM pending_reports WHERE id = ?", [(i,) for i in ids])

    def count(self, phone: str | None = None) -> int:
        with self._lock:
            if phone is None:
                (n,) = self._db.execute("SELECT COUNT(*) FROM pending_reports").fetchone()
            else:
                (n,) = self._db.execute("SELECT COUNT(*) FROM pending_reports WHERE phone = ?", (phone,)).fetchone()
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def batch_body(bodies: list[bytes], batch_type: int = 1) -> bytes:
    """A 0x0704 body: ``count WORD · type BYTE · [len WORD · 0x0200 body]*count`` (type 1 = blind-area)."""
    out = bytearray(len(bodies).to_bytes(2, "big"))
    out.append(batch_type)
    for b in bodies:
        out += len(b).to_bytes(2, "big")
        out += b
    return bytes(out)
