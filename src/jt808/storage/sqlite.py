"""SQLite storage (the default): one file, WAL journal, batched writes in one transaction.

Times are stored as integer microseconds since the Unix epoch (UTC), JSON columns as text. A
location's sort key ``t`` is its device time, or its receive time when the device sent no valid
time; ``(phone, t)`` is indexed. One connection writes (its transactions serialised by a lock),
a second one reads, so API queries never wait behind a batch commit; each has its own thread.

``synchronous`` is ``NORMAL`` by default: with WAL a committed batch survives a crash of the
process, and the last commits may be lost on power failure. ``sqlite:///path?synchronous=FULL``
makes every commit survive power loss too (at a cost in rows per second).
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jt808.storage._util import alarm_filter, dumps, dumps_or_none, from_us, loads, loads_dict, to_us
from jt808.storage.base import (
    AlarmRow,
    AttachmentRow,
    CommandRow,
    EventRow,
    LocationRow,
    MediaRow,
    QuarantineRow,
    Storage,
    StorageClosed,
    StorageError,
    TerminalRecord,
    classify,
)
from jt808.storage.sanitize import FUTURE_LIMIT_US, clean_terminal, clean_text, repairs

__all__ = ["SQLiteStorage"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS terminals (
    phone TEXT PRIMARY KEY,
    auth_code TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 2013,
    province INTEGER NOT NULL DEFAULT 0,
    city INTEGER NOT NULL DEFAULT 0,
    manufacturer TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    dev_id TEXT NOT NULL DEFAULT '',
    color INTEGER NOT NULL DEFAULT 0,
    license_number TEXT NOT NULL DEFAULT '',
    registered_at INTEGER,
    last_seen INTEGER,
    imei TEXT NOT NULL DEFAULT '',
    software_version TEXT NOT NULL DEFAULT '',
    extra TEXT,
    last_registered_at INTEGER
);
CREATE TABLE IF NOT EXISTS locations (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL,
    t INTEGER NOT NULL,
    time INTEGER,
    received_at INTEGER NOT NULL,
    alarm INTEGER NOT NULL,
    status INTEGER NOT NULL,
    latitude REAL NOT NULL,
    longitude REAL NOT NULL,
    altitude INTEGER NOT NULL,
    speed REAL NOT NULL,
    direction INTEGER NOT NULL,
    msg_id INTEGER NOT NULL,
    msg_sn INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    extras TEXT
);
CREATE INDEX IF NOT EXISTS locations_phone_t ON locations (phone, t);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL,
    msg_id INTEGER NOT NULL,
    msg_sn INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_phone ON events (phone, msg_id);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL,
    msg_id INTEGER NOT NULL,
    msg_sn INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    reply TEXT,
    replied_at INTEGER
);
CREATE INDEX IF NOT EXISTS commands_phone ON commands (phone);
CREATE TABLE IF NOT EXISTS media (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL,
    media_id INTEGER NOT NULL,
    type INTEGER NOT NULL,
    format INTEGER NOT NULL,
    event INTEGER NOT NULL,
    channel INTEGER NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    location TEXT
);
CREATE INDEX IF NOT EXISTS media_phone ON media (phone);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL,
    kind TEXT NOT NULL,
    msg_id INTEGER NOT NULL,
    msg_sn INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    quarantined_at INTEGER NOT NULL,
    error TEXT NOT NULL,
    row_data TEXT NOT NULL,
    frame BLOB
);
CREATE INDEX IF NOT EXISTS quarantine_phone ON quarantine (phone);
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL,
    t INTEGER NOT NULL,
    time INTEGER,
    received_at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    code INTEGER NOT NULL,
    name TEXT NOT NULL,
    level INTEGER NOT NULL,
    latitude REAL NOT NULL,
    longitude REAL NOT NULL,
    speed REAL NOT NULL,
    alarm_id TEXT,
    msg_sn INTEGER NOT NULL,
    detail TEXT,
    acknowledged_at INTEGER
);
CREATE INDEX IF NOT EXISTS alarms_phone_t ON alarms (phone, t);
CREATE INDEX IF NOT EXISTS alarms_t ON alarms (t);
CREATE TABLE IF NOT EXISTS attachments (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL,
    alarm_id TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    type INTEGER NOT NULL,
    path TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    alarm_no TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attachments_alarm ON attachments (phone, alarm_id);
"""

#: errors caused by the values of a row; anything else (locked, disk I/O, disk full, read-only, corrupt)
#: means the database cannot write now
_CONTENT_ERRORS = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.ProgrammingError, sqlite3.InterfaceError,
                   ValueError, TypeError, OverflowError)


def _error(e: Exception, what: str) -> StorageError:
    return classify(e, f"sqlite: {what}", _CONTENT_ERRORS)

_TERMINAL_COLS = ("phone, auth_code, version, province, city, manufacturer, model, dev_id, color, license_number, "
                  "registered_at, last_seen, imei, software_version, extra, last_registered_at")
_LOCATION_COLS = ("phone, t, time, received_at, alarm, status, latitude, longitude, altitude, speed, direction, "
                  "msg_id, msg_sn, batch, extras")
_INSERT_LOCATION = f"INSERT INTO locations ({_LOCATION_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
_INSERT_EVENT = "INSERT INTO events (phone, msg_id, msg_sn, received_at, body) VALUES (?,?,?,?,?)"


def _location_params_many(rows: list[LocationRow]) -> list[tuple[Any, ...]]:
    """Insert parameters of a batch. Rows of one read share their receive time and a fleet reports the
    same seconds, so each distinct time is converted once per batch; JSON the producer rendered is taken
    as is."""
    us: dict[Any, Any] = {None: None}  # datetime -> µs (a missing key gives the dict itself: one lookup)
    out: list[tuple[Any, ...]] = []
    append = out.append
    for r in rows:
        ra = r.received_at
        received: Any = us.get(ra, us)  # (the dict itself: not cached yet)
        if received is us:
            received = us[ra] = to_us(ra)
        t = r.time
        time: Any = us.get(t, us)
        if time is us:
            time = us[t] = to_us(t)
        text = r.extras_json
        if time is None or time > received + FUTURE_LIMIT_US:  # placed by its receive time (sanitize.placed_at)
            if time is not None:
                repairs["time"] += 1
            placed = received
        else:
            placed = time
        append((r.phone, placed, time, received, r.alarm, r.status, r.latitude,
                r.longitude, r.altitude, r.speed, r.direction, r.msg_id, r.msg_sn, 1 if r.batch else 0,
                text if text is not None else dumps_or_none(r.extras)))
    return out


def _location_row(v: tuple[Any, ...]) -> LocationRow:
    return LocationRow(phone=v[0], time=from_us(v[2]), received_at=from_us(v[3]), alarm=v[4], status=v[5],
                       latitude=v[6], longitude=v[7], altitude=v[8], speed=v[9], direction=v[10], msg_id=v[11],
                       msg_sn=v[12], batch=bool(v[13]), extras=loads_dict(v[14]))


def _terminal_row(v: tuple[Any, ...]) -> TerminalRecord:
    return TerminalRecord(phone=v[0], auth_code=v[1], version=v[2], province=v[3], city=v[4], manufacturer=v[5],
                          model=v[6], dev_id=v[7], color=v[8], license_number=v[9], registered_at=from_us(v[10]),
                          last_seen=from_us(v[11]), imei=v[12], software_version=v[13], extra=loads_dict(v[14]),
                          last_registered_at=from_us(v[15]))


class _Thread:
    """One thread running the calls given to it in order, for the loop that gave them: a call is a
    ``SimpleQueue`` put and its result one ``call_soon_threadsafe``. (``ThreadPoolExecutor`` did the same
    with a Python-level semaphore and locks per call, which the loop and the worker contended for: a
    quarter of the loop thread's samples in a profile of 18,000 logins.)"""

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[tuple[Any, tuple[Any, ...], asyncio.Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def run(self, fn: Any, *args: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls.put((fn, args, fut))
        return fut

    def stop(self) -> None:
        """The thread ends once the calls already given have run."""
        self._calls.put(None)

    def _work(self) -> None:
        get = self._calls.get
        while (call := get()) is not None:
            fn, args, fut = call
            result, error = None, None
            try:
                result = fn(*args)
            except BaseException as e:  # handed to the awaiting task, whatever it is
                error = e
            try:
                fut.get_loop().call_soon_threadsafe(_settle, fut, result, error)
            except RuntimeError:  # the loop is closed: nobody awaits this call any more
                pass


def _settle(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if fut.cancelled():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


class SQLiteStorage(Storage):
    """SQLite behind the :class:`Storage` interface.

    Two connections, each with its own thread: the writer and the reader. Batches of locations and
    events are bound and inserted on the calling (event-loop) thread and committed on the writer's
    thread: inserting is pure CPU work that holds the GIL anyway (one hand-over for the whole batch
    instead of one per row, which made the loop and the writer thread fight for the GIL), the commit
    is the I/O (WAL write, fsync with ``synchronous=FULL``, checkpoints) and runs while the loop goes on.
    The write lock is taken first (``BEGIN IMMEDIATE``); when another process holds it, the wait happens
    on the writer's thread, so only CPU work happens on the loop: a batch of 2,000 rows holds it for
    ≈ 7–10 ms here.
    """

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL") -> None:
        self.path = str(path)
        self.synchronous = synchronous.upper()
        if self.synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise StorageError(f"sqlite: unknown synchronous mode {synchronous!r}")
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._wthread: _Thread | None = None
        self._rthread: _Thread | None = None
        self._lock = asyncio.Lock()

    @property
    def in_memory(self) -> bool:
        return self.path == ":memory:" or self.path.startswith("file::memory:")

    async def _call(self, thread: _Thread | None, fn: Any, *args: Any) -> Any:
        if thread is None:
            raise StorageClosed("sqlite storage is not open")
        return await thread.run(fn, *args)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)

    def _setup_writer(self, db: sqlite3.Connection) -> None:
        if not self.in_memory:
            db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        db.execute("PRAGMA busy_timeout=5000")
        # a large page cache keeps the (phone, t) index leaves in memory; a larger WAL between
        # checkpoints lets a page rewritten by many batches reach the main file once
        db.execute("PRAGMA cache_size=-65536")
        db.execute("PRAGMA wal_autocheckpoint=4000")
        db.executescript(SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(terminals)")}
        if "last_registered_at" not in columns:  # a database made before the column existed
            db.execute("ALTER TABLE terminals ADD COLUMN last_registered_at INTEGER")
        db.execute("PRAGMA busy_timeout=0")  # writes wait for a lock on this thread only (see _write)

    @staticmethod
    def _setup_reader(db: sqlite3.Connection) -> None:
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA query_only=1")

    async def open(self) -> None:
        if self._writer is not None:
            return
        if not self.in_memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._wthread = _Thread("jt808-sqlite-writer")
            self._writer = await self._call(self._wthread, self._connect)
            await self._call(self._wthread, self._setup_writer, self._writer)
            if self.in_memory:
                self._reader, self._rthread = self._writer, self._wthread
            else:
                self._rthread = _Thread("jt808-sqlite-reader")
                self._reader = await self._call(self._rthread, self._connect)
                await self._call(self._rthread, self._setup_reader, self._reader)
        except Exception as e:
            await self.close()
            raise StorageError(f"sqlite: cannot open {self.path}: {e}") from e

    async def close(self) -> None:
        async with self._lock:
            writer, reader = self._writer, self._reader
            wthread, rthread = self._wthread, self._rthread
            self._writer = self._reader = None
            self._wthread = self._rthread = None
            if reader is not None and reader is not writer:
                await self._call(rthread, reader.close)
            if writer is not None:
                await self._call(wthread, writer.close)
            for thread in {wthread, rthread} - {None}:
                thread.stop()  # type: ignore[union-attr]  # (None removed by the set difference)

    def _w(self) -> sqlite3.Connection:
        if self._writer is None:
            raise StorageClosed("sqlite storage is not open")
        return self._writer

    async def _write(self, statements: list[tuple[str, Any, bool]]) -> int | None:
        """Run ``(sql, params, many)`` statements in one transaction; returns the last row id.

        The statements run on the calling thread, ``BEGIN`` and ``COMMIT`` on the writer's (see the class)."""
        async with self._lock:
            db = self._w()
            thread = self._wthread
            try:
                try:
                    # The write lock first. The writer's busy_timeout is 0: when another process holds the
                    # lock, the wait (up to BUSY_MS) happens on the writer's thread, never on the loop; once it
                    # is held, the inserts cannot wait for a lock. Shielded: a cancelled caller must not leave
                    # a BEGIN or COMMIT running unobserved.
                    try:
                        db.execute("BEGIN IMMEDIATE")
                    except sqlite3.OperationalError as e:
                        if (getattr(e, "sqlite_errorcode", 0) & 0xFF) != sqlite3.SQLITE_BUSY or db.in_transaction:
                            raise
                        await asyncio.shield(self._call(thread, _begin_waiting, db))
                    last = None
                    for sql, params, many in statements:
                        if many:
                            db.executemany(sql, params)
                        else:
                            last = db.execute(sql, params).lastrowid
                    await asyncio.shield(self._call(thread, db.execute, "COMMIT"))
                    return last
                except BaseException:
                    # queued behind whatever still runs on the writer's thread, so the lock is released
                    # only once the connection is idle, outside any transaction
                    try:
                        await asyncio.shield(self._call(thread, _rollback_if_open, db))
                    except Exception:
                        pass
                    raise
            except Exception as e:
                raise _error(e, "write failed") from e

    def _query(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        assert self._reader is not None
        return self._reader.execute(sql, params).fetchall()

    async def _fetch(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        if self._reader is None:
            raise StorageClosed("sqlite storage is not open")
        try:
            if self.in_memory:  # one connection for both: a query waits for the transaction in progress
                async with self._lock:
                    return await self._call(self._rthread, self._query, sql, params)
            return await self._call(self._rthread, self._query, sql, params)
        except Exception as e:
            raise _error(e, "query failed") from e

    async def ping(self) -> None:
        await self._fetch("SELECT 1")

    # -- terminals -------------------------------------------------------------------------------
    async def get_terminal(self, phone: str) -> TerminalRecord | None:
        rows = await self._fetch(f"SELECT {_TERMINAL_COLS} FROM terminals WHERE phone = ?", (phone,))
        return _terminal_row(rows[0]) if rows else None

    async def save_terminal(self, rec: TerminalRecord) -> None:
        await self.save_terminals([rec])

    async def save_terminals(self, recs: list[TerminalRecord]) -> None:
        if recs:
            await self._write([(f"INSERT OR REPLACE INTO terminals ({_TERMINAL_COLS}) VALUES "
                                "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [_terminal_params(r) for r in recs], True)])

    async def get_terminals(self, phones: list[str]) -> dict[str, TerminalRecord]:
        out: dict[str, TerminalRecord] = {}
        for i in range(0, len(phones), 500):
            chunk = phones[i:i + 500]
            rows = await self._fetch(f"SELECT {_TERMINAL_COLS} FROM terminals WHERE phone IN "
                                     f"({','.join('?' * len(chunk))})", chunk)
            for v in rows:
                out[v[0]] = _terminal_row(v)
        return out

    async def delete_terminal(self, phone: str) -> None:
        await self._write([("DELETE FROM terminals WHERE phone = ?", (phone,), False)])

    async def list_terminals(self, limit: int = 1000, offset: int = 0) -> list[TerminalRecord]:
        if limit <= 0:
            return []
        rows = await self._fetch(f"SELECT {_TERMINAL_COLS} FROM terminals ORDER BY phone LIMIT ? OFFSET ?",
                                 (limit, max(offset, 0)))
        return [_terminal_row(v) for v in rows]

    async def touch_terminal(self, phone: str, when: datetime) -> None:
        await self._write([("UPDATE terminals SET last_seen = ? WHERE phone = ?", (to_us(when), phone), False)])

    async def touch_terminals(self, seen: dict[str, datetime]) -> None:
        if seen:
            await self._write([("UPDATE terminals SET last_seen = ? WHERE phone = ?",
                                [(to_us(w), p) for p, w in seen.items()], True)])

    async def count_terminals(self) -> int:
        rows = await self._fetch("SELECT count(*) FROM terminals", ())
        return int(rows[0][0])

    # -- locations and events --------------------------------------------------------------------
    async def add_locations(self, rows: list[LocationRow]) -> None:
        if rows:
            await self._write([(_INSERT_LOCATION, _location_params_many(rows), True)])

    async def add_events(self, rows: list[EventRow]) -> None:
        if rows:
            await self._write([(_INSERT_EVENT, [_event_params(r) for r in rows], True)])

    async def add_batch(self, locations: list[LocationRow], events: list[EventRow]) -> None:
        statements: list[tuple[str, Any, bool]] = []
        if locations:
            statements.append((_INSERT_LOCATION, _location_params_many(locations), True))
        if events:
            statements.append((_INSERT_EVENT, [_event_params(r) for r in events], True))
        if statements:
            await self._write(statements)

    async def query_locations(self, phone: str, start: datetime | None = None, end: datetime | None = None,
                              limit: int = 1000) -> list[LocationRow]:
        if limit <= 0:
            return []
        where, params = _range_where(phone, start, end)
        params.append(limit)
        rows = await self._fetch(f"SELECT {_LOCATION_COLS} FROM locations WHERE {where} "
                                 "ORDER BY t DESC, id DESC LIMIT ?", params)
        rows.reverse()
        return [_location_row(v) for v in rows]

    async def count_locations(self, phone: str, start: datetime | None = None, end: datetime | None = None) -> int:
        where, params = _range_where(phone, start, end)
        rows = await self._fetch(f"SELECT count(*) FROM locations WHERE {where}", params)
        return int(rows[0][0])

    async def latest_locations(self) -> list[LocationRow]:
        rows = await self._fetch(
            f"SELECT {_LOCATION_COLS} FROM locations WHERE id IN (SELECT (SELECT l.id FROM locations l "
            "WHERE l.phone = p.phone ORDER BY l.t DESC, l.id DESC LIMIT 1) FROM (SELECT DISTINCT phone FROM "
            "locations) p) ORDER BY phone")
        return [_location_row(v) for v in rows]

    async def query_events(self, phone: str, msg_id: int | None = None, limit: int = 1000) -> list[EventRow]:
        if limit <= 0:
            return []
        params: tuple[Any, ...]
        if msg_id is None:
            sql, params = "WHERE phone = ?", (phone, limit)
        else:
            sql, params = "WHERE phone = ? AND msg_id = ?", (phone, msg_id, limit)
        rows = await self._fetch(f"SELECT phone, msg_id, msg_sn, received_at, body FROM events {sql} "
                                 "ORDER BY id DESC LIMIT ?", params)
        rows.reverse()
        return [EventRow(phone=v[0], msg_id=v[1], msg_sn=v[2], received_at=from_us(v[3]), body=loads(v[4]))
                for v in rows]

    # -- commands --------------------------------------------------------------------------------
    async def add_command(self, row: CommandRow) -> int:
        params = (row.phone, row.msg_id, row.msg_sn, to_us(row.sent_at), dumps(row.request), row.status,
                  None if row.reply is None else dumps(row.reply), to_us(row.replied_at))
        cid = await self._write([("INSERT INTO commands (phone, msg_id, msg_sn, sent_at, request, status, reply, "
                                  "replied_at) VALUES (?,?,?,?,?,?,?,?)", params, False)])
        assert cid is not None
        return cid

    async def update_command(self, command_id: int, status: str, reply: dict[str, Any] | None = None,
                             replied_at: datetime | None = None) -> None:
        await self._write([("UPDATE commands SET status = ?, reply = COALESCE(?, reply), "
                            "replied_at = COALESCE(?, replied_at) WHERE id = ?",
                            (status, None if reply is None else dumps(reply), to_us(replied_at), command_id),
                            False)])

    async def query_commands(self, phone: str, limit: int = 100) -> list[CommandRow]:
        if limit <= 0:
            return []
        rows = await self._fetch("SELECT id, phone, msg_id, msg_sn, sent_at, request, status, reply, replied_at "
                                 "FROM commands WHERE phone = ? ORDER BY id DESC LIMIT ?", (phone, limit))
        rows.reverse()
        return [CommandRow(id=v[0], phone=v[1], msg_id=v[2], msg_sn=v[3], sent_at=from_us(v[4]),
                           request=loads(v[5]), status=v[6], reply=None if v[7] is None else loads(v[7]),
                           replied_at=from_us(v[8])) for v in rows]

    # -- media -----------------------------------------------------------------------------------
    async def add_media(self, row: MediaRow) -> None:
        params = (row.phone, row.media_id, row.type, row.format, row.event, row.channel, row.path, row.size,
                  to_us(row.received_at), None if row.location is None else dumps(row.location))
        await self._write([("INSERT INTO media (phone, media_id, type, format, event, channel, path, size, "
                            "received_at, location) VALUES (?,?,?,?,?,?,?,?,?,?)", params, False)])

    async def query_media(self, phone: str, limit: int = 100) -> list[MediaRow]:
        if limit <= 0:
            return []
        rows = await self._fetch("SELECT phone, media_id, type, format, event, channel, path, size, received_at, "
                                 "location FROM media WHERE phone = ? ORDER BY id DESC LIMIT ?", (phone, limit))
        rows.reverse()
        return [MediaRow(phone=v[0], media_id=v[1], type=v[2], format=v[3], event=v[4], channel=v[5], path=v[6],
                         size=v[7], received_at=from_us(v[8]), location=None if v[9] is None else loads(v[9]))
                for v in rows]

    # -- alarms ----------------------------------------------------------------------------------
    async def add_alarms(self, rows: list[AlarmRow]) -> list[int]:
        if not rows:
            return []
        stmts = [(f"INSERT INTO alarms ({_ALARM_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", _alarm_params(r),
                  False) for r in rows]
        last = await self._write(stmts)
        assert last is not None
        ids = list(range(last - len(rows) + 1, last + 1))  # one transaction under the write lock: consecutive
        for r, i in zip(rows, ids, strict=True):
            r.id = i
        return ids

    async def query_alarms(self, phone: str | None = None, start: datetime | None = None,
                           end: datetime | None = None, kind: str | None = None, acknowledged: bool | None = None,
                           limit: int = 100, offset: int = 0) -> tuple[list[AlarmRow], int]:
        where, params = alarm_filter(phone, to_us(start), to_us(end), kind, acknowledged, "?")
        total = (await self._fetch(f"SELECT count(*) FROM alarms{where}", params))[0][0]
        if limit <= 0:
            return [], total
        rows = await self._fetch(f"SELECT id, {_ALARM_COLS} FROM alarms{where} ORDER BY t DESC, id DESC "
                                 "LIMIT ? OFFSET ?", (*params, limit, offset))
        return [_alarm_row(v) for v in rows], total

    async def get_alarm(self, alarm_pk: int) -> AlarmRow | None:
        rows = await self._fetch(f"SELECT id, {_ALARM_COLS} FROM alarms WHERE id = ?", (alarm_pk,))
        return _alarm_row(rows[0]) if rows else None

    async def ack_alarm(self, alarm_pk: int, when: datetime) -> bool:
        if await self.get_alarm(alarm_pk) is None:
            return False
        await self._write([("UPDATE alarms SET acknowledged_at = COALESCE(acknowledged_at, ?) WHERE id = ?",
                            (to_us(when), alarm_pk), False)])
        return True

    async def add_attachment(self, row: AttachmentRow) -> int:
        aid = await self._write([(f"INSERT INTO attachments ({_ATTACHMENT_COLS}) VALUES (?,?,?,?,?,?,?,?)",
                                  (row.phone, row.alarm_id, clean_text(row.name), row.size, row.type, row.path,
                                   to_us(row.received_at), clean_text(row.alarm_no)), False)])
        assert aid is not None
        row.id = aid
        return aid

    async def query_attachments(self, phone: str, alarm_ids: list[str]) -> list[AttachmentRow]:
        if not alarm_ids:
            return []
        marks = ",".join("?" * len(alarm_ids))
        rows = await self._fetch(f"SELECT id, {_ATTACHMENT_COLS} FROM attachments WHERE phone = ? AND alarm_id IN "
                                 f"({marks}) ORDER BY id", (phone, *alarm_ids))
        return [_attachment_row(v) for v in rows]

    async def get_attachment(self, attachment_pk: int) -> AttachmentRow | None:
        rows = await self._fetch(f"SELECT id, {_ATTACHMENT_COLS} FROM attachments WHERE id = ?", (attachment_pk,))
        return _attachment_row(rows[0]) if rows else None

    # -- quarantine ------------------------------------------------------------------------------
    async def add_quarantine(self, rows: list[QuarantineRow]) -> None:
        if rows:
            now = to_us(datetime.now(UTC))
            await self._write([("INSERT INTO quarantine (phone, kind, msg_id, msg_sn, received_at, quarantined_at, "
                                "error, row_data, frame) VALUES (?,?,?,?,?,?,?,?,?)",
                                [(r.phone, r.kind, r.msg_id, r.msg_sn, to_us(r.received_at), now, clean_text(r.error),
                                  dumps(r.row), r.frame) for r in rows], True)])

    async def query_quarantine(self, phone: str | None = None, limit: int = 100) -> list[QuarantineRow]:
        if limit <= 0:
            return []
        rows = await self._fetch("SELECT id, phone, kind, msg_id, msg_sn, received_at, quarantined_at, error, "
                                 "row_data, frame FROM quarantine WHERE (? IS NULL OR phone = ?) ORDER BY id DESC "
                                 "LIMIT ?", (phone, phone, limit))
        rows.reverse()
        return [QuarantineRow(id=v[0], phone=v[1], kind=v[2], msg_id=v[3], msg_sn=v[4], received_at=from_us(v[5]),
                              quarantined_at=from_us(v[6]), error=v[7], row=loads(v[8]), frame=v[9]) for v in rows]


_ALARM_COLS = ("phone, t, time, received_at, kind, code, name, level, latitude, longitude, speed, alarm_id, msg_sn, "
               "detail, acknowledged_at")
_ATTACHMENT_COLS = "phone, alarm_id, name, size, type, path, received_at, alarm_no"


def _alarm_params(r: AlarmRow) -> tuple[Any, ...]:
    t = to_us(r.time) if r.time is not None else to_us(r.received_at)
    return (r.phone, t, to_us(r.time), to_us(r.received_at), r.kind, r.code, clean_text(r.name), r.level,
            r.latitude, r.longitude, r.speed, r.alarm_id, r.msg_sn, dumps_or_none(r.detail), to_us(r.acknowledged_at))


def _alarm_row(v: tuple[Any, ...]) -> AlarmRow:
    return AlarmRow(id=v[0], phone=v[1], time=from_us(v[3]), received_at=from_us(v[4]), kind=v[5], code=v[6],
                    name=v[7], level=v[8], latitude=v[9], longitude=v[10], speed=v[11], alarm_id=v[12], msg_sn=v[13],
                    detail=loads_dict(v[14]), acknowledged_at=from_us(v[15]))


def _attachment_row(v: tuple[Any, ...]) -> AttachmentRow:
    return AttachmentRow(id=v[0], phone=v[1], alarm_id=v[2], name=v[3], size=v[4], type=v[5], path=v[6],
                         received_at=from_us(v[7]), alarm_no=v[8])


BUSY_MS = 5000  # how long a write waits for another process's write lock


def _begin_waiting(db: sqlite3.Connection) -> None:
    db.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    try:
        db.execute("BEGIN IMMEDIATE")
    finally:
        db.execute("PRAGMA busy_timeout=0")


def _rollback_if_open(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        db.execute("ROLLBACK")


def _terminal_params(rec: TerminalRecord) -> tuple[Any, ...]:
    rec = clean_terminal(rec)
    return (rec.phone, rec.auth_code, rec.version, rec.province, rec.city, rec.manufacturer, rec.model, rec.dev_id,
            rec.color, rec.license_number, to_us(rec.registered_at), to_us(rec.last_seen), rec.imei,
            rec.software_version, dumps_or_none(rec.extra), to_us(rec.last_registered_at))


def _event_params(r: EventRow) -> tuple[Any, ...]:
    return (r.phone, r.msg_id, r.msg_sn, to_us(r.received_at), dumps(r.body))


def _range_where(phone: str, start: datetime | None, end: datetime | None) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) of a phone's locations within [start, end]."""
    where: list[str] = ["phone = ?"]
    params: list[Any] = [phone]
    if start is not None:
        where.append("t >= ?")
        params.append(to_us(start))
    if end is not None:
        where.append("t <= ?")
        params.append(to_us(end))
    return " AND ".join(where), params
