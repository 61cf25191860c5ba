"""Codec micro-benchmarks (issue "Protocol core").

Prints, for this CPython on this machine, µs per operation and operations per second for:
  - decode of a typical 0x0200 frame with six additional-information items (``jt808.decode``), warm (the
    same frame again and again) and cold (each frame's item layout differs from the previous one's: six
    orders of the same items, same length — what a codec that remembers layouts has not seen),
  - the same followed by its EMQX JSON (``jt808.protocol.exchange.to_json``, as the gateway's MQTT bridge,
    the HTTP API and ``jt808 decode`` produce it: a dict, not yet text), warm and cold,
  - encode of a 0x8001 platform general reply frame,
  - decode + encode of a 0x0104 parameter reply frame with 15 parameters,
  - the FrameSplitter over a 1 MB stream of mixed frames fed in 1,460-byte chunks.

Each figure is the best of several repeats (timeit), so background load inflates it less.

    python3 benchmarks/codec.py [--repeat N]
    python3 benchmarks/codec.py --ab SRC_A SRC_B [--rounds 3]   # the 0x0200 lines of each tree, alternately
    python3 benchmarks/codec.py --instructions [--ab SRC ...]    # + valgrind instructions per 0x0200 operation

``--ab`` runs the 0x0200 lines once per ``src`` directory and round (``PYTHONPATH`` set to it, trees in
alternation, so that a change of load hits both), e.g. ``--ab /tmp/base-064b285/src src``; it works on
older trees (only ``jt808.decode``/``encode`` and ``exchange.to_json`` are used). ``--instructions`` counts
with ``valgrind --tool=cachegrind --cache-sim=no`` (I(6,000) - I(2,000)) / 4,000 per operation: a figure
that does not move with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
import timeit
from typing import TYPE_CHECKING

import jt808
from jt808 import V2013, Header, Packet
from jt808.protocol.exchange import to_json
from jt808.protocol.framing import FrameSplitter
from jt808.protocol.messages.general import HeartBeat, PlatformGeneralReply
from jt808.protocol.messages.location import LocationReport
from jt808.protocol.messages.params import ParametersReply, make_params

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

PHONE = "013912345678"
ITEMS = [(0x01, 12345), (0x02, 500), (0x30, 20), (0x31, 11), (0x25, 3), (0x2B, 0x00010002)]


def location_frame(sn: int = 7, turn: int = 0) -> bytes:
    """The 6-item 0x0200; ``turn`` rotates the item order (same items, same length, another layout)."""
    body = LocationReport(
        alarm=0, status=0x000C0003, latitude=30787690, longitude=120767073, altitude=12, speed=600,
        direction=90, time="190313153803", extras=ITEMS[turn:] + ITEMS[:turn],
    )
    return jt808.encode(Packet(Header(0x0200, PHONE, sn, V2013), body))


def location_ops() -> dict[str, tuple[Callable[[], Any], int]]:
    """The 0x0200 operations: name -> (a call doing ``per`` of them, ``per``)."""
    decode = jt808.decode
    warm = location_frame()
    turns = [location_frame(7, t) for t in range(len(ITEMS))]
    assert len({len(f) for f in turns}) == 1 and len(set(turns)) == len(ITEMS)
    for f in turns:
        p = decode(f)
        assert isinstance(p.body, LocationReport) and len(p.body.extras) == 6 and jt808.encode(p) == f
        assert len(to_json(p)["body"]["extra"]) == 6

    # cold: the five orders that are not the warm frame's, in turn (a codec that remembers one layout per body
    # length, as this one does since 2026-12-06, keeps the first it read: the warm frame's)
    cold_turns = turns[1:]

    def cold() -> None:
        for f in cold_turns:
            decode(f)

    def cold_json() -> None:
        for f in cold_turns:
            to_json(decode(f))

    return {
        "decode 0x0200, warm (same frame)": (lambda: decode(warm), 1),
        "decode 0x0200, cold (layout not seen before)": (cold, len(cold_turns)),
        "decode + EMQX JSON 0x0200, warm": (lambda: to_json(decode(warm)), 1),
        "decode + EMQX JSON 0x0200, cold": (cold_json, len(cold_turns)),
    }


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


def best(fn, number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def instructions(src: str | None, op: int) -> int:
    """valgrind instructions per call of 0x0200 operation number ``op`` (in ``src``, or this interpreter's path)."""
    counts = []
    for n in (2000, 6000):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "cg.out")
            env = {**os.environ, "PYTHONHASHSEED": "0", **({"PYTHONPATH": src} if src else {})}
            subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}",
                            sys.executable, __file__, "--run", str(op), str(n)], env=env, check=True,
                           capture_output=True)
            with open(out) as f:
                m = re.search(r"^summary:\s+(\d+)", f.read(), re.M)
            assert m is not None
            counts.append(int(m.group(1)))
    return round((counts[1] - counts[0]) / 4000)


def row(name: str, seconds: float) -> None:
    print(f"{name:<46} {seconds * 1e6:8.2f} µs/frame {1 / seconds:12,.0f} frames/s")


def location_rows(rep: int, counts: bool, src: str | None = None) -> None:
    for i, (name, (fn, per)) in enumerate(location_ops().items()):
        extra = f" {instructions(src, i):9,} instr" if counts else ""
        print(f"{name:<46} {best(fn, 30_000 // per, rep) / per * 1e6:8.2f} µs/frame{extra}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--ab", nargs="+", metavar="SRC", help="the 0x0200 lines of each src tree, alternately")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of --ab (default 3)")
    ap.add_argument("--instructions", action="store_true", help="valgrind instructions per 0x0200 operation")
    ap.add_argument("--only-location", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--run", nargs=2, type=int, metavar=("OP", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    rep = args.repeat
    if args.run:  # (under valgrind) operation OP, N times
        fn, per = list(location_ops().values())[args.run[0]]
        for _ in range(args.run[1] // per):
            fn()
        return
    print(f"# jt808 codec benchmark — {time.strftime('%Y-%m-%d %H:%M')} UTC, CPython {platform.python_version()}, "
          f"{platform.machine()}, {platform.processor() or 'cpu ?'}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    if args.ab:
        for r in range(args.rounds):
            for src in args.ab:
                print(f"## round {r + 1}, {src}", flush=True)
                subprocess.run([sys.executable, __file__, "--only-location", "--repeat", str(rep),
                                *(["--instructions"] if args.instructions and r == 0 else [])],
                               env={**os.environ, "PYTHONPATH": src}, check=True)
        return
    location_rows(rep, args.instructions)
    if args.only_location:
        return
    decode = jt808.decode

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
