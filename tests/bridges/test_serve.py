"""``jt808 serve --mqtt URL`` in a separate process: uplinks reach the broker; SIGTERM publishes the
held terminals as disconnected and the node as offline."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from .helpers import Terminal, Watcher, clear_retained, location, random_phone


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_port(port: int, proc: asyncio.subprocess.Process, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if proc.returncode is not None:
            raise AssertionError(f"jt808 serve exited with {proc.returncode}")
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError("jt808 serve did not start listening")


async def test_serve_with_mqtt_flag(tmp_path: Path, retained) -> None:
    port, http_port = free_port(), free_port()
    node = f"serve-test-{os.getpid()}-{port}"
    env = {**os.environ, "JT808_MQTT_CLIENT_ID": node}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jt808.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-udp",
        "--http-port", str(http_port), "--db", "memory", "--data-dir", str(tmp_path),
        "--mqtt", "mqtt://127.0.0.1:1883", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env=env)
    phone = random_phone()
    base = f"jt808/{phone}/{phone}"
    retained.update({f"{base}/status", f"jt808/_nodes/{node}/state"})
    try:
        await wait_port(port, proc)
        async with Watcher(f"{base}/up", f"{base}/status", f"jt808/_nodes/{node}/state") as w:
            t = await Terminal(phone).connect(port)
            await t.login()
            sn = await t.send(location(1))
            _, msg = await w.next(timeout=10, where=lambda tp, p: tp.endswith("/up"))
            assert msg["header"]["msg_id"] == 0x0200 and msg["header"]["msg_sn"] == sn
            proc.send_signal(signal.SIGTERM)
            _, ev = await w.next(timeout=10, where=lambda tp, p: tp.endswith("/status")
                                 and p.get("event") == "disconnected")
            assert ev["reason"] == "gateway shutting down" and ev["node"] == node
            _, st = await w.next(timeout=10, where=lambda tp, p: tp.endswith("/state") and p["state"] == "offline")
            assert st["node"] == node
            await t.close()
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        err = (await proc.stderr.read()).decode(errors="replace") if proc.stderr else ""
        await clear_retained(f"jt808/_nodes/{node}/state")
    assert "MQTT connected" in err, err


async def test_unreachable_required_broker_is_one_line(tmp_path: Path) -> None:
    """A required broker that refuses every attempt: the retries are not logged, the start ends with one
    ``Error:`` line naming the setting, the broker and the cause, with what to do about it."""
    with socket.socket() as closed:  # a port nothing listens on (bound, not listening: refused)
        closed.bind(("127.0.0.1", 0))
        broker = closed.getsockname()[1]
        env = {**os.environ, "JT808_MQTT_CONNECT_TIMEOUT": "2"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jt808.cli", "serve", "--host", "127.0.0.1", "--port", "0", "--no-udp",
            "--http-port", "0", "--db", "memory", "--data-dir", str(tmp_path), "--mqtt", f"mqtt://127.0.0.1:{broker}",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 1
    assert lines == [lines[-1]], lines  # nothing before it: no retry lines, no "stopping" lines
    assert lines[0].startswith(f"Error: mqtt.url: cannot connect to the broker 127.0.0.1:{broker} within 2 s "
                               "(connection refused); "), lines[0]
    assert "mqtt.required = false" in lines[0]
