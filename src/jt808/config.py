"""Gateway configuration: a TOML file, overridden by environment variables, overridden by flags.

Every setting has a default, so ``jt808 serve`` runs with no file at all (SQLite in ``./jt808-data``).
A file holds any subset of the sections below; ``Config.load(path, env=os.environ, **overrides)``
reads it. Environment variables are ``JT808_<SECTION>_<NAME>`` (``JT808_SERVER_PORT=7000``,
``JT808_STORAGE_DB=postgresql://…``, ``JT808_HTTP_TOKEN=…``, ``JT808_MQTT_URL=…``)::

    data_dir = "./jt808-data"

    [server]
    host = "0.0.0.0"
    port = 6808                 # TCP and UDP
    tcp = true
    udp = true
    max_frame = 4096            # longest escaped frame accepted
    backlog = 4096
    workers = 1                 # processes sharing the port (SO_REUSEPORT) and the storage

    [auth]
    mode = "builtin"            # builtin | anonymous | http
    auto_register = true        # builtin: accept any 0x0100 (else only pre-provisioned phones)
    registry_url = ""           # http: POST registration JSON, answer {"result": 0, "auth_code": "…"}
    auth_url = ""               # http: POST authentication JSON, answer 200 (allow) or 4xx (deny)
    hook_timeout = 5.0
    unauth_reply = "none"       # none | fail: what messages before authentication get
    max_auth_failures = 5       # close the connection after this many refused 0x0102
    reregister_match = ""       # builtin: "" = a registered phone is refused (0x8100 result 3) until
                                # released (0x0003, `jt808 terminal reset`); "dev_id,license_number" =
                                # re-registration gets a NEW code when those stored fields match

    [limits]                    # what an unauthenticated peer gets (docs/security.md)
    auth_deadline = 20          # seconds from connect to a successful 0x0102, then closed
    max_unauthenticated = 4096  # unauthenticated connections in all (the oldest makes room)
    max_unauthenticated_per_address = 256   # per source address (the newcomer is refused)
    frame_timeout = 15          # a started frame must be complete within this (slowloris)
    attempts_per_connection = 10            # 0x0100 + 0x0102 on one connection, then closed
    attempts_per_address_rate = 50          # per source address: per second, and burst (carrier NAT!)
    attempts_per_address_burst = 500
    attempts_per_phone_rate = 0.2           # per phone: per second, and burst
    attempts_per_phone_burst = 10
    udp_sessions = 100000       # UDP sessions (made only by a registration or authentication)
    udp_pending = 1024          # UDP decisions in flight for addresses without a session
    fragment_sets_per_terminal = 8
    fragment_bytes_per_terminal = 16777216
    fragment_sets_total = 16384
    fragment_bytes_total = 268435456
    resend_frames = 4           # 0x8003 / 0x8800 frames per request at most (ids split across them)
    log_lines_per_peer = 20     # per peer address and minute, then a count of the lines left out
    trusted_addresses = "127.0.0.1,::1"    # exempt from the per-address limits (addresses/networks)

    [session]
    heartbeat_interval = 60     # the terminals' heartbeat interval (parameter 0x0001), seconds
    idle_factor = 3             # idle timeout = heartbeat_interval * idle_factor
    fragment_timeout = 15       # ask for missing fragments after this many quiet seconds
    fragment_asks = 3
    default_version = 2013      # frames without the 2019 bit: 2011 or 2013 (a 0x0100 in 2011 widths is read
                                # as 2011 either way, and that terminal stays 2011: docs/dialects.md)
    strict_frames = false       # refuse what field devices send (lengths, lost check codes) instead of
                                # repairing it (docs/dialects.md); refused frames get 0x8001 result 2
    validate_bodies = false     # decode heartbeats/locations even when nothing consumes them (else
                                # they are answered from the header, bodies only length-checked)
    profile = "default"         # device profile: default | jt1078 | subiao | yuebiao (jt808.protocol.profiles)

    [downlink]
    retry_interval = 8          # EMQX's names and defaults
    max_retry_times = 3
    max_inflight = 128
    queue_len = 256             # commands waiting for the in-flight window, per terminal

    [storage]
    db = ""                     # "" = SQLite in data_dir; "memory"; "none" (no data kept); postgresql://…
    ack_after_durable = true    # 0x8001 for locations only once their batch committed
    batch_max_rows = 2000
    batch_max_delay = 0.0       # seconds a batch may wait for company; 0: commit as soon as the last one did
    save_events = true          # keep other uplinks (events, answers …) as JSON rows

    [attachments]               # the SuBiao/YueBiao alarm-attachment server (docs/subiao.md)
    enabled = true
    host = ""                   # "" = the terminals' listen address (server.host)
    port = -1                   # -1 = 6809 with the default terminal port 6808, else a free port (named in 0x9208)
    advertise_host = ""         # address named in 0x9208; "" = the address the terminal reached us on
    advertise_port = 0          # 0 = the port bound
    auto_request = true         # send 0x9208 for ADAS/DSM/BSD alarms (0x0200 items) with attachments
    max_file_size = 67108864    # bytes per file
    max_files = 64              # files per connection
    max_packet = 1048576        # bytes of data per "01cd" packet
    stall_timeout = 60          # seconds without a byte: the upload is abandoned
    keep_standard_alarms = true # 0x0200 alarm bits that rise are stored as alarms too

    [http]
    enabled = true
    host = "127.0.0.1"
    port = 8808
    token = ""                  # when set: "Authorization: Bearer <token>" required
    console = true              # the web console at http://host:port/ (docs/console.md)
    tile_url = ""               # map tiles for the console, e.g. "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
                                # "" = the bundled country/province outlines only (works offline)
    tile_coords = "wgs84"       # gcj02 for Chinese providers (AMap, Tencent): positions are shifted to match
    tile_attribution = ""
    tile_max_zoom = 18

    [mqtt]                      # used by the MQTT bridge
    url = ""
    client_id = "jt808-gateway"
    required = true             # refuse to start without the broker; /healthz degraded while it is down
    connect_timeout = 5.0       # seconds to wait for the broker at start
    …

    [video]                     # JT/T 1078 live video (docs/video.md)
    enabled = true
    host = ""                   # "" = server.host
    port = 6810                 # media port, TCP and UDP (0 = any free port)
    udp = true
    advertise_ip = ""           # the address 0x9101 gives terminals ("" = the one they reached us on)
    advertise_port = 0          # 0 = the media port (set it when a NAT/forwarder maps another port)
    start_timeout = 15          # seconds a first viewer waits for the camera's first key frame
    idle_timeout = 10           # a stream with no packet for this long has stopped: viewers end
    grace = 10                  # seconds after the last viewer left before 0x9102 closes the stream
    status_interval = 3         # seconds between 0x9105 loss-rate notifications (0 = none)
    audio = true                # G.711/AAC/MP3 audio transcoded to AAC (false: video only)
    hls_segment = 1.0           # target HLS segment length (cut at the next key frame)

    [log]
    level = "INFO"
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from jt808.errors import JT808Error

__all__ = [
    "AttachmentConfig",
    "AuthConfig",
    "Config",
    "ConfigError",
    "DownlinkConfig",
    "HttpConfig",
    "LimitsConfig",
    "LogConfig",
    "MqttConfig",
    "ServerConfig",
    "SessionConfig",
    "StartupError",
    "StorageConfig",
    "VideoConfig",
]


class ConfigError(JT808Error):
    """A configuration file, variable or flag holds something unusable (``jt808 serve`` exits 2).
    The message names the setting first."""

    exit_code = 2


class StartupError(JT808Error):
    """Something outside the configuration refused: the database or broker is unreachable or refuses
    the credentials, a port is in use, the data dir cannot be written (``jt808 serve`` exits 1). The
    message names the setting first."""

    exit_code = 1


@dataclass
class ServerConfig:
    host: str = "0.0.0.0"
    port: int = 6808
    tcp: bool = True
    udp: bool = True
    max_frame: int = 4096
    backlog: int = 4096
    reuse_port: bool = False
    workers: int = 1  # processes sharing the port (SO_REUSEPORT), see jt808.gateway.workers


@dataclass
class AuthConfig:
    mode: str = "builtin"  # builtin | anonymous | http
    auto_register: bool = True
    registry_url: str = ""
    auth_url: str = ""
    hook_timeout: float = 5.0
    unauth_reply: str = "none"  # none | fail
    max_auth_failures: int = 5
    reregister_match: str = ""  # comma-separated TerminalRecord fields; "" = refuse re-registration


@dataclass
class LimitsConfig:
    """Bounds for unauthenticated peers and attempts (defaults and reasons: docs/security.md)."""

    auth_deadline: float = 20.0
    max_unauthenticated: int = 4096
    max_unauthenticated_per_address: int = 256
    frame_timeout: float = 15.0
    attempts_per_connection: int = 10
    attempts_per_address_rate: float = 50.0
    attempts_per_address_burst: int = 500
    attempts_per_phone_rate: float = 0.2
    attempts_per_phone_burst: int = 10
    udp_sessions: int = 100_000
    udp_pending: int = 1024
    fragment_sets_per_terminal: int = 8
    fragment_bytes_per_terminal: int = 16 << 20
    fragment_sets_total: int = 16384
    fragment_bytes_total: int = 256 << 20
    resend_frames: int = 4
    log_lines_per_peer: int = 20
    trusted_addresses: str = "127.0.0.1,::1"


@dataclass
class SessionConfig:
    heartbeat_interval: float = 60.0
    idle_factor: float = 3.0
    fragment_timeout: float = 15.0
    fragment_asks: int = 3
    default_version: int = 2013
    validate_bodies: bool = False
    strict_frames: bool = False
    profile: str = "default"

    @property
    def idle_timeout(self) -> float:
        return self.heartbeat_interval * self.idle_factor


@dataclass
class DownlinkConfig:
    retry_interval: float = 8.0
    max_retry_times: int = 3
    max_inflight: int = 128
    queue_len: int = 256


@dataclass
class StorageConfig:
    db: str = ""
    ack_after_durable: bool = True
    batch_max_rows: int = 2000
    batch_max_delay: float = 0.0
    save_events: bool = True


@dataclass
class AttachmentConfig:
    enabled: bool = True
    host: str = ""
    port: int = -1
    advertise_host: str = ""
    advertise_port: int = 0
    auto_request: bool = True
    max_file_size: int = 64 * 1024 * 1024
    max_files: int = 64
    max_packet: int = 1 << 20
    stall_timeout: float = 60.0
    keep_standard_alarms: bool = True


@dataclass
class HttpConfig:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8808
    token: str = ""
    console: bool = True  # the web console at / (jt808.console)
    tile_url: str = ""  # raster tiles for the console's map ({z}/{x}/{y}); "" = the bundled outline map
    tile_coords: str = "wgs84"  # wgs84 | gcj02 (Chinese providers: positions are shifted to match)
    tile_attribution: str = ""
    tile_max_zoom: int = 18


@dataclass
class MqttConfig:
    """Settings of the MQTT bridge (EMQX's topic layout and names)."""

    url: str = ""
    client_id: str = "jt808-gateway"
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str = ""
    mountpoint: str = "jt808/${clientid}/"
    up_topic: str = "jt808/${clientid}/${phone}/up"
    dn_topic: str = "jt808/${clientid}/${phone}/dn"
    status_topic: str = "jt808/${clientid}/${phone}/status"  # connected/disconnected events (retained)
    event_topic: str = "jt808/${clientid}/${phone}/event"  # derived events: alarm, attachment
    qos: int = 1
    required: bool = True  # jt808 serve: refuse to start without the broker; /healthz degraded while it is down
    connect_timeout: float = 5.0  # seconds jt808 serve waits for the broker at start
    buffer_size: int = 10000
    publish_media_max: int = 65536


@dataclass
class VideoConfig:
    """JT/T 1078 live video: the media listener and the stream life cycle (see ``docs/video.md``)."""

    enabled: bool = True
    host: str = ""  # "" = the terminals' address (server.host)
    port: int = 6810
    udp: bool = True
    advertise_ip: str = ""
    advertise_port: int = 0
    start_timeout: float = 15.0
    idle_timeout: float = 10.0
    grace: float = 10.0
    status_interval: float = 3.0
    audio: bool = True
    hls_segment: float = 1.0
    max_viewer_buffer: int = 8 << 20  # bytes queued for one viewer before it is dropped as too slow


@dataclass
class LogConfig:
    level: str = "INFO"


@dataclass
class Config:
    data_dir: Path = Path("./jt808-data")
    server: ServerConfig = field(default_factory=ServerConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    downlink: DownlinkConfig = field(default_factory=DownlinkConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    attachments: AttachmentConfig = field(default_factory=AttachmentConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    log: LogConfig = field(default_factory=LogConfig)
    #: sections given a value by a file, a ``JT808_*`` variable or a flag (the rest are defaults)
    configured: set[str] = field(default_factory=set, repr=False, compare=False)

    # -- loading --------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None, env: Mapping[str, str] | None = None,
             **overrides: Any) -> Config:
        """File, then ``JT808_*`` variables of ``env``, then ``overrides`` (``"section.name"`` keys,
        ``"data.dir"`` for the data directory; ``None`` values are ignored)."""
        cfg = cls()
        if path is not None:
            p = Path(path)
            try:
                with p.open("rb") as f:
                    data = tomllib.load(f)
            except OSError as e:
                raise ConfigError(f"cannot read config file {p}: {e.strerror}") from None
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(f"config file {p}: {e}") from None
            cfg.apply(data, source=str(p))
        if env is not None:
            cfg.apply_env(env)
        for key, value in overrides.items():
            if value is None:
                continue
            section, _, name = key.partition(".")
            cfg.set(section, name, value, source="flag")
        cfg.validate()
        return cfg

    def apply(self, data: Mapping[str, Any], source: str = "config") -> None:
        for key, value in data.items():
            if key == "data_dir":
                self.data_dir = Path(str(value))
            elif key in _SECTIONS:
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{source}: [{key}] must be a table")
                for name, v in value.items():
                    self.set(key, name, v, source=source)
            else:
                raise ConfigError(f"{source}: unknown setting {key!r} (sections: {', '.join(_SECTIONS)})")

    def apply_env(self, env: Mapping[str, str]) -> None:
        if "JT808_DATA_DIR" in env:
            self.data_dir = Path(env["JT808_DATA_DIR"])
        for section, kind in _SECTIONS.items():
            for f in dataclasses.fields(kind):
                var = f"JT808_{section.upper()}_{f.name.upper()}"
                if var in env:
                    self.set(section, f.name, env[var], source=f"${var}")

    def set(self, section: str, name: str, value: Any, source: str = "flag") -> None:
        if section == "data" and name == "dir":
            self.data_dir = Path(str(value))
            return
        if section not in _SECTIONS:
            raise ConfigError(f"{source}: unknown section {section!r}")
        obj = getattr(self, section)
        fields = {f.name: f for f in dataclasses.fields(obj)}
        if name not in fields:
            raise ConfigError(f"{source}: unknown setting {section}.{name} "
                              f"(known: {', '.join(sorted(fields))})")
        current = getattr(obj, name)
        setattr(obj, name, _coerce(value, type(current), f"{source}: {section}.{name}"))
        self.configured.add(section)

    def validate(self) -> None:
        if self.auth.mode not in ("builtin", "anonymous", "http"):
            raise ConfigError(f"auth.mode must be builtin, anonymous or http, not {self.auth.mode!r}")
        if self.auth.mode == "http" and not (self.auth.registry_url or self.auth.auth_url):
            raise ConfigError("auth.mode = http needs auth.registry_url and/or auth.auth_url")
        if self.auth.unauth_reply not in ("none", "fail"):
            raise ConfigError("auth.unauth_reply must be none or fail")
        _validate_limits(self)
        from jt808.protocol.profiles import BUILTIN_PROFILES

        if self.session.profile not in BUILTIN_PROFILES:
            raise ConfigError(f"session.profile must be one of {', '.join(BUILTIN_PROFILES)}, "
                              f"not {self.session.profile!r}")
        a = self.attachments
        if not -1 <= a.port <= 65535 or not 0 <= a.advertise_port <= 65535:
            raise ConfigError("attachments.port must be -1 (6809 beside the default 6808, else any free port) "
                              "or 0..65535, "
                              "attachments.advertise_port 0..65535")
        if a.max_file_size <= 0 or a.max_files <= 0 or a.max_packet <= 0 or a.stall_timeout <= 0:
            raise ConfigError("attachments.max_file_size, max_files, max_packet and stall_timeout must be > 0")
        if self.session.default_version not in (2011, 2013):
            raise ConfigError("session.default_version must be 2011 or 2013")
        for what, v in (("server.port", self.server.port), ("http.port", self.http.port),
                        ("video.port", self.video.port), ("video.advertise_port", self.video.advertise_port)):
            if not 0 <= v <= 65535:
                raise ConfigError(f"{what} must be 0..65535, not {v}")
        if self.http.tile_coords not in ("wgs84", "gcj02"):
            raise ConfigError(f"http.tile_coords must be wgs84 or gcj02, not {self.http.tile_coords!r}")
        if not 1 <= self.server.workers <= 64:
            raise ConfigError(f"server.workers must be 1..64, not {self.server.workers}")
        if self.downlink.max_inflight < 1 or self.downlink.queue_len < 0 or self.downlink.max_retry_times < 0:
            raise ConfigError("downlink: max_inflight >= 1, queue_len >= 0, max_retry_times >= 0")
        if self.downlink.retry_interval <= 0 or self.session.heartbeat_interval <= 0:
            raise ConfigError("downlink.retry_interval and session.heartbeat_interval must be positive")
        if self.log.level.upper() not in LOG_LEVELS:
            raise ConfigError(f"log.level: {self.log.level!r} is not a level ({', '.join(LOG_LEVELS)})")
        for name in ("registry_url", "auth_url"):
            url = getattr(self.auth, name)
            if url:
                _check_http_url(f"auth.{name}", url)
        if self.auth.hook_timeout <= 0:
            raise ConfigError(f"auth.hook_timeout must be positive, not {self.auth.hook_timeout:g}")
        if self.mqtt.url:
            scheme = self.mqtt.url.split("://", 1)[0].lower() if "://" in self.mqtt.url else "mqtt"
            if scheme not in ("mqtt", "tcp", "mqtts", "ssl", "tls"):
                raise ConfigError(f"mqtt.url: unsupported scheme {scheme!r} in {self.mqtt.url!r} "
                                  "(mqtt://host:1883 or mqtts://host:8883)")
        if self.mqtt.qos not in (0, 1, 2):
            raise ConfigError(f"mqtt.qos must be 0, 1 or 2, not {self.mqtt.qos}")
        if self.storage.batch_max_rows < 1 or self.storage.batch_max_delay < 0:
            raise ConfigError("storage: batch_max_rows >= 1 and batch_max_delay >= 0")
        if self.server.max_frame < 64:
            raise ConfigError(f"server.max_frame must be at least 64, not {self.server.max_frame}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"data_dir": str(self.data_dir)}
        for section in _SECTIONS:
            d = dataclasses.asdict(getattr(self, section))
            for secret in ("token", "password"):
                if d.get(secret):
                    d[secret] = "***"
            out[section] = d
        return out


#: section name -> its settings class, in file order: the fields of :class:`Config` that hold one
_SECTIONS: dict[str, type] = {f.name: cast(type, f.default_factory) for f in dataclasses.fields(Config)
                              if dataclasses.is_dataclass(f.default_factory)}

#: fields of a stored terminal that ``auth.reregister_match`` may name (what a 0x0100 carries)
REREGISTER_FIELDS = ("dev_id", "license_number", "model", "manufacturer", "province", "city", "color")


def _validate_limits(cfg: Config) -> None:
    fields = [f.strip() for f in cfg.auth.reregister_match.split(",") if f.strip()]
    bad = [f for f in fields if f not in REREGISTER_FIELDS]
    if bad:
        raise ConfigError(f"auth.reregister_match: unknown field(s) {', '.join(bad)} "
                          f"(choose among {', '.join(REREGISTER_FIELDS)})")
    lim = cfg.limits
    import ipaddress

    for part in lim.trusted_addresses.split(","):
        if part.strip():
            try:
                ipaddress.ip_network(part.strip(), strict=False)
            except ValueError:
                raise ConfigError(f"limits.trusted_addresses: {part.strip()!r} is not an address or network") from None
    for f in dataclasses.fields(lim):
        if f.name != "trusted_addresses" and getattr(lim, f.name) < 0:
            raise ConfigError(f"limits.{f.name} must not be negative (0 disables the limit)")
    if lim.fragment_sets_per_terminal < 1 or lim.fragment_bytes_per_terminal < 1 or lim.fragment_sets_total < 1 \
            or lim.fragment_bytes_total < 1 or lim.resend_frames < 1:
        raise ConfigError("limits: fragment_* and resend_frames must be at least 1")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _check_http_url(setting: str, url: str) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"{setting}: {url!r} is not a URL ({e})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{setting}: {url!r} is not an http:// or https:// URL")
    del port


def _coerce(value: Any, kind: type, where: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expects true/false, got {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expects an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expects an integer, got {value!r}") from None
    if kind is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expects a number, got {value!r}") from None
    if not isinstance(value, str | int | float):
        raise ConfigError(f"{where}: expects text, got {value!r}")
    return str(value)

