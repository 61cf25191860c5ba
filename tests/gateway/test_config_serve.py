"""Configuration (file, environment, flags) and the ``jt808 serve`` command."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from jt808.cli import main
from jt808.commands.serve import run
from jt808.config import Config, ConfigError

from .helpers import Terminal, location


def test_defaults_need_nothing() -> None:
    cfg = Config.load()
    assert (cfg.server.port, cfg.http.port, cfg.storage.db, str(cfg.data_dir)) == (6808, 8808, "", "jt808-data")
    assert (cfg.downlink.retry_interval, cfg.downlink.max_retry_times, cfg.downlink.max_inflight) == (8.0, 3, 128)
    m = cfg.mqtt
    assert (m.mountpoint, m.up_topic, m.dn_topic, m.qos, m.buffer_size, m.publish_media_max) == (
        "jt808/${clientid}/", "jt808/${clientid}/${phone}/up", "jt808/${clientid}/${phone}/dn", 1, 10000, 65536)
    assert cfg.session.idle_timeout == 180


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    f = tmp_path / "gw.toml"
    f.write_text('data_dir = "/srv/jt"\n[server]\nport = 7000\n[auth]\nmode = "anonymous"\n'
                 '[mqtt]\nurl = "mqtt://broker:1883"\ntls = true\n')
    cfg = Config.load(f, env={"JT808_SERVER_PORT": "7100", "JT808_HTTP_TOKEN": "t", "JT808_MQTT_QOS": "0"},
                      **{"server.host": "127.0.0.1", "storage.db": "memory", "http.port": None})
    assert (cfg.server.port, cfg.server.host, cfg.auth.mode, cfg.http.token, cfg.storage.db) == (
        7100, "127.0.0.1", "anonymous", "t", "memory")
    assert (str(cfg.data_dir), cfg.mqtt.url, cfg.mqtt.tls, cfg.mqtt.qos, cfg.http.port) == (
        "/srv/jt", "mqtt://broker:1883", True, 0, 8808)
    assert cfg.to_dict()["http"]["token"] == "***"
    cfg = Config.load(f, **{"server.port": 9000})
    assert cfg.server.port == 9000


@pytest.mark.parametrize(("text", "msg"), [
    ("[server]\nport = 'x'\n", "expects an integer"),
    ("[nope]\na = 1\n", "unknown setting"),
    ("[server]\nprot = 1\n", "unknown setting server.prot"),
    ("[auth]\nmode = 'http'\n", "registry_url"),
    ("[server\n", "gw.toml"),
])
def test_bad_config_is_explained(tmp_path: Path, text: str, msg: str) -> None:
    f = tmp_path / "gw.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=msg):
        Config.load(f)


def test_serve_help_lists_the_flags() -> None:
    out = CliRunner().invoke(main, ["serve", "--help"]).output
    for flag in ("--config", "--data-dir", "--host", "--port", "--http-port", "--db", "--mqtt"):
        assert flag in out


async def test_run_serves_until_stopped_and_flushes(tmp_path: Path) -> None:
    cfg = Config.load(None, **{"data.dir": str(tmp_path), "server.host": "127.0.0.1", "server.port": 0,
                               "http.enabled": False})
    stop = asyncio.Event()
    started: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run(cfg, stop, started.set_result))
    gw = await asyncio.wait_for(started, 30)
    t = await Terminal().connect(gw.tcp_port)
    await t.login()
    assert (await t.request(location())).body.result == 0
    stop.set()
    await task
    await t.close()
    assert (tmp_path / "jt808.db").exists()


def test_jt808_serve_process(tmp_path: Path) -> None:
    """The real command in a subprocess: starts, answers HTTP, stops cleanly on SIGINT."""
    import socket

    def port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    tcp, http = port(), port()
    env = {**os.environ, "JT808_LOG_LEVEL": "INFO"}
    p = subprocess.Popen([sys.executable, "-m", "jt808.cli", "serve", "--data-dir", str(tmp_path / "d"),
                          "--host", "127.0.0.1", "--port", str(tcp), "--http-port", str(http)],
                         env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                r = httpx.get(f"http://127.0.0.1:{http}/healthz", timeout=1)
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("jt808 serve did not come up")
        p.send_signal(2)
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0
    assert "gateway listening" in err and "gateway stopped" in err
    assert (tmp_path / "d" / "jt808.db").exists()
