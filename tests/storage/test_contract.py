"""One contract, every backend: memory, SQLite and PostgreSQL behave the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from jt808.storage import (
    AlarmRow,
    AttachmentRow,
    CommandRow,
    EventRow,
    LocationRow,
    MediaRow,
    Storage,
    StorageClosed,
    StorageError,
    TerminalRecord,
    create_storage,
)
from jt808.storage.memory import MemoryStorage
from jt808.storage.postgres import PostgresStorage, split_url
from jt808.storage.sqlite import SQLiteStorage

T0 = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)


def loc(phone: str, minute: int, *, sn: int = 0, time: datetime | bool | None = True, **kw) -> LocationRow:
    when = T0 + timedelta(minutes=minute)
    return LocationRow(phone=phone, time=when if time is True else (time or None), received_at=when,
                       alarm=kw.pop("alarm", 0), status=kw.pop("status", 0x0C0003), latitude=31.2304 + minute / 1e4,
                       longitude=121.4737, altitude=12, speed=60.5, direction=270, msg_sn=sn, **kw)


# -- terminals and auth codes ------------------------------------------------------------------------

async def test_terminal_roundtrip_and_auth_code(storage: Storage) -> None:
    assert await storage.get_terminal("013912345678") is None
    rec = TerminalRecord(phone="013912345678", auth_code="k3Yq-Zp9", version=2019, province=31, city=115,
                         manufacturer="ACME", model="T-800", dev_id="D1234567", color=1, license_number="沪A12345",
                         registered_at=T0, imei="861234567890123", software_version="1.2.3",
                         extra={"note": "车载", "n": [1, 2]})
    await storage.save_terminal(rec)
    got = await storage.get_terminal("013912345678")
    assert got == rec
    assert got.auth_code == "k3Yq-Zp9"
    # the code is bound to the phone: another phone does not see it
    assert await storage.get_terminal("013912345679") is None


async def test_save_terminal_replaces_registration(storage: Storage) -> None:
    await storage.save_terminal(TerminalRecord(phone="1", auth_code="old", model="A"))
    await storage.save_terminal(TerminalRecord(phone="1", auth_code="new", model="B"))
    got = await storage.get_terminal("1")
    assert (got.auth_code, got.model) == ("new", "B")
    assert len(await storage.list_terminals()) == 1


async def test_delete_and_list_terminals(storage: Storage) -> None:
    for p in ["000000000003", "000000000001", "000000000002"]:
        await storage.save_terminal(TerminalRecord(phone=p, auth_code="c" + p))
    assert [t.phone for t in await storage.list_terminals()] == ["000000000001", "000000000002", "000000000003"]
    assert [t.phone for t in await storage.list_terminals(limit=1, offset=1)] == ["000000000002"]
    assert await storage.list_terminals(limit=0) == []
    await storage.delete_terminal("000000000002")
    await storage.delete_terminal("999")  # unknown: no error
    assert [t.phone for t in await storage.list_terminals()] == ["000000000001", "000000000003"]


async def test_touch_terminal(storage: Storage) -> None:
    await storage.save_terminal(TerminalRecord(phone="7", auth_code="x"))
    when = datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
    await storage.touch_terminal("7", when)
    await storage.touch_terminal("8", when)  # unknown: ignored
    got = await storage.get_terminal("7")
    assert got.last_seen == when
    assert got.auth_code == "x"
    assert await storage.get_terminal("8") is None


# -- locations ---------------------------------------------------------------------------------------

async def test_location_roundtrip_keeps_every_field(storage: Storage) -> None:
    row = LocationRow(phone="13800000000", time=T0, received_at=T0 + timedelta(seconds=1, microseconds=7),
                      alarm=0xFFFFFFFF, status=0x80000003, latitude=-33.868820, longitude=-151.209295, altitude=-12,
                      speed=123.4, direction=359, msg_id=0x0704, msg_sn=65535, batch=True,
                      extras={"mileage": 1234, "signal": {"low_beam": 1}, "custome": {"225": "AQI="}, "text": "高"})
    await storage.add_locations([row])
    assert await storage.query_locations("13800000000") == [row]


async def test_location_times_are_utc_aware(storage: Storage) -> None:
    beijing = timezone(timedelta(hours=8))
    await storage.add_locations([LocationRow(phone="p", time=datetime(2024, 5, 1, 16, 0, tzinfo=beijing),
                                             received_at=datetime(2024, 5, 1, 8, 0, 1), alarm=0, status=0,
                                             latitude=0, longitude=0, altitude=0, speed=0, direction=0)])
    (got,) = await storage.query_locations("p")
    assert got.time == T0 and got.time.utcoffset() == timedelta(0)
    assert got.received_at == T0 + timedelta(seconds=1) and got.received_at.tzinfo is not None


async def test_query_locations_newest_limit_oldest_first(storage: Storage) -> None:
    # inserted out of order: the device time decides
    await storage.add_locations([loc("A", m, sn=m) for m in (5, 1, 9, 3, 7, 0, 2, 8, 4, 6)])
    await storage.add_locations([loc("B", m, sn=100 + m) for m in range(3)])
    assert [r.msg_sn for r in await storage.query_locations("A")] == list(range(10))
    assert [r.msg_sn for r in await storage.query_locations("A", limit=3)] == [7, 8, 9]
    assert await storage.query_locations("A", limit=0) == []
    assert await storage.query_locations("nobody") == []
    assert [r.msg_sn for r in await storage.query_locations("B")] == [100, 101, 102]


async def test_latest_locations_one_per_phone_newest_by_device_time(storage: Storage) -> None:
    assert await storage.latest_locations() == []
    await storage.add_locations([loc("B", m, sn=100 + m) for m in (2, 0, 1)])
    await storage.add_locations([loc("A", m, sn=m) for m in (5, 1, 9, 3)])
    await storage.add_locations([loc("A", 9, sn=10)])  # a tie: the later insertion, as query_locations says
    got = await storage.latest_locations()
    assert [(r.phone, r.msg_sn) for r in got] == [("A", 10), ("B", 102)]
    assert got == [(await storage.query_locations(p, limit=1))[0] for p in ("A", "B")]


async def test_query_locations_start_end_inclusive(storage: Storage) -> None:
    await storage.add_locations([loc("A", m, sn=m) for m in range(10)])
    start, end = T0 + timedelta(minutes=2), T0 + timedelta(minutes=6)
    assert [r.msg_sn for r in await storage.query_locations("A", start=start, end=end)] == [2, 3, 4, 5, 6]
    assert [r.msg_sn for r in await storage.query_locations("A", start=start, end=end, limit=2)] == [5, 6]
    assert [r.msg_sn for r in await storage.query_locations("A", start=start)] == [2, 3, 4, 5, 6, 7, 8, 9]
    assert [r.msg_sn for r in await storage.query_locations("A", end=end, limit=100)] == [0, 1, 2, 3, 4, 5, 6]
    assert await storage.query_locations("A", start=end, end=start) == []
    # naive bounds are UTC
    naive = (T0 + timedelta(minutes=8)).replace(tzinfo=None)
    assert [r.msg_sn for r in await storage.query_locations("A", start=naive)] == [8, 9]


async def test_query_locations_ties_keep_insertion_order(storage: Storage) -> None:
    await storage.add_locations([loc("A", 1, sn=s) for s in (10, 11, 12)])
    await storage.add_locations([loc("A", 1, sn=13)])
    assert [r.msg_sn for r in await storage.query_locations("A")] == [10, 11, 12, 13]
    assert [r.msg_sn for r in await storage.query_locations("A", limit=2)] == [12, 13]


async def test_location_without_device_time_sorts_by_received_at(storage: Storage) -> None:
    rows = [loc("A", 1, sn=1), loc("A", 3, sn=3), loc("A", 2, sn=2, time=None)]
    await storage.add_locations(rows)
    got = await storage.query_locations("A")
    assert [r.msg_sn for r in got] == [1, 2, 3]
    assert got[1].time is None
    assert [r.msg_sn for r in await storage.query_locations("A", start=T0 + timedelta(minutes=2))] == [2, 3]


async def test_add_batch_writes_both_kinds(storage: Storage) -> None:
    await storage.add_batch([loc("A", 0), loc("A", 1)], [EventRow("A", 0x0002, T0, {}, 5)])
    await storage.add_batch([], [])
    assert len(await storage.query_locations("A")) == 2
    assert [e.msg_sn for e in await storage.query_events("A")] == [5]


# -- events --------------------------------------------------------------------------------------------

async def test_events(storage: Storage) -> None:
    rows = [EventRow(phone="A", msg_id=0x0301 if i % 2 else 0x0704, received_at=T0 + timedelta(seconds=i),
                     body={"id": i, "text": "事件"}, msg_sn=i) for i in range(6)]
    await storage.add_events(rows[:3])
    await storage.add_events(rows[3:])
    await storage.add_events([EventRow("B", 0x0301, T0, {"id": 99})])
    assert await storage.query_events("A") == rows
    assert [e.msg_sn for e in await storage.query_events("A", limit=2)] == [4, 5]
    assert [e.msg_sn for e in await storage.query_events("A", msg_id=0x0301)] == [1, 3, 5]
    assert [e.msg_sn for e in await storage.query_events("A", msg_id=0x0301, limit=1)] == [5]
    assert await storage.query_events("A", msg_id=0x0900) == []
    assert await storage.query_events("A", limit=0) == []


# -- command log ---------------------------------------------------------------------------------------

async def test_command_log(storage: Storage) -> None:
    request = {"header": {"msg_id": 0x8103}, "body": {"length": 1, "params": [{"id": 1, "value": 30}]}}
    first = await storage.add_command(CommandRow(phone="A", msg_id=0x8103, msg_sn=7, sent_at=T0, request=request))
    second = await storage.add_command(CommandRow(phone="A", msg_id=0x8201, msg_sn=8, sent_at=T0, request={}))
    other = await storage.add_command(CommandRow(phone="B", msg_id=0x8201, msg_sn=1, sent_at=T0, request={}))
    assert len({first, second, other}) == 3
    reply = {"header": {"msg_id": 1}, "body": {"seq": 7, "id": 0x8103, "result": 0}}
    await storage.update_command(first, "replied", reply, T0 + timedelta(seconds=2))
    await storage.update_command(second, "timeout")
    await storage.update_command(123456, "failed")  # unknown id: ignored
    got = await storage.query_commands("A")
    assert [c.id for c in got] == [first, second]
    assert got[0] == CommandRow(phone="A", msg_id=0x8103, msg_sn=7, sent_at=T0, request=request, status="replied",
                                reply=reply, replied_at=T0 + timedelta(seconds=2), id=first)
    assert (got[1].status, got[1].reply, got[1].replied_at) == ("timeout", None, None)
    assert [c.id for c in await storage.query_commands("A", limit=1)] == [second]
    # a status change alone keeps the earlier reply
    await storage.update_command(first, "archived")
    assert (await storage.query_commands("A"))[0].reply == reply


# -- media ---------------------------------------------------------------------------------------------

async def test_media_index(storage: Storage) -> None:
    rows = [MediaRow(phone="A", media_id=i, type=0, format=0, event=1, channel=1, path=f"A/{i}.jpg", size=1000 + i,
                     received_at=T0 + timedelta(seconds=i), location={"latitude": 31.2} if i else None)
            for i in range(3)]
    for r in rows:
        await storage.add_media(r)
    assert await storage.query_media("A") == rows
    assert [m.media_id for m in await storage.query_media("A", limit=2)] == [1, 2]
    assert await storage.query_media("B") == []


# -- lifecycle -----------------------------------------------------------------------------------------

async def test_closed_storage_raises_storage_error(tmp_path: Path) -> None:
    for st in (MemoryStorage(), SQLiteStorage(tmp_path / "x.db")):
        with pytest.raises(StorageClosed):
            await st.get_terminal("1")
        await st.open()
        await st.close()
        with pytest.raises(StorageError):
            await st.add_locations([loc("A", 0)])


async def test_sqlite_persists_across_reopen(tmp_path: Path) -> None:
    st = create_storage(None, tmp_path)
    await st.open()
    await st.save_terminal(TerminalRecord(phone="1", auth_code="abc"))
    await st.add_locations([loc("1", 0)])
    await st.close()
    st = create_storage(f"sqlite:///{tmp_path}/jt808.db", tmp_path)
    await st.open()
    try:
        assert (await st.get_terminal("1")).auth_code == "abc"
        assert len(await st.query_locations("1")) == 1
    finally:
        await st.close()


def test_create_storage_urls(tmp_path: Path) -> None:
    st = create_storage(None, tmp_path)
    assert isinstance(st, SQLiteStorage) and st.path == str(tmp_path / "jt808.db")
    st = create_storage("sqlite://", tmp_path)
    assert isinstance(st, SQLiteStorage) and st.path == str(tmp_path / "jt808.db")
    st = create_storage("sqlite:////var/lib/x.db?synchronous=full", tmp_path)
    assert isinstance(st, SQLiteStorage) and st.path == "/var/lib/x.db" and st.synchronous == "FULL"
    st = create_storage("sqlite:///rel/x.db", tmp_path)
    assert isinstance(st, SQLiteStorage) and st.path == "rel/x.db"
    assert create_storage("sqlite:///:memory:", tmp_path).in_memory
    assert isinstance(create_storage("memory", tmp_path), MemoryStorage)
    st = create_storage("postgresql://u:pw@db:5432/fleet?schema=jt&pool_max=20&sslmode=disable", tmp_path)
    assert isinstance(st, PostgresStorage)
    assert (st.schema, st.pool_max, st.dsn) == ("jt", 20, "postgresql://u:pw@db:5432/fleet?sslmode=disable")
    assert split_url("postgres://h/db")[0] == "postgresql://h/db"
    with pytest.raises(StorageError):
        create_storage("mysql://x", tmp_path)
    with pytest.raises(StorageError):
        create_storage("sqlite:///x.db?synchronous=sometimes", tmp_path)
    with pytest.raises(StorageError):
        PostgresStorage("postgresql://h/db?schema=a;drop")


async def test_sqlite_in_memory_works(tmp_path: Path) -> None:
    st = create_storage("sqlite:///:memory:", tmp_path)
    await st.open()
    try:
        await st.add_locations([loc("A", 1), loc("A", 0)])
        assert [r.time for r in await st.query_locations("A")] == [T0, T0 + timedelta(minutes=1)]
    finally:
        await st.close()


async def test_memory_storage_bounds_rows_per_phone() -> None:
    st = MemoryStorage(max_rows_per_phone=5)
    await st.open()
    await st.add_locations([loc("A", m, sn=m) for m in range(8)])
    assert [r.msg_sn for r in await st.query_locations("A")] == [3, 4, 5, 6, 7]


async def test_postgres_unreachable_is_a_storage_error() -> None:
    st = PostgresStorage("postgresql://postgres@127.0.0.1:1/test")
    with pytest.raises(StorageError):
        await st.open()


async def test_concurrent_writes_then_reads_see_their_own_rows(storage: Storage) -> None:
    """Reads interleaved from many tasks never see a stale snapshot (register → authenticate)."""
    import asyncio

    async def one(i: int) -> None:
        phone = f"0139{i:08d}"
        await storage.save_terminal(TerminalRecord(phone=phone, auth_code=f"code{i}"))
        got = await storage.get_terminal(phone)
        assert got is not None and got.auth_code == f"code{i}"
        await storage.add_locations([loc(phone, 0, sn=i)])
        assert [r.msg_sn for r in await storage.query_locations(phone)] == [i]

    async def reader() -> None:  # keeps statements open on the reading connection meanwhile
        for _ in range(200):
            await storage.list_terminals(limit=5)

    await asyncio.gather(reader(), reader(), *(one(i) for i in range(100)))
    assert len(await storage.list_terminals()) == 100


async def test_postgres_schema_created_once_by_concurrent_nodes() -> None:
    import asyncio

    from .conftest import PG_URL, drop_schema, pg_schema

    schema = pg_schema()
    nodes = [PostgresStorage(PG_URL, schema=schema, pool_max=2) for _ in range(4)]
    try:
        await asyncio.gather(*(n.open() for n in nodes))  # advisory lock: no duplicate-object errors
        await nodes[0].save_terminal(TerminalRecord(phone="1", auth_code="a"))
        assert (await nodes[3].get_terminal("1")).auth_code == "a"  # one database, every node sees it
    finally:
        for n in nodes:
            await n.close()
        await drop_schema(schema)


async def test_location_extras_json_rendered_by_the_producer(storage: Storage) -> None:
    extras = {"mileage": 12, "rssi": 25, "text": "高"}
    row = loc("p-json", 1, extras=extras, extras_json='{"mileage":12,"rssi":25,"text":"高"}')
    await storage.add_locations([row, loc("p-json", 2)])
    back = await storage.query_locations("p-json")
    assert back == [row, loc("p-json", 2)]
    assert back[0].extras == extras and back[0].extras_json is None and back[1].extras == {}


# -- alarms and attachments ------------------------------------------------------------------------------

def _alarm(phone: str, minute: int, kind: str = "standard", code: int = 0, **kw) -> AlarmRow:
    when = T0 + timedelta(minutes=minute)
    return AlarmRow(phone=phone, time=kw.pop("time", when), received_at=when + timedelta(seconds=2), kind=kind,
                    code=code, name=kw.pop("name", "紧急报警"), level=kw.pop("level", 1), latitude=31.23,
                    longitude=121.47, speed=42.5, msg_sn=minute, **kw)


async def test_alarms_query_filters_and_pages(storage: Storage) -> None:
    rows = [_alarm("A", 1), _alarm("A", 2, "dsm", 1, name="疲劳驾驶报警", alarm_id="T1-240501080200-0",
                                     detail={"type": 1, "alarm_sign": {"terminal_id": "T1"}}),
            _alarm("B", 3, "adas", 2), _alarm("A", 4, "video", 0, time=None), _alarm("A", 0, "bsd", 3)]
    ids = await storage.add_alarms(rows)
    assert len(set(ids)) == 5 and [r.id for r in rows] == ids
    assert await storage.add_alarms([]) == []
    got, total = await storage.query_alarms("A")
    # newest first by device time (receive time when the device sent none)
    assert total == 4 and [r.kind for r in got] == ["video", "dsm", "standard", "bsd"]
    dsm = got[1]
    assert dsm == rows[1] and dsm.detail == {"type": 1, "alarm_sign": {"terminal_id": "T1"}}
    assert dsm.alarm_id == "T1-240501080200-0" and dsm.name == "疲劳驾驶报警" and dsm.time == T0 + timedelta(minutes=2)
    assert got[0].time is None and got[0].received_at == T0 + timedelta(minutes=4, seconds=2)
    page, total = await storage.query_alarms("A", limit=2, offset=1)
    assert total == 4 and [r.kind for r in page] == ["dsm", "standard"]
    assert (await storage.query_alarms("A", limit=0))[1] == 4
    sel, total = await storage.query_alarms(start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3))
    assert total == 2 and {r.kind for r in sel} == {"standard", "dsm"}
    assert [r.phone for r in (await storage.query_alarms(kind="adas"))[0]] == ["B"]
    assert (await storage.query_alarms(phone="Z"))[1] == 0


async def test_alarm_ack(storage: Storage) -> None:
    [i, j] = await storage.add_alarms([_alarm("A", 1), _alarm("A", 2)])
    assert (await storage.get_alarm(i)).acknowledged_at is None
    when = T0 + timedelta(hours=1)
    assert await storage.ack_alarm(i, when)
    assert await storage.ack_alarm(i, when + timedelta(hours=1))  # the first acknowledgement counts
    assert (await storage.get_alarm(i)).acknowledged_at == when
    assert not await storage.ack_alarm(999_999, when)
    assert await storage.get_alarm(999_999) is None
    assert [r.id for r in (await storage.query_alarms("A", acknowledged=True))[0]] == [i]
    assert [r.id for r in (await storage.query_alarms("A", acknowledged=False))[0]] == [j]


async def test_attachments_by_alarm(storage: Storage) -> None:
    a1 = AttachmentRow(phone="A", alarm_id="T1-1-0", name="00_65_6501_0_x.jpg", size=2048, type=0,
                       path="/data/a/1.jpg", received_at=T0, alarm_no="x" * 32)
    a2 = AttachmentRow(phone="A", alarm_id="T1-1-0", name="02_65_6501_1_x.mp4", size=9, type=2, path="/data/a/2.mp4",
                       received_at=T0 + timedelta(seconds=1))
    other = AttachmentRow(phone="B", alarm_id="T1-1-0", name="o.jpg", size=1, type=0, path="/o", received_at=T0)
    for a in (a1, a2, other):
        assert await storage.add_attachment(a) == a.id
    assert await storage.query_attachments("A", ["T1-1-0", "nope"]) == [a1, a2]
    assert await storage.query_attachments("A", []) == []
    assert await storage.get_attachment(a2.id) == a2
    assert await storage.get_attachment(987_654) is None
