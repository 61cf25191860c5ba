"""``jt808 simulate`` as a realistic fleet (issue 9 item 6): 2011 and 2019/UDP fleets of 200 with no
error, a misbehaving share whose repairs show in /metrics, and simulated terminals that answer commands
with the reply a real terminal sends."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from jt808 import V2013
from jt808.simulator import Fleet, FleetConfig

from .serve import serve


def simulate(port: int, tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "summary.json"
    proc = subprocess.run([sys.executable, "-m", "jt808.cli", "simulate", "--server", f"127.0.0.1:{port}",
                           "--json", str(out), "--quiet", *args], capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text())


async def stop(fleet: Fleet, run: asyncio.Task) -> None:
    fleet.stopping = True
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    for t in fleet.terminals:
        t.close()


@pytest.mark.parametrize("args", [("--version", "2011"), ("--version", "2019", "--udp")], ids=["2011", "2019-udp"])
def test_simulate_200_terminals_without_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    with serve(tmp_path) as s:
        summary = simulate(s.port, tmp_path, "-n", "200", "--duration", "3", "--rate", "1", "--heartbeat", "1",
                           "--connect-rate", "400", *args)
        assert summary["errors"] == 0, summary["error_kinds"]
        assert summary["authenticated"] == 200 and summary["acked"] == summary["sent"]
        if args[1] == "2011":  # read as 2011 from their registrations, without configuration
            assert s.repairs()["version_inferred"] >= 200


def test_a_misbehaving_share_is_repaired_and_counted(tmp_path: Path) -> None:
    with serve(tmp_path) as s:
        summary = simulate(s.port, tmp_path, "-n", "120", "--duration", "3", "--rate", "2", "--heartbeat", "1",
                           "--quirks", "0.5")
        assert summary["errors"] == 0, summary["error_kinds"]
        assert summary["authenticated"] == 120 and summary["acked"] == summary["sent"]
        repairs = s.repairs()
        for kind in ("check_code_missing", "length_mismatch", "string_padding", "version_inferred"):
            assert repairs[kind] > 0, repairs


async def test_simulated_terminals_answer_commands_like_real_ones(tmp_path: Path) -> None:
    with serve(tmp_path) as s:
        fleet = Fleet(FleetConfig(port=s.port, terminals=2, rate=1, duration=30, heartbeat=5, version=V2013,
                                  phone_base=13_812_340_000))
        run = asyncio.create_task(fleet.run())
        try:
            phone = "13812340001"  # as typed
            async with httpx.AsyncClient(base_url=s.api, timeout=20) as c:
                for _ in range(100):
                    if (await c.get(f"/api/v1/terminals/{phone}")).status_code == 200:
                        break
                    await asyncio.sleep(0.1)
                cases = [(0x8201, {}, 0x0201), (0x8104, {}, 0x0104), (0x8107, {}, 0x0107),
                         (0x8106, {"length": 1, "ids": [0x0001]}, 0x0104), (0x8103, {"length": 1, "params": [
                             {"id": 0x0001, "value": 45}]}, 0x0001), (0x8106, {"length": 1, "ids": [0x0001]}, 0x0104)]
                for mid, body, reply_id in cases:
                    r = await c.post(f"/api/v1/terminals/{phone}/commands", json={"header": {"msg_id": mid},
                                                                                 "body": body})
                    assert r.status_code == 200, (hex(mid), r.text)
                    reply = r.json()["reply"]
                    assert reply["header"]["msg_id"] == reply_id, (hex(mid), reply)
                    if reply_id == 0x0201:
                        assert reply["body"]["params"]["latitude"] > 0
                    if reply_id == 0x0107:
                        assert reply["body"]["model"] == "SIM-1"
                    last = reply
                # 0x8103 changed the heartbeat interval, and 0x8106 reads it back
                assert [p["value"] for p in last["body"]["params"]] == [45]
        finally:
            await stop(fleet, run)


async def test_a_reset_terminal_registers_again(tmp_path: Path) -> None:
    """After the operator's reset the old code is refused: a simulated terminal then registers again (as
    terminals do) and is back online with a new code, instead of retrying the dead code forever."""
    with serve(tmp_path) as s:
        fleet = Fleet(FleetConfig(port=s.port, terminals=1, rate=1, duration=60, heartbeat=5, version=V2013,
                                  phone_base=13_812_350_000))
        run = asyncio.create_task(fleet.run())
        try:
            async with httpx.AsyncClient(base_url=s.api, timeout=20) as c:
                async def online() -> dict:
                    for _ in range(200):
                        r = await c.get("/api/v1/terminals/13812350000")
                        if r.status_code == 200 and r.json()["online"]:
                            return r.json()
                        await asyncio.sleep(0.05)
                    raise AssertionError(f"not online: {r.text}")

                await online()
                t = fleet.terminals[0]
                old = t.auth_code
                r = await c.post("/api/v1/terminals/13812350000/reset")
                assert r.status_code == 200 and r.json()["disconnected"] is True, r.text
                for _ in range(200):  # reconnects, the old code is refused, registers, authenticates
                    if fleet.stats.registered == 2 and t.state == "running":
                        break
                    await asyncio.sleep(0.05)
                assert (fleet.stats.registered, t.state) == (2, "running"), fleet.stats.errors
                assert t.auth_code not in (None, old)
                assert fleet.stats.errors["auth_refused"] == 1
                await online()
        finally:
            await stop(fleet, run)
