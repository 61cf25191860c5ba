"""A connection flood for the security tests: ``python flood.py PORT COUNT ADDR[,ADDR…]`` opens COUNT TCP
connections to 127.0.0.1:PORT from the given source addresses in turn, keeps them open and silent, prints
``ready N`` (N connections established) and holds them until its standard input closes."""

from __future__ import annotations

import resource
import socket
import sys


def main() -> None:
    port, count, addrs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = []
    failed = 0
    for i in range(count):
        s = socket.socket()
        s.settimeout(10)
        try:
            s.bind((addrs[i % len(addrs)], 0))
            s.connect(("127.0.0.1", port))
        except OSError:
            failed += 1
            s.close()
            continue
        socks.append(s)
    print(f"ready {len(socks)} failed {failed}", flush=True)
    sys.stdin.read()
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
