"""Terminal records read once per login instead of three times.

A login reads a terminal's record for the registration (0x0100), again for the authentication (0x0102)
and again for its remembered protocol version; with SQLite each read is a hop to the reader thread and
back, with PostgreSQL a round trip. :class:`TerminalCache` sits in front of a :class:`Storage` for those
callers (the auth policies and the gateway's login path): a record read or saved in the last ``ttl``
seconds is served from memory, writes go through to the store at once (a registration is durable
before it is answered), and everything else is the store's.

Several processes share one store (``--workers``, several nodes): a cached copy may be older than the
store. Readers that decide *against* a terminal with a cached record (a code that does not match, a
phone already registered) ask again with ``fresh=True`` (:meth:`TerminalCache.get_terminal`), so a stale copy
can only ever delay nothing and accept what the store accepted within the last ``ttl`` seconds.
Entries live ``ttl`` seconds (10 by default: a login takes milliseconds) and at most ``max_entries``
are kept, so the cache holds the terminals logging in now, not the fleet.

A fleet logging in at once (a reconnect storm after a restart) is served in groups: the reads that miss
the cache while one query is in flight are made by the next one (:meth:`Storage.get_terminals`), and
the registrations saved meanwhile are written in one transaction (:meth:`Storage.save_terminals`); each
caller still waits for its own record to be read or written. While groups follow each other (the previous
one started less than ``BUSY`` seconds ago), a group waits ``GATHER`` seconds for company before it goes:
terminals arriving one by one at a few thousand a second otherwise make groups of one or two, each a
thread hop (SQLite) or a round trip (PostgreSQL). A lone login or logout goes at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import fields
from operator import attrgetter
from typing import Any, Generic, TypeVar

from jt808.storage.base import Storage, TerminalRecord

__all__ = ["Grouped", "TerminalCache"]

A = TypeVar("A")
R = TypeVar("R")


class Grouped(Generic[A, R]):
    """Calls made while the previous group is in flight go together: ``await grouped(arg)`` returns the
    result for ``arg`` of ``fn(args)`` (a map from each argument to its result; a missing key gives
    ``None``); an exception of ``fn`` goes to every caller of that group."""

    def __init__(self, fn: Callable[[list[A]], Awaitable[dict[Any, R]]], key: Callable[[A], Any] = lambda a: a,
                 max_group: int = 1000, gather: float = 0.0) -> None:
        self.fn = fn
        self.key = key
        self.max_group = max_group
        self.gather = gather  # seconds a group waits for company when groups follow each other (a storm)
        self._started = float("-inf")  # loop time the last group started
        self._pending: list[tuple[A, asyncio.Future[R | None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.groups = 0

    def __call__(self, arg: A) -> asyncio.Future[R | None]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[R | None] = loop.create_future()
        self._pending.append((arg, fut))
        if self._task is None:
            self._task = loop.create_task(self._run())
        return fut

    async def _run(self) -> None:
        try:
            loop = asyncio.get_running_loop()
            if self.gather > 0 and len(self._pending) < self.max_group and loop.time() - self._started < BUSY:
                await asyncio.sleep(self.gather)  # the previous group was moments ago: more are coming
            while self._pending:
                self._started = loop.time()
                group, self._pending = self._pending[:self.max_group], self._pending[self.max_group:]
                self.groups += 1
                try:
                    results = await self.fn([a for a, _ in group])
                except Exception as e:
                    for _, fut in group:
                        if not fut.done():
                            fut.set_exception(e)
                    continue
                key = self.key
                for a, fut in group:
                    if not fut.done():
                        fut.set_result(results.get(key(a)))
        finally:
            self._task = None


class TerminalCache:
    """``storage`` with :meth:`get_terminal` served from memory for ``ttl`` seconds (other methods delegate)."""

    def __init__(self, storage: Storage, ttl: float = 10.0, max_entries: int = 100_000) -> None:
        self.storage = storage
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, TerminalRecord]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        # a storage round trip per group, not per login: logins arriving within GATHER seconds go together
        self._read: Grouped[str, TerminalRecord] = Grouped(self._read_many, gather=GATHER)
        self._save: Grouped[TerminalRecord, None] = Grouped(self._save_many, key=lambda r: r.phone, gather=GATHER)

    async def _read_many(self, phones: list[str]) -> dict[str, TerminalRecord]:
        return await self.storage.get_terminals(list(dict.fromkeys(phones)))

    async def _save_many(self, recs: list[TerminalRecord]) -> dict[str, None]:
        last: dict[str, TerminalRecord] = {}
        for r in recs:  # the last save of a phone wins, as one by one
            last.pop(r.phone, None)
            last[r.phone] = r
        await self.storage.save_terminals(list(last.values()))
        return {}

    def __getattr__(self, name: str) -> Any:  # everything else is the store's
        return getattr(self.storage, name)

    async def get_terminal(self, phone: str, fresh: bool = False) -> TerminalRecord | None:
        """The record of ``phone``: from memory when read or saved in the last ``ttl`` seconds (unless
        ``fresh``), else from the store. A copy: callers may change it."""
        now = time.monotonic()
        if not fresh:
            entry = self._entries.get(phone)
            if entry is not None and entry[0] > now:
                self.hits += 1
                return _copy(entry[1])
        self.misses += 1
        rec = await self._read(phone)
        if rec is None:
            self._entries.pop(phone, None)
        else:
            self._put(phone, rec, now)
        return rec if rec is None else _copy(rec)

    def peek(self, phone: str) -> TerminalRecord | None:
        """The record of ``phone`` when memory holds a fresh one, else ``None`` (nothing is read). Not a
        copy: for deciding at once (:meth:`jt808.gateway.hooks.AuthPolicy.authenticate_now`), never to change."""
        entry = self._entries.get(phone)
        if entry is not None and entry[0] > time.monotonic():
            self.hits += 1
            return entry[1]
        return None

    async def save_terminal(self, rec: TerminalRecord) -> None:
        rec = _copy(rec)
        await self._save(rec)
        self._put(rec.phone, rec, time.monotonic())

    async def delete_terminal(self, phone: str) -> None:
        self._entries.pop(phone, None)
        await self.storage.delete_terminal(phone)

    def forget(self, phone: str) -> bool:
        """Drop the cached copy of ``phone``; True if there was one."""
        return self._entries.pop(phone, None) is not None

    def _put(self, phone: str, rec: TerminalRecord, now: float) -> None:
        entries = self._entries
        entries[phone] = (now + self.ttl, rec)
        entries.move_to_end(phone)
        while entries and (len(entries) > self.max_entries or next(iter(entries.values()))[0] <= now):
            entries.popitem(last=False)


#: seconds a read or save group waits for the logins arriving meanwhile (a thread hop or round trip each),
#: when the previous group started less than BUSY seconds ago (a lone login or logout is not delayed)
GATHER = 0.002
BUSY = 0.05

_VALUES = attrgetter(*(f.name for f in fields(TerminalRecord)))


def _copy(rec: TerminalRecord, _values: Any = _VALUES) -> TerminalRecord:
    """A copy (its ``extra`` too): the fields read at once (C), the constructor fills them in order."""
    out = TerminalRecord(*_values(rec))
    out.extra = dict(rec.extra)
    return out
