"""The web console in a real Chromium against a real gateway: ``jt808 simulate`` and SDK terminals feed
it; every page is exercised the way an operator uses it and photographed (``screenshots/``, not
committed). After each test: no request left for another host, no JavaScript error was logged."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from console_harness import Browser, ConsoleEnv, Vehicle, local_input, report

from jt808.protocol.header import Header
from jt808.protocol.messages.media import LocationBasic, MediaData
from jt808.protocol.packet import Packet, encode

PHONE = "013800138000"
PLATE = "粤B12345"
SIM_BASE = 13911110000
SIM_N = 12


@pytest.fixture(scope="module")
def simulated(env: ConsoleEnv) -> Iterator[subprocess.Popen[bytes]]:
    """``jt808 simulate`` feeding SIM_N terminals for the whole module."""
    proc = subprocess.Popen([sys.executable, "-m", "jt808.cli", "simulate", "--server", f"127.0.0.1:{env.gw.tcp_port}",
                             "-n", str(SIM_N), "--rate", "1", "--duration", "600", "--quiet", "--phone-base",
                             str(SIM_BASE), "--heartbeat", "20"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def vehicle(env: ConsoleEnv) -> Iterator[Vehicle]:
    v = Vehicle(env, PHONE, PLATE).start()
    v.report(22.5431, 114.0579, speed=36, direction=90)
    try:
        yield v
    finally:
        v.close()


@pytest.fixture(autouse=True)
def clean_page(browser: Browser) -> Iterator[None]:
    browser.errors.clear()
    yield
    assert browser.foreign_requests() == [], "the console asked another host"
    # a request cut short by the next page.goto is not the console's error
    errors = [e for e in browser.errors if "net::ERR_ABORTED" not in e]
    assert errors == [], f"the console logged JavaScript errors: {errors}"


def goto(b: Browser, route: str) -> Any:
    page = b.page
    page.goto(f"{b.base}#/{route}")
    page.wait_for_selector(".shell")
    return page


def test_live_map_shows_terminals_and_moves_a_marker(env: ConsoleEnv, browser: Browser, simulated: Any,
                                                      vehicle: Vehicle) -> None:
    page = goto(browser, "map")
    # the simulated fleet and the SDK vehicle are online and on the map
    page.wait_for_function(f"document.querySelector('#fleet-counts')?.textContent?.includes('{SIM_N + 1} online')",
                           timeout=20_000)
    page.wait_for_function("window.jt808Console?.layer?.drawn.length > 0")
    # search by plate, open the details
    page.fill("#map-search", "粤B123")
    page.click(".results li")
    page.wait_for_selector("#terminal-details")
    assert PLATE in page.inner_text("#terminal-details")
    page.wait_for_function(f"window.jt808Console?.marker?.('{PHONE}') != null")
    before = page.evaluate(f"window.jt808Console.marker('{PHONE}')")
    assert before["lat"] == pytest.approx(22.5431)
    # a new report moves the marker (pushed over SSE, no reload)
    vehicle.report(22.5461, 114.0609, speed=42, direction=45)
    page.wait_for_function(f"(window.jt808Console?.marker?.('{PHONE}') || {{}}).lat > 22.546", timeout=10_000)
    after = page.evaluate(f"window.jt808Console.marker('{PHONE}')")
    assert (after["x"], after["y"]) != (before["x"], before["y"])
    assert "22.546100, 114.060900" in page.inner_text("#detail-position")
    details = page.inner_text("#terminal-details")
    assert "mileage" in details and "EC200U" in details  # last report's items, registration data
    # a click on the marker itself opens the panel
    page.click("#terminal-details button[title=Close]")
    page.wait_for_selector("#terminal-details", state="detached")
    box = page.locator("#live-map").bounding_box()
    page.mouse.click(box["x"] + after["x"], box["y"] + after["y"])
    page.wait_for_selector("#terminal-details")
    assert PLATE in page.inner_text("#terminal-details")
    browser.shot("live-map")


def test_playback_draws_a_stored_track(env: ConsoleEnv, browser: Browser, vehicle: Vehicle) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    track = []
    for i in range(30):  # 10 min driving, 12 min standing, 8 min driving
        if i < 10:
            lat, lng, speed = 22.50 + i * 0.002, 113.90 + i * 0.001, 40
        elif i < 22:
            lat, lng, speed = 22.518, 113.909, 0
        else:
            lat, lng, speed = 22.518 + (i - 21) * 0.002, 113.909 - (i - 21) * 0.001, 35
        track.append((lat, lng, speed))
        vehicle.report(lat, lng, speed=speed, direction=30, when=start + timedelta(minutes=i))
    page = goto(browser, f"playback/{PHONE}")
    page.fill("input[type=datetime-local] >> nth=0", local_input(start - timedelta(minutes=1)))
    page.fill("input[type=datetime-local] >> nth=1", local_input(start + timedelta(minutes=31)))
    page.fill("input[type=number]", "10")
    page.click("#playback-load")
    page.wait_for_function("document.querySelector('#playback-points')?.textContent === '30'", timeout=15_000)
    assert page.inner_text("#playback-stops") == "1"
    km = float(page.inner_text("#playback-distance").split()[0])
    assert 4 < km < 6
    path = page.get_attribute("path.track-line", "d")
    assert path and path.count("L") >= 20  # the polyline through the stored points
    page.click("#play")
    page.wait_for_timeout(400)
    page.click("#play")
    with page.expect_download() as dl:
        page.click("#export-gpx")
    gpx = dl.value.path().read_text()
    assert gpx.count("<trkpt") == 30
    with page.expect_download() as dl:
        page.click("#export-csv")
    assert len(dl.value.path().read_text().strip().splitlines()) == 31
    browser.shot("playback")


def test_position_query_from_the_commands_page(env: ConsoleEnv, browser: Browser, vehicle: Vehicle) -> None:
    page = goto(browser, f"commands/{PHONE}")
    page.wait_for_selector("#command-message option", state="attached")
    assert page.eval_on_selector("#command-message", "e => e.value") == str(0x8201)
    page.click("#command-send")
    page.wait_for_selector("#command-result .json", timeout=20_000)
    result = page.inner_text("#command-result")
    assert "0x0201" in result and '"latitude"' in result
    # a form generated from the declaration: temporary tracking (0x8202) has its two fields
    page.select_option("#command-message", str(0x8202))
    page.wait_for_selector("input[name=period]")
    page.fill("input[name=period]", "5")
    page.fill("input[name=expiry]", "60")
    page.click("#command-send")
    page.wait_for_function("document.querySelector('#command-result')?.textContent.includes('0x0001')",
                           timeout=20_000)
    sent = [p for p in vehicle.received if p.header.msg_id == 0x8202]
    assert sent and (sent[-1].body.period, sent[-1].body.expiry) == (5, 60)
    browser.shot("commands")
    # the error of a terminal that is not connected, said plainly
    page.fill("#command-terminal", "013999999999")
    page.press("#command-terminal", "Enter")
    page.click("#command-send")
    page.wait_for_selector(".error-box:has-text('terminal_offline')", timeout=10_000)
    assert "404" in page.inner_text(".error-box")
    assert len(browser.errors) == 1 and "404" in browser.errors[0]  # the browser's line for that answer
    browser.errors.clear()


def test_raw_frames_and_the_analyzer(env: ConsoleEnv, browser: Browser, vehicle: Vehicle) -> None:
    page = goto(browser, f"frames/{PHONE}")
    page.wait_for_timeout(300)  # the page's stream is open
    vehicle.report(22.5501, 114.0701, speed=12, direction=180)
    page.wait_for_function("[...document.querySelectorAll('.frame-row')].some(r => r.textContent.includes('0x0200'))",
                           timeout=10_000)
    page.locator(".frame-row", has_text="0x0200").first.click()
    detail = page.inner_text("#frame-detail")
    assert "7e 02 00" in detail and '"latitude": 22550100' in detail
    pasted = encode(Packet(Header(0x0200, "013912345678", 77), report(31.2, 121.5, speed=60,
                                                                      when=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))))
    page.fill("#decode-input", " ".join(f"{b:02X}" for b in pasted))
    page.click("#decode-run")
    page.wait_for_selector("#decode-output .json")
    out = page.inner_text("#decode-output")
    assert '"msg_id": 512' in out and '"phone": "013912345678"' in out and '"latitude": 31200000' in out
    browser.shot("raw-frames")


def test_uploaded_photo_is_shown(env: ConsoleEnv, browser: Browser, vehicle: Vehicle) -> None:
    page = goto(browser, "dashboard")
    page.wait_for_selector("#dashboard")
    jpeg = page.screenshot(type="jpeg", quality=70, clip={"x": 0, "y": 0, "width": 320, "height": 240})
    basic = report(*vehicle.position)
    where = LocationBasic(alarm=0, status=basic.status, latitude=basic.latitude, longitude=basic.longitude,
                          altitude=basic.altitude, speed=basic.speed, direction=basic.direction, time=basic.time)
    vehicle.request(MediaData(id=7, type=0, format=0, event=0, channel=1, location=where, multimedia=jpeg))
    page = goto(browser, f"media/{PHONE}")
    img = page.wait_for_selector("#media-grid img", timeout=10_000)
    page.wait_for_function("[...document.querySelectorAll('#media-grid img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    assert page.evaluate("document.querySelector('#media-grid img').naturalWidth") == 320
    img.click()
    page.wait_for_selector(".lightbox img")
    browser.shot("media")


def test_dashboard_figures(env: ConsoleEnv, browser: Browser, simulated: Any, vehicle: Vehicle) -> None:
    page = goto(browser, "dashboard")
    page.wait_for_function(f"parseInt(document.querySelector('#stat-online .stat-value')?.textContent) >= {SIM_N + 1}",
                           timeout=15_000)
    page.wait_for_function("parseFloat(document.querySelector('#stat-rate .stat-value')?.textContent) > 0",
                           timeout=15_000)
    assert "SQLite" in page.inner_text("#storage-card")
    assert "not configured" in page.inner_text("#mqtt-card")
    browser.shot("dashboard")


def test_api_endpoints_behind_the_pages(env: ConsoleEnv, browser: Browser, vehicle: Vehicle) -> None:
    req = browser.context.request
    schemas = req.get(f"{env.url}api/v1/messages?direction=down").json()["items"]
    by_id = {s["msg_id"]: s for s in schemas}
    fields = {f["key"]: f for f in by_id[0x8202]["versions"]["2013"]["fields"]}
    assert fields["period"] == {"key": "period", "wire": "WORD", "type": "integer", "minimum": 0, "maximum": 65535,
                                **({"doc": fields["period"]["doc"]} if "doc" in fields["period"] else {})}
    assert all(s["direction"] == "down" for s in schemas)
    bad = req.post(f"{env.url}api/v1/decode", data=json.dumps({"hex": "7e0200zz7e"}),
                   headers={"Content-Type": "application/json"}).json()
    assert "not hex" in bad["frames"][0]["error"]
    asset = req.get(env.url + "assets/" + env.url.split("/")[-1] + "nope.js")
    assert asset.status == 404
    index = req.get(env.url)
    assert index.headers["cache-control"] == "no-cache"
    script = index.text().split('src="')[1].split('"')[0]
    assert req.get(env.url.rstrip("/") + script).headers["cache-control"].endswith("immutable")
    b64 = base64.b64encode(b"x").decode()
    assert req.get(f"{env.url}api/v1/media/{PHONE}/..%2F..%2Fetc/{b64}").status == 404
