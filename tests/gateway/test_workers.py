"""``jt808 serve --workers 2`` as a subprocess: two processes share the terminal port and the SQLite file,
the public API on worker 0 sees and commands terminals held by worker 1, a killed worker comes back,
SIGTERM flushes everything."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from jt808.config import Config, ConfigError
from jt808.protocol.messages.params import Param, ParametersReply

from .helpers import Terminal, location

pytestmark = pytest.mark.timeout(60)


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports() -> tuple[int, int]:
    """A terminal port and an HTTP port p with p+1, p+2 free too (the workers' internal ports)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            tcp = s.getsockname()[1]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            http = s.getsockname()[1]
        if http + 2 < 65536 and tcp not in (http, http + 1, http + 2) and _free(http + 1) and _free(http + 2):
            return tcp, http


def _worker_pids(parent: int) -> dict[int, int]:
    with open(f"/proc/{parent}/task/{parent}/children") as f:
        children = [int(c) for c in f.read().split()]
    out = {}
    for pid in children:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if b"--worker-index" in args:
            out[int(args[args.index(b"--worker-index") + 1])] = pid
    return out


async def _up(client: httpx.AsyncClient, port: int, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "jt808 serve --workers 2 exited"
        try:
            if (await client.get(f"http://127.0.0.1:{port}/healthz", timeout=1)).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"port {port} did not come up")


async def _online(client: httpx.AsyncClient, port: int) -> set[str]:
    r = await client.get(f"http://127.0.0.1:{port}/internal/v1/online")
    assert r.status_code == 200, r.text
    return set(r.json()["phones"])


def test_workers_setting_is_validated(tmp_path: Path) -> None:
    assert Config.load().server.workers == 1
    f = tmp_path / "gw.toml"
    f.write_text("[server]\nworkers = 3\n")
    assert Config.load(f).server.workers == 3
    assert Config.load(**{"server.workers": 2}).server.workers == 2
    with pytest.raises(ConfigError, match=r"server\.workers"):
        Config.load(**{"server.workers": 0})


async def test_two_workers_share_port_storage_and_api(tmp_path: Path) -> None:
    tcp, http = _ports()
    data = tmp_path / "d"
    env = {**os.environ, "JT808_STORAGE_BATCH_MAX_DELAY": "0.005", "JT808_LOG_LEVEL": "INFO"}
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "jt808.cli", "serve", "--workers", "2", "--data-dir", str(data),
                             "--host", "127.0.0.1", "--port", str(tcp), "--http-port", str(http)],
                            env=env, stderr=log, text=True)
    terms: list[Terminal] = []
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            for port in (http, http + 1, http + 2):
                await _up(client, port, proc)
            # terminals connect until both workers hold some
            held: tuple[set[str], set[str]] = (set(), set())
            for i in range(60):
                t = await Terminal(f"01390000{i:04d}").connect(tcp)
                await t.login()
                terms.append(t)
                held = (await _online(client, http + 1), await _online(client, http + 2))
                if held[0] and held[1] and len(terms) >= 4:
                    break
            assert held[0] and held[1], "SO_REUSEPORT gave every connection to one worker"
            assert held[0] | held[1] == {t.phone for t in terms} and not held[0] & held[1]
            # every terminal reports; acks come after the durable commit
            for t in terms:
                ack = await t.request(location(1))
                assert (ack.header.msg_id, ack.body.id, ack.body.result) == (0x8001, 0x0200, 0)
            # the public API (worker 0) lists them all online and shows the stored locations of both
            r = await client.get(f"http://127.0.0.1:{http}/api/v1/terminals")
            listed = {x["phone"]: x["online"] for x in r.json()["terminals"]}
            assert listed == {t.phone: True for t in terms}
            # /healthz and /metrics of worker 0 count the whole cluster (prometheus_client multiprocess files)
            deadline = time.monotonic() + 10
            while True:
                health = (await client.get(f"http://127.0.0.1:{http}/healthz")).json()
                if health["online_terminals"] == len(terms) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert (health["online_terminals"], health["connections"], health["workers"]) == (len(terms),
                                                                                             len(terms), 2)
            text = (await client.get(f"http://127.0.0.1:{http}/metrics")).text
            assert f"jt808_online_terminals {float(len(terms))}" in text, text
            auth_ok = next(float(line.split()[-1]) for line in text.splitlines()
                           if line.startswith('jt808_authentications_total{result="ok"}'))
            assert auth_ok >= len(terms)  # counters summed over both workers
            for phone in (min(held[0]), min(held[1])):
                r = await client.get(f"http://127.0.0.1:{http}/api/v1/terminals/{phone}")
                assert r.status_code == 200 and r.json()["online"] is True
                r = await client.get(f"http://127.0.0.1:{http}/api/v1/terminals/{phone}/locations")
                assert r.json()["count"] == 1, r.text
            # a command to a terminal of worker 1, through worker 0's public port
            t1 = next(t for t in terms if t.phone in held[1])

            async def terminal_side() -> None:
                cmd = await t1.recv()
                assert cmd.header.msg_id == 0x8104
                await t1.send(ParametersReply(seq=cmd.header.msg_sn, params=[Param(0x0001, 30)]))
                await t1.recv()  # the platform's 0x8001

            task = asyncio.create_task(terminal_side())
            r = await client.post(f"http://127.0.0.1:{http}/api/v1/terminals/{t1.phone}/commands",
                                  json={"header": {"msg_id": 0x8104}, "body": {}})
            await task
            assert r.status_code == 200, r.text
            assert r.json()["reply"]["header"]["msg_id"] == 0x0104
            # no reply from a sibling's terminal: 504; nobody holds it: 404
            r = await client.post(f"http://127.0.0.1:{http}/api/v1/terminals/{t1.phone}/commands?timeout=0.5",
                                  json={"header": {"msg_id": 0x8104}, "body": {}})
            assert r.status_code == 504 and r.json()["error"] == "reply_timeout", r.text
            await t1.recv()  # the unanswered 0x8104
            r = await client.post(f"http://127.0.0.1:{http}/api/v1/terminals/013999999999/commands",
                                  json={"header": {"msg_id": 0x8104}, "body": {}})
            assert r.status_code == 404 and r.json()["error"] == "terminal_offline", r.text
            # a killed worker is restarted; its terminals are offline meanwhile
            pids = _worker_pids(proc.pid)
            assert set(pids) == {0, 1}
            os.kill(pids[1], signal.SIGKILL)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                new = _worker_pids(proc.pid).get(1)
                if new is not None and new != pids[1]:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("worker 1 was not restarted")
            await _up(client, http + 2, proc)
            r = await client.get(f"http://127.0.0.1:{http}/api/v1/terminals")
            listed = {x["phone"]: x["online"] for x in r.json()["terminals"]}
            assert listed == {t.phone: t.phone in held[0] for t in terms}
            # the restarted worker takes new terminals again
            late = []
            for i in range(60):
                t = await Terminal(f"01391000{i:04d}").connect(tcp)
                await t.login()
                late.append(t)
                terms.append(t)
                if await _online(client, http + 2):
                    break
            assert await _online(client, http + 2)
            for t in late:
                ack = await t.request(location(2))
                assert ack.body.result == 0
        # SIGTERM stops everything cleanly with every row flushed
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
        for t in terms:
            await t.close()
        db = sqlite3.connect(data / "jt808.db")
        try:
            count = db.execute("SELECT count(*) FROM locations").fetchone()[0]
        finally:
            db.close()
        assert count == len(terms)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        if proc.returncode not in (0, None):
            print((tmp_path / "serve.log").read_text()[-4000:])


def test_exits_non_zero_when_a_worker_cannot_start(tmp_path: Path) -> None:
    tcp, http = _ports()
    with socket.socket() as blocker:  # worker 0's internal HTTP port is taken
        blocker.bind(("127.0.0.1", http + 1))
        blocker.listen()
        p = subprocess.run([sys.executable, "-m", "jt808.cli", "serve", "--workers", "2", "--data-dir",
                            str(tmp_path / "d"), "--host", "127.0.0.1", "--port", str(tcp), "--http-port", str(http)],
                           capture_output=True, text=True, timeout=50)
    assert p.returncode != 0
    assert "before it was ready" in p.stderr or "did not open port" in p.stderr, p.stderr[-2000:]


async def test_workers_start_on_a_fresh_sqlite_data_dir_every_time(tmp_path: Path) -> None:
    """The schema is created once by the supervisor before the workers open the file ('database is
    locked' while two workers created it made 3 starts in 6 fail)."""
    for attempt in range(4):
        tcp, http = _ports()
        log = (tmp_path / f"serve{attempt}.log").open("w")
        proc = subprocess.Popen([sys.executable, "-m", "jt808.cli", "serve", "--workers", "2", "--data-dir",
                                 str(tmp_path / f"fresh{attempt}"), "--host", "127.0.0.1", "--port", str(tcp),
                                 "--http-port", str(http)], stderr=log, text=True)
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                for port in (http, http + 1, http + 2):
                    await _up(client, port, proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
            log.close()
        text = (tmp_path / f"serve{attempt}.log").read_text()
        assert "database is locked" not in text and "Traceback" not in text, text
