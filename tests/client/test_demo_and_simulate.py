"""The seed-000 guide as a script against ``jt808 serve``, and ``jt808 simulate`` against it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jt808.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]


def general(msg_id: int) -> Any:
    def check(res: Any) -> None:
        assert isinstance(res, dict) and set(res) == {"message_id", "serial_no", "result_code"}, res
        assert res["message_id"] == msg_id and res["result_code"] == 0 and isinstance(res["serial_no"], int), res
    return check


#: What seed 000 prints for each step (serial numbers and the platform's auth code aside).
EXPECTED: dict[str, Any] = {
    "1.1": {"50": {"value": [8, 12, 17, 30], "hex": "080C111E"},  # the seed's "8C111E" drops zeros
            "1": {"value": 60, "hex": "0000003C"}, "2": {"value": 30, "hex": "0000001E"},
            "19": {"value": "220.180.239.212:7611", "hex": "3232302E3138302E3233392E3231323A37363131"}},
    "1.2": 3,
    "1.4": "0104000003f2020201f403020258051ef0f0ebe6ffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "2.2": True, "2.3": True, "2.4": True,
    "3.2": {"message_id": 258, "serial_no": 1, "result_code": 0},
    "4.2": general(512), "4.3": general(1796), "4.4": general(769), "4.5": general(264), "4.6": general(1793),
    "4.7": general(771), "4.8": general(1797), "4.9": general(2048), "4.10": general(2049), "4.11": general(2304),
    "4.12": general(2305), "4.13": general(2560),
}


@pytest.mark.parametrize("version", ["2013", "2019"])
def test_seed_000_examples_against_jt808_serve(serve: Any, version: str) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "quecpython_demo.py"), "--port", str(serve.port),
                          "--version", version, "--json"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    steps = {d["step"]: d["result"] for d in map(json.loads, out.stdout.splitlines())}
    assert steps["3.1"]["registration_result"] == 0 and steps["3.1"]["serial_no"] == 0 and steps["3.1"]["auth_code"]
    assert len(steps["4.1"]["utc_time"]) == 19
    for step, expected in EXPECTED.items():
        if callable(expected):
            expected(steps[step])
        else:
            assert steps[step] == expected, step
    assert steps["1.3"][0] == 0b110


def test_simulate_50_terminals_against_jt808_serve(serve: Any, tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    result = CliRunner().invoke(cli, ["simulate", "--server", f"127.0.0.1:{serve.port}", "-n", "50", "--duration",
                                      "5", "--rate", "2", "--heartbeat", "1", "--json", str(summary_path)])
    assert result.exit_code == 0, result.output
    s = json.loads(summary_path.read_text())
    assert s["errors"] == 0, s["error_kinds"]
    assert s["authenticated"] == 50 and s["registered"] == 50
    assert s["location_reports"] >= 50 * 2 * 4 and s["heartbeats"] >= 50 * 3
    assert s["acked"] == s["sent"]
    assert 0 < s["ack_latency_ms_p50"] <= s["ack_latency_ms_p99"]


@pytest.mark.parametrize("version", ["2019"])
def test_simulate_udp(serve: Any, tmp_path: Path, version: str) -> None:
    summary_path = tmp_path / "summary.json"
    result = CliRunner().invoke(cli, ["simulate", "--server", f"127.0.0.1:{serve.port}", "-n", "10", "--duration",
                                      "2", "--rate", "2", "--udp", "--version", version, "--json", str(summary_path),
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    s = json.loads(summary_path.read_text())
    assert s["errors"] == 0 and s["authenticated"] == 10 and s["acked"] == s["sent"]


def test_simulate_exits_non_zero_on_errors() -> None:
    import socket

    with socket.socket() as s:  # a port where nobody listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = CliRunner().invoke(cli, ["simulate", "--server", f"127.0.0.1:{port}", "-n", "3", "--duration", "0.2",
                                      "--quiet", "--no-reconnect", "--ack-timeout", "0.5"])
    assert result.exit_code == 1
    assert "connect_failed=3" in result.output
