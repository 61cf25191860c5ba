"""``jt808 simulate --profile dashcam`` against a real gateway node: alarms with attachment ids, 0x9208 from the
gateway, evidence uploaded to the attachment server, no errors, every file stored and listed."""

from __future__ import annotations

from pathlib import Path

from jt808.config import Config
from jt808.node import Node
from jt808.simulator.fleet import Fleet, FleetConfig


async def test_dashcam_fleet_uploads_its_evidence(tmp_path: Path) -> None:
    cfg = Config()
    cfg.data_dir = tmp_path / "data"
    cfg.server.host = "127.0.0.1"
    cfg.server.port = 0
    cfg.server.udp = False
    cfg.http.enabled = False
    cfg.storage.db = "memory"
    async with Node(cfg) as node:
        fleet = Fleet(FleetConfig(port=node.tcp_port, terminals=5, rate=4, duration=3, heartbeat=0, ack_timeout=10,
                                  profile="dashcam", alarm_interval=0.5, phone_base=13_955_000_000))
        stats = await fleet.run()
        assert stats.error_count == 0, stats.errors
        assert stats.alarms >= 5 and stats.uploads == stats.alarms and stats.uploaded_files == 3 * stats.alarms
        gw = node.gateway
        alarms, total = await gw.storage.query_alarms(limit=1000)
        assert total == stats.alarms and {a.kind for a in alarms} <= {"adas", "dsm"}
        for a in alarms:
            files = await gw.storage.query_attachments(a.phone, [a.alarm_id])
            assert [f.name.split("_")[3] for f in files] == ["0", "1", "2"]
            for f in files:
                data = Path(f.path).read_bytes()
                assert len(data) == f.size
                assert data.startswith(b"\x89PNG\r\n\x1a\n") if f.name.endswith(".png") else data.startswith(b"{")
