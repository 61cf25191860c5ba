"""Uplinks per second that ``jt808 serve --mqtt`` publishes into Mosquitto at QoS 1, counted by an
independent subscriber; every process's CPU beside it. A/B in one run.

    python3 benchmarks/mqtt_uplink.py [--base 064b285] [--broker 127.0.0.1:1883 | --broker private]
                                      [--terminals 1000] [--rates 20000,30000,40000] [--seconds 10] [--qos 1]
                                      [--nice -10] [--profile DIR]
    python3 benchmarks/mqtt_uplink.py --bridge-only N [--rendered] [--broker private] [--src DIR]  # bridge alone

What runs (all on loopback, one machine):

- **gateway** B = this tree (``src/``), and A = the tree of ``--base`` (a git revision extracted with
  ``git archive``; ``--base ''`` runs B alone). Each is ``jt808 serve --db none --mqtt URL`` in its own
  process (uvloop, UDP and video off, log level WARNING, MQTT buffer 1,000,000 so that nothing is
  dropped while it falls behind): it reads each terminal's frame, decodes it, acknowledges it (0x8001)
  and the bridge publishes its EMQX JSON on ``jt808/{phone}/{phone}/up`` at QoS 1.
- **broker**: the machine's Mosquitto on 127.0.0.1:1883 by default (its CPU read from /proc: other
  clients of it, if any, are counted too; the retained statuses and node states the run leaves are
  cleared at the end), or ``--broker private`` for one of this run on a free port (no queue limits, no
  other client).
- **load generator** (this process): ``--terminals`` TCP terminals per gateway, registered and
  authenticated, each location report a pre-encoded 0x0200 frame written on its own (one frame per
  write, as a device sends them), round-robin over the terminals, paced every 10 ms; it counts the
  gateway's acks.
- **subscriber**: a separate process (this file with ``--subscriber``), a lean MQTT 5 client subscribed
  at QoS 1 to every terminal's up topic (receive maximum 65,534: the broker never drops for it), that
  answers each PUBLISH with its PUBACK and counts them per gateway, reading every 5 ms (at once during
  bursts).

On a machine shared with other work, ``--nice -10`` puts the processes under test (gateways, broker,
load generator, subscriber; with the kernel's autogroups, the scheduling groups of this session and of
the broker, restored after) ahead of it, so that the rate measured is what the gateway does with a core
rather than what the machine's other jobs leave it (the *waited* column says how much that was).

For each rate, A then B (the other idle) is offered that many reports per second for ``--seconds``;
then the load stops and the bridge drains. Printed per rate and side:

- offered/s: reports the terminals sent per second during the window;
- **published/s**: uplinks the broker acknowledged (PUBACK) to the bridge per second during the window
  (``jt808_mqtt_published_total``), and **received/s**: what the subscriber received during the window;
  *backlog*: uplinks sent but not yet acknowledged by the broker at the end of the window (the bridge
  sustained the rate when it is small against the rate);
- after the drain: *not answd* (sent − acknowledged by the gateway to the terminals: the generator
  reads its acks only after the window, so that reading them costs it no system call per report),
  *not acked* (sent − acknowledged by the broker) and *not recvd* (sent − received by the subscriber):
  nothing lost when all three are 0;
- CPU over the window, as a share of one core: gateway, broker, load generator, subscriber; the
  gateway's *waited*: time it was runnable but not running (/proc/PID/schedstat: the machine, not the
  gateway, was the limit);
- **CPU/uplink**: the gateway's CPU seconds (window + drain) ÷ uplinks acknowledged by the broker, and
  *at 1 core*: the rate one whole core would carry at that cost; *syscalls*: the gateway's read and
  write system calls (/proc/PID/io) per uplink.
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

ROOT = Path(__file__).resolve().parent.parent
ACK = b"\x7e\x80\x01"
TICK = 0.01


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def syscalls(pid: int) -> int:
    """read + write system calls of the process so far (/proc/PID/io)."""
    with open(f"/proc/{pid}/io") as f:
        io = dict(line.split(": ") for line in f.read().splitlines())
    return int(io["syscr"]) + int(io["syscw"])


def waited_seconds(pid: int) -> float:
    """Time the process was runnable but waiting for a CPU (all its threads' main one: /proc/PID/schedstat)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except OSError:
        return float("nan")


def autogroup_nice(pid: int) -> int | None:
    """The nice value of the process's scheduling autogroup (its session, when the kernel groups them),
    or None."""
    try:
        with open(f"/proc/{pid}/autogroup") as f:
            return int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def set_autogroup_nice(pid: int, nice: int) -> None:
    """With autogroups, CPU is shared between sessions first: a process's nice only orders it within
    its session, so the priority is set on the session's group."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/autogroup", "w") as f:
        f.write(str(nice))



# ---------------------------------------------------------------------------------------------------
# the subscriber (a separate process): MQTT 5 over a raw asyncio protocol, PUBLISH packets counted
# ---------------------------------------------------------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _packet(kind: int, body: bytes) -> bytes:
    return bytes((kind,)) + _varint(len(body)) + body


def _str(s: str) -> bytes:
    b = s.encode()
    return len(b).to_bytes(2, "big") + b


class Subscriber(asyncio.Protocol):
    """Counts the PUBLISH packets of each topic prefix (a gateway's phones) and acknowledges each."""

    def __init__(self, prefixes: list[bytes], ready: asyncio.Future[None]) -> None:
        self.counts = dict.fromkeys(prefixes, 0)
        self.plen = len(prefixes[0])
        self.ready = ready
        self.buf = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        n, off = len(buf), 0
        acks = []
        counts, plen = self.counts, self.plen
        while off + 2 <= n:
            kind = buf[off]
            length, mult, i = 0, 1, off + 1  # the remaining length: 1..4 bytes
            while i < n:
                b = buf[i]
                i += 1
                length += (b & 0x7F) * mult
                if b < 0x80:
                    break
                mult <<= 7
            else:
                break  # the length itself is incomplete
            end = i + length
            if end > n:
                break
            if kind & 0xF0 == 0x30:  # PUBLISH
                tlen = (buf[i] << 8) | buf[i + 1]
                prefix = buf[i + 2:i + 2 + plen]
                if prefix in counts:
                    counts[prefix] += 1
                if kind & 0x06:  # QoS 1 (or 2, never asked for): PUBACK with its packet id
                    acks.append(buf[i + 2 + tlen:i + 4 + tlen])
            elif kind in (0x20, 0x90, 0x40) and not self.ready.done():  # CONNACK, SUBACK, PUBACK
                self.ready.set_result(None)
            off = end
        self.buf = buf[off:]
        if acks:
            self.transport.write(b"".join(b"\x40\x02" + pid for pid in acks))
            if len(data) < 1 << 16:
                # read every 5 ms rather than at each packet: fewer, larger reads (the broker has up to
                # 65,534 messages in flight to it, so it does not wait for these PUBACKs); a large read
                # (a burst, a drain) is followed at once: beyond 65,534 + its queue (1,000) unacknowledged
                # messages the broker drops for this subscriber
                self.transport.pause_reading()
                asyncio.get_running_loop().call_later(0.005, self.transport.resume_reading)


async def subscriber_main(host: str, port: int, prefixes: list[str], topics_file: str) -> None:
    """Subscribe to the topics listed in ``topics_file`` (one a line); answer each line on stdin with
    the counts per prefix."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    _, sub = await loop.create_connection(lambda: Subscriber([p.encode() for p in prefixes], ready), sock=sock)
    # CONNECT: MQTT 5, clean start, keep alive 0, properties: receive maximum 65534
    props = b"\x21" + (65534).to_bytes(2, "big")
    sub.transport.write(_packet(0x10, _str("MQTT") + b"\x05\x02\x00\x00" + _varint(len(props)) + props
                                + _str(f"jt808-bench-sub-{os.getpid()}")))
    await ready
    topics = Path(topics_file).read_text().split()
    for k in range(0, len(topics), 500):
        ready = sub.ready = loop.create_future()
        filters = b"".join(_str(t) + b"\x01" for t in topics[k:k + 500])  # max QoS 1
        sub.transport.write(_packet(0x82, (k // 500 + 1).to_bytes(2, "big") + b"\x00" + filters))
        await ready
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("ready", flush=True)
    while await reader.readline():
        print(" ".join(str(sub.counts[p.encode()]) for p in prefixes), flush=True)


async def clear_retained(host: str, port: int, topics: list[str]) -> None:
    """Empty retained messages on ``topics`` (the statuses and node states a run leaves on a shared
    broker): QoS 0 publishes, then one at QoS 1 whose PUBACK says the broker has handled them all."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    _, c = await loop.create_connection(lambda: Subscriber(["-"], ready), host, port)
    c.transport.write(_packet(0x10, _str("MQTT") + b"\x05\x02\x00\x00\x00" + _str(f"jt808-bench-clean-{os.getpid()}")))
    await asyncio.wait_for(ready, 10)
    c.ready = ready = loop.create_future()
    c.transport.write(b"".join(_packet(0x31, _str(t) + b"\x00") for t in topics)
                      + _packet(0x33, _str(topics[-1]) + b"\x00\x01\x00"))
    await asyncio.wait_for(ready, 30)
    c.transport.write(b"\xe0\x00")  # DISCONNECT
    c.transport.close()


class Counter:
    """The subscriber process, asked for its counts."""

    def __init__(self, host: str, port: int, prefixes: list[str], topics: list[str], tmp: Path) -> None:
        self.prefixes = prefixes
        tf = tmp / "topics.txt"
        tf.write_text("\n".join(topics))
        self.proc = subprocess.Popen([sys.executable, __file__, "--subscriber", f"{host}:{port}", "--prefixes",
                                      ",".join(prefixes), "--topics-file", str(tf)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"subscriber did not start: {line!r}")

    def counts(self) -> dict[str, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("?\n")
        return dict(zip(self.prefixes, map(int, self.proc.stdout.readline().split()), strict=True))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# ---------------------------------------------------------------------------------------------------
# the broker, the gateways and their terminals
# ---------------------------------------------------------------------------------------------------
class Broker:
    """The machine's Mosquitto (``host:port``) or a private one on a free port (``private``)."""

    def __init__(self, spec: str, tmp: Path) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        if spec == "private":
            self.host, self.port = "127.0.0.1", free_port()
            conf = tmp / "mosquitto.conf"
            conf.write_text(f"user {getpass.getuser()}\nlistener {self.port} 127.0.0.1\nallow_anonymous true\n"
                            "persistence false\nmax_queued_messages 0\nmax_inflight_messages 0\nlog_dest none\n")
            self.proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
                                         stderr=subprocess.DEVNULL)
            self.pid = self.proc.pid
            for _ in range(100):
                try:
                    socket.create_connection((self.host, self.port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
        else:
            host, _, port = spec.rpartition(":")
            self.host, self.port = host or "127.0.0.1", int(port)
            out = subprocess.run(["ss", "-ltnpH", f"sport = :{self.port}"], capture_output=True, text=True).stdout
            pids = [int(x.split(",")[0]) for x in out.split("pid=")[1:]]
            if not pids:
                raise SystemExit(f"no broker listening on {spec}")
            self.pid = pids[0]
        self.url = f"mqtt://{self.host}:{self.port}"

    def describe(self) -> str:
        where = "private" if self.proc is not None else "the machine's"
        return f"{where} Mosquitto {self.host}:{self.port} (pid {self.pid})"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


class Term(asyncio.Protocol):
    def __init__(self, phone: str, i: int, ready: asyncio.Future[None], frames: list[bytes],
                 register: bytes) -> None:
        self.phone, self.i, self.ready, self.frames = phone, i, ready, frames
        self.register = register
        self.stage = 0
        self.buf = b""
        self.acked = 0
        self.k = 0
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.register)

    def data_received(self, data: bytes) -> None:
        if self.stage < 2:
            import jt808
            from jt808.protocol.messages.register import TerminalAuth

            self.buf += data
            frames = jt808.FrameSplitter().feed(self.buf)
            if not frames:
                return
            self.buf = b""
            p = jt808.decode(frames[0])
            if self.stage == 0:
                self.stage = 1
                self.transport.write(_frame(TerminalAuth(code=p.body.auth_code), self.phone, 2))
            else:
                self.stage = 2
                if not self.ready.done():
                    self.ready.set_result(None)
            return
        self.acked += data.count(ACK)


def _frame(body: Any, phone: str, sn: int) -> bytes:
    import jt808
    from jt808 import Header, Packet

    return jt808.encode(Packet(Header(body.msg_id, phone, sn), body))


def _report(i: int) -> Any:
    from jt808.protocol.messages.location import LocationReport

    return LocationReport(alarm=0, status=0x000C0003, latitude=31_230_000 + i, longitude=121_470_000 + i,
                          altitude=12, speed=600, direction=90, time="240311120000",
                          extras=[(0x01, 12345), (0x02, 500), (0x30, 25), (0x31, 12)])


class Side:
    """One gateway under test (its source tree, process, terminals)."""

    def __init__(self, name: str, src: Path, phone_prefix: str, tmp: Path, args: argparse.Namespace,
                 broker: Broker) -> None:
        self.name, self.src, self.prefix = name, src, phone_prefix
        self.topic_prefix = f"jt808/{phone_prefix}"
        self.phones = [f"{phone_prefix}{i:08d}" for i in range(args.terminals)]
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
        prof = ["-m", "cProfile", "-o", str(Path(args.profile).resolve() / f"{name}.prof")] if args.profile else []
        self.server = subprocess.Popen([sys.executable, *prof, "-m", "jt808.cli", "serve", "--config", str(cfg),
                                        "--data-dir", str(self.dir / "data"), "--host", "127.0.0.1", "--port",
                                        str(self.port), "--db", "none", "--no-attachments", "--mqtt", broker.url],
                                       env=env, stderr=self.log, cwd=str(self.dir))
        self.terms: list[Term] = []

    def topics(self) -> list[str]:
        return [f"jt808/{p}/{p}/up" for p in self.phones]

    async def login(self) -> None:
        from jt808.protocol.messages.register import TerminalRegister

        loop = asyncio.get_running_loop()
        for _ in range(300):
            with contextlib.suppress(OSError):
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                break
            await asyncio.sleep(0.1)
        sem = asyncio.Semaphore(200)

        async def connect(i: int) -> None:
            phone = self.phones[i]
            frames = [_frame(_report(i), phone, sn) for sn in range(16, 16 + 64)]
            register = _frame(TerminalRegister(11, 100, "BENCH", "MQTT", f"{i:07d}", 1, f"M{i}"), phone, 1)
            async with sem:
                fut: asyncio.Future[None] = loop.create_future()
                _, proto = await loop.create_connection(lambda: Term(phone, i, fut, frames, register),
                                                        "127.0.0.1", self.port)
                await asyncio.wait_for(fut, 60)
                self.terms.append(proto)

        await asyncio.gather(*(connect(i) for i in range(len(self.phones))))

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


HEAD = (f"{'side':>4} {'offered/s':>10} {'published/s':>12} {'received/s':>11} {'backlog':>8} "
        f"{'drain':>7} {'not answd':>9} {'not acked':>9} {'not recvd':>9} {'gw CPU':>7} {'waited':>7} {'broker':>7} "
        f"{'loadgen':>7} {'sub':>5} {'CPU/uplink':>11} {'at 1 core':>10} {'syscalls':>9}")


async def offer(side: Side, counter: Counter, broker: Broker, rate: int, seconds: float) -> str:
    loop = asyncio.get_running_loop()
    terms = side.terms
    sent, carry, rr = 0, 0.0, 0
    per_tick = rate * TICK
    a0 = sum(t.acked for t in terms)
    r0 = counter.counts()[side.topic_prefix]
    p0 = await side.published()
    pids = (side.server.pid, broker.pid, counter.proc.pid)
    c0 = [cpu_seconds(p) for p in pids]
    w0, l0, s0 = waited_seconds(side.server.pid), time.process_time(), syscalls(side.server.pid)
    for t in terms:  # the acks are counted after the window (kept by the kernel meanwhile): no read per ack
        t.transport.pause_reading()
    t0 = loop.time()
    next_tick = t0
    while loop.time() - t0 < seconds:
        carry += per_tick
        n = int(carry)
        carry -= n
        for _ in range(n):
            t = terms[rr]
            t.transport.write(t.frames[t.k])
            t.k = (t.k + 1) & 63
            rr += 1
            if rr == len(terms):
                rr = 0
        sent += n
        next_tick += TICK
        await asyncio.sleep(max(0.0, next_tick - loop.time()))
    t1 = loop.time()
    c1 = [cpu_seconds(p) for p in pids]
    w1, l1 = waited_seconds(side.server.pid), time.process_time()
    for t in terms:
        t.transport.resume_reading()
    p1 = await side.published()
    r1 = counter.counts()[side.topic_prefix]
    # drain: until the broker acknowledged, and the subscriber got, everything sent (or 5 s without progress)
    last, still = (p1, r1, 0), 0
    while still < 50:
        now = (await side.published(), counter.counts()[side.topic_prefix], sum(t.acked for t in terms))
        if now[0] - p0 >= sent and now[1] - r0 >= sent and now[2] - a0 >= sent:
            break
        still = still + 1 if now == last else 0
        last = now
        await asyncio.sleep(0.1)
    t2 = loop.time()
    c2, s2 = cpu_seconds(side.server.pid), syscalls(side.server.pid)
    acked_by_broker = await side.published() - p0
    received = counter.counts()[side.topic_prefix] - r0
    answered = sum(t.acked for t in terms) - a0
    el = t1 - t0
    per = (c2 - c0[0]) / acked_by_broker if acked_by_broker else float("nan")
    share = [(b - a) / el for a, b in zip(c0, c1, strict=True)]
    return (f"{side.name:>4} {sent / el:10,.0f} {(p1 - p0) / el:12,.0f} {(r1 - r0) / el:11,.0f} "
            f"{sent - (p1 - p0):8,d} {t2 - t1:6.1f}s {sent - answered:9,d} {sent - acked_by_broker:9,d} "
            f"{sent - received:9,d} "
            f"{share[0]:7.0%} {(w1 - w0) / el:7.0%} {share[1]:7.0%} {(l1 - l0) / el:7.0%} {share[2]:5.0%} "
            f"{per * 1e6:8.1f} us {1 / per:10,.0f} {(s2 - s0) / acked_by_broker:9.2f}")


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        broker = Broker(args.broker, tmp)
        sides: list[Side] = []
        rev = ""
        if args.base:
            base = tmp / "base"
            base.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.base, "src"], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
            rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.base], check=True,
                                 capture_output=True, text=True).stdout.strip()
            sides.append(Side("A", base / "src", "0176", tmp, args, broker))
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"], capture_output=True,
                               text=True).stdout.strip()
        sides.append(Side("B", ROOT / "src", "0177", tmp, args, broker))
        counter = Counter(broker.host, broker.port, [s.topic_prefix for s in sides],
                          [t for s in sides for t in s.topics()], tmp)
        broker_nice = os.getpriority(os.PRIO_PROCESS, broker.pid)
        broker_group = autogroup_nice(broker.pid)
        try:
            if args.nice:  # the processes under test ahead of the machine's other work (needs root)
                for pid in (0, broker.pid, counter.proc.pid, *(s.server.pid for s in sides)):
                    os.setpriority(os.PRIO_PROCESS, pid, args.nice)
                if broker.proc is None and broker_group is not None:  # the machine's broker: its own group
                    set_autogroup_nice(broker.pid, args.nice)
            for side in sides:
                await side.login()
            await asyncio.sleep(1.0)
            print(f"# {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {platform.machine()}, "
                  f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {args.terminals} terminals per side, "
                  f"{args.seconds:g} s per rate, QoS {args.qos}, {broker.describe()}, "
                  f"load average {os.getloadavg()[0]:.1f}"
                  + (f", gateways, broker, load generator and subscriber at nice {args.nice}" if args.nice else ""))
            if args.base:
                print(f"# A = {args.base} ({rev}), B = this tree (HEAD {head}{', modified' if dirty else ''})")
            print(HEAD)
            for rate in args.rates:
                for side in sides:
                    print(await offer(side, counter, broker, rate, args.seconds), flush=True)
                print(f"# load average {os.getloadavg()[0]:.1f}", flush=True)
        finally:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, broker.pid, broker_nice)
                if broker.proc is None and broker_group is not None:
                    set_autogroup_nice(broker.pid, broker_group)
            counter.stop()
            for side in sides:
                side.close()
            if broker.proc is None:  # the machine's broker: leave no retained status or node state behind
                await clear_retained(broker.host, broker.port, [
                    t for side in sides for t in (f"jt808/_nodes/{side.node}/state",
                                                  *(f"jt808/{p}/{p}/status" for p in side.phones))])
            broker.stop()


async def bridge_only(args: argparse.Namespace) -> None:
    """The bridge alone, in this process: ``--bridge-only N`` decoded 0x0200 packets of 1,000 terminals
    through ``on_uplink`` (``--rendered``: their JSON already rendered, through the outgoing buffer), until
    the broker acknowledged them all. For instruction counts, e.g. under ``valgrind --tool=cachegrind
    --cache-sim=no`` at two values of N: the difference ÷ the difference of N is per uplink."""
    import jt808
    from jt808.bridges.mqtt import MqttBridge, _dumps
    from jt808.config import MqttConfig
    from jt808.protocol.exchange import to_json
    from jt808.protocol.registry import DEFAULT_PROFILE

    class StubGateway:
        profile = DEFAULT_PROFILE
        sessions = ()

        def is_online(self, phone: str) -> bool:
            return False

    with tempfile.TemporaryDirectory() as tmpname:
        broker = Broker(args.broker, Path(tmpname))
        cfg = MqttConfig(url=broker.url, buffer_size=1_000_000, client_id=f"jt808-bench-inproc-{os.getpid()}")
        bridge = MqttBridge(StubGateway(), cfg)
        try:
            await bridge.start(required=True)
            while not bridge.published:  # the node's "online" state, published first, out of the count
                await asyncio.sleep(0.01)
            phones = [f"0178{i:08d}" for i in range(1000)]
            packets = [jt808.decode(_frame(_report(i), phones[i], i)) for i in range(1000)]
            ups = [f"jt808/{p}/{p}/up" for p in phones]
            rendered = [_dumps(to_json(p, DEFAULT_PROFILE)) for p in packets]
            for phone, up in zip(phones, ups, strict=True):
                bridge._up[phone] = up  # held, without the status events
            await bridge.wait_idle(30)
            c0, p0 = time.process_time(), bridge.published
            for k in range(args.bridge_only):
                i = k % 1000
                if args.rendered:
                    bridge._enqueue(ups[i], rendered[i], False)
                else:
                    bridge.on_uplink(phones[i], packets[i])
                if k % 50 == 49:  # the gateway hands uplinks over a read at a time
                    await asyncio.sleep(0)
            await bridge.wait_idle(600)
            c1 = time.process_time()
            print(f"{bridge.published - p0} acknowledged by the broker, {(c1 - c0) / args.bridge_only * 1e6:.2f} us "
                  f"CPU per uplink ({'JSON rendered before' if args.rendered else 'JSON included'})")
        finally:
            await bridge.stop()
            if broker.proc is None:
                await clear_retained(broker.host, broker.port, [bridge.state_topic])
            broker.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="064b285", help="git revision of side A ('' = B only)")
    ap.add_argument("--broker", default="127.0.0.1:1883", help="HOST:PORT of a running Mosquitto, or 'private'")
    ap.add_argument("--terminals", type=int, default=1000)
    ap.add_argument("--rates", default="20000,30000,40000", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--qos", type=int, default=1, choices=(0, 1), help="QoS of the gateway's publishes")
    ap.add_argument("--nice", type=int, default=0, help="scheduling priority of the processes under test (-10: "
                    "ahead of other work on a shared machine; needs root); the broker's is restored after")
    ap.add_argument("--profile", metavar="DIR", help="run the gateways under cProfile, writing DIR/A.prof, DIR/B.prof")
    ap.add_argument("--bridge-only", type=int, metavar="N", help="the bridge alone in this process, N uplinks")
    ap.add_argument("--rendered", action="store_true", help="--bridge-only: payloads rendered beforehand")
    ap.add_argument("--src", help="--bridge-only: the source tree to import jt808 from (A/B)")
    ap.add_argument("--subscriber", help=argparse.SUPPRESS)
    ap.add_argument("--prefixes", help=argparse.SUPPRESS)
    ap.add_argument("--topics-file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    try:
        import uvloop
        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    if args.subscriber:
        host, _, port = args.subscriber.rpartition(":")
        runner(subscriber_main(host, int(port), args.prefixes.split(","), args.topics_file))
    elif args.bridge_only:
        sys.path.insert(0, args.src or str(ROOT / "src"))
        runner(bridge_only(args))
    else:
        # this process's scheduling group (its session's, with autogroups) at --nice while it runs, so
        # the gateways and subscriber it starts are ahead too; restored after, Ctrl-C included
        group = autogroup_nice(os.getpid())
        if args.nice and group is not None:
            set_autogroup_nice(os.getpid(), args.nice)
        sys.path.insert(0, str(ROOT / "src"))
        try:
            runner(run(args))
        finally:
            if args.nice and group is not None:
                set_autogroup_nice(os.getpid(), group)


if __name__ == "__main__":
    main()
