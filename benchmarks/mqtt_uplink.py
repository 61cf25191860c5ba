"""Uplink publishes per second sustained into Mosquitto by ``jt808 serve --mqtt`` with 1,000 terminals.

    python3 benchmarks/mqtt_uplink.py [--terminals 1000] [--rates 2000,4000,8000,12000] [--seconds 15] [--qos 1]

Starts ``jt808 serve --db none --mqtt mqtt://127.0.0.1:1883`` in a subprocess (uvloop, HTTP off, MQTT
buffer 200,000), logs in ``--terminals`` TCP terminals from this process, then for each total rate
offers that many location reports per second (spread round-robin over the terminals, sent every
10 ms) for ``--seconds``. ``mosquitto_sub -q 0`` on ``jt808/+/+/up`` counts what the broker delivers
(QoS 0 so that the broker's per-client in-flight window does not throttle the count).

Printed per rate: offered/s, acked by the gateway/s, delivered by the broker/s over the window, and,
after the load stops and the bridge drains, how many reports never arrived (dropped from the bridge's
buffer, or lost between the broker and the counting subscriber) and the gateway's CPU share. The
gateway, the load generator, Mosquitto and mosquitto_sub all share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jt808
from jt808 import Header, Packet
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.register import TerminalAuth, TerminalRegister

ROOT = Path(__file__).resolve().parent.parent
ACK = b"\x7e\x80\x01"
PREFIX = b"jt808/0177"  # topics of this benchmark's terminals (phones 0177xxxxxxxx)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def phone_of(i: int) -> str:
    return f"0177{i:08d}"


def frame(body: Any, phone: str, sn: int) -> bytes:
    return jt808.encode(Packet(Header(body.msg_id, phone, sn), body))


def report(i: int) -> LocationReport:
    return LocationReport(alarm=0, status=0x000C0003, latitude=31_230_000 + i, longitude=121_470_000 + i,
                          altitude=12, speed=600, direction=90, time="240311120000",
                          extras=[(0x01, 12345), (0x02, 500), (0x30, 25), (0x31, 12)])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Term(asyncio.Protocol):
    def __init__(self, i: int, ready: asyncio.Future[None]) -> None:
        self.i = i
        self.phone = phone_of(i)
        self.ready = ready
        self.stage = 0
        self.buf = b""
        self.acked = 0
        self.frames = [frame(report(i), self.phone, sn) for sn in range(16, 16 + 64)]
        self.k = 0
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(frame(TerminalRegister(11, 100, "BENCH", "MQTT", f"{self.i:07d}", 1, f"M{self.i}"),
                              self.phone, 1))

    def data_received(self, data: bytes) -> None:
        if self.stage < 2:
            self.buf += data
            frames = jt808.FrameSplitter().feed(self.buf)
            if not frames:
                return
            self.buf = b""
            p = jt808.decode(frames[0])
            if self.stage == 0:
                self.stage = 1
                self.transport.write(frame(TerminalAuth(code=p.body.auth_code), self.phone, 2))
            else:
                self.stage = 2
                if not self.ready.done():
                    self.ready.set_result(None)
            return
        self.acked += data.count(ACK)

    def send_one(self) -> None:
        self.transport.write(self.frames[self.k])
        self.k = (self.k + 1) % len(self.frames)


class Counter:
    """mosquitto_sub printing one line per delivered message; lines are counted."""

    def __init__(self, topic: str) -> None:
        self.count = 0
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", "1883", "-q", "0", "-t", topic,
                                      "-F", "%t"], stdout=subprocess.PIPE, bufsize=0)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), self.proc.stdout)
        self.task = asyncio.create_task(self._read(reader))
        await asyncio.sleep(0.5)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        # count only this run's terminals (other publishers may share the broker); a line cut by a
        # read boundary is counted with the next read
        tail = b""
        while chunk := await reader.read(1 << 16):
            data = tail + chunk
            cut = data.rfind(b"\n") + 1
            self.count += data.count(PREFIX, 0, cut)
            tail = data[cut:]

    def stop(self) -> None:
        self.proc.terminate()
        if self.task is not None:
            self.task.cancel()


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    node = f"jt808-bench-{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text("[http]\nenabled = false\n[server]\nudp = false\nbacklog = 16384\n"
                       "[session]\nheartbeat_interval = 3600\n"
                       f"[mqtt]\nbuffer_size = 200000\nclient_id = \"{node}\"\nqos = {args.qos}\n"
                       "[log]\nlevel = \"WARNING\"\n")
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        log = open(Path(tmp) / "server.log", "w")  # noqa: SIM115
        server = subprocess.Popen([sys.executable, "-m", "jt808.cli", "serve", "--config", str(cfg), "--data-dir",
                                   str(Path(tmp) / "data"), "--host", "127.0.0.1", "--port", str(port),
                                   "--db", "none", "--mqtt", "mqtt://127.0.0.1:1883"], env=env, stderr=log)
        counter = Counter("jt808/+/+/up")
        try:
            loop = asyncio.get_running_loop()
            for _ in range(300):
                with contextlib.suppress(OSError):
                    _, w = await asyncio.open_connection("127.0.0.1", port)
                    w.close()
                    break
                await asyncio.sleep(0.1)
            await counter.start()
            terms: list[Term] = []
            sem = asyncio.Semaphore(200)

            async def connect(i: int) -> None:
                async with sem:
                    fut: asyncio.Future[None] = loop.create_future()
                    _, proto = await loop.create_connection(lambda: Term(i, fut), "127.0.0.1", port)
                    await asyncio.wait_for(fut, 60)
                    terms.append(proto)  # type: ignore[arg-type]

            await asyncio.gather(*(connect(i) for i in range(args.terminals)))
            await asyncio.sleep(1.0)
            print(f"# {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {platform.machine()}, "
                  f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {len(terms)} terminals, "
                  f"{args.seconds:g} s per rate, QoS {args.qos}, load average {os.getloadavg()[0]:.1f}")
            print(f"{'offered/s':>10} {'acked/s':>10} {'delivered/s':>12} {'not delivered':>14} {'gateway CPU':>12}")
            for rate in args.rates:
                sent = 0
                tick = 0.01
                per_tick = rate * tick
                carry = 0.0
                rr = 0
                a0 = sum(t.acked for t in terms)
                d0 = counter.count
                c0 = cpu_seconds(server.pid)
                t0 = loop.time()
                next_tick = t0
                while loop.time() - t0 < args.seconds:
                    carry += per_tick
                    n = int(carry)
                    carry -= n
                    for _ in range(n):
                        terms[rr].send_one()
                        rr = (rr + 1) % len(terms)
                    sent += n
                    next_tick += tick
                    await asyncio.sleep(max(0.0, next_tick - loop.time()))
                t1 = loop.time()
                a1 = sum(t.acked for t in terms)
                d1 = counter.count
                c1 = cpu_seconds(server.pid)
                # drain: wait until the broker has delivered everything the gateway will publish
                last, still = counter.count, 0
                while still < 20:
                    await asyncio.sleep(0.1)
                    still = still + 1 if counter.count == last else 0
                    last = counter.count
                missing = sent - (counter.count - d0)
                el = t1 - t0
                print(f"{sent / el:10,.0f} {(a1 - a0) / el:10,.0f} {(d1 - d0) / el:12,.0f} {missing:14,d} "
                      f"{(c1 - c0) / el:11.0%}", flush=True)
            for t in terms:
                t.transport.close()
        finally:
            counter.stop()
            server.send_signal(2)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
            errors = [x for x in (Path(tmp) / "server.log").read_text().splitlines() if "ERROR" in x]
            if errors:
                print("server errors:", *errors[:5], sep="\n  ", file=sys.stderr)
            with contextlib.suppress(Exception):
                subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-t", f"jt808/_nodes/{node}/state", "-r", "-n"],
                               timeout=5, check=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--terminals", type=int, default=1000)
    ap.add_argument("--rates", default="2000,4000,8000,12000",
                    type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--qos", type=int, default=1, choices=(0, 1), help="QoS of the gateway's publishes")
    args = ap.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(args))
    else:
        uvloop.run(run(args))


if __name__ == "__main__":
    main()
