"""Codec micro-benchmarks (issue "Protocol core").

Prints, for this CPython on this machine, µs per operation and operations per second for:
  - decode of a typical 0x0200 frame with six additional-information items,
  - encode of a 0x8001 platform general reply frame,
  - decode + encode of a 0x0104 parameter reply frame with 15 parameters,
  - the FrameSplitter over a 1 MB stream of mixed frames fed in 1,460-byte chunks.

Each figure is the best of several repeats (timeit), so background load inflates it less.
Usage: python3 benchmarks/codec.py [--repeat N]
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
import timeit

import jt808
from jt808 import V2013, Header, Packet
from jt808.protocol.framing import FrameSplitter
from jt808.protocol.messages.general import HeartBeat, PlatformGeneralReply
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.params import ParametersReply, make_params

PHONE = "013912345678"


def location_frame(sn: int = 7) -> bytes:
    body = LocationReport(
        alarm=0, status=0x000C0003, latitude=30787690, longitude=120767073, altitude=12, speed=600,
        direction=90, time="190313153803",
        extras=[(0x01, 12345), (0x02, 500), (0x30, 20), (0x31, 11), (0x25, 3), (0x2B, 0x00010002)],
    )
    return jt808.encode(Packet(Header(0x0200, PHONE, sn, V2013), body))


def params_frame() -> bytes:
    values = {
        0x0001: 60, 0x0002: 10, 0x0003: 3, 0x0004: 10, 0x0005: 3, 0x0010: "CMNET", 0x0013: "10.0.0.1",
        0x0018: 7611, 0x0020: 0, 0x0029: 30, 0x0055: 120, 0x0056: 10, 0x0080: 123456, 0x0081: 11, 0x0083: "ZA12345",
    }
    body = ParametersReply(seq=9, params=make_params(values))
    return jt808.encode(Packet(Header(0x0104, PHONE, 8, V2013), body))


def mixed_stream(size: int = 1 << 20) -> tuple[bytes, int]:
    rng = random.Random(808)
    frames = [location_frame(sn) for sn in range(200)]
    frames.append(jt808.encode(Packet(Header(0x0002, PHONE, 1), HeartBeat())))
    frames.append(params_frame())
    frames.append(jt808.encode(Packet(Header(0x8001, PHONE, 2), PlatformGeneralReply(1, 2, 0))))
    out = bytearray()
    n = 0
    while len(out) < size:
        out += rng.choice(frames)
        n += 1
    return bytes(out), n


def best(fn, number: int, repeat: int) -> float:  # type: ignore[no-untyped-def]
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def row(name: str, seconds: float) -> None:
    print(f"{name:<46} {seconds * 1e6:8.2f} µs/frame {1 / seconds:12,.0f} frames/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    rep = args.repeat
    print(f"# jt808 codec benchmark — {time.strftime('%Y-%m-%d %H:%M')} UTC, CPython {platform.python_version()}, "
          f"{platform.machine()}, {platform.processor() or 'cpu ?'}")

    loc = location_frame()
    p = jt808.decode(loc)
    assert isinstance(p.body, LocationReport) and len(p.body.extras) == 6 and jt808.encode(p) == loc
    decode = jt808.decode
    row("decode 0x0200 (6 additional items)", best(lambda: decode(loc), 50_000, rep))

    reply = Packet(Header(0x8001, PHONE, 7, V2013), PlatformGeneralReply(seq=7, id=0x0200, result=0))
    encode = jt808.encode
    row("encode 0x8001", best(lambda: encode(reply), 50_000, rep))

    pf = params_frame()
    assert len(jt808.decode(pf).body.params) == 15
    row("decode + encode 0x0104 (15 parameters)", best(lambda: encode(decode(pf)), 10_000, rep))

    stream, nframes = mixed_stream()
    chunks = [stream[i:i + 1460] for i in range(0, len(stream), 1460)]

    def split_all() -> int:
        s = FrameSplitter()
        total = 0
        for c in chunks:
            total += len(s.feed(c))
        return total

    assert split_all() == nframes
    t = best(split_all, 1, rep)
    row(f"splitter, 1 MB mixed stream ({nframes:,} frames)", t / nframes)
    print(f"{'':<46} {len(stream) / t / 1e6:8.1f} MB/s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
