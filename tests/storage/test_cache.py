"""TerminalCache: one read per login, grouped reads and writes under a storm, decisions against a terminal
taken on the store's copy, not a cached one."""

from __future__ import annotations

import asyncio

from jt808.gateway.hooks import BuiltinRegistry, Registration
from jt808.storage import Storage, TerminalRecord
from jt808.storage.cache import TerminalCache


class Counting:
    """Counts the calls that reach the store."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        attr = getattr(self.inner, name)
        if callable(attr):
            async def call(*a, **kw):
                self.calls.append(name)
                return await attr(*a, **kw)
            return call
        return attr


def reg(phone: str) -> Registration:
    return Registration(phone=phone, version=2013, province=11, city=100, manufacturer="ACME", model="T",
                        dev_id="D1", color=1, license_number="京A1")


async def test_a_login_reads_the_store_once(storage: Storage) -> None:
    store = Counting(storage)
    cache = TerminalCache(store)
    policy = BuiltinRegistry(cache)
    result, code = await policy.register(reg("013900000001"))
    assert result == 0
    assert await policy.authenticate("013900000001", code, 2013)
    rec = await cache.get_terminal("013900000001")  # the gateway's remembered-version read
    assert rec is not None and rec.auth_code == code
    assert store.calls == ["get_terminals", "save_terminals"]
    rec.auth_code = "changed"  # a copy: the cache is not changed by its callers
    assert (await cache.get_terminal("013900000001")).auth_code == code


async def test_a_storm_is_read_and_written_in_groups(storage: Storage) -> None:
    store = Counting(storage)
    cache = TerminalCache(store)
    policy = BuiltinRegistry(cache)
    phones = [f"0139{i:08d}" for i in range(300)]
    results = await asyncio.gather(*(policy.register(reg(p)) for p in phones))
    assert all(r == 0 for r, _ in results)
    assert store.calls.count("get_terminals") <= 3 and store.calls.count("save_terminals") <= 3
    assert {p: (await storage.get_terminal(p)).auth_code for p in phones} == {
        p: code for p, (_, code) in zip(phones, results, strict=True)}


async def test_logins_trickling_in_are_grouped_a_lone_one_is_not_delayed(storage: Storage) -> None:
    """Terminals arriving one by one (each in its own loop iteration, as reads from their sockets do) while
    groups follow each other wait ``GATHER`` seconds for company; the first one, after a quiet spell, goes at
    once."""
    store = Counting(storage)
    cache = TerminalCache(store)
    first = asyncio.ensure_future(cache.get_terminal("013900000000"))
    for _ in range(3):
        await asyncio.sleep(0)
    assert store.calls == ["get_terminals"]  # alone: asked at once, not held back GATHER seconds
    assert await first is None
    reads: list[asyncio.Future[TerminalRecord | None]] = []
    for i in range(1, 41):
        reads.append(asyncio.ensure_future(cache.get_terminal(f"0139{i:08d}")))
        await asyncio.sleep(0)  # one loop iteration apart
        await asyncio.sleep(0)
    await asyncio.gather(*reads)
    assert store.calls.count("get_terminals") <= 4  # the first and a few groups, not one read per login


async def test_a_stale_cached_code_is_checked_against_the_store(storage: Storage) -> None:
    """Another process (a sibling worker, another node) registered the terminal again: the code it issued is
    in the store, this process still holds the old one."""
    cache = TerminalCache(storage)
    policy = BuiltinRegistry(cache, reregister_match="dev_id")
    _, old = await policy.register(reg("013900000002"))
    await storage.save_terminal(TerminalRecord(phone="013900000002", auth_code="NEWCODE", dev_id="D1"))
    assert await policy.authenticate("013900000002", "NEWCODE", 2013)  # the cached copy said otherwise
    assert not await policy.authenticate("013900000002", old, 2013)
    await storage.save_terminal(TerminalRecord(phone="013900000003", auth_code="", dev_id="D1"))  # reset elsewhere
    cache2 = TerminalCache(storage)
    await cache2.save_terminal(TerminalRecord(phone="013900000003", auth_code="X", dev_id="D9"))
    await storage.save_terminal(TerminalRecord(phone="013900000003", auth_code=""))  # released by another node
    result, code = await BuiltinRegistry(cache2).register(reg("013900000003"))
    assert result == 0 and code
