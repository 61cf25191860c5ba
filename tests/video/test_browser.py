"""Real Chromium (Debian's, driven by Playwright) plays the live stream in the gateway's player page:
the video element's currentTime advances, the picture has the clip's size, no JavaScript error; with
HTTP-FLV and WebSocket-FLV. Closing the page makes the gateway close the stream (0x9102)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from jt808.node import Node
from jt808.simulator.camera import make_clip

from .test_live import _camera, _config

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("ws", [False, True], ids=["http-flv", "ws-flv"])
async def test_chromium_plays_the_live_stream(tmp_path: Path, ws: bool) -> None:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    from playwright.async_api import async_playwright

    gw = Node(_config(tmp_path, idle_timeout=5.0, grace=0.5))
    await gw.start()
    clip = make_clip(2.0, 25)
    t, cam = await _camera(gw, {"clip": clip, "loop": True})
    errors: list[str] = []
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--autoplay-policy=no-user-gesture-required", "--no-sandbox"])
            page = await browser.new_page()
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
            url = f"http://127.0.0.1:{gw.http_port}/player/{t.phone}/1"
            await page.goto(url + ("?ws=1" if ws else ""))
            await page.wait_for_function("document.getElementById('video').currentTime > 1.0", timeout=30_000)
            t1 = await page.evaluate("document.getElementById('video').currentTime")
            await asyncio.sleep(1.0)
            t2 = await page.evaluate("document.getElementById('video').currentTime")
            size = await page.evaluate("[document.getElementById('video').videoWidth,"
                                       " document.getElementById('video').videoHeight]")
            assert t2 > t1 + 0.5, (t1, t2)  # playing, in real time
            assert size == [clip.width, clip.height]
            assert await page.evaluate("document.getElementById('status').className") != "error"
            s = gw.video.hub.find(t.phone, 1)
            assert s is not None and [v.kind for v in s.viewers] == ["ws" if ws else "flv"]
            await browser.close()
        assert errors == []
        for _ in range(100):  # the page went away: after the grace period the camera is told to stop
            if cam.stops:
                break
            await asyncio.sleep(0.05)
        assert cam.stops == 1
    finally:
        await cam.aclose()
        await t.close()
        await gw.stop()


async def test_console_terminal_panel_plays_a_channel(tmp_path: Path) -> None:
    """The web console's terminal panel: the CH1 button opens a tile that plays the channel (mpegts.js from
    the console bundle); closing the tile lets the gateway stop the camera (0x9102)."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    from playwright.async_api import async_playwright

    from jt808.protocol.messages.location import LocationReport

    gw = Node(_config(tmp_path, idle_timeout=5.0, grace=0.5))
    await gw.start()
    clip = make_clip(2.0, 25)
    t, cam = await _camera(gw, {"clip": clip, "loop": True})
    await t.report_location(LocationReport(alarm=0, status=0x000C0003, latitude=31_230_000, longitude=121_470_000,
                                           altitude=10, speed=300, direction=90, time="240310120000"))
    errors: list[str] = []
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--autoplay-policy=no-user-gesture-required", "--no-sandbox"])
            page = await browser.new_page()
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
            await page.goto(f"http://127.0.0.1:{gw.http_port}/#/map/{t.phone}")
            await page.click("#video-ch-1", timeout=20_000)
            await page.wait_for_function("document.getElementById('video-1') && "
                                         "document.getElementById('video-1').currentTime > 1.0", timeout=30_000)
            size = await page.evaluate("[document.getElementById('video-1').videoWidth,"
                                       " document.getElementById('video-1').videoHeight]")
            assert size == [clip.width, clip.height]
            assert cam.requests == 1 and cam.stops == 0
            await page.click("#video-ch-1")  # closes the tile: the viewer leaves
            for _ in range(100):
                if cam.stops:
                    break
                await asyncio.sleep(0.05)
            assert cam.stops == 1
            await browser.close()
        assert errors == []
    finally:
        await cam.aclose()
        await t.close()
        await gw.stop()
