"""Instructions per stored 0x0200 on the gateway's receive path, without sockets or a database.

What is counted for each report: the platform session receiving reads of 8 frames of deferred 0x0200
(one terminal, a remembered item layout of 3 items, 2013; given as values where the tree does that for a
gateway that only stores locations), ``StorageSink.collect`` (or ``collect_values``) building the
storage rows of each read, the SQLite insert parameters of those rows, and the deferred 0x8001s of
the read (``ack_many`` + ``data_to_send``): everything the gateway's CPU does per report except the
socket calls, the event loop and SQLite's own C code.

    python benchmarks/stored_path.py 12000                 # runs the path N times (for a profiler)
    python benchmarks/stored_path.py --ab SRC_A SRC_B ...  # cachegrind: instructions per report of each tree

``--ab`` runs this script under ``valgrind --tool=cachegrind --cache-sim=no`` with ``PYTHONPATH`` set to each
``src`` directory, for 4,000 and 12,000 reports, and prints (I(12,000) - I(4,000)) / 8,000 per tree: a
count that does not move with the load of the machine. The same script works on older trees (it only uses
``PlatformSession``, ``StorageSink.collect`` and ``jt808.storage.sqlite._location_params_many``).
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from typing import Any

#: --bitmaps: the items field devices add to the plain ones (0x25 extended signal bits, 0x2A IO status, 0x2B
#: analog), rendered as maps in the row's JSON; their values stay the same from report to report, as they do
BITMAPS = [(0x25, 0x00000003), (0x2A, 0x0000), (0x2B, 0x00010002)]


#: --load-items: the plain items of ``gateway_load.py``'s report instead of the three (mileage, fuel, tachograph
#: speed, signal strength, satellites)
LOAD_ITEMS = [(0x02, 500), (0x03, 600)]


def run(n: int, acks: bool = True, bitmaps: bool = False, load_items: bool = False) -> None:
    import jt808
    from jt808 import Header, Packet
    from jt808.gateway.sink import StorageSink
    from jt808.protocol.messages.location import LocationReport
    from jt808.protocol.messages.register import TerminalAuth
    from jt808.session.platform import PlatformSession
    from jt808.storage.sqlite import _location_params_many

    phone = "013900000001"
    # as the gateway with storage and no listener (which since 2026-12-06 has stored-only locations given as values)
    values = "location_values" in inspect.signature(PlatformSession).parameters
    s = PlatformSession(deferred_acks=(0x0200,), quiet={0x0002: 0}, **({"location_values": True} if values else {}))
    auth = s.receive_data(jt808.encode(Packet(Header(0x0102, phone, 1), TerminalAuth(code="c"))), 0.0)
    s.accept_auth(auth[0])
    s.data_to_send()
    sink = StorageSink(None)  # type: ignore[arg-type]  # collect only: no writer

    def frame(sn: int) -> bytes:
        body = LocationReport(alarm=0, status=0x000C0003, latitude=31_230_000 + sn, longitude=121_470_000 + sn,
                              altitude=12, speed=600 + sn % 7, direction=90, time="240311120000",
                              extras=[(0x01, 12345 + sn), *(LOAD_ITEMS if load_items else ()), (0x30, 25), (0x31, 12),
                                      *(BITMAPS if bitmaps else ())])
        return jt808.encode(Packet(Header(0x0200, phone, sn), body))

    sns = [sn for sn in range(16, 4000) if 0x7D not in (sn >> 8, sn & 0xFF) and 0x7E not in (sn >> 8, sn & 0xFF)]
    reads = [b"".join(frame(sn) for sn in sns[i:i + 8]) for i in range(0, 8 * 64, 8)]
    s.receive_data(reads[0], 1.0)  # the layout is remembered by the first (general) decode
    s.data_to_send()
    received_at = datetime.now(UTC)
    collect = sink.collect
    # ack_many takes the headers since 2026-12-06 (the packets before): the gateway keeps the headers
    by_header = "headers" in inspect.signature(s.ack_many).parameters
    for i in range(n // 8):
        locs: list[Any] = []
        events: list[Any] = []
        deferred = []
        for ev in s.receive_data(reads[i & 63], 2.0):
            if values and type(ev).__name__ == "LocationValuesReceived":
                sink.collect_values(ev.header, ev.values, received_at, locs)
                deferred.append(ev.header)
                continue
            p = ev.packet
            collect(p, received_at, locs, events)
            deferred.append(p.header if by_header else p)
        _location_params_many(locs)
        if acks:
            s.ack_many(deferred)
            s.data_to_send()
    assert len(locs) == 8, locs


def count(src: str, n: int, acks: bool, bitmaps: bool = False, load_items: bool = False) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        env = {**os.environ, "PYTHONPATH": src, "PYTHONHASHSEED": "0"}
        subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}",
                        sys.executable, __file__, str(n), *(() if acks else ("--no-acks",)),
                        *(("--bitmaps",) if bitmaps else ()), *(("--load-items",) if load_items else ())],
                       env=env, check=True, capture_output=True)
        with open(out) as f:
            text = f.read()
    m = re.search(r"^summary:\s+(\d+)", text, re.M)
    assert m is not None, text[-500:]
    return int(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", nargs="?", type=int, default=12000)
    ap.add_argument("--ab", nargs="+", metavar="SRC", help="src directories to count (valgrind cachegrind)")
    ap.add_argument("--no-acks", action="store_true", help="leave the deferred 0x8001s out (the method of "
                    "BENCHMARKS.md's first count, 2026-12-06 02:30)")
    ap.add_argument("--load-items", action="store_true", help="the five plain items of gateway_load.py's report")
    ap.add_argument("--bitmaps", action="store_true", help="reports also carry the signal, IO status and analog items "
                    "(0x25, 0x2A, 0x2B), as field devices send them")
    args = ap.parse_args()
    if not args.ab:
        run(args.n, not args.no_acks, args.bitmaps, args.load_items)
        return
    print(f"# instructions per stored report ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python "
          f"{sys.version.split()[0]}; (I(12,000) - I(4,000)) / 8,000)", flush=True)
    for src in args.ab:
        lo, hi = (count(src, k, not args.no_acks, args.bitmaps, args.load_items) for k in (4000, 12000))
        print(f"{src:40} {(hi - lo) / 8000:10,.0f}", flush=True)


if __name__ == "__main__":
    main()
