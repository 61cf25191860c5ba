"""A plain install (no ``jt808[video]``): the node runs without video, and says so only when video was asked
for. PyAV is present in the test environment, so its absence is simulated where the service looks for it."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import pytest

from jt808 import video
from jt808.config import Config


def _without_av(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "av" else real(name, *args)

    monkeypatch.setattr(video.importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize(("how", "warned"), [
    ("defaults", False),
    ("file", True),
    ("env", True),
    ("flag", True),
])
def test_missing_pyav_warns_only_when_video_is_configured(how: str, warned: bool, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    f = tmp_path / "jt808.toml"
    f.write_text("[video]\nport = 7810\n" if how == "file" else "")
    cfg = Config.load(f, env={"JT808_VIDEO_UDP": "false"} if how == "env" else {},
                      **({"video.port": 7811} if how == "flag" else {}))
    _without_av(monkeypatch)
    with caplog.at_level(logging.DEBUG, logger="jt808.video"):
        assert video.create(None, cfg) is None  # type: ignore[arg-type]  # the gateway is not reached without PyAV
    [record] = [r for r in caplog.records if "PyAV is not installed" in r.getMessage()]
    assert record.levelno == (logging.WARNING if warned else logging.DEBUG)
