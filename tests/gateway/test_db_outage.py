"""A database outage under load, with a private PostgreSQL server that the test stops (as in a crash) and starts
again while a fleet reports: reports are refused with result 1 during the outage, the terminals send them
again, and after recovery every acknowledged report is stored, and none twice; the outage is one state change
(one log line each way), visible in the storage health and /metrics."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

import asyncpg
import pytest

from jt808.gateway import Gateway
from storage.private_pg import PrivatePostgres

from .helpers import Terminal, location, make_config

TERMINALS = 8
WINDOW = 16  # reports in flight per terminal
# the outage's length: 2 s in the suite; docs/deployment.md quotes a run with JT808_OUTAGE_SECONDS=60 (-s)
OUTAGE = float(os.environ.get("JT808_OUTAGE_SECONDS", "2"))


@pytest.fixture
async def private_pg() -> PrivatePostgres:
    pg = PrivatePostgres().init()
    await pg.astart()
    try:
        yield pg
    finally:
        await asyncio.to_thread(pg.remove)


class Reporter:
    """A terminal that keeps WINDOW reports in flight and sends a report again (same serial number) when it is
    answered with a failure, as terminals do."""

    def __init__(self, t: Terminal) -> None:
        self.t = t
        self.acked: set[int] = set()
        self.refusals = 0
        self.sent = 0

    async def run(self, stop: asyncio.Event) -> None:
        t = self.t
        in_flight: dict[int, int] = {}  # sn -> i
        resend: list[int] = []

        async def send(i: int) -> None:
            frame = t.frame(location(i % 1000), msg_sn=i)
            in_flight[i] = i
            t.writer.write(frame)

        nxt = 0
        while not (stop.is_set() and not in_flight and not resend):
            while len(in_flight) < WINDOW and (resend or not stop.is_set()):
                if resend:
                    await send(resend.pop())
                else:
                    await send(nxt)
                    nxt += 1
                    self.sent += 1
            await t.writer.drain()
            p = await t.recv(15)
            if p.header.msg_id != 0x8001 or p.body.seq not in in_flight:
                continue
            del in_flight[p.body.seq]
            if p.body.result == 0:
                self.acked.add(p.body.seq)
            else:
                self.refusals += 1
                resend.append(p.body.seq)
                await asyncio.sleep(0.02)  # terminals wait before sending again


async def test_postgres_stopped_and_started_under_load(tmp_path: Path, private_pg: PrivatePostgres,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="jt808.storage")
    cfg = make_config(tmp_path, storage={"db": private_pg.url, "batch_max_delay": 0.0})
    gw = Gateway(cfg)
    await gw.start()
    storage = gw.storage
    assert storage is not None
    health = storage.health
    health.retry_max = 0.5
    reporters = []
    try:
        for i in range(TERMINALS):
            t = await Terminal(phone=f"0138{i:08d}").connect(gw.tcp_port)
            await t.login()
            reporters.append(Reporter(t))
        # a terminal that reports once during the outage: the reporters may all be waiting for a write in doubt
        # (the connection died during its COMMIT: not answered until the server says), then only it sends
        probe = await Terminal(phone="013799999999").connect(gw.tcp_port)
        await probe.login()
        stop = asyncio.Event()
        tasks = [asyncio.create_task(r.run(stop)) for r in reporters]
        await asyncio.sleep(1.0)  # under load
        before = sum(len(r.acked) for r in reporters)
        assert before > 0
        await private_pg.astop("immediate")
        down_at = time.monotonic()
        await asyncio.wait_for(health.wait_state("failing"), 10)  # the next write finds out
        written_at_failure = gw.writer.rows_written
        sn = await probe.send(location(0))
        answer = await probe.recv(5)
        assert answer.header.msg_id == 0x8001 and (answer.body.seq, answer.body.result) == (sn, 1)  # refused at once
        await asyncio.sleep(OUTAGE)
        written_during = gw.writer.rows_written - written_at_failure
        assert "jt808_storage_up 0" in gw.metrics_text()
        assert health.snapshot()["state"] == "failing" and health.refused_rows > 0
        await private_pg.astart()
        up_at = time.monotonic()
        try:
            await asyncio.wait_for(health.wait_state("ok"), 10)
        except TimeoutError:
            raise AssertionError(f"not recovered: {health.snapshot()}") from None
        recovered_in = time.monotonic() - up_at
        await asyncio.sleep(1.0)  # load again after the restart
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        for r in reporters:
            await r.t.close()
        await probe.close()
    finally:
        await gw.stop()

    assert recovered_in < 2.0, recovered_in  # probes every ≤ 0.5 s here
    assert time.monotonic() - down_at > OUTAGE
    con = await asyncpg.connect(private_pg.url)
    try:
        rows = await con.fetch("SELECT phone, msg_sn, count(*) AS n FROM locations GROUP BY phone, msg_sn")
    finally:
        await con.close()
    stored = {(r["phone"], r["msg_sn"]): r["n"] for r in rows}
    twice = {k: n for k, n in stored.items() if n > 1}
    assert twice == {}, f"stored more than once: {list(twice.items())[:10]}"
    for r in reporters:
        mine = {sn for (phone, sn) in stored if phone == r.t.phone}
        assert r.acked == set(range(r.sent)), "every report was acknowledged in the end"
        assert mine == r.acked, r.t.phone  # acked = stored
    # the outage was felt: reports were refused (result 1): the probe's, and the reporters' unless all their reports
    # in flight were in the write in doubt
    assert health.refused_total > 0
    assert written_during == 0  # nothing written (so nothing acknowledged) while the database was down
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "jt808.storage"]
    assert sum("storage unavailable" in m for m in lines) == 1, lines
    assert sum("storage available again" in m for m in lines) == 1, lines
    assert health.outages == 1
    print(f"outage {OUTAGE:.0f} s: {before} acked before, {sum(len(r.acked) for r in reporters)} acked and stored "
          f"in all, {sum(r.refusals for r in reporters)} answers of result 1, {health.refused_total} rows refused, "
          f"writing again {recovered_in:.2f} s after the restart, 0 stored twice")
