"""Fixtures of the console tests (helpers in :mod:`console_harness`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_harness import CHROMIUM, Browser, ConsoleEnv
from playwright.sync_api import sync_playwright


@pytest.fixture(scope="module")  # ended with the module: its event loop must not outlive the browser tests
def playwright_sync() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleEnv]:
    e = ConsoleEnv(tmp_path_factory.mktemp("console")).start()
    try:
        yield e
    finally:
        e.stop()


@pytest.fixture(scope="module")
def browser(playwright_sync: Any, env: ConsoleEnv) -> Iterator[Browser]:
    b = Browser(playwright_sync, env.url)
    try:
        yield b
    finally:
        b.close()
