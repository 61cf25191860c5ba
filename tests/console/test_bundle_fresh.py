"""The console bundle committed in ``src/jt808/console/static`` (what ``pip install`` ships) is exactly
what ``console/`` builds from its sources and lockfile: rebuilt here and compared file by file."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "console"
STATIC = ROOT / "src" / "jt808" / "console" / "static"


def _tree(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


def test_committed_bundle_is_built_from_the_sources(tmp_path: Path) -> None:
    npm, node = shutil.which("npm"), shutil.which("node")
    if not (npm and node):
        pytest.fail("node and npm are needed to check the console bundle (apt-get install nodejs npm)")
    if not (CONSOLE / "node_modules" / ".package-lock.json").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=CONSOLE, check=True, capture_output=True)
    out = tmp_path / "static"
    subprocess.run([node, "build.mjs", "--out", str(out)], cwd=CONSOLE, check=True, capture_output=True)
    built, committed = _tree(out), _tree(STATIC)
    assert sorted(built) == sorted(committed), "run `npm run build` in console/ and commit src/jt808/console/static"
    differ = [name for name in built if not filecmp.cmp(built[name], committed[name], shallow=False)]
    assert differ == [], "run `npm run build` in console/ and commit src/jt808/console/static"
    assert (STATIC / "index.html").read_text().count("/assets/") == 3
