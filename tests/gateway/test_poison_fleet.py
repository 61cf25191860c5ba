"""One terminal sends poison of every kind while a fleet reports, over real sockets, into SQLite and the real
PostgreSQL: every other terminal's report is acknowledged (result 0) and stored; the poison terminal's values
are stored cleaned where they can be, and what the database refuses is quarantined with its frame and
answered result 2, without failing anybody else's rows.

"What the database refuses" is made real with a rule inside the database (a CHECK constraint in PostgreSQL,
a trigger in SQLite) that refuses one alarm value: the database itself raises the error, as it would for a
value the boundary does not know how to clean.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import jt808
from jt808.gateway import Gateway
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.records import DriverIdentity
from jt808.protocol.messages.tracking import BatchLocations
from jt808.protocol.messages.transport import UplinkPassThrough
from jt808.protocol.spec import Body
from storage.conftest import PG_URL, drop_schema, pg_schema

from .helpers import Terminal, location, make_config

REFUSED_ALARM = 0xDEADBEEF  # the database's own rule refuses this value (see the module docstring)
# GBK for 张 then two bytes GBK cannot read, a NUL and a letter: a string of the kind that used to fail a batch
BAD_TEXT = b"\xd5\xc5\xff\x80".decode("gbk", "surrogateescape") + "\x00x"
CLEANED = "张\\xff\\x80\\x00x"
GOOD_TERMINALS = 24
REPORTS = 30


async def burst(t: Terminal, bodies: list[Body]) -> dict[int, tuple[int, int]]:
    """Send every body without waiting, then read the 0x8001 answers: {msg_sn: (msg_id, result)}."""
    first = t.sn
    t.writer.write(b"".join(t.frame(b) for b in bodies))
    await t.writer.drain()
    sns = {(first + i) & 0xFFFF for i in range(len(bodies))}
    acks: dict[int, tuple[int, int]] = {}
    while not sns <= acks.keys():
        p = await t.recv(10)
        if p.header.msg_id == 0x8001:
            acks[p.body.seq] = (p.body.id, p.body.result)
    return acks


def poison_bodies() -> list[tuple[str, Body]]:
    """(what, body) sent by the poison terminal."""
    maxed = location(0, alarm=0xFFFFFFFF, status=0xFFFFFFFF, latitude=0xFFFFFFFF, longitude=0xFFFFFFFF,
                     altitude=0xFFFF, speed=0xFFFF, direction=0xFFFF, extras=[(0x01, 0xFFFFFFFF), (0x30, 0xFF)])
    return [
        ("driver identity with undecodable GBK and NUL", DriverIdentity(
            status=1, time="240501120000", ic_result=0, driver_name=BAD_TEXT, certificate="C" * 19 + "\udcff",
            organization=BAD_TEXT, cert_expiry="20301231")),
        ("pass-through of binary data", UplinkPassThrough(type=0xF0, data=b"\x00\xff\x7e\x7d" * 8)),
        ("invalid BCD time", location(1, time="241399999999")),
        ("time in 2099", location(2, time="991231235959")),
        ("every field at its maximum", maxed),
        ("an item of unknown id with NUL and 0xFF bytes", location(3, extras=[(0xE7, b"\x00\xff\x00")])),
        ("refused by the database", location(4, alarm=REFUSED_ALARM)),
        ("batch with one refused row", BatchLocations(type=1, locations=[
            location(5), location(6, alarm=REFUSED_ALARM), location(7)])),
        ("a report after the poison", location(8)),
    ]


async def refuse_in_database(backend: str, where: Any) -> None:
    if backend == "sqlite":
        con = sqlite3.connect(where)
        con.execute("CREATE TRIGGER refuse_alarm BEFORE INSERT ON locations "
                    f"WHEN NEW.alarm = {REFUSED_ALARM} BEGIN SELECT RAISE(ABORT, 'alarm refused'); END")
        con.commit()
        con.close()
    else:
        con = await asyncpg.connect(PG_URL)
        await con.execute(f'ALTER TABLE "{where}".locations ADD CONSTRAINT refuse_alarm '
                          f"CHECK (alarm <> {REFUSED_ALARM})")
        await con.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_one_poison_terminal_never_fails_the_fleet(tmp_path: Path, backend: str) -> None:
    schema = pg_schema()
    db_file = tmp_path / "fleet.db"
    url = f"sqlite:///{db_file}" if backend == "sqlite" else f"{PG_URL}?schema={schema}"
    # rows of many terminals share batches: commits wait up to 20 ms for company
    cfg = make_config(tmp_path, storage={"db": url, "batch_max_delay": 0.02})
    gw = Gateway(cfg)
    await gw.start()
    try:
        await refuse_in_database(backend, db_file if backend == "sqlite" else schema)
        good = [Terminal(phone=f"0139{i:08d}") for i in range(GOOD_TERMINALS)]
        poison = Terminal(phone="013900099999")
        for t in [*good, poison]:
            await t.connect(gw.tcp_port)
        for t in good:
            await t.login()
        code = await poison.register(plate="沪" + BAD_TEXT)
        assert (await poison.authenticate(code)).body.result == 0

        kinds = poison_bodies()
        poison_first = poison.sn
        results = await asyncio.gather(
            burst(poison, [b for _, b in kinds]),
            *(burst(t, [location(i) for i in range(REPORTS)]) for t in good))
        poison_acks, fleet_acks = results[0], results[1:]

        # every other terminal: every report acknowledged and stored
        for t, acks in zip(good, fleet_acks, strict=True):
            assert sorted(acks.values()) == [(0x0200, 0)] * REPORTS, t.phone
        storage = gw.storage
        assert storage is not None
        for t in good:
            assert len(await storage.query_locations(t.phone, limit=1000)) == REPORTS, t.phone

        # the poison terminal: refused rows answered 2 (quarantined), everything else 0
        by_what = {what: poison_acks[(poison_first + i) & 0xFFFF] for i, (what, _) in enumerate(kinds)}
        assert by_what == {
            "driver identity with undecodable GBK and NUL": (0x0702, 0),
            "pass-through of binary data": (0x0900, 0),
            "invalid BCD time": (0x0200, 0),
            "time in 2099": (0x0200, 0),
            "every field at its maximum": (0x0200, 0),
            "an item of unknown id with NUL and 0xFF bytes": (0x0200, 0),
            "refused by the database": (0x0200, 2),
            "batch with one refused row": (0x0704, 2),
            "a report after the poison": (0x0200, 0),
        }
        await gw.writer.flush()  # type: ignore[union-attr]  # events are acked at once, stored in the background
        stored = await storage.query_locations(poison.phone, limit=1000)
        assert sorted(r.alarm for r in stored if r.msg_id == 0x0704) == [0, 0]  # the batch's other rows
        maxed = [r for r in stored if r.alarm == 0xFFFFFFFF]
        assert len(maxed) == 1 and (maxed[0].altitude, maxed[0].direction, maxed[0].speed) == (
            0xFFFF, 0xFFFF, 6553.5)
        assert maxed[0].extras["mileage"] == 0xFFFFFFFF and maxed[0].latitude == -4294.967295
        assert len(stored) == 7 and REFUSED_ALARM not in {r.alarm for r in stored}
        assert [r.time for r in stored if r.msg_sn == poison_first + 2] == [None]  # invalid time: none kept
        # the 2099 report keeps its time but is placed by its receive time (a range around now finds it)
        now = datetime.now(UTC)
        recent = await storage.query_locations(poison.phone, now - timedelta(hours=1), now + timedelta(hours=1))
        assert [r.time.year for r in recent if r.msg_sn == poison_first + 3] == [2099]
        [driver] = await storage.query_events(poison.phone, 0x0702)
        assert driver.body["driver_name"] == CLEANED and driver.body["organization"] == CLEANED
        assert driver.body["certificate"] == "C" * 19 + "\\xff"
        [passthrough] = await storage.query_events(poison.phone, 0x0900)
        assert passthrough.body["type"] == 0xF0
        rec = await storage.get_terminal(poison.phone)
        assert rec is not None and rec.license_number == "沪" + CLEANED

        quarantined = await storage.query_quarantine(poison.phone)
        assert sorted((q.msg_id, q.row["alarm"]) for q in quarantined) == [
            (0x0200, REFUSED_ALARM), (0x0704, REFUSED_ALARM)]
        assert await storage.query_quarantine() == quarantined  # nobody else's
        for q in quarantined:
            assert "alarm" in q.error and q.frame is not None
            packet = jt808.decode(q.frame)  # the frame as received: `jt808 decode` reproduces the case
            assert (packet.header.phone, packet.header.msg_id, packet.header.msg_sn) == (
                poison.phone, q.msg_id, q.msg_sn)
            assert isinstance(packet.body, LocationReport | BatchLocations)
        metrics = gw.metrics_text()
        assert "jt808_storage_rows_quarantined_total 2" in metrics
        assert "jt808_storage_rows_rejected_total 2" in metrics
        assert "jt808_storage_up 1" in metrics
        assert 'jt808_storage_values_repaired_total{kind="time"}' in metrics
        assert gw.storage.health.ok and gw.writer.isolations >= 1
        for t in [*good, poison]:
            await t.close()
    finally:
        await gw.stop()
        if backend == "postgresql":
            await drop_schema(schema)
