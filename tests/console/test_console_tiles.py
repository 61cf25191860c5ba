"""A configured tile server: the map asks it (and only it besides the gateway) for tiles, and with
``tile_coords = "gcj02"`` (Chinese providers) terminals are drawn at their GCJ-02 position."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_harness import Browser, ConsoleEnv, Vehicle

from jt808.console import STATIC_DIR


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleEnv]:
    # the gateway's own favicon stands in for the provider's tiles (no network here): any image will do
    favicon = next((STATIC_DIR / "assets").glob("favicon-*.svg")).name
    e = ConsoleEnv(Path(tmp_path_factory.mktemp("tiles")), tile_coords="gcj02", tile_attribution="test tiles",
                   tile_url=f"/assets/{favicon}?z={{z}}&x={{x}}&y={{y}}")
    e.start()
    try:
        yield e
    finally:
        e.stop()


def test_gcj02_tiles_shift_positions(env: ConsoleEnv, playwright_sync: Any) -> None:
    b = Browser(playwright_sync, env.url)
    v = Vehicle(env, "013800138222", "粤B00222").start()
    try:
        v.report(22.5431, 114.0579, speed=30, direction=90)
        page = b.page
        page.goto(f"{env.url}#/map")
        page.wait_for_function("window.jt808Console?.marker?.('013800138222') != null",
                               timeout=15_000)
        page.wait_for_selector(".leaflet-tile-loaded")
        assert "test tiles" in page.inner_text(".leaflet-control-attribution")
        m = page.evaluate("window.jt808Console.marker('013800138222')")
        # Shenzhen: GCJ-02 is about 0.0030° south and 0.0049° east of WGS-84 (gcoord's transform)
        assert m["mapLng"] - m["lng"] == pytest.approx(0.0049, abs=0.0005)
        assert m["mapLat"] - m["lat"] == pytest.approx(-0.0030, abs=0.0005)
        assert b.foreign_requests() == []
        assert [e for e in b.errors if "net::ERR_ABORTED" not in e] == []
    finally:
        v.close()
        b.close()
