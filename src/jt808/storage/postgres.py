"""PostgreSQL storage (asyncpg): for production and for several gateway nodes sharing one database.

``postgresql://user:pass@host:5432/db?schema=jt808&pool_min=1&pool_max=10`` — ``schema`` (default
``public``) is created if missing and put on the pool's ``search_path``; the tables and indexes are
created if missing, under an advisory lock so that several nodes starting together do not race.
Batches of locations and events go in with binary ``COPY`` inside one transaction; JSON columns are
``JSONB``; times are ``timestamptz``.

Large fleets: ``locations`` grows by the fleet's report rate; partition it by ``t`` (declarative
range partitioning) and drop old partitions, or point a retention job at ``(phone, t)``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information

from jt808.storage._util import alarm_filter, dumps, loads, redact_url, utc
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
    StorageInDoubt,
    StorageUnavailable,
    TerminalRecord,
    classify,
)
from jt808.storage.sanitize import FUTURE_LIMIT_US, clean_terminal, clean_text, repairs

__all__ = ["PostgresStorage"]

_LOCK_KEY = 0x4A54_3830_38  # "JT808": serialises schema creation across nodes

SCHEMA = """
CREATE TABLE IF NOT EXISTS terminals (
    phone text PRIMARY KEY,
    auth_code text NOT NULL DEFAULT '',
    version integer NOT NULL DEFAULT 2013,
    province integer NOT NULL DEFAULT 0,
    city integer NOT NULL DEFAULT 0,
    manufacturer text NOT NULL DEFAULT '',
    model text NOT NULL DEFAULT '',
    dev_id text NOT NULL DEFAULT '',
    color integer NOT NULL DEFAULT 0,
    license_number text NOT NULL DEFAULT '',
    registered_at timestamptz,
    last_seen timestamptz,
    imei text NOT NULL DEFAULT '',
    software_version text NOT NULL DEFAULT '',
    extra jsonb
);
ALTER TABLE terminals ADD COLUMN IF NOT EXISTS last_registered_at timestamptz;
CREATE TABLE IF NOT EXISTS locations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone text NOT NULL,
    t timestamptz NOT NULL,
    time timestamptz,
    received_at timestamptz NOT NULL,
    alarm bigint NOT NULL,
    status bigint NOT NULL,
    latitude double precision NOT NULL,
    longitude double precision NOT NULL,
    altitude integer NOT NULL,
    speed double precision NOT NULL,
    direction integer NOT NULL,
    msg_id integer NOT NULL,
    msg_sn integer NOT NULL,
    batch boolean NOT NULL,
    extras jsonb
);
CREATE INDEX IF NOT EXISTS locations_phone_t ON locations (phone, t);
CREATE TABLE IF NOT EXISTS events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone text NOT NULL,
    msg_id integer NOT NULL,
    msg_sn integer NOT NULL,
    received_at timestamptz NOT NULL,
    body jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS events_phone ON events (phone, msg_id, id);
CREATE TABLE IF NOT EXISTS commands (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone text NOT NULL,
    msg_id integer NOT NULL,
    msg_sn integer NOT NULL,
    sent_at timestamptz NOT NULL,
    request jsonb NOT NULL,
    status text NOT NULL,
    reply jsonb,
    replied_at timestamptz
);
CREATE INDEX IF NOT EXISTS commands_phone ON commands (phone, id);
CREATE TABLE IF NOT EXISTS media (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone text NOT NULL,
    media_id bigint NOT NULL,
    type integer NOT NULL,
    format integer NOT NULL,
    event integer NOT NULL,
    channel integer NOT NULL,
    path text NOT NULL,
    size bigint NOT NULL,
    received_at timestamptz NOT NULL,
    location jsonb
);
CREATE INDEX IF NOT EXISTS media_phone ON media (phone, id);
CREATE TABLE IF NOT EXISTS quarantine (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone text NOT NULL,
    kind text NOT NULL,
    msg_id integer NOT NULL,
    msg_sn integer NOT NULL,
    received_at timestamptz NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    error text NOT NULL,
    row_data jsonb NOT NULL,
    frame bytea
);
CREATE INDEX IF NOT EXISTS quarantine_phone ON quarantine (phone, id);
CREATE TABLE IF NOT EXISTS alarms (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone text NOT NULL,
    t timestamptz NOT NULL,
    time timestamptz,
    received_at timestamptz NOT NULL,
    kind text NOT NULL,
    code integer NOT NULL,
    name text NOT NULL,
    level integer NOT NULL,
    latitude double precision NOT NULL,
    longitude double precision NOT NULL,
    speed double precision NOT NULL,
    alarm_id text,
    msg_sn integer NOT NULL,
    detail jsonb,
    acknowledged_at timestamptz
);
CREATE INDEX IF NOT EXISTS alarms_phone_t ON alarms (phone, t);
CREATE INDEX IF NOT EXISTS alarms_t ON alarms (t);
CREATE TABLE IF NOT EXISTS attachments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone text NOT NULL,
    alarm_id text NOT NULL,
    name text NOT NULL,
    size bigint NOT NULL,
    type integer NOT NULL,
    path text NOT NULL,
    received_at timestamptz NOT NULL,
    alarm_no text NOT NULL
);
CREATE INDEX IF NOT EXISTS attachments_alarm ON attachments (phone, alarm_id);
"""

#: errors caused by the values of a row (SQLSTATE classes 22 data exception, 23 integrity, and what the
#: client refuses to encode); anything else means the database cannot write now
_CONTENT_ERRORS = (ValueError, TypeError, OverflowError, asyncpg.DataError,
                   asyncpg.IntegrityConstraintViolationError)


def _error(e: Exception, what: str) -> StorageError:
    return classify(e, f"postgresql: {what}", _CONTENT_ERRORS)

_TERMINAL_COLS = ("phone", "auth_code", "version", "province", "city", "manufacturer", "model", "dev_id", "color",
                  "license_number", "registered_at", "last_seen", "imei", "software_version", "extra",
                  "last_registered_at")
_LOCATION_COLS = ("phone", "t", "time", "received_at", "alarm", "status", "latitude", "longitude", "altitude",
                  "speed", "direction", "msg_id", "msg_sn", "batch", "extras")
_EVENT_COLS = ("phone", "msg_id", "msg_sn", "received_at", "body")
_UPSERT_TERMINAL = (
    f"INSERT INTO terminals ({', '.join(_TERMINAL_COLS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_TERMINAL_COLS) + 1))}) "
    f"ON CONFLICT (phone) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in _TERMINAL_COLS[1:])}"
)


class _JsonText(str):
    """JSON text already rendered (``LocationRow.extras_json``): sent as is."""

    __slots__ = ()


def _jsonb_encode(value: Any) -> bytes:
    if type(value) is _JsonText:
        return b"\x01" + value.encode()
    return b"\x01" + dumps(value).encode()


def _jsonb_decode(data: bytes) -> Any:
    return loads(data[1:])  # binary jsonb: a version byte (1), then the text


_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PG_INFINITY = 0x7FFF_FFFF_FFFF_FFFF  # timestamptz 'infinity' / '-infinity' on the wire
_US = timedelta(microseconds=1)


def _timestamptz_encode(value: Any) -> tuple[int]:
    """A ``timestamptz`` parameter: a datetime (naive taken as UTC, as everywhere in storage), or the wire
    value ``(µs since 2000-01-01 UTC,)`` already made (:func:`_location_records` converts each distinct time
    of a batch once: asyncpg's own encoder spent ≈ 0.5 µs on each of a location row's three times)."""
    if type(value) is tuple:
        return value  # type: ignore[return-value]  # made by _location_records
    return ((utc(value) - _PG_EPOCH) // _US,)


def _timestamptz_decode(value: tuple[int]) -> datetime:
    us = value[0]
    if us == _PG_INFINITY:
        return datetime.max.replace(tzinfo=UTC)
    if us == -_PG_INFINITY - 1:
        return datetime.min.replace(tzinfo=UTC)
    return _PG_EPOCH + timedelta(microseconds=us)


async def _init_connection(con: asyncpg.Connection) -> None:
    await con.set_type_codec("jsonb", schema="pg_catalog", encoder=_jsonb_encode, decoder=_jsonb_decode,
                             format="binary")
    await con.set_type_codec("timestamptz", schema="pg_catalog", encoder=_timestamptz_encode,
                             decoder=_timestamptz_decode, format="tuple")


def _location_of(r: Any) -> LocationRow:
    """A row of :data:`_LOCATION_COLS` read back."""
    return LocationRow(phone=r[0], time=r[2], received_at=r[3], alarm=r[4], status=r[5], latitude=r[6],
                       longitude=r[7], altitude=r[8], speed=r[9], direction=r[10], msg_id=r[11], msg_sn=r[12],
                       batch=r[13], extras=r[14] or {})


def _location_records(rows: list[LocationRow]) -> list[tuple[Any, ...]]:
    """COPY records of a batch (the columns of :data:`_LOCATION_COLS`). Rows of one read share their receive
    time and a fleet reports the same seconds, so each distinct time is converted once per batch (to the
    wire value of :func:`_timestamptz_encode`); JSON the producer rendered is sent as is."""
    wire: dict[Any, Any] = {None: None}  # datetime -> (µs since 2000,) (a missing key gives the dict itself)
    out: list[tuple[Any, ...]] = []
    append = out.append
    epoch, us = _PG_EPOCH, _US
    for r in rows:
        ra = r.received_at
        received: Any = wire.get(ra, wire)
        if received is wire:
            received = wire[ra] = ((utc(ra) - epoch) // us,)
        t = r.time
        time: Any = wire.get(t, wire)
        if time is wire:
            time = wire[t] = ((utc(t) - epoch) // us,)  # type: ignore[operator]  # None: in the dict from the start
        if time is None or time[0] > received[0] + FUTURE_LIMIT_US:  # as sanitize.placed_at
            if time is not None:
                repairs["time"] += 1
            placed = received
        else:
            placed = time
        text = r.extras_json
        append((r.phone, placed, time, received, r.alarm, r.status, r.latitude, r.longitude, r.altitude, r.speed,
                r.direction, r.msg_id, r.msg_sn, bool(r.batch),
                _JsonText(text) if text is not None else (r.extras or None)))
    return out


def _event_record(r: EventRow) -> tuple[Any, ...]:
    return (r.phone, r.msg_id, r.msg_sn, utc(r.received_at), r.body)


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """Separate our own query options (``schema``, ``pool_min``, ``pool_max``) from the DSN."""
    parts = urlsplit(url)
    ours: dict[str, str] = {}
    rest = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in {"schema", "pool_min", "pool_max"}:
            ours[key] = value
        else:
            rest.append((key, value))
    scheme = "postgresql" if parts.scheme in {"postgres", "postgresql", "postgresql+asyncpg"} else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(rest), parts.fragment)), ours


_ALARM_COLS = ("phone, t, time, received_at, kind, code, name, level, latitude, longitude, speed, alarm_id, msg_sn, "
               "detail, acknowledged_at")
_ATTACHMENT_COLS = "phone, alarm_id, name, size, type, path, received_at, alarm_no"


def _alarm_params(r: AlarmRow) -> tuple[Any, ...]:
    return (r.phone, utc(r.time) if r.time is not None else utc(r.received_at), utc(r.time), utc(r.received_at),
            r.kind, r.code, clean_text(r.name), r.level, r.latitude, r.longitude, r.speed, r.alarm_id, r.msg_sn,
            r.detail or None, utc(r.acknowledged_at))


def _alarm_row(r: Any) -> AlarmRow:
    return AlarmRow(id=r[0], phone=r[1], time=r[3], received_at=r[4], kind=r[5], code=r[6], name=r[7], level=r[8],
                    latitude=r[9], longitude=r[10], speed=r[11], alarm_id=r[12], msg_sn=r[13], detail=r[14] or {},
                    acknowledged_at=r[15])


class PostgresStorage(Storage):
    """PostgreSQL behind the :class:`Storage` interface, through an asyncpg pool."""

    def __init__(self, url: str, *, schema: str | None = None, pool_min: int | None = None,
                 pool_max: int | None = None) -> None:
        self.dsn, opts = split_url(url)
        self.schema = schema or opts.get("schema") or "public"
        if not self.schema.replace("_", "").isalnum():
            raise StorageError(f"postgresql: schema name {self.schema!r} must be letters, digits and '_'")
        self.pool_min = pool_min if pool_min is not None else _int_option(opts, "pool_min", 1)
        self.pool_max = pool_max if pool_max is not None else _int_option(opts, "pool_max", 10)
        if not 0 <= self.pool_min <= self.pool_max or self.pool_max < 1:
            raise StorageError(f"postgresql: needs 0 <= pool_min <= pool_max and pool_max >= 1 "
                               f"(got pool_min={self.pool_min}, pool_max={self.pool_max})")
        self._pool: asyncpg.Pool | None = None
        #: batches the writer may commit at once (each on its own connection; their commits share the WAL
        #: flush): an ack waits for one commit, not for the commit before it too
        self.write_concurrency = max(1, min(3, self.pool_max - 2))

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            con = await asyncpg.connect(self.dsn)
            try:
                async with con.transaction():
                    await con.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
                    await con.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                    await con.execute(f'SET LOCAL search_path TO "{self.schema}"')
                    await con.execute(SCHEMA)
            finally:
                await con.close()
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=self.pool_min, max_size=self.pool_max, init=_init_connection,
                server_settings={"search_path": self.schema, "application_name": "jt808"})
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            raise StorageUnavailable(f"postgresql: cannot open {redact_url(self.dsn)}: {e}") from e

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def _p(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StorageClosed("postgresql storage is not open")
        return self._pool

    async def _execute(self, sql: str, *args: Any) -> str:
        try:
            return await self._p().execute(sql, *args)
        except Exception as e:
            raise _error(e, "write failed") from e

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        try:
            return await self._p().fetch(sql, *args)
        except Exception as e:
            raise _error(e, "query failed") from e

    async def ping(self) -> None:
        try:
            await self._p().fetchval("SELECT 1", timeout=5)
        except Exception as e:
            raise StorageUnavailable(f"postgresql: {type(e).__name__}: {e}") from e

    # -- terminals -------------------------------------------------------------------------------
    async def get_terminal(self, phone: str) -> TerminalRecord | None:
        rows = await self._fetch(f"SELECT {', '.join(_TERMINAL_COLS)} FROM terminals WHERE phone = $1", phone)
        return _terminal(rows[0]) if rows else None

    async def save_terminal(self, rec: TerminalRecord) -> None:
        rec = clean_terminal(rec)
        await self._execute(_UPSERT_TERMINAL, *_terminal_args(rec))

    async def save_terminals(self, recs: list[TerminalRecord]) -> None:
        if not recs:
            return
        try:
            async with self._p().acquire() as con, con.transaction():
                await con.executemany(_UPSERT_TERMINAL, [_terminal_args(clean_terminal(r)) for r in recs])
        except Exception as e:
            raise _error(e, "write failed") from e

    async def get_terminals(self, phones: list[str]) -> dict[str, TerminalRecord]:
        rows = await self._fetch(f"SELECT {', '.join(_TERMINAL_COLS)} FROM terminals WHERE phone = ANY($1::text[])",
                                 phones)
        return {r[0]: _terminal(r) for r in rows}

    async def delete_terminal(self, phone: str) -> None:
        await self._execute("DELETE FROM terminals WHERE phone = $1", phone)

    async def list_terminals(self, limit: int = 1000, offset: int = 0) -> list[TerminalRecord]:
        if limit <= 0:
            return []
        rows = await self._fetch(f"SELECT {', '.join(_TERMINAL_COLS)} FROM terminals ORDER BY phone "
                                 "LIMIT $1 OFFSET $2", limit, max(offset, 0))
        return [_terminal(r) for r in rows]

    async def touch_terminal(self, phone: str, when: datetime) -> None:
        await self._execute("UPDATE terminals SET last_seen = $1 WHERE phone = $2", utc(when), phone)

    async def touch_terminals(self, seen: dict[str, datetime]) -> None:
        if seen:
            async with self._p().acquire() as con:
                await con.executemany("UPDATE terminals SET last_seen = $1 WHERE phone = $2",
                                      [(utc(w), p) for p, w in seen.items()])

    async def count_terminals(self) -> int:
        rows = await self._fetch("SELECT count(*) FROM terminals")
        return int(rows[0][0])

    async def count_locations(self, phone: str, start: datetime | None = None, end: datetime | None = None) -> int:
        where, args = _range_where(phone, start, end)
        rows = await self._fetch(f"SELECT count(*) FROM locations WHERE {where}", *args)
        return int(rows[0][0])

    # -- locations and events --------------------------------------------------------------------
    async def add_locations(self, rows: list[LocationRow]) -> None:
        await self.add_batch(rows, [])

    async def add_events(self, rows: list[EventRow]) -> None:
        await self.add_batch([], rows)

    async def add_batch(self, locations: list[LocationRow], events: list[EventRow]) -> None:
        if not locations and not events:
            return
        committed = False
        try:
            async with self._p().acquire() as con:
                tr = con.transaction()
                await tr.start()
                try:
                    # the transaction's id: if the connection dies during COMMIT, the server tells later
                    # whether it committed (commit_status), so that no report is answered wrongly
                    xid = await con.fetchval("SELECT pg_current_xact_id()::text")
                    if locations:
                        await con.copy_records_to_table("locations", columns=_LOCATION_COLS,
                                                        records=_location_records(locations))
                    if events:
                        await con.copy_records_to_table("events", columns=_EVENT_COLS,
                                                        records=[_event_record(r) for r in events])
                except BaseException:
                    try:
                        await tr.rollback()
                    except Exception:
                        pass  # the connection is gone: so is the transaction
                    raise
                try:
                    await tr.commit()
                except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError) as e:
                    raise StorageInDoubt(f"postgresql: connection lost during COMMIT: {type(e).__name__}: {e}",
                                         xid) from e
                committed = True
        except StorageError:
            raise
        except Exception as e:
            if committed:  # the connection failed after the commit (returning it to the pool): stored
                return
            raise _error(e, "batch write failed") from e

    async def commit_status(self, token: Any) -> bool | None:
        try:
            s = await self._p().fetchval("SELECT pg_xact_status($1::text::xid8)", token, timeout=5)
        except asyncpg.InvalidParameterValueError:
            # "transaction ID … is in the future": the server lost it in a crash before writing any of it
            return False
        except Exception as e:
            raise _error(e, "commit status") from e
        if s == "committed":
            return True
        if s == "in progress":
            return None
        return False  # aborted, or older than the commit log keeps (then it was settled long ago)

    async def query_locations(self, phone: str, start: datetime | None = None, end: datetime | None = None,
                              limit: int = 1000) -> list[LocationRow]:
        if limit <= 0:
            return []
        where, args = _range_where(phone, start, end)
        args.append(limit)
        rows = await self._fetch(f"SELECT {', '.join(_LOCATION_COLS)} FROM locations WHERE {where} "
                                 f"ORDER BY t DESC, id DESC LIMIT ${len(args)}", *args)
        return [_location_of(r) for r in reversed(rows)]

    async def latest_locations(self) -> list[LocationRow]:
        # a loose index scan over (phone, t): one index probe per phone, however many rows each has
        cols = ", ".join(f"l.{c}" for c in _LOCATION_COLS)
        rows = await self._fetch(
            "WITH RECURSIVE p(phone) AS (SELECT min(phone) FROM locations UNION ALL SELECT (SELECT min(phone) "
            "FROM locations WHERE phone > p.phone) FROM p WHERE p.phone IS NOT NULL) "
            f"SELECT {cols} FROM p CROSS JOIN LATERAL (SELECT * FROM locations WHERE locations.phone = p.phone "
            "ORDER BY t DESC, id DESC LIMIT 1) l ORDER BY l.phone")
        return [_location_of(r) for r in rows]

    async def query_events(self, phone: str, msg_id: int | None = None, limit: int = 1000) -> list[EventRow]:
        if limit <= 0:
            return []
        rows = await self._fetch(
            "SELECT phone, msg_id, msg_sn, received_at, body FROM events WHERE phone = $1 "
            "AND ($2::integer IS NULL OR msg_id = $2) ORDER BY id DESC LIMIT $3", phone, msg_id, limit)
        return [EventRow(phone=r[0], msg_id=r[1], msg_sn=r[2], received_at=r[3], body=r[4]) for r in reversed(rows)]

    # -- commands --------------------------------------------------------------------------------
    async def add_command(self, row: CommandRow) -> int:
        rows = await self._fetch(
            "INSERT INTO commands (phone, msg_id, msg_sn, sent_at, request, status, reply, replied_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id", row.phone, row.msg_id, row.msg_sn,
            utc(row.sent_at), row.request, row.status, row.reply, utc(row.replied_at))
        return rows[0][0]

    async def update_command(self, command_id: int, status: str, reply: dict[str, Any] | None = None,
                             replied_at: datetime | None = None) -> None:
        await self._execute("UPDATE commands SET status = $1, reply = COALESCE($2, reply), "
                            "replied_at = COALESCE($3, replied_at) WHERE id = $4",
                            status, reply, utc(replied_at), command_id)

    async def query_commands(self, phone: str, limit: int = 100) -> list[CommandRow]:
        if limit <= 0:
            return []
        rows = await self._fetch("SELECT id, phone, msg_id, msg_sn, sent_at, request, status, reply, replied_at "
                                 "FROM commands WHERE phone = $1 ORDER BY id DESC LIMIT $2", phone, limit)
        return [CommandRow(id=r[0], phone=r[1], msg_id=r[2], msg_sn=r[3], sent_at=r[4], request=r[5], status=r[6],
                           reply=r[7], replied_at=r[8]) for r in reversed(rows)]

    # -- media -----------------------------------------------------------------------------------
    async def add_media(self, row: MediaRow) -> None:
        await self._execute("INSERT INTO media (phone, media_id, type, format, event, channel, path, size, "
                            "received_at, location) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                            row.phone, row.media_id, row.type, row.format, row.event, row.channel, row.path,
                            row.size, utc(row.received_at), row.location)

    async def query_media(self, phone: str, limit: int = 100) -> list[MediaRow]:
        if limit <= 0:
            return []
        rows = await self._fetch("SELECT phone, media_id, type, format, event, channel, path, size, received_at, "
                                 "location FROM media WHERE phone = $1 ORDER BY id DESC LIMIT $2", phone, limit)
        return [MediaRow(phone=r[0], media_id=r[1], type=r[2], format=r[3], event=r[4], channel=r[5], path=r[6],
                         size=r[7], received_at=r[8], location=r[9]) for r in reversed(rows)]


    # -- alarms ----------------------------------------------------------------------------------
    async def add_alarms(self, rows: list[AlarmRow]) -> list[int]:
        if not rows:
            return []
        try:
            async with self._p().acquire() as con, con.transaction():
                ids = [await con.fetchval(f"INSERT INTO alarms ({_ALARM_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                                          "$8, $9, $10, $11, $12, $13, $14, $15) RETURNING id", *_alarm_params(r))
                       for r in rows]
        except Exception as e:
            raise _error(e, "alarm write failed") from e
        for r, i in zip(rows, ids, strict=True):
            r.id = i
        return ids

    async def query_alarms(self, phone: str | None = None, start: datetime | None = None,
                           end: datetime | None = None, kind: str | None = None, acknowledged: bool | None = None,
                           limit: int = 100, offset: int = 0) -> tuple[list[AlarmRow], int]:
        where, params = alarm_filter(phone, utc(start), utc(end), kind, acknowledged, "$")
        total = (await self._fetch(f"SELECT count(*) FROM alarms{where}", *params))[0][0]
        if limit <= 0:
            return [], total
        n = len(params)
        rows = await self._fetch(f"SELECT id, {_ALARM_COLS} FROM alarms{where} ORDER BY t DESC, id DESC "
                                 f"LIMIT ${n + 1} OFFSET ${n + 2}", *params, limit, offset)
        return [_alarm_row(r) for r in rows], total

    async def get_alarm(self, alarm_pk: int) -> AlarmRow | None:
        rows = await self._fetch(f"SELECT id, {_ALARM_COLS} FROM alarms WHERE id = $1", alarm_pk)
        return _alarm_row(rows[0]) if rows else None

    async def ack_alarm(self, alarm_pk: int, when: datetime) -> bool:
        status = await self._execute("UPDATE alarms SET acknowledged_at = COALESCE(acknowledged_at, $1) "
                                     "WHERE id = $2", utc(when), alarm_pk)
        return status.split()[-1] != "0"

    async def add_attachment(self, row: AttachmentRow) -> int:
        rows = await self._fetch(f"INSERT INTO attachments ({_ATTACHMENT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                                 "$8) RETURNING id", row.phone, row.alarm_id, clean_text(row.name), row.size, row.type,
                                 row.path, utc(row.received_at), clean_text(row.alarm_no))
        new_id: int = rows[0][0]
        row.id = new_id
        return new_id

    async def query_attachments(self, phone: str, alarm_ids: list[str]) -> list[AttachmentRow]:
        if not alarm_ids:
            return []
        rows = await self._fetch(f"SELECT id, {_ATTACHMENT_COLS} FROM attachments WHERE phone = $1 AND "
                                 "alarm_id = ANY($2::text[]) ORDER BY id", phone, list(alarm_ids))
        return [AttachmentRow(*r[1:], id=r[0]) for r in rows]  # type: ignore[misc]  # the columns after id

    async def get_attachment(self, attachment_pk: int) -> AttachmentRow | None:
        rows = await self._fetch(f"SELECT id, {_ATTACHMENT_COLS} FROM attachments WHERE id = $1", attachment_pk)
        return AttachmentRow(*rows[0][1:], id=rows[0][0]) if rows else None  # type: ignore[misc]  # columns after id

    # -- quarantine ------------------------------------------------------------------------------
    async def add_quarantine(self, rows: list[QuarantineRow]) -> None:
        if not rows:
            return
        try:
            async with self._p().acquire() as con:
                await con.executemany(
                    "INSERT INTO quarantine (phone, kind, msg_id, msg_sn, received_at, error, row_data, frame) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    [(r.phone, r.kind, r.msg_id, r.msg_sn, utc(r.received_at), clean_text(r.error), r.row, r.frame)
                     for r in rows])
        except Exception as e:
            raise _error(e, "quarantine write failed") from e

    async def query_quarantine(self, phone: str | None = None, limit: int = 100) -> list[QuarantineRow]:
        if limit <= 0:
            return []
        rows = await self._fetch(
            "SELECT id, phone, kind, msg_id, msg_sn, received_at, quarantined_at, error, row_data, frame "
            "FROM quarantine WHERE ($1::text IS NULL OR phone = $1) ORDER BY id DESC LIMIT $2", phone, limit)
        return [QuarantineRow(id=r[0], phone=r[1], kind=r[2], msg_id=r[3], msg_sn=r[4], received_at=r[5],
                              quarantined_at=r[6], error=r[7], row=r[8], frame=r[9]) for r in reversed(rows)]


def _terminal_args(rec: TerminalRecord) -> tuple[Any, ...]:
    return (rec.phone, rec.auth_code, rec.version, rec.province, rec.city, rec.manufacturer, rec.model, rec.dev_id,
            rec.color, rec.license_number, utc(rec.registered_at), utc(rec.last_seen), rec.imei,
            rec.software_version, rec.extra or None, utc(rec.last_registered_at))


def _terminal(r: asyncpg.Record) -> TerminalRecord:
    return TerminalRecord(phone=r[0], auth_code=r[1], version=r[2], province=r[3], city=r[4], manufacturer=r[5],
                          model=r[6], dev_id=r[7], color=r[8], license_number=r[9], registered_at=r[10],
                          last_seen=r[11], imei=r[12], software_version=r[13], extra=r[14] or {},
                          last_registered_at=r[15])


def _range_where(phone: str, start: datetime | None, end: datetime | None) -> tuple[str, list[Any]]:
    """The WHERE clause (and its arguments) of a phone's locations within [start, end]."""
    where: list[str] = ["phone = $1"]
    args: list[Any] = [phone]
    if start is not None:
        args.append(utc(start))
        where.append(f"t >= ${len(args)}")
    if end is not None:
        args.append(utc(end))
        where.append(f"t <= ${len(args)}")
    return " AND ".join(where), args


def _int_option(opts: dict[str, str], name: str, default: int) -> int:
    text = opts.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise StorageError(f"postgresql: ?{name}={text!r} is not a whole number") from None
