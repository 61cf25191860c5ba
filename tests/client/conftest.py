"""A real ``jt808`` platform gateway for the client tests: in-process, on its own event loop thread,
on a free loopback port, with a temporary data directory (SQLite storage, HTTP off)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jt808.config import Config
from jt808.gateway.server import Gateway
from jt808.protocol.registry import DEFAULT_PROFILE, Profile


class Recorder:
    """A gateway listener that keeps every uplink (the decoded packets, as the gateway saw them)."""

    def __init__(self) -> None:
        self.uplinks: list[tuple[str, Any]] = []
        self.connected: list[str] = []
        self.disconnected: list[tuple[str, str]] = []

    def on_connected(self, phone: str, info: dict[str, Any]) -> None:
        self.connected.append(phone)

    def on_disconnected(self, phone: str, reason: str) -> None:
        self.disconnected.append((phone, reason))

    def on_uplink(self, phone: str, packet: Any) -> None:
        self.uplinks.append((phone, packet))

    def of(self, msg_id: int) -> list[Any]:
        return [p for _, p in self.uplinks if p.header.msg_id == msg_id]

    def last(self, msg_id: int) -> Any:
        found = self.of(msg_id)
        assert found, f"the gateway received no 0x{msg_id:04X}"
        return found[-1]


class GatewayThread:
    """``jt808 serve`` in a thread. :meth:`call` runs a coroutine on the gateway's loop."""

    def __init__(self, data_dir: Path, *, port: int = 0, profile: Profile = DEFAULT_PROFILE,
                 **config: Any) -> None:
        self.data_dir = data_dir
        self.port = port
        self.profile = profile
        self.config = config
        self.loop: asyncio.AbstractEventLoop | None = None
        self.gw: Gateway | None = None
        self.recorder = Recorder()
        self._thread: threading.Thread | None = None

    def start(self) -> GatewayThread:
        cfg = Config()
        cfg.data_dir = self.data_dir
        cfg.server.host = "127.0.0.1"
        cfg.server.port = self.port
        cfg.http.enabled = False
        for key, value in self.config.items():
            section, _, name = key.partition("__")
            setattr(getattr(cfg, section), name, value)
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(ready.set)
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name="gateway", daemon=True)
        self._thread.start()
        ready.wait()
        self.gw = Gateway(cfg, profile=self.profile)
        self.call(self.gw.start())
        self.gw.add_listener(self.recorder)
        self.port = self.gw.tcp_port
        return self

    def call(self, coro: Any, timeout: float = 30) -> Any:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def acall(self, coro: Any) -> Any:
        """From another event loop (async tests)."""
        assert self.loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def send(self, phone: str, body: Any, **kw: Any) -> Any:
        assert self.gw is not None
        return self.call(self.gw.send(phone, body, **kw))

    def stop(self) -> None:
        if self.gw is not None and self.loop is not None:
            self.call(self.gw.stop())
            self.loop.call_soon_threadsafe(self.loop.stop)
            assert self._thread is not None
            self._thread.join(10)
            self.loop.close()
        self.gw = None
        self.loop = None


@pytest.fixture
def make_gateway(tmp_path: Path) -> Iterator[Any]:
    """``make_gateway(name="gw2", port=0, profile=…, section__option=value)`` starts another gateway;
    all are stopped at the end of the test."""
    made: list[GatewayThread] = []

    def make(name: str = "gw", **kw: Any) -> GatewayThread:
        gw = GatewayThread(tmp_path / name, **kw).start()
        made.append(gw)
        return gw

    yield make
    for gw in made:
        gw.stop()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayThread]:
    gw = GatewayThread(tmp_path / "gw").start()
    try:
        yield gw
    finally:
        gw.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """``jt808 serve`` as a subprocess on free loopback ports with a temporary data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.http_port = free_port()
        self.log = data_dir / "serve.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "jt808.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--http-port", str(self.http_port), "--data-dir", str(data_dir), "--log-level", "warning"]
        self._log = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=dict(os.environ))
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jt808 serve exited: {self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("jt808 serve did not start listening within 20 s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path / "serve")
    try:
        yield proc
    finally:
        proc.stop()
