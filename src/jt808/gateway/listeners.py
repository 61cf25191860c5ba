"""The typed seams through which a gateway is composed with the parts around it.

``jt808 serve`` (:mod:`jt808.node`) builds the gateway and the parts that observe or extend it (the MQTT
bridge, the worker cluster, the web console's event stream …) and wires them through these protocols;
nothing replaces an attribute of the gateway at run time.

=========================  ======================================================================
:class:`GatewayListener`   terminal connected / disconnected, every decoded uplink (plain, quick,
                           non-async methods called on the event loop)
:class:`EventListener`     a listener that also takes the gateway's derived events (``alarm``,
                           ``attachment`` …: :meth:`jt808.gateway.Gateway.emit`)
:class:`LocationObserver`  every location report (0x0200, 0x0704), without making the gateway decode
                           what nobody else consumes (the alarm service is one)
:class:`MediaObserver`     a 0x0801 upload saved as a file (or failed to save)
:class:`CommandObserver`   a downlink command ended (replied, failed, timed out, offline)
:class:`FrameObserver`     a frame that could not be used (the console's raw-frame feed)
:class:`CommandRoute`      reaches terminals held by another process or node (worker siblings, other
                           MQTT nodes): tried in order when the terminal is not held here
:class:`HealthCheck`       a dependency the node needs (storage, a required broker): ``None`` while
                           healthy, else the reason it is not; ``/healthz`` is degraded while any
                           check has a reason
=========================  ======================================================================
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from jt808.protocol.messages.location import LayoutValues
    from jt808.protocol.packet import Packet
    from jt808.storage.base import MediaRow

__all__ = ["CommandObserver", "CommandRoute", "EventListener", "FrameObserver", "GatewayListener", "HealthCheck",
           "LocationObserver", "MediaObserver", "tell"]

log = logging.getLogger("jt808.gateway")


def tell(observers: Iterable[Any], method: str, *args: Any) -> None:
    """Call ``method(*args)`` of each observer that has it; one that raises is logged and the others still
    hear of it (an observer's bug never reaches the gateway)."""
    for observer in observers:
        call = getattr(observer, method, None)
        if call is None:
            continue
        try:
            call(*args)
        except Exception:
            log.exception("%r failed in %s", observer, method)


@runtime_checkable
class GatewayListener(Protocol):
    """Called by the gateway for each terminal that comes online or goes away, and each uplink."""

    def on_connected(self, phone: str, info: dict[str, Any]) -> None: ...

    def on_disconnected(self, phone: str, reason: str) -> None: ...

    def on_uplink(self, phone: str, packet: Packet) -> None: ...


@runtime_checkable
class EventListener(GatewayListener, Protocol):
    """A listener that also receives derived events: ``on_event(phone, kind, data)`` with ``kind`` ``alarm``
    (data: :func:`jt808.gateway.alarms.alarm_json`) or ``attachment`` (a complete alarm attachment file:
    :func:`jt808.gateway.alarms.attachment_json` plus ``phone``, ``alarm_id``, ``alarm_no``)."""

    def on_event(self, phone: str, kind: str, data: dict[str, Any]) -> None: ...


@runtime_checkable
class LocationObserver(Protocol):
    """Sees every location report (0x0200 body ``LocationReport``, 0x0704 ``BatchLocations``). Unlike a
    listener it does not stop the gateway from answering heartbeats without decoding them. Plain, quick,
    non-async: it runs on the hot path."""

    def on_location(self, phone: str, packet: Packet) -> None: ...

    def wants_report(self, phone: str, values: LayoutValues) -> bool:
        """Whether a 0x0200 read as its values (:class:`~jt808.session.events.LocationValuesReceived`: plain
        integer items) is of interest; if so :meth:`on_location` gets it as a report. The gateway asks before
        making a report of a location it would otherwise only store."""


@runtime_checkable
class MediaObserver(Protocol):
    """Called once a 0x0801 upload is saved (``row``) or could not be (``error``)."""

    def on_media_saved(self, packet: Packet, row: MediaRow | None, error: BaseException | None) -> None: ...


@runtime_checkable
class CommandObserver(Protocol):
    """Called once a downlink command ends: ``status`` is replied, failed, timeout or offline;
    ``reply`` the terminal's answer when there is one."""

    def on_command_result(self, phone: str, msg_id: int, status: str, reply: Packet | None) -> None: ...


@runtime_checkable
class FrameObserver(Protocol):
    """Called for each frame the gateway could not use (broken framing, a body that does not decode):
    ``raw`` as received, flags included; ``phone`` of the connection ("" before it is known)."""

    def on_frame_rejected(self, phone: str, raw: bytes, reason: str) -> None: ...


@runtime_checkable
class CommandRoute(Protocol):
    """Reaches terminals this process does not hold.

    ``remote_send`` returns the reply as seed-004 JSON (or None) and raises like
    :meth:`jt808.gateway.Gateway.send`: :class:`~jt808.gateway.errors.TerminalOffline` when the route
    does not reach the terminal (the next route is tried), :class:`~jt808.errors.ReplyTimeout`,
    :class:`~jt808.gateway.errors.CommandFailed`, :class:`~jt808.errors.DecodeError` (refused as invalid
    by the holder). ``remote_online`` lists the phones the route reaches; ``remote_disconnect`` closes
    the terminal's connection where it is held (the operator's reset) and says whether it did."""

    async def remote_send(self, phone: str, obj: dict[str, Any], timeout: float | None) -> Any: ...

    async def remote_online(self) -> set[str]: ...

    async def remote_disconnect(self, phone: str) -> bool: ...


@runtime_checkable
class HealthCheck(Protocol):
    """A dependency: ``name`` (``storage``, ``mqtt`` …) and its current problem (None when healthy)."""

    name: str

    def problem(self) -> str | None: ...
