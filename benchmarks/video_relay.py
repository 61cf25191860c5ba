"""Live video relay: how many concurrent ~1 Mbit/s camera streams, one HTTP-FLV viewer each, one gateway
process relays with at most 1 s added latency; and the latency from a frame's packets written by the
camera to its FLV tag read by the viewer (p50 / p99).

    python benchmarks/video_relay.py [--steps 1,2,4,8,12,16,24,32] [--seconds 8] [--bitrate 1000000]
                                     [--no-audio] [--json out.json]
    python benchmarks/video_relay.py --per-frame     # in-process cost of each remux step, µs per frame

The gateway is ``jt808 serve`` in its own process (storage off, uvloop); the simulated dash-cams
(:class:`jt808.simulator.camera.CameraResponder`, a 640x360 25 fps libx264 clip at ``--bitrate``,
G.711A audio unless ``--no-audio``) and the viewers run in this process, on loopback. Each step adds
streams until p99 latency exceeds 1 s or a viewer gets fewer than 99 % of the frames sent while it
watched. Gateway CPU per step comes from /proc. Both sides share the machine: on a loaded machine the
numbers are lower bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
from typing import Any

import httpx

from jt808.client.aio import AsyncTerminal
from jt808.simulator.camera import CameraResponder, make_clip
from jt808.simulator.fleet import percentile


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Viewer:
    """Reads live.flv, notes when each video tag (by its timestamp) arrived."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.bytes = 0
        self.offset: int | None = None  # FFmpeg shifts all timestamps by the AAC encoder's priming delay

    async def run(self, client: httpx.AsyncClient, url: str, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        buf = bytearray()
        header = False
        async with client.stream("GET", url) as r:
            r.raise_for_status()
            async for chunk in r.aiter_raw():
                now = loop.time()
                self.bytes += len(chunk)
                buf += chunk
                if not header:
                    if len(buf) < 13:
                        continue
                    del buf[:13]
                    header = True
                while len(buf) >= 11:
                    size = int.from_bytes(buf[1:4], "big")
                    if len(buf) < 15 + size:
                        break
                    if buf[0] == 9 and size > 2 and buf[12] == 1:  # video, AVC NALU (not a sequence header)
                        ts = int.from_bytes(buf[4:7], "big") | buf[7] << 24
                        if self.offset is None:
                            self.offset = ts  # the first tag is the camera's first frame (timestamp 0)
                        self.arrived.setdefault(ts - self.offset, now)
                    del buf[:15 + size]
                if stop.is_set():
                    return


async def step(n: int, args: argparse.Namespace, ports: dict[str, int], clip: Any, gw_pid: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    terminals: list[AsyncTerminal] = []
    cams: list[CameraResponder] = []
    sent: list[dict[int, float]] = []
    for _ in range(n):
        phone = f"0{random.randrange(10 ** 10, 10 ** 11)}"
        times: dict[int, float] = {}
        sent.append(times)
        cam = CameraResponder(phone, clip, loop=True, on_sent=times.__setitem__)
        t = AsyncTerminal("127.0.0.1", ports["tcp"], phone)
        t.on_message = cam.on_message(t)
        await t.connect()
        reply = await t.register(province=1, city=1, manufacturer="BENCH", model="DC", dev_id="D", color=1,
                                 license_number="B")
        await t.authenticate(reply.auth_code)
        terminals.append(t)
        cams.append(cam)
    stop = asyncio.Event()
    viewers = [Viewer() for _ in range(n)]
    api = f"http://127.0.0.1:{ports['http']}"
    async with httpx.AsyncClient(base_url=api, timeout=60, limits=httpx.Limits(max_connections=n + 10)) as client:
        tasks = [loop.create_task(v.run(client, f"/api/v1/terminals/{t.phone}/channels/1/live.flv", stop))
                 for v, t in zip(viewers, terminals, strict=True)]
        await asyncio.sleep(args.warmup)
        t0 = loop.time()
        cpu0 = _cpu_seconds(gw_pid)
        own0 = _cpu_seconds(os.getpid())
        await asyncio.sleep(args.seconds)
        t1 = loop.time()
        cpu1 = _cpu_seconds(gw_pid)
        own1 = _cpu_seconds(os.getpid())
        await asyncio.sleep(1.2)  # frames sent just before t1 may still be on their way
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for t in terminals:
            await client.delete(f"/api/v1/terminals/{t.phone}/channels/1/live")
    lat: list[float] = []
    frames_sent = frames_got = 0
    for times, v in zip(sent, viewers, strict=True):
        for ts, at in times.items():
            if t0 <= at <= t1:
                frames_sent += 1
                got = v.arrived.get(ts)
                if got is not None:
                    frames_got += 1
                    lat.append(got - at)
    for cam in cams:
        await cam.aclose()
    for t in terminals:
        await t.close()
    lat.sort()
    return {"streams": n, "frames_sent": frames_sent, "frames_received": frames_got,
            "delivered": round(frames_got / frames_sent, 4) if frames_sent else 0.0,
            "latency_ms_p50": round(percentile(lat, 0.5) * 1000, 1),
            "latency_ms_p99": round(percentile(lat, 0.99) * 1000, 1),
            "latency_ms_max": round(lat[-1] * 1000, 1) if lat else None,
            "video_mbit_s_in": round(n * clip.bitrate / 1e6, 2),
            "gateway_cpu": round((cpu1 - cpu0) / (t1 - t0), 3),
            "driver_cpu": round((own1 - own0) / (t1 - t0), 3), "load": round(os.getloadavg()[0], 1)}


def per_frame(bitrate: int, rounds: int = 5) -> dict[str, float]:
    """µs per 40 ms frame of: video mux (FLV), G.711A decode + resample, AAC encode + mux (best of runs)."""
    from jt808.video.remux import AudioDecoder, FlvOutput, video_template

    clip = make_clip(4.0, 25, 640, 360, 25, True, bitrate)
    best = {"video_mux": 1e9, "audio_decode": 1e9, "aac_encode_mux": 1e9}
    for _ in range(rounds):
        _, template = video_template(98, clip.video[0][0])
        out = FlvOutput(template, True, lambda tag, kind: None)
        dec = AudioDecoder(6)
        spent = dict.fromkeys(best, 0.0)
        for i, (payload, key, ts) in enumerate(clip.video):
            t0 = time.perf_counter()
            out.video(payload, ts, key)
            t1 = time.perf_counter()
            frames = dec.decode(clip.audio[i][0], clip.audio[i][1])
            t2 = time.perf_counter()
            out.audio_frames(frames)
            t3 = time.perf_counter()
            spent["video_mux"] += t1 - t0
            spent["audio_decode"] += t2 - t1
            spent["aac_encode_mux"] += t3 - t2
        out.close()
        for k, v in spent.items():
            best[k] = min(best[k], v / len(clip.video) * 1e6)
    return {k: round(v, 1) for k, v in best.items()}


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    clip = make_clip(4.0, 25, 640, 360, 25, not args.no_audio, args.bitrate)
    print(f"clip: {len(clip.video)} frames 640x360 25 fps, {clip.bitrate / 1e6:.2f} Mbit/s video"
          f"{', G.711A audio' if clip.audio else ''}", flush=True)
    ports = {"tcp": _free_port(), "http": _free_port(), "media": _free_port()}
    env = {**os.environ}
    cmd = [sys.executable, "-m", "jt808.cli", "serve", "--host", "127.0.0.1", "--port", str(ports["tcp"]),
           "--http-port", str(ports["http"]), "--media-port", str(ports["media"]), "--db", "none",
           "--log-level", "WARNING", "--data-dir", f"/tmp/jt808-video-bench-{os.getpid()}", "--no-udp"]
    gw = subprocess.Popen(cmd, env=env)
    results = []
    try:
        async with httpx.AsyncClient() as c:
            for _ in range(100):
                try:
                    if (await c.get(f"http://127.0.0.1:{ports['http']}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        for n in args.steps:
            r = await step(n, args, ports, clip, gw.pid)
            ok = r["latency_ms_p99"] <= 1000 and r["delivered"] >= 0.99
            r["ok"] = ok
            results.append(r)
            print(json.dumps(r), flush=True)
            if not ok:
                break
    finally:
        gw.terminate()
        gw.wait(10)
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8, 12, 16, 24, 32])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--bitrate", type=int, default=1_000_000)
    ap.add_argument("--no-audio", action="store_true")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--per-frame", action="store_true", help="only the in-process cost per frame")
    a = ap.parse_args()
    if a.per_frame:
        print(json.dumps(per_frame(a.bitrate)))
        sys.exit(0)
    try:
        import uvloop

        run: Any = uvloop.run
    except ImportError:
        run = asyncio.run
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f} at start", flush=True)
    res = run(main(a))
    best = max((r["streams"] for r in res if r["ok"]), default=0)
    print(f"streams relayed within 1 s (p99) with >= 99 % of frames: {best}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"steps": res, "best": best, "load_at_start": os.getloadavg()[0]}, f, indent=1)
