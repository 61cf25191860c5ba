"""One gateway node as ``jt808 serve`` runs it: the composition root.

:class:`Node` builds the parts and wires them through the protocols of :mod:`jt808.gateway.listeners`;
no part replaces an attribute of another::

    storage ──► Gateway ◄── listeners: MqttBridge (uplinks, statuses), console events …
                   │    ◄── media observers: MqttBridge (0x0801 with its file)
                   │    ◄── command routes: MqttBridge (other nodes), Cluster (sibling workers)
                   │    ◄── health checks: storage, a required broker
                   ├──────► VideoService (jt808.video: media port, live streams; 0x9101/0x9102 via commands)
                   └──────► HttpServer (jt808.http: the API, /metrics, /healthz, /docs; video routes)

:meth:`Node.start` goes in an order that binds nothing before everything is validated and connected:

1. the configuration is checked (:meth:`~jt808.config.Config.validate` ran when it was loaded; the
   storage URL, the MQTT URL and the data dir here) — :class:`~jt808.config.ConfigError`;
2. the data dir is made writable, the storage opened (schema created), the broker connected when
   ``mqtt.url`` is set and ``mqtt.required`` — :class:`~jt808.config.StartupError` when one refuses;
3. the listeners are attached, the terminal and HTTP ports bound (a port in use is named);
4. only then does anything accept: HTTP first, then the terminal ports.

A failure at any step undoes the steps before it, so ``jt808 serve`` can print one line and exit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jt808.config import Config, ConfigError, StartupError
from jt808.gateway import Gateway
from jt808.gateway.metrics import Metric, Sample

if TYPE_CHECKING:
    from jt808.bridges.mqtt import MqttBridge
    from jt808.gateway.workers import Cluster
    from jt808.http import HttpServer
    from jt808.protocol.registry import Profile
    from jt808.storage.base import Storage
    from jt808.video import VideoService

__all__ = ["Node", "check_data_dir", "open_storage"]

log = logging.getLogger("jt808.gateway")

METRICS_SYNC = 1.0  # seconds between writes of a worker's metrics into the shared files


def check_data_dir(cfg: Config) -> Path:
    """The data dir, created and proven writable; :class:`StartupError` naming it otherwise."""
    d = Path(cfg.data_dir)
    if d.exists() and not d.is_dir():
        raise ConfigError(f"data_dir {d}: exists and is not a directory")
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=d, prefix=".write-test-"):
            pass
    except OSError as e:
        raise StartupError(f"data_dir {d}: not writable ({e.strerror or e})") from None
    return d


def make_storage(cfg: Config) -> Storage:
    """The backend named by ``storage.db`` (not opened); :class:`ConfigError` for an unusable URL."""
    from jt808.storage import StorageError, create_storage
    from jt808.storage._util import redact_url

    db = cfg.storage.db.strip()
    url = "memory" if db.lower() == "none" else (db or None)
    try:
        return create_storage(url, Path(cfg.data_dir))
    except StorageError as e:
        raise ConfigError(f"storage.db: {e}") from None
    except ValueError as e:  # e.g. ?pool_max=abc
        raise ConfigError(f"storage.db: {redact_url(db)}: {e}") from None


async def open_storage(cfg: Config) -> Storage:
    """:func:`make_storage`, opened (schema created); :class:`StartupError` when the database refuses."""
    from jt808.storage import StorageError
    from jt808.storage._util import redact_url

    storage = make_storage(cfg)
    try:
        await storage.open()
    except StorageError as e:
        cause = e.__cause__
        if cause is None:  # the URL's own settings
            raise ConfigError(f"storage.db: {e}") from None
        if isinstance(cause, OSError | TimeoutError):  # unreachable
            raise StartupError(f"storage.db: cannot connect to {redact_url(cfg.storage.db)}: "
                               f"{_storage_reason(cause)}") from None
        raise StartupError(f"storage.db: {e}") from None  # refused: unknown database or role, password …
    except Exception as e:
        raise StartupError(f"storage.db: {_storage_reason(e)}") from None
    return storage


def _storage_reason(e: BaseException) -> str:
    if isinstance(e, OSError) and e.errno is not None:
        return os.strerror(e.errno).lower()
    if isinstance(e, TimeoutError) and not str(e).strip():
        return "the server accepted the connection but did not answer in time"
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return text or type(e).__name__


STORAGE_UP = "storage"


class _StorageHealth:
    """Storage as a health check: the batch writer's outage state (:class:`jt808.storage.health.StorageHealth`:
    failing from the first write that could not reach the store until one succeeds)."""

    name = STORAGE_UP

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    def problem(self) -> str | None:
        w = self.gw.writer
        h = getattr(w, "health", None)
        if h is None or h.ok:
            return None
        since = datetime.fromtimestamp(h.since, UTC).isoformat(timespec="seconds")
        return f"unavailable since {since}: {h.reason or 'writes failing'}"


WORKERS = Metric("jt808_workers", "gauge", "Gateway worker processes running.")


class Node:
    """A gateway node: storage, gateway, MQTT bridge, worker cluster, HTTP API (see the module docstring).

    ``worker_index``: this is one of ``server.workers`` processes (the terminal port is shared, worker 0
    serves the public HTTP API, every worker its internal one on ``http.port + 1 + index``)."""

    def __init__(self, config: Config, *, storage: Storage | None = None, worker_index: int | None = None,
                 profile: Profile | None = None, connect_timeout: float | None = None) -> None:
        self.config = config
        self.worker_index = worker_index
        self.connect_timeout = connect_timeout if connect_timeout is not None else config.mqtt.connect_timeout
        self._given_storage = storage
        self._profile = profile
        self.gateway: Gateway = None  # type: ignore[assignment]  # built by start()
        self.bridge: MqttBridge | None = None
        self.cluster: Cluster | None = None
        self.http: HttpServer | None = None
        self.internal: HttpServer | None = None
        self.video: VideoService | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    # -- convenience ------------------------------------------------------------------------------------
    @property
    def tcp_port(self) -> int:
        return self.gateway.tcp_port

    @property
    def udp_port(self) -> int:
        return self.gateway.udp_port

    @property
    def http_port(self) -> int:
        return self.http.port if self.http is not None else 0

    async def __aenter__(self) -> Node:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- composition --------------------------------------------------------------------------------------
    def attach_bridge(self, bridge: MqttBridge) -> None:
        """Wire an MQTT bridge: listener, media observer, command route, metrics, health (when required)."""
        gw = self.gateway
        gw.add_listener(bridge)
        gw.add_media_observer(bridge)
        gw.commands.add_route(bridge)
        gw.metrics.add_source(bridge.metric_samples)
        if self.config.mqtt.required:
            gw.add_health_check(bridge)
        self.bridge = bridge

    def detach_bridge(self, bridge: MqttBridge) -> None:
        gw = self.gateway
        gw.remove_listener(bridge)
        gw.remove_media_observer(bridge)
        gw.commands.remove_route(bridge)
        gw.metrics.remove_source(bridge.metric_samples)
        if bridge in gw.health:
            gw.health.remove(bridge)

    async def start(self) -> None:
        cfg = self.config
        if self.worker_index is not None:
            cfg.server.reuse_port = True
            cfg.http.enabled = cfg.http.enabled and self.worker_index == 0
        if cfg.mqtt.url:  # 1. validate what can be validated without touching anything
            from jt808.bridges.mqtt import parse_url

            parse_url(cfg.mqtt.url)
        storage = self._given_storage
        if storage is None:
            make_storage(cfg)
        check_data_dir(cfg)
        try:
            if storage is None:  # 2. connect
                storage = await open_storage(cfg)
            self.gateway = gw = Gateway(cfg, storage=storage, own_storage=self._given_storage is None,
                                        **({"profile": self._profile} if self._profile else {}))
            await gw.open()
            if not gw.data_off:
                gw.add_health_check(_StorageHealth(gw))
            if cfg.video.enabled and not self.worker_index:  # worker 0 serves video for the cluster
                from jt808.video import create

                self.video = create(gw, cfg)
                if self.video is not None:
                    gw.metrics.add_source(self.video.metric_samples)
            if cfg.mqtt.url:
                from jt808.bridges.mqtt import MqttBridge

                bridge = MqttBridge(gw, cfg.mqtt, video=self.video)
                self.attach_bridge(bridge)
                await bridge.start(self.connect_timeout, required=cfg.mqtt.required)
                log.info("MQTT bridge started for %s (%s)", cfg.mqtt.url,
                         "connected" if bridge.connected else "broker not reachable yet, retrying")
            if self.worker_index is not None:
                from jt808.gateway.workers import Cluster

                self.cluster = Cluster(cfg, self.worker_index)
                self.cluster.profile = gw.profile
                await self.cluster.start()
                gw.commands.add_route(self.cluster)
                gw.metrics.add_source(lambda: [Sample(WORKERS, (), 1)])
            # 3. bind
            await gw.bind()
            if self.video is not None:
                await self.video.bind()  # a taken media port turns video off, not the node
            await self._bind_http()
            # 4. serve
            if self.http is not None:
                await self.http.start()
            if self.internal is not None:
                await self.internal.start()
            if self.video is not None:
                await self.video.serve()
            await gw.serve()
        except BaseException:
            await self.stop(bridge_timeout=0)  # release what it took (nothing accepted yet)
            raise
        if gw.metrics.multiprocess:
            self._tasks.append(asyncio.get_running_loop().create_task(self._sync_metrics(), name="jt808-metrics"))
        if self.http is not None:
            log.info("web console on http://%s:%d/ (API /api/v1, docs /docs, metrics /metrics)%s", cfg.http.host,
                     self.http.port, ", token required" if cfg.http.token else "")
        if self.internal is not None:
            log.info("worker %d: internal API on http://127.0.0.1:%d (siblings on %s)", self.worker_index,
                     self.internal.port, ", ".join(map(str, self.cluster.ports)) or "-")  # type: ignore[union-attr]  # set with internal

    async def _bind_http(self) -> None:
        from jt808.http import HttpServer

        cfg = self.config
        if cfg.http.enabled:
            self.http = HttpServer(self.gateway, cfg.http.host, cfg.http.port, cfg.http.token, setting="http.port")
            if self.video is not None:
                from jt808.video.http import add_video_routes

                add_video_routes(self.http.app, self.video, cfg.http.token)
        if self.worker_index is not None:
            from jt808.gateway.workers import internal_port

            self.internal = HttpServer(self.gateway, "127.0.0.1", internal_port(cfg, self.worker_index),
                                       cfg.http.token, worker=self.worker_index,
                                       setting=f"http.port + 1 + worker {self.worker_index}")

    async def _sync_metrics(self) -> None:
        while True:
            try:
                self.gateway.metrics.sync()
            except Exception as e:
                log.warning("metrics sync failed: %s", e)
            await asyncio.sleep(METRICS_SYNC)

    async def stop(self, bridge_timeout: float = 5.0) -> None:
        """Stop accepting, close terminals, flush every write; the bridge says goodbye first (giving its
        buffer ``bridge_timeout`` seconds to reach the broker). Also what a failed :meth:`start` took."""
        for task in self._tasks:
            task.cancel()
        if self.cluster is not None:
            self.gateway.commands.remove_route(self.cluster)
            await self.cluster.stop()
        if self.bridge is not None:
            try:
                await self.bridge.stop(bridge_timeout)
            except Exception as e:
                log.error("MQTT bridge stop: %s", e)
            self.detach_bridge(self.bridge)
        for server in (self.internal, self.http):
            if server is not None:
                await server.stop()
        if self.video is not None:
            await self.video.stop()
        if self.gateway is not None:
            await self.gateway.stop()
        if self.gateway is not None and self.gateway.metrics.multiprocess:
            _forget_pid()


def _forget_pid() -> None:
    from jt808.gateway.metrics import mark_process_dead

    mark_process_dead(os.getpid())
