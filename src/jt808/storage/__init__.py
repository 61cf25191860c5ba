"""Storage backends behind one interface (:mod:`jt808.storage.base`).

:func:`create_storage` picks the backend from a URL:

========================================  ==============================================
``None``                                  SQLite file ``<data_dir>/jt808.db`` (the default)
``sqlite:///relative.db``,                SQLite file (three slashes: relative to the
``sqlite:////abs/path.db``                working directory; four: absolute);
                                          ``?synchronous=FULL`` for power-loss durability
``sqlite://``                              the default SQLite file in ``data_dir``
``sqlite:///:memory:``                    SQLite in memory
``memory``                                plain Python dicts (tests, ``--db memory``)
``postgresql://user@host:5432/db``        PostgreSQL; ``?schema=…&pool_min=…&pool_max=…``
========================================  ==============================================

What lives here: rows (locations, events, commands, media, quarantine), the batch writer, the outage
state, and one backend per database. What never does: protocol decoding (rows arrive built by the
gateway's sink) or network listeners.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from jt808.storage.base import (
    AlarmRow,
    AttachmentRow,
    CommandRow,
    EventRow,
    LocationRow,
    MediaRow,
    QuarantineRow,
    RowsRejected,
    Storage,
    StorageClosed,
    StorageError,
    StorageInDoubt,
    StorageOverloaded,
    StorageUnavailable,
    TerminalRecord,
)

__all__ = [
    "AlarmRow",
    "AttachmentRow",
    "CommandRow",
    "EventRow",
    "LocationRow",
    "MediaRow",
    "QuarantineRow",
    "RowsRejected",
    "Storage",
    "StorageClosed",
    "StorageError",
    "StorageInDoubt",
    "StorageOverloaded",
    "StorageUnavailable",
    "TerminalRecord",
    "create_storage",
]

DEFAULT_FILE = "jt808.db"


def create_storage(url: str | None, data_dir: Path) -> Storage:
    """The backend named by ``url`` (not opened yet: ``await storage.open()``)."""
    if url is None or url == "" or url == "sqlite":
        from jt808.storage.sqlite import SQLiteStorage

        return SQLiteStorage(Path(data_dir) / DEFAULT_FILE)
    if url == "memory":
        from jt808.storage.memory import MemoryStorage

        return MemoryStorage()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        from jt808.storage.sqlite import SQLiteStorage

        parts = urlsplit(url)
        opts = dict(parse_qsl(parts.query))
        path = unquote(parts.path)
        if path.startswith("/"):
            path = path[1:]  # sqlite:///rel.db -> rel.db, sqlite:////abs.db -> /abs.db
        if path == "":
            path = str(Path(data_dir) / DEFAULT_FILE)
        elif path.endswith("/"):
            path = str(Path(path) / DEFAULT_FILE)
        return SQLiteStorage(path, synchronous=opts.get("synchronous", "NORMAL"))
    if scheme in {"postgresql", "postgres", "postgresql+asyncpg"}:
        from jt808.storage.postgres import PostgresStorage

        return PostgresStorage(url)
    raise StorageError(f"unknown storage URL {url!r}: use sqlite:///path, memory or postgresql://…")
