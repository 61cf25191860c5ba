"""The asyncio platform gateway (``jt808 serve``): TCP/UDP listeners over the sans-I/O
:class:`~jt808.session.platform.PlatformSession`, sessions, downlink, storage, media, hooks."""

from __future__ import annotations

from jt808.errors import ReplyTimeout
from jt808.gateway.errors import CommandFailed, DownlinkQueueFull, TerminalOffline
from jt808.gateway.server import Gateway, GatewayListener

__all__ = ["CommandFailed", "DownlinkQueueFull", "Gateway", "GatewayListener", "ReplyTimeout", "TerminalOffline"]
