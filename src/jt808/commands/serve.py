"""``jt808 serve`` — run the platform gateway.

With no options it listens on TCP and UDP port 6808, serves the HTTP API on 127.0.0.1:8808 and keeps
everything in SQLite under ``./jt808-data``. A TOML file (``--config``) and ``JT808_*`` environment
variables set anything else (see :mod:`jt808.config`); the flags below override both. SIGINT/SIGTERM
stop it gracefully: listeners close, terminals are disconnected, every pending write is flushed.

``--workers N`` (``[server] workers``) starts N processes sharing the terminal port and the storage,
supervised by this one (see :mod:`jt808.gateway.workers`); each re-runs this command with the hidden
``--worker-index``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from jt808.config import Config, ConfigError, StartupError
from jt808.protocol.profiles import BUILTIN_PROFILES

__all__ = ["command", "run"]

log = logging.getLogger("jt808.gateway")


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr)


async def run(cfg: Config, stop: asyncio.Event | None = None,
              on_started: Callable[[Any], None] | None = None, worker_index: int | None = None) -> None:
    """Start a node (:class:`jt808.node.Node`: storage, gateway, MQTT bridge, HTTP API), wait for ``stop``
    or a signal, shut down gracefully. ``on_started(gateway)`` is called once it serves.
    ``worker_index``: this is one of ``server.workers`` processes."""
    from jt808.node import Node

    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread / platform without signals
            pass
    node = Node(cfg, worker_index=worker_index)
    # Ctrl-C while a dependency is awaited (a database or broker that does not answer) stops the start,
    # instead of being noticed only after its timeout
    starting = asyncio.ensure_future(node.start())
    halted = asyncio.ensure_future(stop.wait())
    await asyncio.wait((starting, halted), return_when=asyncio.FIRST_COMPLETED)
    halted.cancel()
    if not starting.done():
        starting.cancel()  # Node.start releases what it took
        with contextlib.suppress(asyncio.CancelledError, ConfigError, StartupError):
            await starting
        log.info("interrupted while starting: nothing was served")
        return
    starting.result()  # a startup mistake: raised here
    # Everything loaded so far (modules, the web app …) lives as long as the process: keep it out of
    # the collector's way, and collect young objects less often (each message makes a few).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)
    try:
        if on_started is not None:
            on_started(node.gateway)
        await stop.wait()
        log.info("shutting down")
    finally:
        await node.stop()


def fail(e: ConfigError | StartupError) -> NoReturn:
    """One line on stderr and the exit status of the mistake (2 usage / configuration, 1 dependency)."""
    click.echo(f"Error: {e}", err=True)
    sys.exit(e.exit_code)


@click.command(name="serve", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="TOML configuration file.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data directory (SQLite file, media).  "
              "[default: ./jt808-data]")
@click.option("--host", help="Listen address for terminals.  [default: 0.0.0.0]")
@click.option("--port", type=int, help="TCP and UDP port for terminals.  [default: 6808]")
@click.option("--http-host", help="HTTP API address.  [default: 127.0.0.1]")
@click.option("--http-port", type=int, help="HTTP API port.  [default: 8808]")
@click.option("--db", help="Storage: postgresql://user@host/db, sqlite:///file.db, memory, or none "
              "(no data kept).  [default: SQLite in the data dir]")
@click.option("--mqtt", help="MQTT broker URL for the bridge (mqtt://host:1883).")
@click.option("--attachment-port", type=click.IntRange(0, 65535), help="Alarm-attachment server port (SuBiao/YueBiao "
              "evidence uploads after 0x9208).  [default: 6809 beside the default terminal port, else a free port]")
@click.option("--attachment-host", help="Address named in 0x9208 for the attachment server.  [default: the "
              "address the terminal reached]")
@click.option("--no-attachments", is_flag=True, default=False, help="No attachment server, no automatic 0x9208.")
@click.option("--profile", type=click.Choice(list(BUILTIN_PROFILES)), help="Device profile of the terminals "
              "(JT/T 1078 items and parameters, active-safety layouts).  [default: default]")
@click.option("--token", help="Bearer token required by the HTTP API.")
@click.option("--auth", "auth_mode", type=click.Choice(["builtin", "anonymous", "http"]),
              help="Registration/authentication policy.  [default: builtin]")
@click.option("--auto-register/--no-auto-register", default=None,
              help="builtin policy: register any terminal that asks.  [default: on]")
@click.option("--workers", type=click.IntRange(1, 64), help="Gateway processes sharing the terminal port "
              "(SO_REUSEPORT) and the storage.  [default: 1]")
@click.option("--worker-index", type=int, hidden=True)
@click.option("--no-udp", is_flag=True, default=False, help="Do not listen on UDP.")
@click.option("--media-port", type=int, help="JT/T 1078 media port, TCP and UDP (live video).  [default: 6810]")
@click.option("--advertise-ip", help="Media server address sent to terminals in 0x9101.  "
              "[default: the address each terminal reached the gateway on]")
@click.option("--no-video", is_flag=True, default=False, help="No media port, no live video.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Log level.  [default: INFO]")
def command(config_file: str | None, data_dir: str | None, host: str | None, port: int | None,
            http_host: str | None, http_port: int | None, db: str | None, mqtt: str | None, token: str | None,
            auth_mode: str | None, auto_register: bool | None, workers: int | None, worker_index: int | None,
            no_udp: bool, media_port: int | None, advertise_ip: str | None, no_video: bool,
            log_level: str | None, attachment_port: int | None = None, attachment_host: str | None = None,
            no_attachments: bool = False, profile: str | None = None) -> None:
    """Run the platform gateway: terminals on TCP/UDP, HTTP API, storage, MQTT bridge."""
    try:
        cfg = Config.load(config_file, env=os.environ, **{
            "data.dir": data_dir, "server.host": host, "server.port": port, "http.host": http_host,
            "http.port": http_port, "storage.db": db, "mqtt.url": mqtt, "http.token": token,
            "auth.mode": auth_mode, "auth.auto_register": auto_register, "server.udp": False if no_udp else None,
            "server.workers": workers, "log.level": log_level, "video.port": media_port,
            "video.advertise_ip": advertise_ip, "video.enabled": False if no_video else None,
            "attachments.port": attachment_port, "attachments.advertise_host": attachment_host,
            "attachments.enabled": False if no_attachments else None, "session.profile": profile})
    except ConfigError as e:
        fail(e)
    _setup_logging(cfg.log.level)
    if cfg.server.workers > 1 and worker_index is None:
        if not cfg.server.port or not cfg.http.port:
            fail(ConfigError("server.workers: needs fixed ports (server.port and http.port, not 0)"))
        if cfg.http.port <= cfg.server.port <= cfg.http.port + cfg.server.workers:
            fail(ConfigError(f"server.workers: the workers' internal HTTP ports {cfg.http.port + 1}.."
                             f"{cfg.http.port + cfg.server.workers} must not include server.port"))
        from jt808.gateway.workers import supervise

        if "serve" not in sys.argv[1:]:
            fail(ConfigError("server.workers: --workers re-runs the command line: use it from `jt808 serve`"))
        try:  # what every worker would find wrong, said once; the schema is created once, here
            asyncio.run(_prepare(cfg))
        except (ConfigError, StartupError) as e:
            fail(e)
        argv = [sys.executable, "-m", "jt808.cli", *sys.argv[1:]]
        status = supervise(argv, cfg)
        if status:
            fail(StartupError("server.workers: a worker could not start or stop cleanly (see the log above)"))
        return
    try:
        import uvloop
    except ImportError:
        runner: Any = asyncio.run
    else:
        runner = uvloop.run
    try:
        runner(run(cfg, worker_index=worker_index))
    except (ConfigError, StartupError) as e:
        fail(e)
    except KeyboardInterrupt:
        pass


async def _prepare(cfg: Config) -> None:
    """Check the settings and dependencies the workers share, and create the storage schema once."""
    from jt808.node import check_data_dir, make_storage, open_storage

    if cfg.mqtt.url:
        from jt808.bridges.mqtt import parse_url

        parse_url(cfg.mqtt.url)
    make_storage(cfg)
    check_data_dir(cfg)
    storage = await open_storage(cfg)
    await storage.close()
