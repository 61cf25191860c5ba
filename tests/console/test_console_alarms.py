"""The alarms page: an alarm bit set in a terminal's 0x0200 appears live (list and menu badge) and is
acknowledged from the page, which sends the terminal 0x8203."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_harness import Browser, ConsoleEnv, Vehicle

PHONE = "013800138111"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleEnv]:
    e = ConsoleEnv(Path(tmp_path_factory.mktemp("alarms"))).start()
    try:
        yield e
    finally:
        e.stop()


def test_alarm_appears_live_and_is_acknowledged(env: ConsoleEnv, playwright_sync: Any) -> None:
    b = Browser(playwright_sync, env.url)
    v = Vehicle(env, PHONE, "粤B54321").start()
    try:
        v.report(22.60, 114.10, speed=20)
        page = b.page
        page.goto(f"{env.url}#/map")
        page.wait_for_selector("#live-state.on", timeout=10_000)
        v.report(22.601, 114.101, speed=25, alarm=0b1)  # bit 0: emergency alarm (SOS)
        page.wait_for_selector("#alarm-badge", timeout=15_000)  # pushed live, counted on the menu
        page.click("#nav-alarms")
        row = page.wait_for_selector(f"#alarm-table tr:has-text('{PHONE}')", timeout=15_000)
        assert page.query_selector("#alarm-badge") is None  # seen
        text = row.inner_text()
        assert "standard" in text.lower() and "紧急报警" in text  # kind and the alarm bit's name
        b.shot("alarms")
        row.query_selector("button.ack").click()
        page.wait_for_selector(f"#alarm-table tr:has-text('{PHONE}') >> text=acknowledged", timeout=15_000)
        assert any(p.header.msg_id == 0x8203 for p in v.received)  # the terminal was told
        alarm_id = int(row.get_attribute("data-alarm"))
        listed = b.context.request.get(f"{env.url}api/v1/alarms?phone={PHONE}").json()["items"]
        assert next(a for a in listed if a["id"] == alarm_id)["acknowledged_at"]
        page.select_option("#alarm-ack-filter", "false")
        page.click("text=Apply")
        page.wait_for_function(f"!document.querySelector('#alarm-table') || "
                               f"!document.querySelector('#alarm-table').textContent.includes('{PHONE}')")
        assert [e for e in b.errors if "net::ERR_ABORTED" not in e] == []
        assert b.foreign_requests() == []
    finally:
        v.close()
        b.close()
