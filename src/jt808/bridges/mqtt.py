"""The MQTT bridge: EMQX's JT/T 808 topic layout over any MQTT 5 broker.

::

    bridge = MqttBridge(gateway, config.mqtt)
    node.attach_bridge(bridge)  # jt808.node: listener, media observer, command route, health, metrics
    await bridge.start()        # connects in the background
    # (the node runs: uplinks published, downlinks taken)
    await bridge.stop()         # publishes what it can within a few seconds, says goodbye

Topics (EMQX's defaults; ``${clientid}`` and ``${phone}`` are both the terminal's phone in its canonical
form, :func:`jt808.protocol.header.canonical_phone`, because EMQX's gateway uses the phone as the
terminal's client id; downlinks are also taken on the topics of the other forms people type,
``13912345678`` and ``00000000013912345678``):

=====================================  =========================================================
``jt808/{phone}/{phone}/up``           every uplink of an authenticated terminal as seed-004 JSON
                                       (QoS ``mqtt.qos``, 1 by default), replies to downlinks
                                       included; error objects of downlinks that failed
``jt808/{phone}/{phone}/dn``           downlinks: publish ``{"header": {"msg_id": …}, "body": …}``;
                                       the node holding the terminal subscribes to it
``jt808/{phone}/{phone}/status``       connected / disconnected events, retained (``status_topic``)
``jt808/{phone}/{phone}/event``        derived events (``event_topic``): ``{"event": "alarm", …}`` for a new
                                       alarm (the API's alarm object), ``{"event": "attachment", …}`` for
                                       a complete alarm attachment file
``jt808/_nodes/{node}/state``          each node's own liveness, retained, with a will
``jt808/_nodes/{node}/rpc``            answers to the node's remote commands (HTTP API of another node)
=====================================  =========================================================

What it does beyond EMQX's gateway: a sub-packaged message is published once, merged; a 0x0801
upload is published after its file is saved, with ``file`` (the saved path), ``size`` and the base64
``multimedia`` when it is at most ``publish_media_max`` bytes; 0x0001 answers are published; a bad
downlink gets an error object naming the problem instead of being dropped.

Broker outages: uplinks wait in a bounded buffer (``buffer_size`` messages, counted until the broker
acknowledges them); when it is full the oldest are dropped, counted and logged. The bridge reconnects
with exponential backoff (0.5 s doubling to 30 s, jittered), resubscribes and publishes the buffer in
order. Messages that were in flight when the connection broke are published again (at least once,
as QoS 1 promises).

Several nodes: each node tracks which node holds which terminal from the retained status topics and
the nodes' liveness. A terminal that authenticates on node B while node A still holds a connection
for it (a NAT timeout A has not noticed yet) is closed on A. The HTTP command endpoint of node A
reaches a terminal held by node B through :meth:`MqttBridge.remote_send` (a command route):
the command goes to the terminal's ``dn`` topic with an MQTT 5 response topic and correlation id; B
executes it with the usual retry policy and answers on A's ``rpc`` topic.

The connection is :class:`jt808.bridges.connection.MqttConnection` (packets by the ``mqtt5`` codec):
uplinks are published in bursts inside a window of acknowledgements this module keeps itself:
30,000–45,000 uplinks/s measured per gateway process at QoS 1 into Mosquitto, ≈ 18–22 µs of the gateway's
CPU per uplink end to end (BENCHMARKS.md); through aiomqtt / paho the per-message work capped a process
near 7,000/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import re
import socket
import ssl
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import mqtt5
import orjson

from jt808.bridges.connection import MqttConnection, MqttError
from jt808.config import ConfigError, MqttConfig, StartupError
from jt808.errors import DecodeError, EncodeError, JT808Error, ReplyTimeout
from jt808.gateway.errors import CommandFailed, DownlinkQueueFull, TerminalOffline
from jt808.gateway.metrics import Metric, Sample
from jt808.protocol.exchange import from_json, to_json
from jt808.protocol.header import phone_forms
from jt808.protocol.packet import Packet

__all__ = ["MqttBridge", "parse_url"]

log = logging.getLogger("jt808.mqtt")

_WINDOW = 1000  # QoS 1 messages in flight at once
_BURST = 256  # messages written at once before yielding to the loop
_BACKOFF_MIN, _BACKOFF_MAX = 0.5, 30.0
_SUB_CHUNK = 200  # topics per SUBSCRIBE / UNSUBSCRIBE packet
_DROP_LOG_EVERY = 10.0
_RECEIVE_MAX_EXCEEDED = 0x93  # DISCONNECT reason

MQTT_CONNECTED = Metric("jt808_mqtt_connected", "gauge", "1 while the MQTT broker connection is up.")
MQTT_PUBLISHED = Metric("jt808_mqtt_published", "counter", "Uplinks acknowledged by the broker.")
MQTT_DROPPED = Metric("jt808_mqtt_dropped", "counter", "Uplinks dropped because the buffer was full.")
MQTT_REFUSED = Metric("jt808_mqtt_refused", "counter", "Uplinks the broker refused (PUBACK reason >= 0x80).")
MQTT_BUFFERED = Metric("jt808_mqtt_buffered", "gauge", "Uplinks waiting for the broker.")
MQTT_DOWNLINKS = Metric("jt808_mqtt_downlinks", "counter", "Downlinks received from the broker.", ("result",))
MQTT_RECONNECTS = Metric("jt808_mqtt_reconnects", "counter", "Broker reconnections.")

Item = tuple[str, Any, bool, "dict[str, Any] | None"]  # topic, payload (bytes | Packet), retain, PUBLISH fields

def _dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (what ``json.dumps(obj, ensure_ascii=False, separators=(",", ":"))`` gives, ≈ 8x
    faster: rendering was the larger half of an uplink's cost in the bridge, BENCHMARKS.md)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def parse_url(url: str) -> tuple[str, int, bool, str | None, str | None]:
    """``mqtt://user:pass@host:1883`` → (host, port, tls, username, password). ``mqtts://`` / ``ssl://``
    mean TLS (default port 8883); ``tcp://`` is an alias of ``mqtt://``; a bare ``host[:port]`` works."""
    if "://" not in url:
        url = "mqtt://" + url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "tcp", "mqtts", "ssl", "tls"):
        raise ConfigError(f"mqtt.url: unsupported scheme {parts.scheme!r} (mqtt:// or mqtts://)")
    tls = scheme in ("mqtts", "ssl", "tls")
    if not parts.hostname:
        raise ConfigError(f"mqtt.url {url!r} names no host")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ConfigError(f"mqtt.url {url!r}: bad port") from None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname, port, tls, user, password


def _template_regex(template: str) -> re.Pattern[str]:
    """A regex matching a topic template, capturing the phone."""
    out = []
    seen_phone = False
    for piece in re.split(r"(\$\{clientid\}|\$\{phone\})", template):
        if piece in ("${clientid}", "${phone}"):
            if seen_phone:
                out.append("(?P=phone)")
            else:
                out.append("(?P<phone>[^/]+)")
                seen_phone = True
        else:
            out.append(re.escape(piece))
    return re.compile("^" + "".join(out) + "$")


def _wildcard(template: str) -> str:
    return template.replace("${clientid}", "+").replace("${phone}", "+")


def _render(template: str, phone: str) -> str:
    return template.replace("${clientid}", phone).replace("${phone}", phone)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MqttBridge:
    """A gateway listener that publishes uplinks and executes downlinks through an MQTT broker."""

    def __init__(self, gateway: Any, config: MqttConfig | None = None, *, node_id: str | None = None,
                 video: Any = None) -> None:
        self.gateway = gateway
        self.video = video  # jt808.video.VideoService: {"live": …} downlinks
        self.config = cfg = config or MqttConfig()
        if not cfg.url:
            raise ConfigError("mqtt.url is empty")
        self.host, self.port, tls, user, password = parse_url(cfg.url)
        self.tls = tls or cfg.tls
        self.username = cfg.username or user
        self.password = cfg.password or password
        self.qos = int(cfg.qos)
        if self.qos not in (0, 1, 2):
            raise ConfigError(f"mqtt.qos must be 0, 1 or 2, not {cfg.qos}")
        self.buffer_size = max(1, int(cfg.buffer_size))
        self.media_max = int(cfg.publish_media_max)
        self.node_id = node_id or _node_id(cfg.client_id)
        self.up_template = cfg.up_topic
        self.dn_template = cfg.dn_topic
        self.status_template = cfg.status_topic or MqttConfig.status_topic
        self.event_template = cfg.event_topic or MqttConfig.event_topic
        self._status_re = _template_regex(self.status_template)
        root = self.up_template.split("$", 1)[0].split("/", 1)[0] or "jt808"
        self.nodes_prefix = f"{root}/_nodes"
        self.state_topic = f"{self.nodes_prefix}/{self.node_id}/state"
        self.rpc_topic = f"{self.nodes_prefix}/{self.node_id}/rpc"
        self._state_re = re.compile("^" + re.escape(self.nodes_prefix) + r"/(?P<node>[^/]+)/state$")
        # outgoing: (topic, payload bytes | Packet, retain, further PUBLISH fields or None)
        self._queue: deque[Item] = deque()
        self._inflight: dict[int, Item] = {}
        self._window = min(_WINDOW, self.buffer_size)
        # Up to _WINDOW uplinks unacknowledged, even above the broker's Receive Maximum (Mosquitto
        # announces its max_inflight_messages, 20 by default, and like EMQX does not enforce it for QoS 1;
        # 20 per round trip caps a loaded node far below its own rate). A broker that does enforce it
        # disconnects with 0x93, and from then on the window is the broker's value.
        self.respect_receive_max = False
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._conn: MqttConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._quiet = False  # connection attempts logged at DEBUG (a required start says the outcome once)
        # held terminals and their subscriptions
        self._held: dict[str, str] = {}  # phone -> dn topic
        self._up: dict[str, str] = {}  # phone -> up topic (held terminals)
        self._dn_phone: dict[str, str] = {}  # dn topic -> phone
        self._since: dict[str, float] = {}  # phone -> wall time it connected here
        self._statuses: dict[str, bytes] = {}  # phone -> its retained "connected" event, re-stated on reconnect
        self._sub_todo: set[str] = set()
        self._subscribed: set[str] = set()  # dn topics the broker acknowledged
        self._unsub_todo: set[str] = set()
        self._sub_wake = asyncio.Event()
        self._suback = asyncio.Event()  # set at each SUBACK (wait_subscribed)
        # other nodes
        self._presence: dict[str, str] = {}  # phone -> node holding it
        self._nodes_down: set[str] = set()
        self._rpc: dict[bytes, asyncio.Future[dict[str, Any]]] = {}
        self._last_error = ""
        self._down_since = time.time()
        # numbers
        self.published = 0
        self.dropped = 0
        self.downlinks = 0
        self.downlink_errors = 0
        self.reconnects = 0
        self.refused = 0  # refused by the broker (PUBACK reason >= 0x80): not retried
        self._refusal_log_at = 0.0
        self._dropped_logged = 0
        self._drop_log_at = 0.0

    # ------------------------------------------------------------------------------------------
    # lifecycle
    # ------------------------------------------------------------------------------------------
    async def start(self, connect_timeout: float = 5.0, *, required: bool = False) -> None:
        """Connect in the background, waiting up to ``connect_timeout`` for the first connection. An
        unreachable broker is logged and uplinks are buffered until it comes; with ``required`` it raises
        :class:`~jt808.config.StartupError` (``jt808 serve`` then exits without serving). The bridge is
        wired to the gateway by its composer (:mod:`jt808.node`): as a listener, media observer, command
        route, health check and metrics source."""
        gw = self.gateway
        for conn in list(getattr(gw, "sessions", ())):
            if conn.session.authenticated and not conn.closed:
                self.on_connected(conn.phone, conn.info())
        # required: the attempts before the first connection are said once, by the StartupError
        self._quiet = required
        self._task = asyncio.get_running_loop().create_task(self._run(), name="jt808-mqtt")
        try:
            await asyncio.wait_for(self._connected.wait(), connect_timeout)
        except TimeoutError:
            if required:
                await self._cancel_run()
                self._stopping = True  # nothing to say goodbye to: stop() is silent
                raise StartupError(f"mqtt.url: cannot connect to the broker {self.host}:{self.port} within "
                                   f"{connect_timeout:g} s ({self._last_error or 'no answer'}); start it, correct "
                                   "mqtt.url, or set mqtt.required = false to serve without it (uplinks are then "
                                   "buffered until it answers)") from None
            log.warning("MQTT broker %s:%d not reachable yet; buffering up to %d messages and retrying",
                        self.host, self.port, self.buffer_size)
        finally:
            self._quiet = False

    async def _cancel_run(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._task), 15)

    # -- health and metrics (see jt808.gateway.listeners / jt808.gateway.metrics) ------------------
    name = "mqtt"

    def problem(self) -> str | None:
        if self._connected.is_set():
            return None
        since = f" since {datetime.fromtimestamp(self._down_since, UTC).isoformat(timespec='seconds')}" \
            if self._down_since else ""
        return f"broker {self.host}:{self.port} unreachable{since}: {self._last_error or 'connecting'}"

    def metric_samples(self) -> list[Sample]:
        buffered = len(self._queue) + len(self._inflight)
        return [Sample(MQTT_CONNECTED, (), 1 if self._connected.is_set() else 0),
                Sample(MQTT_PUBLISHED, (), self.published), Sample(MQTT_DROPPED, (), self.dropped),
                Sample(MQTT_REFUSED, (), self.refused),
                Sample(MQTT_BUFFERED, (), buffered), Sample(MQTT_DOWNLINKS, ("ok",), self.downlinks),
                Sample(MQTT_DOWNLINKS, ("error",), self.downlink_errors),
                Sample(MQTT_RECONNECTS, (), self.reconnects)]

    async def stop(self, timeout: float = 5.0) -> None:
        """Publish the held terminals as disconnected and this node as offline, give the buffer up to
        ``timeout`` seconds to reach the broker, disconnect."""
        if self._stopping:
            return
        for phone in list(self._held):
            self.on_disconnected(phone, "gateway shutting down")
        self._enqueue(self.state_topic, self._state_payload("offline"), True)
        self._stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self._queue or self._inflight) and self._connected.is_set() and loop.time() < deadline:
            self._wake.set()
            await asyncio.sleep(0.02)
        if self._queue or self._inflight:
            log.warning("MQTT bridge stopping with %d messages not published", len(self._queue) + len(self._inflight))
        for task in list(self._tasks):
            task.cancel()
        await self._cancel_run()  # the client's DISCONNECT waits for the broker at most its own timeout (10 s)
        for fut in self._rpc.values():
            if not fut.done():
                fut.set_exception(TerminalOffline("?", "could not be reached: the MQTT bridge stopped"))
                fut.exception()
        log.info("MQTT bridge stopped: %d published, %d dropped", self.published, self.dropped)

    def stats(self) -> dict[str, Any]:
        return {"connected": self._connected.is_set(), "published": self.published, "dropped": self.dropped,
                "refused": self.refused,
                "buffered": len(self._queue), "inflight": len(self._inflight), "held": len(self._held),
                "downlinks": self.downlinks, "downlink_errors": self.downlink_errors,
                "reconnects": self.reconnects, "node": self.node_id}

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def subscribed(self, phone: str) -> bool:
        """Whether the broker has acknowledged this node's subscription to ``phone``'s dn topic."""
        dn = self._held.get(phone)
        return dn is not None and dn in self._subscribed

    async def wait_subscribed(self, phones: list[str], timeout: float = 30.0) -> None:
        """Wait until the broker has acknowledged the subscriptions to these terminals' dn topics (a
        :class:`TimeoutError` after ``timeout``), woken by each SUBACK."""
        async with asyncio.timeout(timeout):
            while not all(self.subscribed(phone) for phone in phones):
                self._suback.clear()
                await self._suback.wait()

    @property
    def buffered(self) -> int:
        """Messages not yet acknowledged by the broker (queued and in flight)."""
        return len(self._queue) + len(self._inflight)

    async def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every buffered message has been acknowledged (True) or ``timeout`` passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._queue or self._inflight:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    # ------------------------------------------------------------------------------------------
    # gateway listener (plain, quick, non-async)
    # ------------------------------------------------------------------------------------------
    def _dn_topics(self, phone: str) -> list[str]:
        """The downlink topics of ``phone``: its canonical form first, then the other forms people type
        (``13912345678``, ``00000000013912345678``), all answered alike."""
        try:
            forms = phone_forms(phone)
        except ValueError:
            forms = (phone,)
        return list(dict.fromkeys(_render(self.dn_template, f) for f in (phone, *forms)))

    def on_connected(self, phone: str, info: dict[str, Any]) -> None:
        dn = _render(self.dn_template, phone)
        self._up[phone] = _render(self.up_template, phone)
        if self._held.get(phone) != dn:
            self._held[phone] = dn
            for t in self._dn_topics(phone):
                self._dn_phone[t] = phone
                self._unsub_todo.discard(t)
                self._sub_todo.add(t)
            self._sub_wake.set()
        self._since[phone] = time.time()
        self._presence[phone] = self.node_id
        event = {"event": "connected", "phone": phone, "node": self.node_id, "time": _now_iso()}
        for key in ("transport", "peer", "version", "anonymous"):
            if key in info:
                event[key] = info[key]
        payload = _dumps(event)
        self._statuses[phone] = payload
        self._enqueue(_render(self.status_template, phone), payload, True)

    def on_disconnected(self, phone: str, reason: str) -> None:
        dn = self._held.pop(phone, None)
        self._since.pop(phone, None)
        self._statuses.pop(phone, None)
        self._up.pop(phone, None)
        if dn is not None:
            for t in self._dn_topics(phone):
                self._dn_phone.pop(t, None)
                self._sub_todo.discard(t)
                self._unsub_todo.add(t)
            self._sub_wake.set()
        mine = self._presence.get(phone) == self.node_id
        if mine:
            del self._presence[phone]
        event = {"event": "disconnected", "phone": phone, "node": self.node_id, "time": _now_iso(), "reason": reason}
        # retained only while this node is the terminal's holder: a connection replaced by one on
        # another node must not overwrite that node's "connected"
        self._enqueue(_render(self.status_template, phone), _dumps(event), mine)

    def on_event(self, phone: str, kind: str, data: dict[str, Any]) -> None:
        """A derived gateway event (``alarm``, ``attachment`` …): published on the terminal's event topic."""
        if self._stopping:
            return
        self._enqueue(_render(self.event_template, phone), _dumps({"event": kind, "time": _now_iso(), **data}), False)

    def on_uplink(self, phone: str, packet: Packet) -> None:
        if packet.header.msg_id == 0x0801:
            return  # published by on_media_saved, with the saved file's reference
        self._enqueue(self._up.get(phone) or _render(self.up_template, phone), packet, False)

    # ------------------------------------------------------------------------------------------
    # the outgoing buffer
    # ------------------------------------------------------------------------------------------
    def _enqueue(self, topic: str, payload: Any, retain: bool, extra: dict[str, Any] | None = None) -> None:
        q = self._queue
        if len(q) + len(self._inflight) >= self.buffer_size:
            self.dropped += 1
            self._log_drops()
            if not q:
                return  # everything buffered is already in flight: drop the new one
            q.popleft()
        q.append((topic, payload, retain, extra))
        if self._connected.is_set() and len(self._inflight) < self._window:
            self._wake.set()

    def _log_drops(self) -> None:
        now = time.monotonic()
        if now - self._drop_log_at >= _DROP_LOG_EVERY:
            since = f"in the last {now - self._drop_log_at:.0f} s" if self._dropped_logged else "so far"
            log.warning("MQTT buffer full (%d messages, broker %s): dropped %d oldest messages %s (%d in all)",
                        self.buffer_size, "connected" if self.connected else "unreachable",
                        self.dropped - self._dropped_logged, since, self.dropped)
            self._drop_log_at = now
            self._dropped_logged = self.dropped

    def on_media_saved(self, packet: Packet, row: Any, error: BaseException | None) -> None:
        """0x0801 after its file was saved (or failed to be), with the file's reference."""
        phone = packet.header.phone
        if self._stopping:
            return
        try:
            obj = to_json(packet, self.gateway.profile)
        except JT808Error as e:
            log.error("phone=%s: 0x0801 cannot be rendered as JSON: %s", phone, e)
            return
        body = obj.get("body")
        data = getattr(packet.body, "multimedia", None)
        if data is None:
            data = packet.raw_body or b""
        if isinstance(body, dict):
            body["size"] = len(data)
            body["file"] = row.path if row is not None else None
            if error is not None:
                body["file_error"] = str(error)
            if len(data) > self.media_max:
                body.pop("multimedia", None)
                body.pop("data", None)
                body["multimedia_omitted"] = True
        self._enqueue(_render(self.up_template, phone), _dumps(obj), False)

    # ------------------------------------------------------------------------------------------
    # connection
    # ------------------------------------------------------------------------------------------
    def _state_payload(self, state: str) -> bytes:
        return _dumps({"node": self.node_id, "state": state, "time": _now_iso(),
                       "host": socket.gethostname(), "pid": os.getpid()})

    async def _connect(self) -> MqttConnection:
        tls_context = None
        if self.tls:
            tls_context = ssl.create_default_context(cafile=self.config.ca_file or None)
        # a large receive maximum: brokers otherwise keep ~20 QoS 1 messages in flight to a client and
        # queue ~1000 behind them, dropping the rest (Mosquitto logs "Outgoing messages are being
        # dropped"), which the retained statuses of a fleet exceed when a node (re)connects. 65534, not
        # 65535: the codec leaves the spec's default value out of the packet, and Mosquitto then uses its
        # own limit (20) instead of the default
        connect = mqtt5.ConnectPacket(
            self.node_id, username=self.username,
            password=self.password.encode() if self.password is not None else None, clean_start=True,
            keep_alive=30, receive_max=65534,
            will=mqtt5.Will(self.state_topic, payload=self._state_payload("offline"), qos=mqtt5.QoS.AT_LEAST_ONCE,
                            retain=True))
        return await MqttConnection.open(self.host, self.port, connect, tls=tls_context, inflight=self._inflight,
                                         on_message=self._dispatch, on_ack=self._on_ack, timeout=10.0)

    async def _run(self) -> None:
        backoff = _BACKOFF_MIN
        first = True
        while True:
            conn: MqttConnection | None = None
            try:
                conn = self._conn = await self._connect()
                await self._on_connect(conn, first)
                first = False
                backoff = _BACKOFF_MIN
                await self._serve(conn)
            except asyncio.CancelledError:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.disconnect()
                self._disconnected()
                raise
            except (MqttError, OSError) as e:
                self._last_error = str(e) or type(e).__name__
                if conn is not None and conn.disconnect_reason == _RECEIVE_MAX_EXCEEDED:
                    self.respect_receive_max = True
                    log.warning("MQTT broker %s:%d enforces its Receive Maximum (%d): publishing at most that many "
                                "uplinks unacknowledged from now on", self.host, self.port, conn.receive_max)
                if self._connected.is_set():
                    log.warning("MQTT connection to %s:%d lost: %s", self.host, self.port, e)
                else:
                    log.log(logging.DEBUG if self._quiet else logging.WARNING, "MQTT broker %s:%d unreachable: %s",
                            self.host, self.port, e)
            except Exception:
                log.exception("MQTT bridge failed; reconnecting")
            if conn is not None:
                conn.abort()
            self._disconnected()
            delay = backoff * random.uniform(0.8, 1.2)
            log.log(logging.DEBUG if self._quiet else logging.INFO, "MQTT: reconnecting in %.1f s (%d messages "
                    "buffered)", delay, self.buffered)
            await self._before_reconnect(delay)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _before_reconnect(self, delay: float) -> None:
        """The pause between two connection attempts (tests hold the bridge here with an event)."""
        await asyncio.sleep(delay)

    def _on_ack(self, item: Item, reason: int) -> None:
        """A PUBACK (the connection took the message out of the in-flight table)."""
        if reason >= 0x80:  # refused (not authorised, quota …): retrying would not help
            self.refused += 1
            self._log_refusal(item[0], reason)
        else:
            self.published += 1
        if self._queue and len(self._inflight) <= self._window // 2:
            self._wake.set()

    def _log_refusal(self, topic: str, reason: int) -> None:
        now = time.monotonic()
        if now - self._refusal_log_at >= _DROP_LOG_EVERY:
            log.warning("MQTT broker refused a message on %s (reason 0x%02X); %d refused in all",
                        topic, reason, self.refused)
            self._refusal_log_at = now

    async def _on_connect(self, conn: MqttConnection, first: bool) -> None:
        self._connected.set()
        self._last_error = ""
        if first:
            log.info("MQTT connected to %s:%d as %s", self.host, self.port, self.node_id)
        else:
            self.reconnects += 1
            log.info("MQTT reconnected to %s:%d; publishing %d buffered messages", self.host, self.port,
                     self.buffered)
        # node topics first, then every held terminal's downlink topic
        # retain_as_published off: the retain flag then says "stored before this subscription", as
        # _on_status needs (the MQTT default; mqtt5's TopicFilter defaults to on)
        q1 = mqtt5.QoS.AT_LEAST_ONCE
        await conn.subscribe([
            mqtt5.TopicFilter(_wildcard(self.status_template), max_qos=q1, no_local=True, retain_as_published=False),
            mqtt5.TopicFilter(f"{self.nodes_prefix}/+/state", max_qos=q1, no_local=True, retain_as_published=False),
            mqtt5.TopicFilter(self.rpc_topic, max_qos=q1, retain_as_published=False)])
        if not first and self._statuses:
            # the broker may have restarted without its retained messages: state again, ahead of the
            # buffered uplinks, that this node holds its terminals (the original events, time included)
            self._queue.extendleft(reversed([(_render(self.status_template, phone), payload, True, None)
                                             for phone, payload in self._statuses.items()]))
        self._queue.appendleft((self.state_topic, self._state_payload("online"), True, None))
        self._sub_todo = set(self._dn_phone)
        self._unsub_todo.clear()
        self._sub_wake.set()
        self._wake.set()

    def _disconnected(self) -> None:
        if self._connected.is_set():
            self._down_since = time.time()
        self._connected.clear()
        self._subscribed.clear()
        self._conn = None
        if self._inflight:  # not acknowledged: publish again, first, in their order
            self._queue.extendleft(reversed(list(self._inflight.values())))
            self._inflight.clear()
        while len(self._queue) > self.buffer_size:
            self._queue.popleft()
            self.dropped += 1

    async def _serve(self, conn: MqttConnection) -> None:
        tasks = [asyncio.ensure_future(self._writer(conn)), asyncio.ensure_future(self._subscriber(conn))]
        try:
            done, _ = await asyncio.wait([*tasks, conn.closed], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()  # raise what ended it
            raise MqttError("connection closed")
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _writer(self, conn: MqttConnection) -> None:
        queue, inflight, wake = self._queue, self._inflight, self._wake
        qos = self.qos
        profile = self.gateway.profile
        window = min(self._window, conn.receive_max) if self.respect_receive_max else self._window
        while True:
            burst = 0
            while queue and len(inflight) < window:
                item = queue.popleft()
                topic, obj, retain, extra = item
                try:  # an uplink is kept as its Packet until it is published: rendered once, here
                    payload = obj if type(obj) is bytes else _dumps(to_json(obj, profile))
                except Exception as e:  # a packet that cannot be rendered: log it, never stall the queue
                    log.error("MQTT: cannot render a message for %s: %s", topic, e)
                    continue
                try:
                    conn.publish(topic, payload, qos, retain, (topic, payload, retain, extra) if qos else None, extra)
                except ValueError as e:  # a topic or payload the protocol cannot carry: skip it
                    log.error("MQTT: cannot publish to %r: %s", topic, e)
                    continue
                if not qos:
                    self.published += 1
                burst += 1
                if burst >= _BURST:
                    conn.flush()
                    burst = 0
                    await asyncio.sleep(0)
            conn.flush()
            wake.clear()
            if queue and len(inflight) < window:
                continue
            await wake.wait()

    async def _subscriber(self, conn: MqttConnection) -> None:
        q1 = mqtt5.QoS.AT_LEAST_ONCE
        while True:
            await self._sub_wake.wait()
            self._sub_wake.clear()
            while self._unsub_todo:
                chunk = [self._unsub_todo.pop() for _ in range(min(_SUB_CHUNK, len(self._unsub_todo)))]
                self._subscribed.difference_update(chunk)
                await conn.unsubscribe(chunk)
            while self._sub_todo:
                chunk = [self._sub_todo.pop() for _ in range(min(_SUB_CHUNK, len(self._sub_todo)))]
                codes = await conn.subscribe([mqtt5.TopicFilter(t, max_qos=q1, retain_as_published=False)
                                              for t in chunk])
                for t, code in zip(chunk, codes, strict=False):
                    if int(code) >= 0x80:
                        log.warning("MQTT broker refused the subscription to %s (%s)", t, code.name.lower())
                    elif t in self._dn_phone:
                        self._subscribed.add(t)
                self._suback.set()

    # ------------------------------------------------------------------------------------------
    # incoming
    # ------------------------------------------------------------------------------------------
    def _dispatch(self, message: mqtt5.PublishPacket) -> None:
        try:
            self._route(message)
        except Exception:
            log.exception("MQTT: could not handle a message on %s", message.topic)

    def _route(self, message: mqtt5.PublishPacket) -> None:
        topic = message.topic
        phone = self._dn_phone.get(topic)
        if phone is not None:
            self._on_downlink(phone, message)
            return
        if topic == self.rpc_topic:
            self._on_rpc_answer(message)
            return
        m = self._status_re.match(topic)
        if m is not None:
            self._on_status(m.group("phone"), message)
            return
        m = self._state_re.match(topic)
        if m is not None:
            self._on_node_state(m.group("node"), message)

    def _on_status(self, phone: str, message: mqtt5.PublishPacket) -> None:
        try:
            ev = json.loads(message.payload)
            node, event = ev["node"], ev["event"]
        except (ValueError, TypeError, KeyError):
            return  # an empty payload clears a retained status
        if node == self.node_id:
            if event == "connected" and message.retain and phone not in self._held:
                # left by an earlier life of this node (same client id) that ended without saying so
                self._presence.pop(phone, None)
                gone = {"event": "disconnected", "phone": phone, "node": node, "time": _now_iso(),
                        "reason": "not held by this node since it restarted"}
                self._enqueue(message.topic, _dumps(gone), True)
            return
        if event == "connected":
            since = self._since.get(phone)
            if since is not None and self.gateway.is_online(phone):
                # held here too: the newer connection wins (a retained status is old news, and a node
                # that was cut from the broker may publish its buffered events late)
                if message.retain or _epoch(ev.get("time")) <= since:
                    return
                conn = self.gateway.connection(phone)
                if conn is not None:
                    log.info("phone=%s authenticated on node %s: closing the older connection here", phone, node)
                    conn.close(f"replaced by a connection on node {node}")
            self._presence[phone] = node
        elif event == "disconnected" and self._presence.get(phone) == node:
            del self._presence[phone]

    def _on_node_state(self, node: str, message: mqtt5.PublishPacket) -> None:
        if node == self.node_id:
            return
        try:
            state = json.loads(message.payload).get("state")
        except (ValueError, AttributeError):
            return
        if state == "offline":
            self._nodes_down.add(node)
        else:
            self._nodes_down.discard(node)

    def holder(self, phone: str) -> str | None:
        """The node holding ``phone`` as far as this node knows (itself included), or None."""
        if self.gateway.is_online(phone):
            return self.node_id
        node = self._presence.get(phone)
        if node is None or node in self._nodes_down:
            return None
        return node

    # -- downlinks -------------------------------------------------------------------------------
    def _on_downlink(self, phone: str, message: mqtt5.PublishPacket) -> None:
        reply_to, corr = message.response_topic, message.correlation_data
        timeout = None
        for key, value in message.user_properties:
            if key == "jt808-timeout":
                with contextlib.suppress(ValueError):
                    timeout = float(value)
        self.downlinks += 1
        try:
            obj = json.loads(message.payload)
        except (ValueError, UnicodeDecodeError) as e:
            self._downlink_done(phone, None, _error("bad_downlink", f"the payload is not JSON: {e}"), reply_to, corr)
            return
        if isinstance(obj, dict) and "live" in obj and "header" not in obj:
            coro: Any = self._live(phone, obj["live"])
        else:
            problem = _check_downlink(obj)
            if problem is not None:
                self._downlink_done(phone, obj, _error("bad_downlink", problem), reply_to, corr)
                return
            coro = self._execute(phone, obj, timeout, reply_to, corr)
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, phone: str, obj: dict[str, Any], timeout: float | None, reply_to: str | None,
                       corr: bytes | None) -> None:
        header = obj["header"]
        command = {"header": {"msg_id": header["msg_id"], "encrypt": header.get("encrypt", 0)},
                   "body": obj.get("body") or {}}
        outcome: dict[str, Any]
        try:
            reply = await self.gateway.send(phone, command, wait=True, timeout=timeout)
            outcome = {"ok": True, "reply": to_json(reply, self.gateway.profile) if reply is not None else None}
        except TerminalOffline as e:
            outcome = _error("terminal_offline", str(e))
        except ReplyTimeout as e:
            outcome = _error("reply_timeout", str(e))
        except CommandFailed as e:
            outcome = _error("command_failed", str(e), result=e.result,
                             reply=to_json(e.reply, self.gateway.profile))
        except DownlinkQueueFull as e:
            outcome = _error("queue_full", str(e))
        except (DecodeError, EncodeError) as e:
            outcome = _error("bad_downlink", str(e), field=getattr(e, "field", None))
        except JT808Error as e:
            outcome = _error("failed", str(e))
        self._downlink_done(phone, obj, outcome, reply_to, corr)

    async def _live(self, phone: str, request: Any) -> None:
        """``{"live": {"channel": 1, "action": "start" | "stop"}}`` on the dn topic: start a live stream and
        hold it (as ``POST …/channels/{ch}/live``) or stop it (0x9102). The outcome is published on the
        up topic: ``{"live": {state, urls …}}`` or an error object."""
        from jt808.video import StreamError

        video = self.video
        out: dict[str, Any]
        try:
            if not isinstance(request, dict) or isinstance(request.get("channel"), bool) \
                    or not isinstance(request.get("channel"), int):
                raise StreamError("bad_downlink", '"live" expects {"channel": n, "action": "start" | "stop"}', 400)
            channel, action = request["channel"], request.get("action", "start")
            if video is None or not video.available:
                raise StreamError("video_disabled", "live video is not available on this node", 503)
            hub = video.hub
            if action == "start":
                stream, _ = await hub.open(phone, channel, "hold")
                out = {"live": stream.info()}
            elif action == "stop":
                stream = hub.find(phone, channel)
                if stream is None:
                    raise StreamError("no_stream", f"no live stream for {phone} channel {channel}", 404)
                await hub.close(stream, "stopped through MQTT")
                out = {"live": {"phone": stream.phone, "channel": channel, "state": stream.state,
                                "reason": stream.reason}}
            else:
                raise StreamError("bad_downlink", f"live action {action!r} is neither start nor stop", 400)
        except StreamError as e:
            self.downlink_errors += 1
            out = {"error": {"code": e.code, "message": str(e)}}
        self._enqueue(_render(self.up_template, phone), _dumps({**out, "phone": phone, "node": self.node_id}),
                      False)

    def _downlink_done(self, phone: str, request: Any, outcome: dict[str, Any], reply_to: str | None,
                       corr: bytes | None) -> None:
        if not outcome.get("ok"):
            self.downlink_errors += 1
            log.info("phone=%s downlink %s: %s", phone, outcome["error"]["code"], outcome["error"]["message"])
        if reply_to:  # a remote command (another node's HTTP API): answer it
            if outcome.get("error", {}).get("code") == "terminal_offline":
                return  # not here (any more): the node that holds it answers, or the caller times out
            outcome["node"] = self.node_id
            self._enqueue(reply_to, _dumps(outcome), False,
                          {"correlation_data": corr} if corr is not None else None)
            return
        if outcome.get("ok"):
            return  # the terminal's reply was published on the up topic as an uplink
        code = outcome["error"]["code"]
        if code in ("terminal_offline", "command_failed"):
            return  # offline: another node may hold it now; failed: the terminal's answer is published
        obj = {"error": outcome["error"], "phone": phone, "node": self.node_id}
        if isinstance(request, dict) and isinstance(request.get("header"), dict):
            obj["request"] = {"header": request["header"]}
        self._enqueue(_render(self.up_template, phone), _dumps(obj), False)

    # -- remote commands (HTTP API of this node, terminal on another) --------------------------------
    async def remote_disconnect(self, phone: str) -> bool:
        """Resets do not travel over MQTT: the node holding the terminal is reset through its own API."""
        return False

    async def remote_online(self) -> set[str]:
        """Phones held by other nodes (as their retained statuses say)."""
        return {phone for phone in list(self._presence) if self.holder(phone) not in (None, self.node_id)}

    async def remote_send(self, phone: str, obj: dict[str, Any], timeout: float | None = None) -> Any:
        """Send a command to a terminal held by another node; returns its reply as JSON.

        Raises :class:`TerminalOffline` (no node holds it, or the broker is unreachable),
        :class:`ReplyTimeout`, :class:`CommandFailed` as :meth:`Gateway.send` does, and
        :class:`DecodeError` for a command the holding node refused as invalid."""
        if not self._connected.is_set():
            raise TerminalOffline(phone, "is not connected to this node and the MQTT broker is unreachable")
        node = self.holder(phone)
        if node is None or node == self.node_id:
            raise TerminalOffline(phone)
        problem = _check_downlink(obj)
        if problem is not None:
            raise DecodeError(problem)
        dl = self.gateway.config.downlink
        limit = timeout if timeout is not None else dl.retry_interval * (dl.max_retry_times + 1) + 1
        corr = uuid.uuid4().bytes
        props = {"response_topic": self.rpc_topic, "correlation_data": corr,
                 "user_properties": [("jt808-timeout", f"{limit:g}")]}
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._rpc[corr] = fut
        try:
            self._enqueue(_render(self.dn_template, phone), _dumps(obj), False, props)
            try:
                outcome = await asyncio.wait_for(fut, limit + 2.0)
            except TimeoutError:
                raise ReplyTimeout(f"terminal {phone} (on node {node}) did not answer within {limit:g} s") from None
        finally:
            self._rpc.pop(corr, None)
        if outcome.get("ok"):
            return outcome.get("reply")
        err = outcome.get("error") or {}
        code, text = err.get("code"), err.get("message", "failed")
        if code == "terminal_offline":
            raise TerminalOffline(phone, f"is not connected (node {outcome.get('node', node)}: {text})")
        if code == "reply_timeout":
            raise ReplyTimeout(text)
        if code == "command_failed" and isinstance(err.get("reply"), dict):
            try:
                reply = from_json(err["reply"], self.gateway.profile)
            except JT808Error:
                raise DecodeError(text) from None
            raise CommandFailed(reply, int(err.get("result", 1)))
        if code == "bad_downlink":
            raise DecodeError(text, field=err.get("field"))
        raise TerminalOffline(phone, f"could not be reached: {text}")

    def _on_rpc_answer(self, message: mqtt5.PublishPacket) -> None:
        corr = message.correlation_data
        fut = self._rpc.get(corr) if corr is not None else None
        if fut is None or fut.done():
            return
        try:
            outcome = json.loads(message.payload)
        except ValueError as e:
            outcome = _error("failed", f"unreadable answer: {e}")
        fut.set_result(outcome)


def _error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    for k, v in extra.items():
        if v is not None:
            err[k] = v
    return {"ok": False, "error": err}


def _check_downlink(obj: Any) -> str | None:
    """What is wrong with a downlink's outer shape (the body is checked when it is encoded)."""
    if not isinstance(obj, dict):
        return f'expects {{"header": {{"msg_id": …}}, "body": {{…}}}}, got {type(obj).__name__}'
    header = obj.get("header")
    if not isinstance(header, dict):
        return "'header' is missing or not an object"
    mid = header.get("msg_id")
    if isinstance(mid, bool) or not isinstance(mid, int):
        return "'header.msg_id' is missing or not an integer"
    if not 0x8000 <= mid <= 0xFFFF:
        return f"'header.msg_id' 0x{mid:04X} is not a platform message (0x8000-0xFFFF)"
    body = obj.get("body", {})
    if body is not None and not isinstance(body, dict):
        return "'body' is not an object"
    return None


def _epoch(text: Any) -> float:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return 0.0


def _node_id(client_id: str) -> str:
    """The MQTT client id of this node: ``client_id`` with ``${hostname}``, ``${pid}`` and ``${random}``
    filled in; the default ``jt808-gateway`` gets ``-<hostname>-<pid>`` appended so that several nodes
    never share an id (a broker disconnects the older of two clients with one id)."""
    cid = client_id or "jt808-gateway"
    if cid == "jt808-gateway":
        cid = "jt808-gateway-${hostname}-${pid}"
    cid = (cid.replace("${hostname}", socket.gethostname()).replace("${pid}", str(os.getpid()))
           .replace("${random}", uuid.uuid4().hex[:8]))
    return re.sub(r"[^A-Za-z0-9_.-]", "_", cid)
