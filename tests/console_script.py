"""Where the ``jt808`` console script of the environment running the tests is."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path


def jt808_script() -> str:
    """The script installed beside the interpreter running the tests (its venv, even when that venv is not
    on PATH, as under ``.ci/run``), else the one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "jt808"
    path = str(beside) if beside.exists() else shutil.which("jt808")
    assert path, "the jt808 console script is not installed (pip install -e .)"
    return path
