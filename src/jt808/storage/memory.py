"""In-memory storage: for tests, demos and ``--db memory``.

Nothing survives a restart. Location and event rows are kept as given (not copied: callers must
not mutate a row after handing it over); everything read back is a copy. Each terminal keeps at
most ``max_rows_per_phone`` locations and events (the oldest inserted are dropped first) so a
long-running gateway does not grow without bound. Values are cleaned as the other stores clean them
(:mod:`jt808.storage.sanitize`) when they are read (terminals: when saved), so that what the API returns
does not depend on the backend.
"""

from __future__ import annotations

import copy
import itertools
from collections import deque
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from jt808.storage._util import utc
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
    TerminalRecord,
)
from jt808.storage.sanitize import FUTURE_LIMIT, clean_obj, clean_terminal, clean_text, repairs

__all__ = ["MemoryStorage"]


def _loc_key(row: LocationRow) -> datetime:
    t = row.time
    if t is None or t > row.received_at + FUTURE_LIMIT:  # as sanitize.placed_at (counted when stored)
        return row.received_at
    return t


class MemoryStorage(Storage):
    """Dicts and deques behind the :class:`Storage` interface (copies in, copies out)."""

    def __init__(self, max_rows_per_phone: int = 100_000) -> None:
        self.max_rows_per_phone = max_rows_per_phone
        self._terminals: dict[str, TerminalRecord] = {}
        self._locations: dict[str, deque[tuple[int, LocationRow]]] = {}
        self._events: dict[str, deque[EventRow]] = {}
        self._commands: dict[int, CommandRow] = {}
        self._media: dict[str, list[MediaRow]] = {}
        self._quarantine: deque[QuarantineRow] = deque(maxlen=max_rows_per_phone)
        self._alarms: dict[int, AlarmRow] = {}
        self._attachments: dict[int, AttachmentRow] = {}
        self._alarm_ids = itertools.count(1)
        self._seq = itertools.count()
        self._command_ids = itertools.count(1)
        self._open = False

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False

    def _check(self) -> None:
        if not self._open:
            raise StorageClosed("memory storage is not open")

    # -- terminals -------------------------------------------------------------------------------
    async def get_terminal(self, phone: str) -> TerminalRecord | None:
        self._check()
        rec = self._terminals.get(phone)
        return _copy_terminal(rec) if rec is not None else None

    async def save_terminal(self, rec: TerminalRecord) -> None:
        self._check()
        rec = _copy_terminal(clean_terminal(rec))
        rec.registered_at = utc(rec.registered_at)
        rec.last_registered_at = utc(rec.last_registered_at)
        rec.last_seen = utc(rec.last_seen)
        self._terminals[rec.phone] = rec

    async def delete_terminal(self, phone: str) -> None:
        self._check()
        self._terminals.pop(phone, None)

    async def list_terminals(self, limit: int = 1000, offset: int = 0) -> list[TerminalRecord]:
        self._check()
        if limit <= 0:
            return []
        phones = sorted(self._terminals)[max(offset, 0): max(offset, 0) + limit]
        return [_copy_terminal(self._terminals[p]) for p in phones]

    async def count_terminals(self) -> int:
        self._check()
        return len(self._terminals)

    async def touch_terminal(self, phone: str, when: datetime) -> None:
        self._check()
        rec = self._terminals.get(phone)
        if rec is not None:
            rec.last_seen = utc(when)

    # -- locations and events --------------------------------------------------------------------
    async def add_locations(self, rows: list[LocationRow]) -> None:
        self._check()
        limit = self.max_rows_per_phone
        for row in rows:
            # stored as given (the hot path: the gateway never mutates a submitted row; aware times in any
            # zone compare correctly), read back as copies in UTC; only naive times are made aware here
            t, r = row.time, row.received_at
            if (t is not None and t.tzinfo is None) or r.tzinfo is None:
                row = replace(row, time=utc(t), received_at=utc(r))
                t, r = row.time, row.received_at
            if t is not None and t > r + FUTURE_LIMIT:
                repairs["time"] += 1
            q = self._locations.get(row.phone)
            if q is None:
                q = self._locations[row.phone] = deque(maxlen=limit)
            q.append((next(self._seq), row))

    async def query_locations(self, phone: str, start: datetime | None = None, end: datetime | None = None,
                              limit: int = 1000) -> list[LocationRow]:
        self._check()
        if limit <= 0:
            return []
        start, end = utc(start), utc(end)
        picked = []
        for seq, row in self._locations.get(phone, ()):
            key = _loc_key(row)
            if (start is None or key >= start) and (end is None or key <= end):
                picked.append((key, seq, row))
        picked.sort(key=lambda item: (item[0], item[1]))
        return [replace(row, time=utc(row.time), received_at=utc(row.received_at), extras=clean_obj(row.extras),
                        extras_json=None) for _, _, row in picked[-limit:]]

    async def latest_locations(self) -> list[LocationRow]:
        self._check()
        out = []
        for phone in sorted(self._locations):
            rows = await self.query_locations(phone, limit=1)
            out.extend(rows)
        return out

    async def add_events(self, rows: list[EventRow]) -> None:
        self._check()
        for row in rows:
            q = self._events.get(row.phone)
            if q is None:
                q = self._events[row.phone] = deque(maxlen=self.max_rows_per_phone)
            if row.received_at.tzinfo is not UTC:
                row = replace(row, received_at=utc(row.received_at))
            q.append(row)

    async def query_events(self, phone: str, msg_id: int | None = None, limit: int = 1000) -> list[EventRow]:
        self._check()
        if limit <= 0:
            return []
        rows = [r for r in self._events.get(phone, ()) if msg_id is None or r.msg_id == msg_id]
        return [replace(r, body=clean_obj(r.body)) for r in rows[-limit:]]

    # -- commands --------------------------------------------------------------------------------
    async def add_command(self, row: CommandRow) -> int:
        self._check()
        cid = next(self._command_ids)
        self._commands[cid] = replace(row, id=cid, sent_at=utc(row.sent_at), replied_at=utc(row.replied_at),
                                      request=copy.deepcopy(row.request), reply=copy.deepcopy(row.reply))
        return cid

    async def update_command(self, command_id: int, status: str, reply: dict[str, Any] | None = None,
                             replied_at: datetime | None = None) -> None:
        self._check()
        row = self._commands.get(command_id)
        if row is None:
            return
        row.status = status
        if reply is not None:
            row.reply = copy.deepcopy(reply)
        if replied_at is not None:
            row.replied_at = utc(replied_at)

    async def query_commands(self, phone: str, limit: int = 100) -> list[CommandRow]:
        self._check()
        if limit <= 0:
            return []
        rows = [r for r in self._commands.values() if r.phone == phone][-limit:]
        return [replace(r, request=copy.deepcopy(r.request), reply=copy.deepcopy(r.reply)) for r in rows]

    # -- media -----------------------------------------------------------------------------------
    async def add_media(self, row: MediaRow) -> None:
        self._check()
        self._media.setdefault(row.phone, []).append(
            replace(row, received_at=utc(row.received_at), location=copy.deepcopy(row.location)))

    async def query_media(self, phone: str, limit: int = 100) -> list[MediaRow]:
        self._check()
        if limit <= 0:
            return []
        return [replace(r, location=copy.deepcopy(r.location)) for r in self._media.get(phone, [])[-limit:]]

    # -- alarms ----------------------------------------------------------------------------------
    async def add_alarms(self, rows: list[AlarmRow]) -> list[int]:
        self._check()
        ids = []
        for r in rows:
            r.id = next(self._alarm_ids)
            self._alarms[r.id] = replace(r, time=utc(r.time), received_at=utc(r.received_at), name=clean_text(r.name),
                                         detail=clean_obj(copy.deepcopy(r.detail)),
                                         acknowledged_at=utc(r.acknowledged_at))
            ids.append(r.id)
        return ids

    async def query_alarms(self, phone: str | None = None, start: datetime | None = None,
                           end: datetime | None = None, kind: str | None = None, acknowledged: bool | None = None,
                           limit: int = 100, offset: int = 0) -> tuple[list[AlarmRow], int]:
        self._check()
        start, end = utc(start), utc(end)
        hits = [r for r in self._alarms.values()
                if (phone is None or r.phone == phone) and (kind is None or r.kind == kind)
                and (start is None or (r.time or r.received_at) >= start)
                and (end is None or (r.time or r.received_at) < end)
                and (acknowledged is None or (r.acknowledged_at is not None) == acknowledged)]
        hits.sort(key=lambda r: (r.time or r.received_at, r.id), reverse=True)
        page = hits[offset:offset + limit] if limit > 0 else []
        return [replace(r, detail=copy.deepcopy(r.detail)) for r in page], len(hits)

    async def get_alarm(self, alarm_pk: int) -> AlarmRow | None:
        self._check()
        r = self._alarms.get(alarm_pk)
        return None if r is None else replace(r, detail=copy.deepcopy(r.detail))

    async def ack_alarm(self, alarm_pk: int, when: datetime) -> bool:
        self._check()
        r = self._alarms.get(alarm_pk)
        if r is None:
            return False
        if r.acknowledged_at is None:
            r.acknowledged_at = utc(when)
        return True

    async def add_attachment(self, row: AttachmentRow) -> int:
        self._check()
        row.id = next(self._alarm_ids)
        self._attachments[row.id] = replace(row, received_at=utc(row.received_at))
        return row.id

    async def query_attachments(self, phone: str, alarm_ids: list[str]) -> list[AttachmentRow]:
        self._check()
        wanted = set(alarm_ids)
        return [replace(a) for a in self._attachments.values() if a.phone == phone and a.alarm_id in wanted]

    async def get_attachment(self, attachment_pk: int) -> AttachmentRow | None:
        self._check()
        a = self._attachments.get(attachment_pk)
        return None if a is None else replace(a)

    # -- quarantine ------------------------------------------------------------------------------
    async def add_quarantine(self, rows: list[QuarantineRow]) -> None:
        self._check()
        now = datetime.now(UTC)
        for r in rows:
            self._quarantine.append(replace(r, id=next(self._command_ids), quarantined_at=now,
                                            received_at=utc(r.received_at), error=clean_text(r.error),
                                            row=clean_obj(r.row)))

    async def query_quarantine(self, phone: str | None = None, limit: int = 100) -> list[QuarantineRow]:
        self._check()
        if limit <= 0:
            return []
        rows = [r for r in self._quarantine if phone is None or r.phone == phone][-limit:]
        return [replace(r, row=copy.deepcopy(r.row)) for r in rows]


def _copy_terminal(rec: TerminalRecord) -> TerminalRecord:
    return replace(rec, extra=copy.deepcopy(rec.extra))
