"""``jt808 serve`` as a separate process on free loopback ports (TCP, UDP and HTTP), for the dialect tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    """A port free for both TCP and UDP on loopback."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


class Served:
    def __init__(self, port: int, http_port: int, proc: subprocess.Popen[bytes]) -> None:
        self.port, self.http_port, self.proc = port, http_port, proc

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def metrics(self) -> str:
        return httpx.get(f"{self.api}/metrics", timeout=10).text

    def repairs(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for line in self.metrics().splitlines():
            if line.startswith("jt808_frame_repairs_total{"):
                kind = line.split('kind="', 1)[1].split('"', 1)[0]
                out[kind] = float(line.rsplit(" ", 1)[1])
        return out


@contextlib.contextmanager
def serve(tmp_path: Path, *extra: str) -> Iterator[Served]:
    port, http_port = free_port(), free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([sys.executable, "-m", "jt808.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--http-port", str(http_port), "--db", "memory", "--data-dir", str(tmp_path), *extra],
                            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"jt808 serve exited: {(tmp_path / 'serve.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("jt808 serve did not start")
            time.sleep(0.1)
        yield Served(port, http_port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
