"""``jt808 simulate --profile dashcam --live N``: the virtual terminals answer 0x9101 by streaming and
the platform holds N streams live for the run (then stops them with 0x9102)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from jt808.node import Node

from .test_live import _config

pytestmark = pytest.mark.timeout(90)


async def test_simulate_dashcam_keeps_streams_live(tmp_path: Path) -> None:
    gw = Node(_config(tmp_path, idle_timeout=3.0))
    await gw.start()
    out = tmp_path / "summary.json"
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jt808.cli", "simulate", "--server", f"127.0.0.1:{gw.tcp_port}", "-n", "3",
            "--rate", "1", "--duration", "3", "--profile", "dashcam", "--live", "2", "--clip", "2,10,160x120,0",
            "--api", f"http://127.0.0.1:{gw.http_port}", "--phone-base", "13600000000", "--quiet",
            "--json", str(out), env={**os.environ}, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        peak = 0
        while proc.returncode is None:
            peak = max(peak, gw.video.stats()["live"])
            try:
                await asyncio.wait_for(proc.wait(), 0.1)
            except TimeoutError:
                pass
        err = (await proc.stderr.read()).decode()
        assert proc.returncode == 0, err
        summary = json.loads(out.read_text())
        assert summary["camera_streams"] == 2 and summary["errors"] == 0
        assert peak == 2
        assert gw.video.stats()["live"] == 0  # stopped (0x9102) when the run ended
        frames = gw.video.stats()["media"]["frames"]
        assert frames > 2 * 2 * 10  # two streams for ~3 s at 10 fps (+ audio)
    finally:
        await gw.stop()
