"""``jt808 serve --workers N``: N gateway processes sharing the terminal port and the storage.

The parent (:func:`supervise`) starts N copies of the same command with a worker index; each binds the
terminal TCP/UDP port with ``SO_REUSEPORT`` (the kernel spreads new connections over them) and opens the
same storage (the SQLite WAL file in the data dir, whose write lock serialises the commits, or PostgreSQL).
The parent restarts a worker that dies, forwards SIGINT/SIGTERM for a graceful stop of all, and exits
non-zero when a worker cannot start.

Worker 0 serves the public HTTP API. Every worker also serves its own API on the loopback port
``http.port + 1 + index`` (its ``/metrics`` are there) with two internal routes its siblings use:
``GET /internal/v1/online`` (the phones it holds), ``POST /internal/v1/terminals/{phone}/commands``
(send to a terminal it holds: 404 not here, 504 no reply, 409 failure result, 400 bad command, 429 queue
full) and ``POST /internal/v1/terminals/{phone}/disconnect`` (the operator's reset reaching the worker
that holds the terminal). With ``http.token`` set, every internal route needs it as the public API does.
:class:`Cluster` is the gateway's command route to the siblings (after the MQTT bridge's, when there is
one), so the public API sees, reaches and resets every worker's terminals. The supervisor points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory, so ``/metrics`` and ``/healthz`` of any worker count
the whole cluster (:mod:`jt808.gateway.metrics`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jt808.errors import DecodeError, JT808Error, ReplyTimeout
from jt808.gateway.errors import CommandFailed, DownlinkQueueFull, TerminalOffline
from jt808.gateway.metrics import ENV, mark_process_dead

if TYPE_CHECKING:
    from jt808.config import Config

__all__ = ["Cluster", "internal_port", "supervise"]

log = logging.getLogger("jt808.workers")

START_GRACE = 60.0  # seconds a worker may take to open its internal port
STOP_GRACE = 30.0  # seconds the workers get to flush and exit after SIGTERM
MAX_QUICK_FAILURES = 5  # restarts of a worker that dies before it is ready, then the parent gives up


def internal_port(cfg: Config, index: int) -> int:
    return cfg.http.port + 1 + index


def _ready(port: int, pid: int, token: str = "") -> bool:
    """The worker ``pid`` answers on its internal port (not merely: something listens there)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/internal/v1/online",
                                 headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=0.5) as r:
            return json.loads(r.read()).get("pid") == pid
    except (OSError, ValueError):
        return False


def supervise(argv: list[str], cfg: Config) -> int:
    """Run ``argv + ["--worker-index", i]`` for every worker until SIGINT/SIGTERM; the exit status."""
    n = cfg.server.workers
    metrics_dir = Path(cfg.data_dir) / ".metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ[ENV] = str(metrics_dir)  # inherited by the workers (read when prometheus_client loads)
    procs: dict[int, subprocess.Popen[bytes]] = {}
    ready: dict[int, bool] = {}
    started: dict[int, float] = {}
    quick_failures: dict[int, int] = dict.fromkeys(range(n), 0)
    stopping = False

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}

    def start(i: int) -> None:
        procs[i] = subprocess.Popen([*argv, "--worker-index", str(i)])
        ready[i] = False
        started[i] = time.monotonic()
        log.info("worker %d started (pid %d)", i, procs[i].pid)

    status = 0
    try:
        for i in range(n):
            start(i)
        while not stopping:
            time.sleep(0.1)
            for i in range(n):
                p = procs[i]
                rc = p.poll()
                if rc is None:
                    if not ready[i]:
                        if _ready(internal_port(cfg, i), p.pid, cfg.http.token):
                            ready[i] = True
                            quick_failures[i] = 0
                            log.info("worker %d ready (pid %d)", i, p.pid)
                        elif time.monotonic() - started[i] > START_GRACE:
                            log.error("worker %d did not open port %d within %g s", i, internal_port(cfg, i),
                                      START_GRACE)
                            status = 1
                            stopping = True
                    continue
                if stopping:
                    break
                if not ready[i]:
                    quick_failures[i] += 1
                    if all(not r for r in ready.values()) or quick_failures[i] >= MAX_QUICK_FAILURES:
                        log.error("worker %d exited with status %d before it was ready: giving up", i, rc)
                        status = 1
                        stopping = True
                        break
                mark_process_dead(p.pid)
                log.warning("worker %d (pid %d) exited with status %d: restarting", i, p.pid, rc)
                time.sleep(min(0.2 * (1 + quick_failures[i]), 2.0))
                start(i)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for i, p in procs.items():
            try:
                rc = p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker %d did not stop within %g s: killed", i, STOP_GRACE)
                p.kill()
                rc = p.wait()
                status = 1
            if rc != 0:
                log.warning("worker %d exited with status %d", i, rc)
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return status


class Cluster:
    """A worker's route to its siblings (a :class:`~jt808.gateway.listeners.CommandRoute`): asks their
    internal HTTP endpoints which terminals they hold and sends commands through them. The internal
    endpoints themselves are served by :mod:`jt808.http` (``create_app(..., worker=index)``)."""

    def __init__(self, cfg: Config, index: int) -> None:
        self.cfg = cfg
        self.index = index
        self.ports = [internal_port(cfg, i) for i in range(cfg.server.workers) if i != index]
        self.headers = {"Authorization": f"Bearer {cfg.http.token}"} if cfg.http.token else {}
        self.client: Any = None
        self.profile: Any = None

    async def start(self) -> None:
        import httpx

        self.client = httpx.AsyncClient(headers=self.headers, timeout=5.0)

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def _ask_all(self, method: str, path: str, key: str, failed: str) -> list[Any]:
        """``key`` of the JSON answer of every sibling to ``method path`` (None from one that fails: logged
        as ``failed``)."""
        import asyncio

        async def ask(port: int) -> Any:
            try:
                r = await self.client.request(method, f"http://127.0.0.1:{port}{path}", timeout=2.0)
                r.raise_for_status()
                return r.json().get(key)
            except Exception as e:
                log.warning("worker on port %d %s: %s", port, failed, e)
                return None

        return await asyncio.gather(*(ask(p) for p in self.ports))

    async def remote_online(self) -> set[str]:
        """Phones held by the siblings that answer (one that does not answer holds none, as far as we know)."""
        answers = await self._ask_all("GET", "/internal/v1/online", "phones", "did not list its terminals")
        return {phone for phones in answers for phone in phones or ()}

    async def remote_disconnect(self, phone: str) -> bool:
        """Ask every sibling to close ``phone``'s connection; whether one did."""
        return any(await self._ask_all("POST", f"/internal/v1/terminals/{phone}/disconnect", "disconnected",
                                       f"did not take the reset of {phone}"))

    async def remote_send(self, phone: str, obj: dict[str, Any], timeout: float | None) -> Any:
        """Try each sibling in turn: the reply JSON of the one holding ``phone``; raises like ``Gateway.send``."""
        import httpx

        from jt808.protocol.exchange import from_json

        d = self.cfg.downlink
        limit = timeout if timeout is not None else d.retry_interval * (d.max_retry_times + 1) + 1
        params = {"timeout": f"{timeout:g}"} if timeout is not None else {}
        unreachable = 0
        for port in self.ports:
            url = f"http://127.0.0.1:{port}/internal/v1/terminals/{phone}/commands"
            try:
                r = await self.client.post(url, json=obj, params=params, timeout=limit + 5.0)
            except httpx.HTTPError as e:
                log.warning("worker on port %d unreachable for a command to %s: %s", port, phone, e)
                unreachable += 1
                continue
            if r.status_code == 404:
                continue
            body: dict[str, Any] = (r.json() if r.headers.get("content-type", "").startswith("application/json")
                                    else {}) or {}
            text = body.get("message", r.text)
            if r.status_code == 200:
                return body.get("reply")
            if r.status_code == 504:
                raise ReplyTimeout(text)
            detail_v = body.get("detail")
            detail: dict[str, Any] = detail_v if isinstance(detail_v, dict) else {}
            if r.status_code == 409 and isinstance(detail.get("reply"), dict):
                try:
                    reply = from_json(detail["reply"], self.profile)
                except JT808Error:
                    raise DecodeError(text) from None
                raise CommandFailed(reply, int(detail.get("result", 1)))
            if r.status_code == 429:
                raise DownlinkQueueFull(text)
            raise DecodeError(text)
        why = "is not connected to any worker"
        if unreachable:
            why += f" ({unreachable} worker(s) unreachable)"
        raise TerminalOffline(phone, why)
