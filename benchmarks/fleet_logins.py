"""A fleet logging in, then living: login rate and gateway CPU per login, RSS per terminal, heartbeat ack
latency while 1 % of the fleet reports every second.

Starts ``jt808 serve`` in a subprocess (uvloop, HTTP off, log level INFO as deployed unless ``--set``
says otherwise) and drives it over loopback with the lean terminals of ``gateway_load.py``:

1. **logins**: N terminals connect and register + authenticate (``--concurrency`` at a time); printed: logins/s,
   the gateway's CPU seconds ÷ N (µs per login) and the load generator's;
2. **idle**: the gateway's RSS growth ÷ N;
3. **living**: for ``--seconds``, every terminal sends a heartbeat every ``--heartbeat`` seconds (spread
   evenly) except 1 % of them, which send one location report per second each (acknowledged after
   the commit); printed: heartbeat ack p50/p99, report ack p50/p99, CPU of both sides.

The number of terminals is bounded by the per-process file limit (``ulimit -n``): the load generator holds
one socket per terminal, so one generator process reaches at most that many; the script says so and
stops below it.

    python benchmarks/fleet_logins.py -n 15000 --db sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gateway_load as gl

from jt808.protocol.messages.general import HeartBeat


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def main(args: argparse.Namespace) -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    n = args.terminals
    if n > soft - 200:
        n = soft - 200
        print(f"# file limit {soft}: {n} terminals (one load-generator process holds one socket per terminal)")
    gl.SETTINGS[:] = args.set
    with tempfile.TemporaryDirectory() as tmp:
        srv = gl.start_server(args.db, Path(tmp))
        try:
            await srv.ready()
            warm = await gl.connect_all(srv.port, 20, 0, [])
            gl.FIRST = 100  # the fleet's phones follow the warm-up's (a registered phone may not register again)
            await asyncio.sleep(1)
            rss0 = srv.rss()
            cpu0, own0, t0 = srv.cpu_seconds(), own_cpu(), time.perf_counter()
            terms = await gl.connect_all(srv.port, n, 0, [], concurrency=args.concurrency)
            t1 = time.perf_counter()
            await asyncio.sleep(1)  # writes of the logins (last_seen …) settle
            cpu1, own1 = srv.cpu_seconds(), own_cpu()
            login_s = t1 - t0
            print(f"logins      N={n:>6}  {n / login_s:>8,.0f} logins/s  gateway {1e6 * (cpu1 - cpu0) / n:6.1f} µs CPU "
                  f"per login (over the logins and 1 s after)  load generator {1e6 * (own1 - own0) / n:6.1f} µs "
                  f"per login  (db={args.db}, load avg {os.getloadavg()[0]:.2f})", flush=True)
            await asyncio.sleep(1)
            rss1 = srv.rss()
            print(f"idle        N={n:>6}  RSS {rss0 / 2**20:.1f} → {rss1 / 2**20:.1f} MB  "
                  f"{(rss1 - rss0) / n / 1024:.2f} KB per terminal", flush=True)

            reporters = terms[: max(1, n // 100)]
            beaters = terms[len(reporters):]
            hb_lat: list[tuple[float, int]] = []
            rep_lat: list[tuple[float, int]] = []
            hb = [gl.frame(HeartBeat(), gl.phone_of(t.i), 7) for t in beaters]
            reps = [gl.frame(gl.location_body(t.i), gl.phone_of(t.i), 9) for t in reporters]
            for t in beaters:
                t.lat = hb_lat
            for t in reporters:
                t.lat = rep_lat
            loop = asyncio.get_running_loop()
            cpu0, own0 = srv.cpu_seconds(), own_cpu()
            start = loop.time()
            end = start + args.seconds
            tick = 0.05  # send what is due every 50 ms
            per_tick = len(beaters) * tick / args.heartbeat
            due = 0.0
            k = 0
            next_report = start
            while (now := loop.time()) < end:
                due += per_tick
                while due >= 1:
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
            cpu1, own1 = srv.cpu_seconds(), own_cpu()
            secs = args.seconds + 1
            hp = gl.weighted_percentiles(hb_lat, (0.5, 0.99))
            rp = gl.weighted_percentiles(rep_lat, (0.5, 0.99))
            hbs = sum(c for _, c in hb_lat)
            print(f"living      N={n:>6}  {hbs / args.seconds:,.0f} heartbeats/s (every {args.heartbeat:g} s) "
                  f"p50 {1e3 * hp[0]:.2f} ms p99 {1e3 * hp[1]:.2f} ms; {len(reporters)} reporting 1/s: "
                  f"p50 {1e3 * rp[0]:.2f} ms p99 {1e3 * rp[1]:.2f} ms; CPU gateway {(cpu1 - cpu0) / secs:.0%} "
                  f"load generator {(own1 - own0) / secs:.0%}", flush=True)
            for t in terms + warm:
                t.transport.close()
        finally:
            srv.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--terminals", "-n", type=int, default=10_000)
    ap.add_argument("--db", default="sqlite", help="none, sqlite, memory, or a postgresql:// URL")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--heartbeat", type=float, default=30)
    ap.add_argument("--concurrency", type=int, default=1000, help="logins in progress at once")
    ap.add_argument("--set", action="append", default=["log.level=INFO"], metavar="SECTION.NAME=VALUE")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(ap.parse_args()))
