"""Errors of the gateway's downlink API (besides :class:`jt808.errors.ReplyTimeout`).

Three distinct outcomes a caller of ``gateway.send`` must tell apart: the terminal is not connected
(:class:`TerminalOffline`), the command was sent and no reply came (:class:`~jt808.errors.ReplyTimeout`),
the terminal answered with a failure result (:class:`CommandFailed`, carrying the reply).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jt808.errors import JT808Error, ReplyTimeout

if TYPE_CHECKING:
    from jt808.protocol.packet import Packet

__all__ = ["CommandFailed", "DownlinkQueueFull", "ReplyTimeout", "TerminalOffline"]


class TerminalOffline(JT808Error):
    """The terminal holds no authenticated connection to this node (or lost it before answering)."""

    reply_result = 1

    def __init__(self, phone: str, detail: str = "is not connected") -> None:
        super().__init__(f"terminal {phone} {detail}")
        self.phone = phone


class CommandFailed(JT808Error):
    """The terminal answered the command with a failure result (0x0001 result 1/2/3, 0x0805 result ≠ 0).
    ``reply`` is the terminal's answer, ``result`` its result code."""

    reply_result = 1

    def __init__(self, reply: Packet, result: int) -> None:
        names = {1: "failure", 2: "message error", 3: "not supported"}
        h = reply.header
        super().__init__(f"terminal {h.phone} answered 0x{h.msg_id:04X} with result {result} "
                         f"({names.get(result, 'failure')})")
        self.reply = reply
        self.result = result


class DownlinkQueueFull(JT808Error):
    """The terminal's downlink queue is full (``downlink.queue_len`` commands wait for the in-flight window)."""

    reply_result = 1
