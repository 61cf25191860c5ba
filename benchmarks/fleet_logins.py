"""A fleet logging in, then living: login rate and gateway CPU per login, RSS per terminal, heartbeat ack
latency while 1 % of the fleet reports every second — up to 100,000 terminals and more.

Starts ``jt808 serve`` in a subprocess (uvloop, HTTP off, log level INFO as deployed unless ``--set``
says otherwise; ``--workers W`` for W gateway processes sharing the port) and drives it over loopback
with the lean terminals of ``gateway_load.py``, spread over P load-generator processes (``--generators``;
by default one per 18,000 terminals: a process holds one socket per terminal and the file limit here is
20,000 per process). Generator k connects from 16 addresses 127.(k + 1).0.1–16 (the kernel picks each
connection's port among the 28,000 ephemeral ones of its source address: the fuller that range, the longer
the search, which made the generator's CPU per login grow with N), and the gateway is told to trust
127.0.0.0/8 (``limits.trusted_addresses``: the per-address limits are meant for carrier NATs, not for a
benchmark from one host).

1. **logins**: N terminals connect and register + authenticate (``--concurrency`` in progress at once, over
   all generators); printed: logins/s, the gateway's CPU seconds ÷ N (µs per login, all workers, over the
   logins and 1 s after) and the generators' (their own CPU);
2. **idle**: the gateway's RSS growth ÷ N (all workers);
3. **living**: for ``--seconds``, every terminal sends a heartbeat every ``--heartbeat`` seconds (spread
   evenly) except 1 % of them, which send one location report per second each (acknowledged after
   the commit); printed: heartbeat ack p50/p99, report ack p50/p99, CPU of both sides.

A connection closed before its login completed (a gateway refusing newcomers in a storm,
``--concurrency`` above ``limits.max_unauthenticated``) is retried 2 s later, as devices do; the count is
printed.

    python benchmarks/fleet_logins.py -n 5000 --db sqlite
    python benchmarks/fleet_logins.py -n 100000 --workers 8 --db postgresql://127.0.0.1/test --fresh-db
    python benchmarks/fleet_logins.py -n 5000 --seconds 0 --tree /tmp/base --tree . --rounds 3   # A/B

``--fresh-db`` (PostgreSQL): the run gets a database of its own, created from the URL's server and dropped
afterwards (a registered phone may not register again, so a second run in the same database would be
refused). ``--instructions`` instead runs the gateway under ``valgrind --tool=cachegrind`` twice (N/5 and N
logins, one generator) and prints the instructions per login + disconnect (difference ÷ difference): an A/B
figure that does not move with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway_load as gl

from jt808.protocol.messages.general import HeartBeat

PER_GENERATOR = 18_000  # sockets per load-generator process (the file limit here is 20,000)
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # Linux
SOURCES = 16  # source addresses per generator: 127.<k + 1>.0.1 … .16 (the connect port search stays short)
FIRST = 100  # phone index of the first terminal (the warm-up's 20 come before)


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---------------------------------------------------------------------------------------------
# a load-generator process: logs its slice in, then lives when told to
# ---------------------------------------------------------------------------------------------
class Terminal(gl.Term):
    """gateway_load's lean terminal; a connection closed before its login completed (refused by a full
    gateway in a storm) fails its login, and :func:`connect_slice` comes back later, as devices do."""

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.login.done():
            self.login.set_exception(ConnectionError("closed before the login completed"))


async def connect_slice(port: int, first: int, n: int, source: str, concurrency: int,
                        retry: float = 2.0) -> tuple[list[gl.Term], int]:
    """The terminals logged in, and how many connections were closed before their login completed (each
    retried ``retry`` seconds later, up to 10 times)."""
    loop = asyncio.get_running_loop()
    terms: list[gl.Term] = []
    sem = asyncio.Semaphore(concurrency)
    refused = 0

    async def one(i: int) -> None:
        nonlocal refused
        for tries in range(10):
            async with sem:
                fut: asyncio.Future[None] = loop.create_future()
                for attempt in range(5):
                    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    try:  # a socket of our own: no name resolution of either address per connection
                        sock.setblocking(False)
                        # the port is chosen at connect (by the 4-tuple), not searched for at bind: a bind to
                        # port 0 scans the ports in use, and costs grow with every socket already bound
                        sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                        sock.bind((f"{source}.{1 + i % SOURCES}", 0))
                        await loop.sock_connect(sock, ("127.0.0.1", port))
                        _, proto = await loop.create_connection(partial(Terminal, i, 0, [], [], fut), sock=sock)
                        break
                    except OSError:
                        sock.close()
                        if attempt == 4:
                            raise
                        await asyncio.sleep(0.2 * (attempt + 1))
                try:
                    await asyncio.wait_for(fut, 120)
                except ConnectionError:
                    refused += 1
                    if tries == 9:
                        raise
                else:
                    terms.append(proto)
                    return
            await asyncio.sleep(retry)

    await asyncio.gather(*(one(i) for i in range(first, first + n)))
    return terms, refused


async def live(terms: list[gl.Term], start_wall: float, seconds: float, heartbeat: float) -> dict[str, Any]:
    reporters = terms[: max(1, len(terms) // 100)]
    beaters = terms[len(reporters):]
    hb_lat: list[tuple[float, int]] = []
    rep_lat: list[tuple[float, int]] = []
    hb = [gl.frame(HeartBeat(), gl.phone_of(t.i), 7) for t in beaters]
    reps = [gl.frame(gl.location_body(t.i), gl.phone_of(t.i), 9) for t in reporters]
    for t in beaters:
        t.lat = hb_lat
    for t in reporters:
        t.lat = rep_lat
    await asyncio.sleep(max(0.0, start_wall - time.time()))  # all generators start together
    loop = asyncio.get_running_loop()
    cpu0 = own_cpu()
    start = loop.time()
    end = start + seconds
    tick = 0.05  # send what is due every 50 ms
    per_tick = len(beaters) * tick / heartbeat
    due = 0.0
    k = 0
    next_report = start
    while (now := loop.time()) < end:
        due += per_tick
        while due >= 1 and beaters:
            t = beaters[k]
            t.sent.append((time.perf_counter(), 1))
            t.transport.write(hb[k])
            k = (k + 1) % len(beaters)
            due -= 1
        if now >= next_report:
            pc = time.perf_counter()
            for t, f in zip(reporters, reps, strict=True):
                t.sent.append((pc, 1))
                t.transport.write(f)
            next_report += 1.0
        await asyncio.sleep(tick)
    await asyncio.sleep(1)
    return {"hb": hb_lat, "rep": rep_lat, "cpu": own_cpu() - cpu0, "reporters": len(reporters)}


async def generator(args: argparse.Namespace) -> None:
    """``--child``: one load-generator process; talks JSON lines with the driver (stdin / stdout)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    gl.FIRST = 0
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    say({"ready": True})
    await reader.readline()  # "go"
    cpu0, t0 = own_cpu(), time.perf_counter()
    terms, refused = await connect_slice(args.port, args.first, args.count, args.source, args.concurrency)
    say({"logged_in": len(terms), "refused": refused, "secs": time.perf_counter() - t0, "cpu": own_cpu() - cpu0})
    cmd = json.loads(await reader.readline())
    if cmd.get("live"):
        say(await live(terms, cmd["start"], cmd["seconds"], cmd["heartbeat"]))
        await reader.readline()
    for t in terms:
        t.transport.close()
    await asyncio.sleep(0.5)


# ---------------------------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------------------------
class Generators:
    def __init__(self, port: int, n: int, p: int, concurrency: int) -> None:
        self.procs: list[asyncio.subprocess.Process] = []
        self.spec = []
        base = FIRST
        for k in range(p):
            count = n // p + (1 if k < n % p else 0)
            self.spec.append((base, count, f"127.{k + 1}.0"))
            base += count
        self.port, self.concurrency = port, max(1, concurrency // p)

    async def start(self) -> None:
        for first, count, source in self.spec:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--child", "--port", str(self.port), "--first", str(first),
                "--count", str(count), "--source", source, "--concurrency", str(self.concurrency),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, limit=1 << 26)
            self.procs.append(proc)
        for proc in self.procs:
            await self.read(proc)

    async def read(self, proc: asyncio.subprocess.Process) -> dict[str, Any]:
        line = await proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator {proc.pid} exited ({await proc.wait()})")
        return json.loads(line)

    async def send_all(self, obj: Any) -> list[dict[str, Any]]:
        for proc in self.procs:
            proc.stdin.write((json.dumps(obj) + "\n").encode())
        return list(await asyncio.gather(*(self.read(p) for p in self.procs)))

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                with_stdin = proc.stdin
                if with_stdin is not None and not with_stdin.is_closing():
                    with_stdin.write(b"{}\n")
                    with_stdin.close()
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()


async def fresh_database(url: str) -> str:
    import asyncpg

    name = f"jt808_fleet_{os.getpid()}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.rsplit("/", 1)[0] + "/" + name


async def drop_database(url: str, fresh: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{fresh.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    n = args.terminals
    p = args.generators or max(1, math.ceil(n / PER_GENERATOR))
    gl.SETTINGS[:] = ["log.level=INFO", "limits.trusted_addresses=127.0.0.0/8", "video.enabled=false", *args.set]
    gl.WORKERS = args.workers
    db = args.db
    if args.fresh_db:
        db = await fresh_database(args.db)
    print(f"# {gl.machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; N={n:,}, gateway "
          f"{args.workers} process(es), {p} load-generator process(es), db={args.db}"
          f"{' (a fresh database)' if args.fresh_db else ''}", flush=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            srv = gl.start_server(db, Path(tmp))
            gens = Generators(srv.port, n, p, args.concurrency)
            try:
                await srv.ready()
                if args.workers > 1:
                    await asyncio.sleep(2)  # every worker bound (the port answers as soon as one is)
                gl.FIRST = 0
                warm = await gl.connect_all(srv.port, 20, 0, [])  # imports, first-connection allocations
                await gens.start()
                await asyncio.sleep(1)
                rss0 = srv.rss()
                cpu0, load0 = srv.cpu_seconds(), os.getloadavg()[0]
                t0 = time.perf_counter()
                done = await gens.send_all("go")
                t1 = time.perf_counter()
                await asyncio.sleep(1)  # writes of the logins (registrations, last_seen) settle
                cpu1 = srv.cpu_seconds()
                logged = sum(d["logged_in"] for d in done)
                gen_cpu = sum(d["cpu"] for d in done)
                refused = sum(d["refused"] for d in done)
                retried = f"; {refused:,} closed before their login, retried" if refused else ""
                print(f"logins      N={logged:>7,}  {logged / (t1 - t0):>8,.0f} logins/s  gateway "
                      f"{1e6 * (cpu1 - cpu0) / logged:6.1f} µs CPU per login  load generators "
                      f"{1e6 * gen_cpu / logged:6.1f} µs per login  (load avg {load0:.2f} → "
                      f"{os.getloadavg()[0]:.2f}){retried}",
                      flush=True)
                await asyncio.sleep(1)
                rss1 = srv.rss()
                print(f"idle        N={logged:>7,}  RSS {rss0 / 2**20:.1f} → {rss1 / 2**20:.1f} MB  "
                      f"{(rss1 - rss0) / logged / 1024:.2f} KB per terminal", flush=True)
                if args.seconds > 0:
                    cpu0 = srv.cpu_seconds()
                    out = await gens.send_all({"live": True, "start": time.time() + 1, "seconds": args.seconds,
                                               "heartbeat": args.heartbeat})
                    cpu1 = srv.cpu_seconds()
                    secs = args.seconds + 2
                    hb = [tuple(x) for d in out for x in d["hb"]]
                    rep = [tuple(x) for d in out for x in d["rep"]]
                    hp = gl.weighted_percentiles(hb, (0.5, 0.99))
                    rp = gl.weighted_percentiles(rep, (0.5, 0.99))
                    hbs = sum(c for _, c in hb)
                    print(f"living      N={logged:>7,}  {hbs / args.seconds:,.0f} heartbeats/s (every "
                          f"{args.heartbeat:g} s) p50 {1e3 * hp[0]:.2f} ms p99 {1e3 * hp[1]:.2f} ms; "
                          f"{sum(d['reporters'] for d in out):,} reporting 1/s: p50 {1e3 * rp[0]:.2f} ms p99 "
                          f"{1e3 * rp[1]:.2f} ms; CPU gateway {(cpu1 - cpu0) / secs:.0%} load generators "
                          f"{sum(d['cpu'] for d in out) / args.seconds:.0%} (load avg {os.getloadavg()[0]:.2f})",
                          flush=True)
                for t in warm:
                    t.transport.close()
            finally:
                await gens.stop()
                srv.stop()
    finally:
        if args.fresh_db:
            await drop_database(args.db, db)


# ---------------------------------------------------------------------------------------------
# --instructions: the gateway under cachegrind
# ---------------------------------------------------------------------------------------------
async def instructions(args: argparse.Namespace, n: int) -> int:
    """Instructions the gateway executed (valgrind's I refs) over its whole life with n logins."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = gl.free_port()
        cfg = work / "bench.toml"
        cfg.write_text("[http]\nenabled = false\n[server]\nudp = false\nbacklog = 16384\n"
                       "[session]\nheartbeat_interval = 3600\n[storage]\nbatch_max_rows = 5000\nbatch_max_delay = 0\n"
                       "[log]\nlevel = \"INFO\"\n")
        dbarg = {"none": "none", "sqlite": "", "memory": "memory"}.get(args.db, args.db)
        cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={work / 'cg.out'}",
               sys.executable, "-m", "jt808.cli", "serve", "--config", str(cfg), "--data-dir", str(work / "data"),
               "--host", "127.0.0.1", "--port", str(port), "--db", dbarg]
        env = {**os.environ, "PYTHONPATH": str(gl.ROOT / "src"), "PYTHONUNBUFFERED": "1"}
        with (work / "server.log").open("w") as log:
            proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
            for _ in range(1200):
                try:
                    _, w = await asyncio.open_connection("127.0.0.1", port)
                    w.close()
                    break
                except OSError:
                    await asyncio.sleep(0.5)
            await asyncio.sleep(2)
            gl.FIRST = 0
            terms = await gl.connect_all(port, n, 0, [], concurrency=200) if n else []
            await asyncio.sleep(3)
            for t in terms:
                t.transport.close()
            await asyncio.sleep(3)
            proc.send_signal(signal.SIGINT)
            proc.wait(600)
        text = (work / "server.log").read_text()
        m = re.search(r"I\s+refs:\s+([\d,]+)", text)
        if not m:
            raise RuntimeError(f"no instruction count in the valgrind output:\n{text[-2000:]}")
        return int(m.group(1).replace(",", ""))


async def count_instructions(args: argparse.Namespace) -> None:
    n2 = args.terminals
    n1 = max(1, n2 // 5)
    a = await instructions(args, n1)
    b = await instructions(args, n2)
    print(f"instructions  {(b - a) / (n2 - n1):,.0f} per login + disconnect (gateway under cachegrind, db={args.db}: "
          f"{a:,} with {n1:,} logins, {b:,} with {n2:,}; {gl.ROOT})", flush=True)


async def run_all(args: argparse.Namespace) -> None:
    """Every ``--tree`` in turn, ``--rounds`` times (A/B pairs in one run); the figures of each say which."""
    trees = [Path(t).resolve() for t in args.tree] or [gl.ROOT]
    for r in range(args.rounds):
        for tree in trees:
            gl.ROOT = tree
            if len(trees) > 1 or args.rounds > 1:
                print(f"## round {r + 1}, gateway from {tree}", flush=True)
            await (count_instructions(args) if args.instructions else main(args))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--terminals", "-n", type=int, default=10_000)
    ap.add_argument("--db", default="sqlite", help="none, sqlite, memory, or a postgresql:// URL")
    ap.add_argument("--fresh-db", action="store_true", help="PostgreSQL: a database of the run's own (dropped after)")
    ap.add_argument("--workers", type=int, default=1, help="gateway processes (jt808 serve --workers)")
    ap.add_argument("--generators", type=int, default=0, help="load-generator processes (default: one per 18,000)")
    ap.add_argument("--seconds", type=float, default=20, help="living phase (0: none)")
    ap.add_argument("--heartbeat", type=float, default=30)
    ap.add_argument("--concurrency", type=int, default=1000, help="logins in progress at once (all generators)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.NAME=VALUE")
    ap.add_argument("--instructions", action="store_true", help="instructions per login under cachegrind")
    ap.add_argument("--tree", action="append", default=[], metavar="DIR",
                    help="source tree the gateway runs from (default: this one); several: run each in turn (A/B)")
    ap.add_argument("--rounds", type=int, default=1, help="with several --tree: how many times each, alternating")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--first", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--source", help=argparse.SUPPRESS)
    a = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if a.child:
        asyncio.run(generator(a))
    else:
        asyncio.run(run_all(a))
