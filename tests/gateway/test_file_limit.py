"""`jt808 serve` under a low file limit: connections past what the limit allows are closed at once, said in ONE
log line with the count, counted in /metrics, and the gateway keeps serving the terminals it holds and takes
new ones again once some have gone."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from .helpers import Terminal

LIMIT = 200  # RLIMIT_NOFILE of the gateway process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _low_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


async def _metric(c: httpx.AsyncClient, port: int, line_start: str) -> float:
    text = (await c.get(f"http://127.0.0.1:{port}/metrics")).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start))


async def test_file_limit_said_once_counted_and_survived(tmp_path: Path) -> None:
    tcp, http = _free_port(), _free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jt808.cli", "serve", "--data-dir", str(tmp_path / "d"), "--host", "127.0.0.1",
             "--port", str(tcp), "--http-port", str(http), "--no-udp"],
            stderr=log, text=True, preexec_fn=_low_limit, env=os.environ.copy())
    socks: list[socket.socket] = []
    try:
        async with httpx.AsyncClient() as c:
            for _ in range(300):
                assert proc.poll() is None, log_path.read_text()[-3000:]
                try:
                    if (await c.get(f"http://127.0.0.1:{http}/healthz", timeout=1)).status_code in (200, 503):
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            capacity = await _metric(c, http, "jt808_tcp_capacity")
            assert 50 < capacity < LIMIT - 64, capacity
            held = await Terminal("013700000001").connect(tcp)
            await held.login()
            loop = asyncio.get_running_loop()
            for _ in range(int(capacity) + 40):  # 40 past the limit
                s = socket.socket()
                s.setblocking(False)
                await loop.sock_connect(s, ("127.0.0.1", tcp))
                socks.append(s)
            refused = 0.0
            for _ in range(100):  # the gateway closes the ones past its budget as it accepts them
                refused = await _metric(c, http, 'jt808_connections_refused_total{reason="file_limit"}')
                if refused >= 40:
                    break
                await asyncio.sleep(0.05)
            assert refused >= 40
            assert (await held.heartbeat()).header.msg_id == 0x8001  # the terminal held is still served
            for s in socks[:100]:
                s.close()
            del socks[:100]
            for _ in range(100):
                if "below the file limit again" in log_path.read_text():
                    break
                await asyncio.sleep(0.05)
            late = await Terminal("013700000002").connect(tcp)
            await late.login()  # served again
            await late.close()
            await held.close()
    finally:
        for s in socks:
            s.close()
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
    text = log_path.read_text()
    lines = [line for line in text.splitlines() if "file limit reached" in line]
    assert len(lines) == 1, lines
    assert f"the process may open {LIMIT} files" in lines[0]
    assert "below the file limit again" in text
