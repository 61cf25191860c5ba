"""Prometheus metrics of a gateway node, through ``prometheus_client``.

Every metric is declared once as a :class:`Metric` (name without ``_total``, kind, help, labels). A
part of the node that has numbers registers a *source*: a function returning :class:`Sample` s, called
when the metrics are read (nothing is counted per message here: the gateway, the sessions, the storage
writer and the MQTT bridge keep plain integers, summed at scrape time)::

    from jt808.gateway.metrics import Metric, Sample

    RATE_LIMITED = Metric("jt808_rate_limited", "counter", "Frames dropped by the rate limit.", ("kind",))
    gateway.metrics.add_source(lambda: [Sample(RATE_LIMITED, ("udp",), limiter.dropped_udp)])

One process: a collector of a registry of its own turns the samples into metric families at each read.
``--workers N`` (``PROMETHEUS_MULTIPROC_DIR`` set by the supervisor before the workers start): each
worker writes its samples into ``prometheus_client``'s memory-mapped files (:meth:`Metrics.sync`, every
second and before each read) and any worker's ``/metrics`` is the sum over all of them — one view of the
cluster. Counters of a worker that died keep counting in the sum; gauges count live workers only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.core import Metric as _Family

from jt808.protocol.frame import PROBLEM_KINDS

__all__ = ["CONTENT_TYPE", "Metric", "Metrics", "Sample", "multiprocess_dir"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class Metric:
    """One metric family. ``name`` without the ``_total`` suffix (prometheus_client adds it to counters);
    ``cluster``: how the gauges of several workers combine (``livesum``, ``livemax``, ``livemin``)."""

    name: str
    kind: Literal["counter", "gauge"]
    help: str
    labels: tuple[str, ...] = ()
    cluster: Literal["livesum", "livemax", "livemin"] = "livesum"


class Sample(NamedTuple):
    metric: Metric
    labels: tuple[str, ...]
    value: float


Source = Callable[[], Iterable[Sample]]


def multiprocess_dir() -> str | None:
    """The directory of the multiprocess files when this process is one of ``--workers N``."""
    return os.environ.get(ENV) or None


class _Collector:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[_Family]:
        families: dict[str, Any] = {}
        for s in self.metrics.samples():
            m = s.metric
            fam = families.get(m.name)
            if fam is None:
                cls = CounterMetricFamily if m.kind == "counter" else GaugeMetricFamily
                fam = families[m.name] = cls(m.name, m.help, labels=list(m.labels))
            fam.add_metric(list(s.labels), s.value)
        yield from families.values()


class Metrics:
    """The metric sources of one node and their exposition (see the module docstring)."""

    def __init__(self) -> None:
        self._sources: list[Source] = []
        self.multiprocess = multiprocess_dir()
        self._objects: dict[str, Any] = {}  # multiprocess: name -> prometheus_client Counter/Gauge
        self._last: dict[tuple[str, tuple[str, ...]], float] = {}  # counters: value already pushed
        if self.multiprocess is None:
            self.registry = CollectorRegistry(auto_describe=False)
            self.registry.register(_Collector(self))

    def add_source(self, source: Source) -> None:
        self._sources.append(source)

    def remove_source(self, source: Source) -> None:
        if source in self._sources:
            self._sources.remove(source)

    def samples(self) -> Iterator[Sample]:
        for source in list(self._sources):
            yield from source()

    def sync(self) -> None:
        """Multiprocess: write this process's current values into its memory-mapped files."""
        if self.multiprocess is None:
            return
        from prometheus_client import Counter, Gauge

        for s in self.samples():
            m = s.metric
            obj = self._objects.get(m.name)
            if obj is None:
                if m.kind == "counter":
                    obj = Counter(m.name, m.help, m.labels, registry=None)
                else:
                    obj = Gauge(m.name, m.help, m.labels, registry=None, multiprocess_mode=m.cluster)
                self._objects[m.name] = obj
            child = obj.labels(*s.labels) if m.labels else obj
            if isinstance(child, Counter):
                key = (m.name, s.labels)
                delta = s.value - self._last.get(key, 0.0)
                if delta > 0:
                    child.inc(delta)
                    self._last[key] = s.value
            else:
                child.set(s.value)

    def render(self) -> bytes:
        """The Prometheus text exposition (of the whole cluster with ``--workers``)."""
        return generate_latest(self.registry if self.multiprocess is None else self._cluster())

    def _cluster(self) -> CollectorRegistry:
        """Multiprocess: a registry reading every worker's files (this one's synced first)."""
        from prometheus_client import multiprocess

        self.sync()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.multiprocess)
        return registry

    def value(self, name: str, labels: tuple[str, ...] = ()) -> float | None:
        """One value as :meth:`render` shows it (summed over the workers), or None if absent."""
        if self.multiprocess is None:
            for s in self.samples():
                if s.metric.name == name and s.labels == labels:
                    return s.value
            return None
        registry = self._cluster()
        want = dict(zip(_label_names(registry, name), labels, strict=False))
        for fam in registry.collect():
            for sample in fam.samples:
                if sample.name in (name, f"{name}_total") and all(sample.labels.get(k) == v for k, v in want.items()):
                    return float(sample.value)
        return None


def _label_names(registry: CollectorRegistry, name: str) -> list[str]:
    for fam in registry.collect():
        if fam.name == name:
            for sample in fam.samples:
                return [k for k in sample.labels if k != "pid"]
    return []


def mark_process_dead(pid: int) -> None:
    """Supervisor: forget the live gauges of worker ``pid`` (its counters keep counting in the sum)."""
    if multiprocess_dir() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


# -- the gateway's own metrics (its sessions, decisions, commands, storage writer, media) -----------------
CONNECTIONS = Metric("jt808_connections", "gauge", "Open terminal connections.", ("transport",))
ONLINE = Metric("jt808_online_terminals", "gauge", "Authenticated terminals held by this node (all workers).")
FRAMES_RX = Metric("jt808_frames_received", "counter", "Frames received.")
FRAMES_TX = Metric("jt808_frames_sent", "counter", "Frames sent.")
BYTES_RX = Metric("jt808_bytes_received", "counter", "Bytes received.")
REJECTED = Metric("jt808_frames_rejected", "counter", "Frames rejected (bad escape, check code, length, body).")
FRAME_REPAIRS = Metric("jt808_frame_repairs", "counter",
                       "Problems repaired or flagged by the tolerant frame decoder, by kind (docs: Device dialects).",
                       ("kind",))
ACCEPTED = Metric("jt808_connections_accepted", "counter", "Connections accepted.")
CONN_REFUSED = Metric("jt808_connections_refused", "counter",
                      "Connections closed at once, by reason (limits: security limits; file_limit: the process's "
                      "file limit).", ("reason",))
TCP_CAPACITY = Metric("jt808_tcp_capacity", "gauge", "TCP connections the process's file limit allows.")
REGISTRATIONS = Metric("jt808_registrations", "counter", "0x0100 decisions.", ("result",))
AUTHENTICATIONS = Metric("jt808_authentications", "counter", "0x0102 decisions.", ("result",))
REFUSED_UNAUTH = Metric("jt808_refused_unauthenticated", "counter", "Messages refused before authentication.")
COMMANDS = Metric("jt808_commands", "counter", "Downlink commands by outcome.", ("status",))
ROWS_WRITTEN = Metric("jt808_storage_rows_written", "counter", "Rows committed.")
BATCHES = Metric("jt808_storage_batches", "counter", "Batches committed.")
ROWS_FAILED = Metric("jt808_storage_rows_failed", "counter", "Rows whose write failed: store unavailable.")
ROWS_REFUSED = Metric("jt808_storage_rows_refused", "counter", "Rows refused without a write, by reason.",
                      ("reason",))
ROWS_REJECTED = Metric("jt808_storage_rows_rejected", "counter", "Rows the store refused for their content.")
ROWS_QUARANTINED = Metric("jt808_storage_rows_quarantined", "counter", "Rejected rows kept in the quarantine.")
VALUES_REPAIRED = Metric("jt808_storage_values_repaired", "counter", "Values cleaned to be storable, by kind.",
                         ("kind",))
OUTAGES = Metric("jt808_storage_outages", "counter", "Times the store became unavailable.")
PENDING = Metric("jt808_storage_pending_rows", "gauge", "Rows waiting for the database.")
LOCATIONS = Metric("jt808_locations", "counter", "Location rows submitted.")
MEDIA = Metric("jt808_media_saved", "counter", "Multimedia files saved.")
STORAGE_UP = Metric("jt808_storage_up", "gauge", "1 while the store accepts writes, 0 during an outage (with "
                    "--workers: the number of workers that reach it).")
UPTIME = Metric("jt808_uptime_seconds", "gauge", "Seconds since the node started.", cluster="livemax")
RSS = Metric("jt808_resident_memory_bytes", "gauge", "Resident memory of the gateway processes.")

COMMAND_STATUSES = ("sent", "replied", "failed", "timeout", "offline")


def gateway_samples(st: dict[str, Any]) -> list[Sample]:
    """The samples of :meth:`jt808.gateway.Gateway.stats` (one place that maps its keys to metrics)."""
    c = st["counters"]
    out = [Sample(CONNECTIONS, ("tcp",), st["connections_tcp"]), Sample(CONNECTIONS, ("udp",), st["connections_udp"]),
           Sample(ONLINE, (), st["online_terminals"]), Sample(FRAMES_RX, (), st["rx_frames"]),
           Sample(FRAMES_TX, (), st["tx_frames"]), Sample(BYTES_RX, (), st["rx_bytes"]),
           Sample(REJECTED, (), st["rejected"]), Sample(ACCEPTED, (), c.get("connections", 0)),
           *(Sample(FRAME_REPAIRS, (k,), st["frame_repairs"].get(k, 0)) for k in PROBLEM_KINDS),
           Sample(REGISTRATIONS, ("ok",), c.get("register_ok", 0)),
           Sample(REGISTRATIONS, ("refused",), c.get("register_refused", 0)),
           Sample(REGISTRATIONS, ("retry",), c.get("register_retry", 0)),
           Sample(AUTHENTICATIONS, ("ok",), c.get("auth_ok", 0)),
           Sample(AUTHENTICATIONS, ("refused",), c.get("auth_refused", 0)),
           Sample(AUTHENTICATIONS, ("retry",), c.get("auth_retry", 0)),
           Sample(REFUSED_UNAUTH, (), c.get("refused_unauthenticated", 0)),
           Sample(CONN_REFUSED, ("limits",), c.get("connections_refused", 0)),
           Sample(CONN_REFUSED, ("file_limit",), c.get("connections_refused_file_limit", 0)),
           Sample(TCP_CAPACITY, (), st.get("tcp_capacity", 0))]
    out += [Sample(COMMANDS, (k,), c.get(f"commands_{k}", 0)) for k in COMMAND_STATUSES]
    s = st.get("storage")
    if s is not None:
        h = s["health"]
        out += [Sample(ROWS_WRITTEN, (), s["rows_written"]), Sample(BATCHES, (), s["batches_written"]),
                Sample(ROWS_FAILED, (), s["rows_failed"]),
                Sample(ROWS_REFUSED, ("unavailable",), s["rows_unavailable"]),
                Sample(ROWS_REFUSED, ("overloaded",), s["rows_refused"]),
                Sample(ROWS_REJECTED, (), s["rows_rejected"]), Sample(ROWS_QUARANTINED, (), s["rows_quarantined"]),
                Sample(VALUES_REPAIRED, ("text",), s["values_repaired"].get("text", 0)),
                Sample(VALUES_REPAIRED, ("number",), s["values_repaired"].get("number", 0)),
                Sample(VALUES_REPAIRED, ("time",), s["values_repaired"].get("time", 0)),
                Sample(STORAGE_UP, (), 1 if h["state"] == "ok" else 0), Sample(OUTAGES, (), h["outages"]),
                Sample(PENDING, (), s["pending_rows"]), Sample(LOCATIONS, (), st["locations_submitted"])]
    if "media_saved" in st:
        out.append(Sample(MEDIA, (), st["media_saved"]))
    out.append(Sample(UPTIME, (), round(st["uptime"], 3)))
    rss = _rss_bytes()
    if rss is not None:
        out.append(Sample(RSS, (), rss))
    return out


def _rss_bytes() -> int | None:
    try:
        with open(f"/proc/{os.getpid()}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
