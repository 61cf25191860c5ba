"""Uplinks per second published into Mosquitto by ``jt808 serve --mqtt`` (QoS 1), A/B in one run.

    python3 benchmarks/mqtt_uplink.py [--base d25de12~1] [--terminals 1000] [--rates 10000,20000,30000,40000]
                                      [--seconds 10] [--qos 1]

Two gateways run side by side, idle in turn: **B** is this tree (``src/``), **A** the tree of ``--base``
(a git revision, extracted with ``git archive`` into a temporary directory; ``--base ''`` runs B alone).
Each is ``jt808 serve --db none --mqtt mqtt://127.0.0.1:1883`` in a subprocess (uvloop, HTTP off, MQTT
buffer 1,000,000 so that nothing is dropped while a gateway falls behind), with ``--terminals`` TCP
terminals logged in from this process. For each rate, A then B is offered that many location reports
per second (round-robin over its terminals, sent every 10 ms) for ``--seconds``; then the load stops and
the bridge drains. One ``mosquitto_sub -q 1`` (MQTT 5, receive maximum 65,534: the broker neither drops
nor throttles what it forwards) on ``jt808/+/+/up`` counts what the broker delivers, per gateway (A's
phones start 0176, B's 0177).

Printed per rate and side: offered/s; acked by the gateway/s; **delivered/s** by the broker over the
window (the publish rate the bridge sustained); the drain time; **not delivered** (sent − delivered
after the drain: dropped or lost); the gateway's CPU share over the window and its **CPU per delivered
uplink** (window + drain), which depends least on the machine's load; this load generator's CPU share.
The gateways, the load generator, Mosquitto and mosquitto_sub share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import platform
import shutil
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    def __init__(self, i: int, ready: asyncio.Future[None], prefix: str) -> None:
        self.i = i
        self.phone = f"{prefix}{i:08d}"
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
    """mosquitto_sub printing one line (the topic) per delivered message; lines counted per topic prefix."""

    def __init__(self, port: int, topic: str, prefixes: list[bytes]) -> None:
        self.counts = dict.fromkeys(prefixes, 0)
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5", "-q", "1",
                                      "-D", "connect", "receive-maximum", "65534", "-t", topic, "-F", "%t"],
                                     stdout=subprocess.PIPE, bufsize=0)
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
        counts = self.counts
        while chunk := await reader.read(1 << 16):
            data = tail + chunk
            cut = data.rfind(b"\n") + 1
            for prefix in counts:
                counts[prefix] += data.count(prefix, 0, cut)
            tail = data[cut:]

    def stop(self) -> None:
        self.proc.terminate()
        if self.task is not None:
            self.task.cancel()


class Broker:
    """A Mosquitto of this run on a free loopback port: no other publisher on it, and no queue limit
    towards the counting subscriber (a shared broker drops QoS 1 beyond 1,000 queued per client)."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        conf = tmp / "mosquitto.conf"
        user = f"user {getpass.getuser()}\n"
        conf.write_text(f"{user}listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        "max_queued_messages 0\nmax_inflight_messages 0\nlog_dest none\nset_tcp_nodelay true\n")
        self.proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)])
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class Side:
    """One gateway under test (its source tree, process, terminals)."""

    def __init__(self, name: str, src: Path, phone_prefix: str, tmp: Path, args: argparse.Namespace,
                 broker: int) -> None:
        self.name, self.src, self.prefix = name, src, phone_prefix
        self.topic_prefix = f"jt808/{phone_prefix}".encode()
        self.port = free_port()
        self.http_port = free_port()
        self.node = f"jt808-bench-{name}-{os.getpid()}"
        self.dir = tmp / name
        self.dir.mkdir()
        cfg = self.dir / "bench.toml"
        cfg.write_text(f"[http]\nport = {self.http_port}\nconsole = false\n[server]\nudp = false\nbacklog = 16384\n"
                       "[session]\nheartbeat_interval = 3600\n"
                       f"[mqtt]\nbuffer_size = 1000000\nclient_id = \"{self.node}\"\nqos = {args.qos}\n"
                       "[video]\nenabled = false\n[log]\nlevel = \"WARNING\"\n")
        env = {**os.environ, "PYTHONPATH": str(src)}
        self.log = open(self.dir / "server.log", "w")  # noqa: SIM115
        self.server = subprocess.Popen([sys.executable, "-m", "jt808.cli", "serve", "--config", str(cfg),
                                        "--data-dir", str(self.dir / "data"), "--host", "127.0.0.1", "--port",
                                        str(self.port), "--db", "none", "--mqtt", f"mqtt://127.0.0.1:{broker}"],
                                       env=env, stderr=self.log, cwd=str(self.dir))
        self.terms: list[Term] = []

    async def login(self, n: int) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(300):
            with contextlib.suppress(OSError):
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                break
            await asyncio.sleep(0.1)
        sem = asyncio.Semaphore(200)

        async def connect(i: int) -> None:
            async with sem:
                fut: asyncio.Future[None] = loop.create_future()
                _, proto = await loop.create_connection(lambda: Term(i, fut, self.prefix), "127.0.0.1", self.port)
                await asyncio.wait_for(fut, 60)
                self.terms.append(proto)  # type: ignore[arg-type]

        await asyncio.gather(*(connect(i) for i in range(n)))

    async def published(self) -> int:
        """The bridge's count of uplinks the broker acknowledged (``/metrics``)."""
        r, w = await asyncio.open_connection("127.0.0.1", self.http_port)
        w.write(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")
        data = await r.read()
        w.close()
        for line in data.decode().splitlines():
            if line.startswith("jt808_mqtt_published_total "):
                return int(float(line.split()[1]))
        raise RuntimeError("no jt808_mqtt_published_total in /metrics")

    def close(self) -> None:
        for t in self.terms:
            t.transport.close()
        self.server.send_signal(2)
        try:
            self.server.wait(30)
        except subprocess.TimeoutExpired:
            self.server.kill()
        self.log.close()
        errors = [x for x in (self.dir / "server.log").read_text().splitlines() if "ERROR" in x]
        if errors:
            print(f"{self.name} server errors:", *errors[:5], sep="\n  ", file=sys.stderr)


async def offer(side: Side, counter: Counter, broker: Broker, rate: int, seconds: float) -> str:
    loop = asyncio.get_running_loop()
    terms = side.terms
    sent, tick, carry, rr = 0, 0.01, 0.0, 0
    per_tick = rate * tick
    a0 = sum(t.acked for t in terms)
    d0 = counter.counts[side.topic_prefix]
    p0 = await side.published()
    c0, l0, b0 = cpu_seconds(side.server.pid), time.process_time(), cpu_seconds(broker.proc.pid)
    t0 = loop.time()
    next_tick = t0
    while loop.time() - t0 < seconds:
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
    c1, l1, b1 = cpu_seconds(side.server.pid), time.process_time(), cpu_seconds(broker.proc.pid)
    p1 = await side.published()
    # drain: until the broker acknowledged, and the subscriber got, everything sent (or 5 s without progress)
    last, still = (p1, 0), 0
    while still < 50:
        published = await side.published()
        if published - p0 >= sent and counter.counts[side.topic_prefix] - d0 >= sent:
            break
        await asyncio.sleep(0.1)
        now = (published, counter.counts[side.topic_prefix])
        still = still + 1 if now == last else 0
        last = now
    t2 = loop.time()
    c2 = cpu_seconds(side.server.pid)
    acked_by_broker = await side.published() - p0
    delivered = counter.counts[side.topic_prefix] - d0
    el = t1 - t0
    per = (c2 - c0) / acked_by_broker * 1e6 if acked_by_broker else float("nan")
    return (f"{side.name:>4} {sent / el:10,.0f} {(a1 - a0) / el:10,.0f} {(p1 - p0) / el:12,.0f} {t2 - t1:7.1f} s "
            f"{sent - acked_by_broker:10,d} {sent - delivered:10,d} {(c1 - c0) / el:9.0%} {per:8.1f} us "
            f"{(l1 - l0) / el:9.0%} {(b1 - b0) / el:9.0%}")


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        broker = Broker(tmp)
        sides: list[Side] = []
        if args.base:
            base = tmp / "base"
            base.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.base, "src"], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
            rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.base], check=True,
                                 capture_output=True, text=True).stdout.strip()
            sides.append(Side("A", base / "src", "0176", tmp, args, broker.port))
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        sides.append(Side("B", ROOT / "src", "0177", tmp, args, broker.port))
        counter = Counter(broker.port, "jt808/+/+/up", [s.topic_prefix for s in sides])
        try:
            await counter.start()
            for side in sides:
                await side.login(args.terminals)
            await asyncio.sleep(1.0)
            print(f"# {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {platform.machine()}, "
                  f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {args.terminals} terminals per side, "
                  f"{args.seconds:g} s per rate, QoS {args.qos}, load average {os.getloadavg()[0]:.1f}")
            if args.base:
                print(f"# A = {args.base} ({rev}), B = this tree (HEAD {head})")
            print(f"{'side':>4} {'offered/s':>10} {'acked/s':>10} {'published/s':>12} {'drain':>9} "
                  f"{'not acked':>10} {'not recvd':>10} {'gw CPU':>9} {'CPU/uplink':>11} {'loadgen':>9} "
                  f"{'broker':>9}")
            for rate in args.rates:
                for side in sides:
                    print(await offer(side, counter, broker, rate, args.seconds), flush=True)
                print(f"# load average {os.getloadavg()[0]:.1f}", flush=True)
        finally:
            counter.stop()
            for side in sides:
                side.close()
            broker.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="d25de12~1", help="git revision of side A ('' = B only)")
    ap.add_argument("--terminals", type=int, default=1000)
    ap.add_argument("--rates", default="10000,20000,30000,40000",
                    type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--seconds", type=float, default=10.0)
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
