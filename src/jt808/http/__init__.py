"""The gateway's HTTP API (FastAPI) and the embedded uvicorn server that runs it.

What lives here: routes (:mod:`~jt808.http.app`), their schemas (:mod:`~jt808.http.schemas`), the one
error object (:mod:`~jt808.http.errors`), the offline documentation pages (:mod:`~jt808.http.docs`).
The gateway never imports this package: :mod:`jt808.node` composes the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from jt808.gateway.server import port_error
from jt808.http.app import create_app

if TYPE_CHECKING:
    from jt808.gateway.server import Gateway

__all__ = ["HttpServer", "create_app"]


class HttpServer:
    """uvicorn inside the gateway's event loop, on a socket bound here (port 0 works: see ``port``).
    The constructor binds (a port in use raises :class:`StartupError` naming ``setting``); :meth:`start`
    listens and serves. Signals stay with the gateway (uvicorn's own signal capture is switched off)."""

    def __init__(self, gw: Gateway, host: str, port: int, token: str = "", *, worker: int | None = None,
                 setting: str = "http.port") -> None:
        import uvicorn

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as e:
            self.sock.close()
            raise port_error(setting, "HTTP", host, port, e) from None
        self.sock.setblocking(False)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.app = create_app(gw, token, worker=worker)
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False,
                                loop="none", timeout_graceful_shutdown=3)
        self.server = _Server(config)
        self.task: asyncio.Task[Any] | None = None

    async def start(self) -> None:
        self.sock.listen(1024)
        self.task = asyncio.get_running_loop().create_task(self.server.serve(sockets=[self.sock]),
                                                           name="jt808-http")
        for _ in range(500):
            if self.server.started or self.task.done():
                break
            await asyncio.sleep(0.01)
        if self.task.done():
            self.task.result()  # raises what stopped it

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.task, 5)
        self.sock.close()
