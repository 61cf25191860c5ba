"""Fixtures: a gateway on loopback ports chosen by the OS, and a TCP test terminal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jt808.gateway import Gateway

from .helpers import Terminal, make_config


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    gw = Gateway(make_config(tmp_path))
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@pytest.fixture
async def terminal(gateway: Gateway) -> AsyncIterator[Terminal]:
    t = await Terminal().connect(gateway.tcp_port)
    try:
        yield t
    finally:
        await t.close()
