"""Throughput of ``jt808 decode`` on stdin: N mixed frames (default 100,000), piped through the console
script, one JSON line out per frame. Prints frames/s (best of ``--repeat`` runs, end to end: process
start, decode, JSON, write).

    python benchmarks/cli_decode.py [--frames 100000] [--repeat 3]

The mix, by share of frames: 60 % location reports (2013 and 2019, with 2-9 additional items, some
with escapes), 15 % heartbeats, 10 % terminal general replies, 5 % platform general replies,
5 % registrations, 5 % authentications — roughly what a gateway's uplink looks like.
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import subprocess
import sys
import time

import jt808
from jt808 import V2013, V2019, Header, Packet
from jt808.protocol.messages.general import HeartBeat, PlatformGeneralReply, TerminalGeneralReply
from jt808.protocol.messages.location import LocationReport


def _phone(rng: random.Random, version: jt808.Version) -> str:
    digits = f"{rng.randrange(10 ** 11):011d}"
    return digits.rjust(20 if version is V2019 else 12, "0")


def _location(rng: random.Random) -> LocationReport:
    extras: list[tuple[int, object]] = [(0x01, rng.randrange(10 ** 7)), (0x30, rng.randrange(32))]
    if rng.random() < 0.7:
        extras += [(0x02, rng.randrange(5000)), (0x31, rng.randrange(20))]
    if rng.random() < 0.4:
        extras += [(0x25, rng.randrange(1 << 15)), (0x2A, rng.randrange(4)), (0x2B, rng.randrange(1 << 32))]
    if rng.random() < 0.2:
        extras += [(0xE1, bytes(rng.randrange(256) for _ in range(6))), (0x11, {"type": 0})]
    return LocationReport(
        alarm=rng.choice((0, 0, 0, 1, 1 << 8)), status=rng.choice((0x000C0003, 0x00040002, 3)),
        latitude=rng.randrange(18_000_000, 53_000_000), longitude=rng.randrange(73_000_000, 135_000_000),
        altitude=rng.randrange(2000), speed=rng.randrange(1200), direction=rng.randrange(360),
        time=f"26{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{rng.randrange(24):02d}"
             f"{rng.randrange(60):02d}{rng.randrange(60):02d}",
        extras=extras)


def make_frames(n: int, seed: int = 808) -> list[str]:
    """``n`` frames in hex, the mix described in the module docstring."""
    rng = random.Random(seed)
    reg13 = bytes.fromhex("7e0100002e0188554850150025002c0133373039363054372d5438303800000000000000000000"
                          "0000003033323931373001e6b599413636363636557e")
    auth13 = bytes.fromhex("7e010200060188554850150001323835313131db7e")
    out = []
    for i in range(n):
        r = rng.random()
        version = V2019 if rng.random() < 0.3 else V2013
        sn = i & 0xFFFF
        if r < 0.60:
            body: jt808.Body = _location(rng)
        elif r < 0.75:
            body = HeartBeat()
        elif r < 0.85:
            body = TerminalGeneralReply(seq=rng.randrange(65536), id=0x8103, result=0)
        elif r < 0.90:
            body = PlatformGeneralReply(seq=rng.randrange(65536), id=0x0200, result=0)
        elif r < 0.95:
            out.append(reg13.hex())
            continue
        else:
            out.append(auth13.hex())
            continue
        out.append(jt808.encode(Packet(Header(body.msg_id, _phone(rng, version), sn, version), body)).hex())
    return out


def run_once(script: str, payload: bytes, n: int) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([script, "decode"], input=payload, capture_output=True, check=True)
    dt = time.perf_counter() - t0
    lines = proc.stdout.count(b"\n")
    if lines != n:
        raise SystemExit(f"expected {n} output lines, got {lines}: {proc.stderr.decode()[:500]}")
    if b'"error"' in proc.stdout:
        raise SystemExit("some frames did not decode: " + next(
            x for x in proc.stdout.decode().splitlines() if '"error"' in x))
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    script = shutil.which("jt808")
    if script is None:
        raise SystemExit("the jt808 console script is not on PATH (pip install -e .)")
    t0 = time.perf_counter()
    frames = make_frames(args.frames)
    payload = ("\n".join(frames) + "\n").encode()
    gen = time.perf_counter() - t0
    best = min(run_once(script, payload, args.frames) for _ in range(args.repeat))
    print(f"jt808 decode: {args.frames} frames ({len(payload) / 1e6:.1f} MB of hex) in {best:.2f} s "
          f"= {args.frames / best:,.0f} frames/s (best of {args.repeat}; generating took {gen:.1f} s)")
    print(f"python {platform.python_version()} on {platform.machine()} · {platform.processor() or platform.system()}"
          f" · {sys.platform}")


if __name__ == "__main__":
    main()
