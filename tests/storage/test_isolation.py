"""Fault isolation on every backend: values cleaned at the boundary, poison rows split out of their batch and
quarantined, every other row committed and its future resolved."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

import pytest

from jt808.storage import EventRow, LocationRow, QuarantineRow, RowsRejected, Storage, TerminalRecord
from jt808.storage.batch import BatchWriter
from jt808.storage.sanitize import clean_obj, clean_text, repairs

T0 = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)
# what a GBK decode with surrogateescape gives for the bytes b"\xd5\xc5\xff\x80" (one valid character,
# then two bytes GBK cannot read) and a NUL inside the text
UNDECODABLE = b"\xd5\xc5\xff\x80".decode("gbk", "surrogateescape") + "\x00x"


def loc(phone: str, sn: int, **kw) -> LocationRow:
    return LocationRow(phone=phone, time=T0 + timedelta(seconds=sn), received_at=T0, alarm=kw.pop("alarm", 0),
                       status=kw.pop("status", 3), latitude=kw.pop("latitude", 31.2), longitude=121.4,
                       altitude=kw.pop("altitude", 12),
                       speed=60.5, direction=kw.pop("direction", 270), msg_sn=sn, **kw)


def test_clean_text_escapes_undecodable_bytes_and_nul() -> None:
    before = repairs["text"]
    assert clean_text(UNDECODABLE) == "张\\xff\\x80\\x00x"
    assert clean_text("\ud800") == "\\ud800"  # a lone surrogate that stands for no byte
    assert clean_text("plain 张三") == "plain 张三"
    assert repairs["text"] == before + 2
    assert clean_obj({"a": [float("nan"), math.inf, -math.inf, 1.5], UNDECODABLE: 1}) == {
        "a": ["NaN", "Infinity", "-Infinity", 1.5], "张\\xff\\x80\\x00x": 1}


async def test_strings_and_numbers_a_store_refuses_are_stored_cleaned(storage: Storage) -> None:
    body = {"name": UNDECODABLE, "nested": [{"k": "\ud83d"}], "ratio": float("nan"), "big": 2**70}
    await storage.add_batch([loc("P", 1, extras={"text": UNDECODABLE, "inf": math.inf})],
                            [EventRow("P", 0x0702, T0, body, 5)])
    [ev] = await storage.query_events("P")
    assert ev.body == {"name": "张\\xff\\x80\\x00x", "nested": [{"k": "\\ud83d"}], "ratio": "NaN", "big": 2**70}
    [row] = await storage.query_locations("P")
    assert row.extras == {"text": "张\\xff\\x80\\x00x", "inf": "Infinity"}
    await storage.save_terminal(TerminalRecord(phone="P", license_number=UNDECODABLE, manufacturer="\x00AB"))
    rec = await storage.get_terminal("P")
    assert rec is not None and (rec.license_number, rec.manufacturer) == ("张\\xff\\x80\\x00x", "\\x00AB")


async def test_numbers_at_the_edges_of_their_columns_round_trip(storage: Storage) -> None:
    edge = loc("E", 0xFFFF, alarm=0xFFFFFFFF, status=0xFFFFFFFF, altitude=-32768, direction=0xFFFF,
               msg_id=0xFFFF, extras={"u32": 0xFFFFFFFF, "u64": 2**64 - 1, "neg": -(2**63)})
    await storage.add_locations([edge, loc("E", 1, altitude=32767)])
    got = await storage.query_locations("E")
    assert [(r.alarm, r.status, r.altitude, r.direction, r.msg_id, r.msg_sn) for r in got] == [
        (0, 3, 32767, 270, 0x0200, 1), (0xFFFFFFFF, 0xFFFFFFFF, -32768, 0xFFFF, 0xFFFF, 0xFFFF)]
    assert got[1].extras == {"u32": 0xFFFFFFFF, "u64": 2**64 - 1, "neg": -(2**63)}


async def test_quarantine_keeps_rows_with_their_frame(storage: Storage) -> None:
    q = QuarantineRow("Q", "event", 0x0702, 9, T0, "DataError: \udc80 bad", {"body": {"x": UNDECODABLE}},
                      b"\x7e\x07\x02\x7e")
    await storage.add_quarantine([q])
    await storage.add_quarantine([QuarantineRow("R", "location", 0x0200, 1, T0, "e", {})])
    [got] = await storage.query_quarantine("Q")
    assert (got.phone, got.kind, got.msg_id, got.msg_sn, got.received_at, got.frame) == (
        "Q", "event", 0x0702, 9, T0, b"\x7e\x07\x02\x7e")
    assert got.error == "DataError: \\x80 bad"
    assert got.row == {"body": {"x": "张\\xff\\x80\\x00x"}} and got.id is not None
    assert got.quarantined_at is not None and got.quarantined_at.tzinfo is not None
    assert [r.phone for r in await storage.query_quarantine()] == ["Q", "R"]
    assert [r.phone for r in await storage.query_quarantine(limit=1)] == ["R"]


@pytest.mark.parametrize("storage", ["sqlite", "postgresql"], indirect=True)  # memory keeps any object
async def test_poison_rows_are_split_out_and_quarantined(storage: Storage) -> None:
    """Rows a database cannot take (an integer past its column, a missing value, a value of an unknown type)
    in a batch with good rows of many submitters: the good rows commit, each poison row is quarantined and
    only its submission learns of it."""
    w = BatchWriter(storage, max_rows=10_000, max_delay=10.0)
    good = [w.submit_locations([loc(f"G{i}", n) for n in range(5)]) for i in range(20)]
    mixed_rows = [loc("M", 0), loc("M", 1, alarm=2**64), loc("M", 2), loc("M", 3, latitude=None)]
    mixed = w.submit_locations(mixed_rows)
    events = w.submit_events([EventRow("V", 0x0900, T0, {"ok": 1}, 1), EventRow("V", 0x0900, T0, {"o": object()}, 2)])
    good += [w.submit_locations([loc(f"H{i}", 0)]) for i in range(5)]
    await w.flush()
    await asyncio.gather(*good)
    with pytest.raises(RowsRejected) as err:
        await mixed
    assert sorted(err.value.failed) == [1, 3] and err.value.results() == {(0x0200, 1): 2, (0x0200, 3): 2}
    with pytest.raises(RowsRejected) as eerr:
        await events
    assert list(eerr.value.failed) == [1]
    for i in range(20):
        assert len(await storage.query_locations(f"G{i}")) == 5
    assert [r.msg_sn for r in await storage.query_locations("M")] == [0, 2]
    assert [e.msg_sn for e in await storage.query_events("V")] == [1]
    quarantined = await storage.query_quarantine()
    assert sorted((q.phone, q.kind, q.msg_sn) for q in quarantined) == [
        ("M", "location", 1), ("M", "location", 3), ("V", "event", 2)]
    assert {q.row["alarm"] for q in quarantined if q.msg_sn == 1 and q.kind == "location"} == {2**64}
    assert w.rows_rejected == w.rows_quarantined == 3 and w.isolations >= 1 and storage.health.ok
    await w.close()


async def test_postgres_tells_whether_a_transaction_committed() -> None:
    """What settles a write whose COMMIT lost its connection: committed, rolled back, or lost in a crash before
    the server wrote it (its id is then "in the future")."""
    import asyncpg

    from jt808.storage.postgres import PostgresStorage

    from .conftest import PG_URL, drop_schema, pg_schema

    schema = pg_schema()
    st = PostgresStorage(PG_URL, schema=schema, pool_max=2)
    await st.open()
    con = await asyncpg.connect(PG_URL)
    try:
        async with con.transaction():
            committed = await con.fetchval("SELECT pg_current_xact_id()::text")
        tr = con.transaction()
        await tr.start()
        aborted = await con.fetchval("SELECT pg_current_xact_id()::text")
        await tr.rollback()
        assert await st.commit_status(committed) is True
        assert await st.commit_status(aborted) is False
        assert await st.commit_status(str(int(committed) + 10_000_000)) is False
        await st.ping()
    finally:
        await con.close()
        await st.close()
        await drop_schema(schema)


async def test_a_device_time_in_the_future_is_kept_but_placed_by_the_receive_time(storage: Storage) -> None:
    before = repairs["time"]
    future = LocationRow(phone="F", time=datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC), received_at=T0, alarm=0,
                         status=0, latitude=1.0, longitude=2.0, altitude=0, speed=0.0, direction=0, msg_sn=1)
    skewed = loc("F", 2)  # T0 + 2 s: a clock a little ahead is a device time still
    skewed.time = T0 + timedelta(hours=8)
    await storage.add_locations([future, skewed, loc("F", 3)])
    near = await storage.query_locations("F", T0 - timedelta(minutes=1), T0 + timedelta(minutes=1))
    assert [(r.msg_sn, r.time) for r in near] == [(1, datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)),
                                                  (3, T0 + timedelta(seconds=3))]
    assert [r.msg_sn for r in await storage.query_locations("F")] == [1, 3, 2]
    assert await storage.count_locations("F", start=datetime(2099, 1, 1, tzinfo=UTC)) == 0
    assert repairs["time"] == before + 1
