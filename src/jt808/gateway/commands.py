"""Downlink commands of a gateway node: validate, send to a terminal held here, or route to the process
or node that holds it; log each command and its outcome in storage; tell the command observers.

:meth:`Commands.validate` checks a seed-004 command *before* anything looks at the terminal (a malformed
command is refused as such even for an offline terminal); only platform (downlink) ids are commands.
:meth:`Commands.send` sends to a terminal held by this process; :meth:`Commands.route` is what the HTTP
API and the MQTT bridge call: here if the terminal is here, else through the :class:`CommandRoute` s
(worker siblings, other MQTT nodes) in the order they were added.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jt808.errors import BodyError, DecodeError, HeaderError, JT808Error, ReplyTimeout
from jt808.gateway.downlink import Downlink
from jt808.gateway.errors import CommandFailed, TerminalOffline
from jt808.gateway.listeners import CommandObserver, CommandRoute, tell
from jt808.protocol.header import V2011, V2013, Version
from jt808.protocol.packet import Packet
from jt808.protocol.spec import Body
from jt808.storage.base import CommandRow

if TYPE_CHECKING:
    from jt808.gateway.connection import Connection
    from jt808.gateway.server import Gateway

__all__ = ["Commands", "is_platform_id"]

log = logging.getLogger("jt808.gateway")


def is_platform_id(msg_id: int) -> bool:
    """Platform (downlink) message ids: 0x8000–0xFFFF (JT/T 808 0x8xxx, JT/T 1078 0x9xxx …)."""
    return 0x8000 <= msg_id <= 0xFFFF


class Commands:
    """See the module docstring. One per gateway (``gateway.commands``)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.routes: list[CommandRoute] = []
        self.observers: list[CommandObserver] = []

    def add_route(self, route: CommandRoute) -> None:
        self.routes.append(route)

    def remove_route(self, route: CommandRoute) -> None:
        if route in self.routes:
            self.routes.remove(route)

    def add_observer(self, observer: CommandObserver) -> None:
        self.observers.append(observer)

    def remove_observer(self, observer: CommandObserver) -> None:
        if observer in self.observers:
            self.observers.remove(observer)

    # -- validation -------------------------------------------------------------------------------
    def validate(self, obj: Any, version: Version | None = None) -> Packet:
        """The command ``obj`` (seed-004 JSON) as a packet, or :class:`~jt808.errors.DecodeError` naming
        what is wrong. Checked without the terminal: with the header's version, else the profile's."""
        from jt808.protocol.exchange import from_json

        if not isinstance(obj, dict):
            raise DecodeError(f'expects a JSON object {{"header": {{"msg_id": …}}, "body": {{…}}}}, '
                              f"got {type(obj).__name__}")
        header = obj.get("header")
        if not isinstance(header, dict):
            raise HeaderError('expects {"msg_id": …}', field="header")
        mid = header.get("msg_id")
        if isinstance(mid, int) and not isinstance(mid, bool) and not is_platform_id(mid):
            raise HeaderError(f"0x{mid:04X} is a terminal (uplink) message id; commands are platform ids "
                              "0x8000-0xFFFF", field="msg_id")
        body = obj.get("body")
        if body is not None and not isinstance(body, dict):
            raise BodyError(f"expects a JSON object, got {type(body).__name__}", field="body")
        if version is None and "proto_ver" not in header and isinstance(mid, int):
            known = self.gw.profile.messages.versions_of(mid)
            if known and V2013 not in known and V2011 not in known:
                version = known[-1]  # a message of 2019 only: checked as 2019 (the terminal decides later)
        header = {"phone": "0", "msg_sn": 0, **header}
        return from_json({**obj, "header": header}, self.gw.profile, version=version)

    def _body_of(self, conn: Connection, what: Any) -> tuple[Body, int]:
        if isinstance(what, Packet):
            return what.body, what.header.msg_id
        if isinstance(what, Body):
            return what, what.msg_id
        if isinstance(what, dict):
            version: Version = conn.session.version
            header = {**(what.get("header") or {}), "phone": conn.phone}
            packet = self.validate({**what, "header": header}, version)
            return packet.body, packet.header.msg_id
        raise TypeError(f"send() takes a Packet, a Body or seed-004 JSON, not {type(what).__name__}")

    # -- sending ------------------------------------------------------------------------------------
    async def route(self, phone: str, obj: dict[str, Any], *, wait: bool = True,
                    timeout: float | None = None) -> Any:
        """Send seed-004 JSON to ``phone`` wherever it is held; the reply as JSON (None without one).
        Raises like :meth:`send`; :class:`TerminalOffline` when no route reaches it."""
        from jt808.protocol.exchange import to_json

        self.validate(obj)
        if self.gw.is_online(phone) or not self.routes:
            reply = await self.send(phone, obj, wait=wait, timeout=timeout)
            return to_json(reply) if reply is not None else None
        last: TerminalOffline | None = None
        for route in self.routes:
            try:
                return await route.remote_send(phone, obj, timeout)
            except TerminalOffline as e:
                last = e
        self.gw.counters["commands_offline"] += 1
        raise last or TerminalOffline(phone)

    async def remote_online(self) -> set[str]:
        """Phones the routes reach (terminals of sibling workers / other nodes)."""
        out: set[str] = set()
        for route in self.routes:
            out |= await route.remote_online()
        return out

    async def remote_disconnect(self, phone: str) -> bool:
        """Ask the routes to close ``phone``'s connection (the operator's reset); whether one did."""
        for route in self.routes:
            if await route.remote_disconnect(phone):
                return True
        return False

    async def send(self, phone: str, packet_or_json: Any, *, wait: bool = True,
                   timeout: float | None = None) -> Packet | None:
        """See :meth:`jt808.gateway.Gateway.send`."""
        gw = self.gw
        conn = gw.sessions.get(phone)
        if conn is None or not conn.session.authenticated:
            if isinstance(packet_or_json, dict):
                self.validate(packet_or_json)  # a malformed command is that, online or not
            gw.counters["commands_offline"] += 1
            raise TerminalOffline(phone)
        body, msg_id = self._body_of(conn, packet_or_json)
        dl = conn.downlink
        if dl is None:
            dl = conn.downlink = Downlink(conn, gw.config.downlink, gw.loop)
        cmd = dl.submit(body, msg_id)
        gw.counters["commands_sent"] += 1
        cmd_id = await self._log_command(phone, msg_id, cmd.serials[0] if cmd.serials else 0, body, conn)
        if not wait or not cmd.expects_reply:
            return None
        limit = timeout if timeout is not None else dl.retry_interval * (dl.max_retry_times + 1) + 1
        status, reply, result = "timeout", None, 0
        try:
            reply, result = await asyncio.wait_for(asyncio.shield(cmd.future), limit)
        except ReplyTimeout:
            raise
        except TimeoutError:
            dl.cancel(cmd)
            raise ReplyTimeout(f"terminal {phone} did not answer 0x{msg_id:04X} within {limit:g} s") from None
        except TerminalOffline:
            status = "offline"
            raise
        finally:
            if reply is not None:
                status = "replied" if result == 0 else "failed"
            gw.counters[f"commands_{status}"] += 1
            if cmd_id is not None:
                gw.spawn(self._update_command(cmd_id, status, reply))
            tell(self.observers, "on_command_result", phone, msg_id, status, reply)
        if result != 0:
            raise CommandFailed(reply, result)
        return reply

    async def _log_command(self, phone: str, msg_id: int, sn: int, body: Body, conn: Connection) -> int | None:
        storage = self.gw.storage
        if storage is None or self.gw.data_off:
            return None
        try:
            request = body.to_json(conn.session.version)
        except Exception:
            request = {}
        try:
            return await storage.add_command(CommandRow(phone, msg_id, sn, datetime.now(UTC), request))
        except Exception as e:
            log.warning("command log: %s", e)
            return None

    async def _update_command(self, cmd_id: int, status: str, reply: Packet | None) -> None:
        rj = None
        if reply is not None:
            from jt808.protocol.exchange import to_json

            try:
                rj = to_json(reply)
            except JT808Error:
                rj = None
        storage = self.gw.storage
        if storage is not None:
            await storage.update_command(cmd_id, status, rj, datetime.now(UTC) if reply else None)
