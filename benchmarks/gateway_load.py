"""Load test of ``jt808 serve`` over loopback.

Starts the gateway in a subprocess (uvloop, HTTP API off) and drives it from this process with a lean
load generator: raw asyncio protocols, every frame pre-encoded, acks counted with one ``bytes.count``
per read and refills written once per read.

Throughput: N terminals register and authenticate, then each keeps K location reports in flight for
``--seconds``; printed: acked reports/s, p50/p99 ack latency (send to ack, per read), the server's CPU
time per acked report (steadier than the rate on a shared machine) and the load average.
Idle: N terminals register and authenticate and stay idle; printed: the server's RSS growth per
connection (VmRSS after minus before, divided by N).

    python benchmarks/gateway_load.py throughput --terminals 200 --inflight 8 --db none
    python benchmarks/gateway_load.py throughput --terminals 200 --inflight 8 --db sqlite
    python benchmarks/gateway_load.py idle --terminals 10000
    python benchmarks/gateway_load.py all          # the BENCHMARKS.md set
    python benchmarks/gateway_load.py durable --src /tmp/base-064b285/src --src src --seconds 6
                                                   # issue 16 part 4 A/B: CPU per durable report and ack latency

``durable`` runs, for each ``--src`` tree in turn (the gateway of that tree, this load generator), 200 terminals
x 8 reports in flight (CPU per report) and 10 x 1 / 100 x 1 (ack latency below saturation) with SQLite,
PostgreSQL (``--pg``, a schema of its own per run) and memory, ``--rounds`` times.

``--db none`` keeps no data and has no listener: the gateway answers heartbeats and locations from the
header alone (bodies only length-checked). ``--db memory`` decodes every report, builds its storage row
and acknowledges it once the in-memory "write" completed (the full per-message path without a
database); ``--db sqlite`` is the default deployment (ack after the batch committed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import jt808
from jt808 import Header, Packet
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.register import TerminalAuth, TerminalRegister

ROOT = Path(__file__).resolve().parent.parent


FIRST = 0


def phone_of(i: int) -> str:
    return f"0139{FIRST + i:08d}"


def frame(body: Any, phone: str, sn: int) -> bytes:
    return jt808.encode(Packet(Header(body.msg_id, phone, sn), body))


def location_body(i: int) -> LocationReport:
    # a realistic report: basic block plus mileage, fuel, speed, signal strength, satellites
    return LocationReport(alarm=0, status=0x000C0003, latitude=31_230_000 + i, longitude=121_470_000 + i,
                          altitude=12, speed=600, direction=90, time="240311120000",
                          extras=[(0x01, 12345), (0x02, 500), (0x03, 600), (0x30, 25), (0x31, 12)])


def serials(n: int, start: int = 16) -> list[int]:
    """Serials whose bytes need no escaping (so every frame of a terminal has the same length)."""
    out: list[int] = []
    sn = start
    while len(out) < n:
        if 0x7D not in (sn >> 8, sn & 0xFF) and 0x7E not in (sn >> 8, sn & 0xFF):
            out.append(sn)
        sn = (sn + 1) & 0xFFFF
    return out


# ---------------------------------------------------------------------------------------------
# the server under test
# ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class External:
    """A server started elsewhere (``--connect PORT``, e.g. under a profiler)."""

    def __init__(self, port: int, pid: int | None) -> None:
        self.port = port
        self.pid = pid
        self.log = Path(os.devnull)

    async def ready(self) -> None:
        return None

    def rss(self) -> int:
        return _status(self.pid, "VmRSS") if self.pid else 0

    def cpu_seconds(self) -> float:
        return _cpu(self.pid) if self.pid else 0.0

    def stop(self) -> None:
        return None


def _status(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its running children (the workers of ``--workers N``)."""
    total = 0.0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _main_thread_cpu(pid: int | None) -> float:
    """CPU seconds of the main thread (the event loop) of ``pid``: the rest of :func:`_cpu` is its other threads
    (SQLite's writer, asyncpg's none, workers' processes)."""
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/task/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        children = []
    return [pid, *(p for c in children for p in _tree(c))]


EXTERNAL: External | None = None


def start_server(db: str, workdir: Path) -> Any:
    return EXTERNAL if EXTERNAL is not None else Server(db, workdir)


SRC = str(ROOT / "src")  # the tree whose gateway is started (--src: an older checkout, for A/B runs)
SETTINGS: list[str] = []  # --set section.name=value, passed to the server as JT808_SECTION_NAME
WORKERS = 1  # --workers N, passed to jt808 serve


class Server:
    def __init__(self, db: str, workdir: Path) -> None:
        self.port = free_port()
        cfg = workdir / "bench.toml"
        cfg.write_text("[http]\nenabled = false\n[server]\nudp = false\nbacklog = 16384\n"
                       "[session]\nheartbeat_interval = 3600\n"
                       "[storage]\nbatch_max_rows = 5000\nbatch_max_delay = 0\n"
                       "[log]\nlevel = \"WARNING\"\n")
        dbarg = {"none": "none", "sqlite": "", "memory": "memory"}.get(db, db)
        self.schema: str | None = None
        if dbarg.startswith(("postgres://", "postgresql://")) and "schema=" not in dbarg:
            # a schema of its own per run: the terminals registered by an earlier run (re-registering a
            # registered phone is refused by design) and its rows do not meet this one; dropped by stop()
            self.schema = f"jt808_bench_{os.getpid()}_{int(time.time() * 1000) % 10**9}"
            self.dsn = dbarg
            dbarg += ("&" if "?" in dbarg else "?") + "schema=" + self.schema
        cmd = [sys.executable, "-m", "jt808.cli", "serve", "--config", str(cfg), "--data-dir", str(workdir / "data"),
               "--host", "127.0.0.1", "--port", str(self.port), "--db", dbarg]
        if WORKERS > 1:  # the workers' internal HTTP ports are http_port + 1 + index
            http = free_port()
            while self.port - 1 - WORKERS <= http <= self.port:
                http = free_port()
            cmd += ["--workers", str(WORKERS), "--http-port", str(http)]
        env = {**os.environ, "PYTHONPATH": SRC, "PYTHONUNBUFFERED": "1"}
        for item in SETTINGS:
            key, _, value = item.partition("=")
            env["JT808_" + key.replace(".", "_").upper()] = value
        self.log = workdir / "server.log"
        self._log = self.log.open("w")
        self.proc = subprocess.Popen(cmd, env=env, stderr=self._log, text=True)

    async def ready(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                await asyncio.sleep(0.5)
                return
            except OSError:
                await asyncio.sleep(0.2)
        raise RuntimeError("server did not start")

    def rss(self) -> int:
        return sum(_status(p, "VmRSS") for p in _tree(self.proc.pid))

    def cpu_seconds(self) -> float:
        return _cpu(self.proc.pid)

    def stop(self) -> None:
        self.proc.send_signal(2)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()
        errors = [line for line in self.log.read_text().splitlines() if "ERROR" in line or "Traceback" in line]
        if errors:
            print("server errors:", *errors[:10], sep="\n  ", file=sys.stderr)
        if self.schema is not None:
            drop_schema(self.dsn, self.schema)


def drop_schema(dsn: str, schema: str) -> None:
    """Drop a benchmark's PostgreSQL schema (in a thread of its own: called from the event loop's thread)."""
    import threading

    import asyncpg

    async def drop() -> None:
        con = await asyncpg.connect(dsn)
        try:
            await con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await con.close()

    t = threading.Thread(target=asyncio.run, args=(drop(),))
    t.start()
    t.join()


# ---------------------------------------------------------------------------------------------
# the load generator
# ---------------------------------------------------------------------------------------------
ACK = b"\x7e\x80\x01"


class Term(asyncio.Protocol):
    """One terminal: logs in, then (when started) keeps ``inflight`` reports outstanding."""

    __slots__ = ("acked", "blob", "buf", "frames", "i", "inflight", "lat", "login", "m", "n", "offs", "run", "sent",
                 "stage", "transport")

    def __init__(self, idx: int, inflight: int, frames: list[bytes], lat: list[Any], login: asyncio.Future[None]):
        self.i = idx
        self.inflight = inflight
        self.frames = frames
        self.blob = b"".join(frames)
        self.m = len(frames)
        self.offs = [0]
        for f in frames:
            self.offs.append(self.offs[-1] + len(f))
        self.n = 0
        self.lat = lat
        self.sent: deque[tuple[float, int]] = deque()
        self.acked = 0
        self.buf = b""
        self.stage = 0
        self.login = login
        self.run = False
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        phone = phone_of(self.i)
        self.transport.write(frame(TerminalRegister(11, 100, "BENCH", "LOAD", f"{self.i:07d}", 1, f"B{self.i}"),
                                   phone, 1))

    def data_received(self, data: bytes) -> None:
        if self.stage < 2:
            self._login(data)
            return
        n = data.count(ACK)
        if not n:
            return
        now = time.perf_counter()
        # send times are kept per write: (time, frames); the acks of a read close the oldest ones
        sent = self.sent
        t, k = sent[0]
        self.lat.append((now - t, n))
        left = n
        while left:
            t, k = sent[0]
            if k <= left:
                sent.popleft()
                left -= k
            else:
                sent[0] = (t, k - left)
                left = 0
        self.acked += n
        if self.run:
            off = self.offs
            k = self.n
            end = k + n
            m = self.m
            if end <= m:
                self.transport.write(self.blob[off[k]:off[end]])
                self.n = end if end < m else 0
            else:
                self.transport.write(self.blob[off[k]:] + self.blob[:off[end - m]])
                self.n = end - m
            sent.append((now, n))

    def _login(self, data: bytes) -> None:
        self.buf += data
        frames = jt808.FrameSplitter().feed(self.buf)
        if not frames:
            return
        self.buf = b""
        p = jt808.decode(frames[0])
        phone = phone_of(self.i)
        if self.stage == 0:
            self.stage = 1
            self.transport.write(frame(TerminalAuth(code=p.body.auth_code), phone, 2))
        else:
            self.stage = 2
            if p.body.result != 0 and not self.login.done():
                self.login.set_exception(RuntimeError(f"auth refused for {phone}"))
            elif not self.login.done():
                self.login.set_result(None)

    def start(self) -> None:
        self.run = True
        k = self.inflight
        self.sent.append((time.perf_counter(), k))
        self.transport.write(b"".join(self.frames[:k]))
        self.n = k


async def connect_all(port: int, n: int, inflight: int, lat: list[float], frames_per: int = 64,
                      concurrency: int = 500) -> list[Term]:
    loop = asyncio.get_running_loop()
    terms: list[Term] = []
    sem = asyncio.Semaphore(concurrency)
    body_frames: dict[int, list[bytes]] = {}

    async def one(i: int) -> None:
        async with sem:
            fut: asyncio.Future[None] = loop.create_future()
            phone = phone_of(i)
            frames = body_frames[i] = [frame(location_body(i), phone, sn) for sn in serials(frames_per)] \
                if inflight else []
            for attempt in range(5):
                try:
                    _, proto = await loop.create_connection(lambda: Term(i, inflight, frames, lat, fut),
                                                            "127.0.0.1", port)
                    break
                except OSError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))
            await asyncio.wait_for(fut, 60)
            terms.append(proto)

    await asyncio.gather(*(one(i) for i in range(n)))
    return terms


async def throughput(n: int, inflight: int, db: str, seconds: float, warmup: float = 2.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        srv = start_server(db, Path(tmp))
        try:
            await srv.ready()
            lat: list[float] = []
            terms = await connect_all(srv.port, n, inflight, lat)
            for t in terms:
                t.start()
            await asyncio.sleep(warmup)
            a0 = sum(t.acked for t in terms)
            lat.clear()
            pid = srv.proc.pid if getattr(srv, "proc", None) is not None else getattr(srv, "pid", None)
            m0 = _main_thread_cpu(pid)
            c0, t0, g0 = srv.cpu_seconds(), time.perf_counter(), time.process_time()
            spy = profile_server(srv, seconds)
            await asyncio.sleep(seconds)
            a1 = sum(t.acked for t in terms)
            c1, t1, g1 = srv.cpu_seconds(), time.perf_counter(), time.process_time()
            m1 = _main_thread_cpu(pid)
            window = list(lat)
            if spy is not None:
                await asyncio.to_thread(spy.wait)
            for t in terms:
                t.run = False
            await asyncio.sleep(0.5)
            for t in terms:
                t.transport.close()
            p50, p99 = weighted_percentiles(window, (0.5, 0.99))
            rate = (a1 - a0) / (t1 - t0)
            return {"terminals": n, "inflight": inflight, "db": db, "acked_per_s": rate,
                    "p50_ms": 1000 * p50, "p99_ms": 1000 * p99,
                    "acks_per_read": sum(k for _, k in window) / max(len(window), 1),
                    "server_cpu": (c1 - c0) / (t1 - t0), "server_main_cpu": (m1 - m0) / (t1 - t0),
                    "loadgen_cpu": (g1 - g0) / (t1 - t0)}
        except Exception:
            print(srv.log.read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            srv.stop()


PROFILE: str | None = None  # --profile FILE: py-spy samples of the server during the measured window


def profile_server(srv: Any, seconds: float) -> subprocess.Popen[bytes] | None:
    pid = srv.proc.pid if getattr(srv, "proc", None) is not None else getattr(srv, "pid", None)
    if PROFILE is None or pid is None:
        return None
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking", "-r", "250",
                             "-f", "raw", "-o", PROFILE, "-d", str(max(1, int(seconds))), "-p", str(pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def idle(n: int, db: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        srv = start_server(db, Path(tmp))
        try:
            await srv.ready()
            # warm the server up (imports, first-connection allocations) with a few terminals
            warm = await connect_all(srv.port, 20, 0, [])
            await asyncio.sleep(1)
            before = srv.rss()
            t0 = time.perf_counter()
            terms = await connect_all(srv.port, n, 0, [], concurrency=1000)
            elapsed = time.perf_counter() - t0
            await asyncio.sleep(2)
            after = srv.rss()
            for t in terms + warm:
                t.transport.close()
            return {"terminals": n, "db": db, "rss_before_mb": before / 2**20, "rss_after_mb": after / 2**20,
                    "bytes_per_conn": (after - before) / n, "login_per_s": n / elapsed}
        finally:
            srv.stop()


def weighted_percentiles(samples: list[tuple[float, int]], qs: tuple[float, ...]) -> list[float]:
    """Percentiles of ack latency; each sample is (latency of a read's oldest ack, acks in the read)."""
    if not samples:
        return [float("nan")] * len(qs)
    samples.sort()
    total = sum(n for _, n in samples)
    out = []
    for q in qs:
        goal = q * total
        acc = 0
        for v, n in samples:
            acc += n
            if acc >= goal:
                out.append(v)
                break
    return out


async def durable_set(srcs: list[str], pg: str, seconds: float, rounds: int) -> None:
    """Issue 16 part 4, A/B in one run: CPU per durable report (200 terminals x 8 in flight) and ack latency
    below saturation (10 x 1 and 100 x 1) for SQLite, PostgreSQL and memory, each tree in turn."""
    global SRC
    steps = [(200, 8, db) for db in ("sqlite", pg, "memory")] + \
            [(n, 1, db) for n in (10, 100) for db in ("sqlite", pg, "memory")]
    for r in range(rounds):
        for n, k, db in steps:
            for src in srcs:
                SRC = src
                res = await throughput(n, k, db, seconds)
                res["db"] = "postgresql" if db == pg else db
                print(f"round {r + 1} {_short(src):>24}: ", end="")
                show_throughput(res)


def _short(src: str) -> str:
    """A tree's name for the output: its commit when it is a git checkout."""
    try:
        out = subprocess.run(["git", "-C", src, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", src, "status", "--porcelain", "--", "."], capture_output=True,
                               text=True).stdout.strip()
        return out + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return src


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def show_throughput(r: dict[str, Any]) -> None:
    print(f"throughput  N={r['terminals']:>6} K={r['inflight']}  db={r['db']:<7} "
          f"{r['acked_per_s']:>10,.0f} acked/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  "
          f"{r.get('acks_per_read', 0):.1f} acks/read  "
          f"CPU server {r['server_cpu']:.0%} loadgen {r['loadgen_cpu']:.0%} "
          f"(server {1e6 * r['server_cpu'] / max(r['acked_per_s'], 1):.1f} µs CPU per report, "
          f"{1e6 * r.get('server_main_cpu', 0) / max(r['acked_per_s'], 1):.1f} in the event loop's thread; "
          f"load avg {os.getloadavg()[0]:.2f})", flush=True)


def show_idle(r: dict[str, Any]) -> None:
    print(f"idle        N={r['terminals']:>6}       db={r['db']:<7} RSS {r['rss_before_mb']:.1f} -> "
          f"{r['rss_after_mb']:.1f} MB = {r['bytes_per_conn'] / 1024:.2f} KB per connection "
          f"(logins {r['login_per_s']:,.0f}/s)", flush=True)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["throughput", "idle", "all", "durable"])
    ap.add_argument("--terminals", "-n", type=int, default=200)
    ap.add_argument("--inflight", "-k", type=int, default=8)
    ap.add_argument("--db", default="none", help="none (storage off), sqlite, memory, or a postgresql:// URL")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connect", type=int, metavar="PORT", help="drive a gateway already listening on PORT")
    ap.add_argument("--pid", type=int, help="with --connect: the server's pid (for CPU and RSS)")
    ap.add_argument("--first", type=int, default=0, help="index of the first terminal (phones 0139<index>)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.NAME=VALUE",
                    help="server setting, e.g. --set storage.ack_after_durable=false")
    ap.add_argument("--workers", type=int, default=1, help="jt808 serve --workers N (processes sharing the port)")
    ap.add_argument("--src", action="append", default=[], metavar="DIR",
                    help="src directory of the gateway to start (default: this checkout's); durable mode: several, "
                         "run alternately (A/B)")
    ap.add_argument("--pg", default="postgresql://127.0.0.1/test", help="durable mode: the PostgreSQL URL")
    ap.add_argument("--rounds", type=int, default=2, help="durable mode: rounds of the whole set")
    ap.add_argument("--profile", metavar="FILE", help="py-spy (raw format) of the server during the measured window")
    args = ap.parse_args()
    SETTINGS.extend(["video.enabled=false", *args.set])  # no media port: several gateways may run at once
    global EXTERNAL, FIRST, WORKERS, PROFILE, SRC
    if args.src and args.mode != "durable":
        SRC = str(Path(args.src[0]).resolve())
    PROFILE = args.profile
    FIRST = args.first
    WORKERS = args.workers
    if args.connect:
        EXTERNAL = External(args.connect, args.pid)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"# {machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    if args.mode == "durable":
        await durable_set([str(Path(d).resolve()) for d in args.src] or [SRC], args.pg, args.seconds, args.rounds)
    elif args.mode == "throughput":
        show_throughput(await throughput(args.terminals, args.inflight, args.db, args.seconds))
    elif args.mode == "idle":
        show_idle(await idle(args.terminals, args.db))
    else:
        for db in ("none", "memory", "sqlite"):
            show_throughput(await throughput(200, 8, db, args.seconds))
        for n in (1000, 10000):
            show_throughput(await throughput(n, 1, "none", args.seconds))
        for n in (1000, 10000):
            show_idle(await idle(n, "none"))


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
