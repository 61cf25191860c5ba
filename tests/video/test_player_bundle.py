"""The mpegts.js committed in ``src/jt808/video/static`` (what ``pip install`` ships for the player page)
is the one ``player/``'s lockfile pins: installed with ``npm ci`` when needed and compared byte for byte."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAYER = ROOT / "player"


def test_committed_mpegts_is_the_locked_package() -> None:
    npm, node = shutil.which("npm"), shutil.which("node")
    if not (npm and node):
        pytest.fail("node and npm are needed to check the player's mpegts.js (apt-get install nodejs npm)")
    if not (PLAYER / "node_modules" / ".package-lock.json").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PLAYER, check=True, capture_output=True)
    r = subprocess.run([node, "build.mjs", "--check"], cwd=PLAYER, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + " (run `npm run build` in player/ and commit src/jt808/video/static)"
