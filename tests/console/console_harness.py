"""Helpers of the console tests: ``jt808 serve`` (its real composition, :func:`jt808.commands.serve.run`) on
an event loop thread with free ports, terminals driven through the SDK on the same loop, and a real
Chromium (Debian's, through Playwright) that records every request and every JavaScript error."""

from __future__ import annotations

import asyncio
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jt808.client import AsyncTerminal
from jt808.config import Config
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.tracking import LocationQueryReply
from jt808.protocol.packet import Packet

CHROMIUM = os.environ.get("JT808_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("JT808_SCREENSHOTS", Path(__file__).resolve().parents[2] / "screenshots"))


def bcd_time(dt: datetime) -> str:
    """Device time (GMT+8, the profile's default) as the 0x0200 BCD string."""
    return (dt.astimezone(UTC) + timedelta(hours=8)).strftime("%y%m%d%H%M%S")


def local_input(dt: datetime) -> str:
    """A ``datetime-local`` input's value in the browser's zone (the tests run it in Asia/Shanghai)."""
    return (dt.astimezone(UTC) + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")


def report(lat: float, lng: float, *, when: datetime | None = None, speed: float = 0, direction: int = 0,
           alarm: int = 0, extras: list[tuple[int, Any]] | None = None) -> LocationReport:
    return LocationReport(alarm=alarm, status=0b11, latitude=round(lat * 1e6), longitude=round(lng * 1e6),
                          altitude=20, speed=round(speed * 10), direction=direction,
                          time=bcd_time(when or datetime.now(UTC)), extras=extras or [(0x01, 1234), (0x30, 25)])


class Vehicle:
    """An SDK terminal that answers 0x8201 with 0x0201 at its current position and remembers what
    the platform sent it."""

    def __init__(self, env: ConsoleEnv, phone: str, plate: str) -> None:
        self.env = env
        self.phone = phone
        self.plate = plate
        self.position = (22.5431, 114.0579)
        self.received: list[Packet] = []
        self.t: AsyncTerminal | None = None

    async def _on_message(self, packet: Packet) -> None:
        assert self.t is not None
        self.received.append(packet)
        if packet.header.msg_id == 0x8201:
            await self.t.send(LocationQueryReply(seq=packet.header.msg_sn, location=report(*self.position)))
        else:
            await self.t.answer(packet)

    async def _start(self) -> None:
        self.t = AsyncTerminal("127.0.0.1", self.env.gw.tcp_port, self.phone, on_message=self._on_message,
                               heartbeat_interval=30, reconnect=False)
        await self.t.connect()
        reg = await self.t.register(province=44, city=300, manufacturer="QUEC", model="EC200U", dev_id="T0001",
                                    color=1, license_number=self.plate)
        await self.t.authenticate(reg.auth_code)

    def start(self) -> Vehicle:
        self.env.call(self._start())
        return self

    def report(self, lat: float, lng: float, **kw: Any) -> None:
        if kw.get("when") is None:
            self.position = (lat, lng)
        self.env.call(self.t.report_location(report(lat, lng, **kw)))

    def request(self, body: Any) -> Any:
        return self.env.call(self.t.request(body))

    def close(self) -> None:
        if self.t is not None:
            self.env.call(self.t.close())


class ConsoleEnv:
    def __init__(self, data_dir: Path, token: str = "", **http: Any) -> None:
        self.data_dir = data_dir
        self.token = token
        self.http = http  # other [http] settings (tile_url …)
        self.loop = asyncio.new_event_loop()
        self.gw: Any = None
        self.node: Any = None
        self.thread = threading.Thread(target=self.loop.run_forever, name="console-gateway", daemon=True)

    def call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> ConsoleEnv:
        from jt808.node import Node

        self.thread.start()
        cfg = Config()
        cfg.data_dir = self.data_dir
        cfg.server.host = "127.0.0.1"
        cfg.server.port = 0
        cfg.server.udp = False
        cfg.http.host = "127.0.0.1"
        cfg.http.port = 0
        cfg.http.token = self.token
        for name, value in self.http.items():
            setattr(cfg.http, name, value)
        self.node = Node(cfg)  # what `jt808 serve` runs
        self.call(self.node.start())
        self.gw = self.node.gateway
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.node.http_port}/"

    @property
    def hub(self) -> Any:
        return self.node.http.app.state.console_hub

    def stop(self) -> None:
        self.call(self.node.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class Browser:
    """One Chromium page; ``problems()`` lists JavaScript errors and requests to other hosts."""

    def __init__(self, pw: Any, base: str) -> None:
        self.base = base
        self.browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        self.context = self.browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True,
                                                   timezone_id="Asia/Shanghai", locale="zh-CN")
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}")
                     if m.type == "error" else None)
        self.context.on("request", lambda r: self.requests.append(r.url))

    def foreign_requests(self) -> list[str]:
        here = urlsplit(self.base).netloc
        return [u for u in self.requests if not u.startswith(("data:", "blob:")) and urlsplit(u).netloc != here]

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def close(self) -> None:
        self.browser.close()
