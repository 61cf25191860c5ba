"""What lives here: the asyncio platform gateway — TCP/UDP listeners over the sans-I/O
:class:`~jt808.session.platform.PlatformSession`, the session table, downlink commands, storage rows,
media, hooks, metrics and the typed listener protocols others attach through (:mod:`~jt808.gateway.listeners`).

What never lives here: the HTTP API (:mod:`jt808.http`; :mod:`jt808.node` composes the two — the
gateway imports nothing of it), protocol knowledge (the codec is :mod:`jt808.protocol`), database SQL
(:mod:`jt808.storage`).
"""

from __future__ import annotations

from jt808.errors import ReplyTimeout
from jt808.gateway.errors import CommandFailed, DownlinkQueueFull, TerminalOffline
from jt808.gateway.server import Gateway, GatewayListener

__all__ = ["CommandFailed", "DownlinkQueueFull", "Gateway", "GatewayListener", "ReplyTimeout", "TerminalOffline"]
