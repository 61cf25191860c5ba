"""JT/T 1078 live video: the media listener, live streams and their life cycle, FLV/HLS remuxing.

:class:`VideoService` is built by the node (:mod:`jt808.node`) when ``[video] enabled`` and PyAV is
installed: the media port (TCP + UDP) feeding a :class:`~jt808.video.streams.VideoHub`, which sends
0x9101/0x9102/0x9105 through the gateway's commands. The HTTP routes (:mod:`jt808.video.http`) and the
MQTT bridge open and close streams through it. PyAV itself is imported when a stream's first key frame
arrives. See ``docs/video.md``.

What lives here: the media side of JT/T 1078 from socket to browser. What never does: the 1078 packet
format (:mod:`jt808.protocol.media1078`), the signalling bodies (:mod:`jt808.protocol.messages.jt1078`)
or an import of PyAV at start: a plain install without ``jt808[video]`` runs everything else.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jt808.gateway.metrics import Metric, Sample
from jt808.video.listener import MediaServer
from jt808.video.streams import LiveStream, StreamError, VideoHub, Viewer

if TYPE_CHECKING:
    from jt808.config import Config
    from jt808.gateway.server import Gateway

__all__ = ["LiveStream", "StreamError", "VideoHub", "VideoService", "Viewer", "create"]

log = logging.getLogger("jt808.video")

STREAMS = Metric("jt808_video_streams", "gauge", "Live streams (sending video).")
VIEWERS = Metric("jt808_video_viewers", "gauge", "Viewers of live streams (FLV and WebSocket).")
STARTED = Metric("jt808_video_streams_started", "counter", "Streams requested with 0x9101.")
PACKETS = Metric("jt808_video_packets", "counter", "JT/T 1078 media packets received.")
BYTES = Metric("jt808_video_bytes", "counter", "Bytes received on the media port.")
LOST = Metric("jt808_video_packets_lost", "counter", "Media packets missing by sequence number.")
GARBAGE = Metric("jt808_video_garbage_bytes", "counter", "Bytes skipped on the media port (not a packet).")
UNSOLICITED = Metric("jt808_video_unsolicited_frames", "counter", "Frames of no requested stream (dropped).")


def create(gateway: Gateway, config: Config) -> VideoService | None:
    """The video service of a node, or None when PyAV is not installed: a warning when the ``[video]``
    section was configured, else a debug line (a plain install serves everything but video, quietly)."""
    if importlib.util.find_spec("av") is None:
        level = logging.WARNING if "video" in config.configured else logging.DEBUG
        log.log(level, "video disabled: PyAV is not installed (pip install 'jt808[video]')")
        return None
    return VideoService(gateway, config)


class VideoService:
    """The media port and the live streams of one node. :meth:`bind` may fail on a taken port: video is
    then off (``available`` false, one error line) and the rest of the node runs."""

    def __init__(self, gateway: Gateway, config: Config) -> None:
        v = config.video
        self.config = v
        self.available = False
        self.hub = VideoHub(gateway, v, Path(config.data_dir) / "hls")
        self.server = MediaServer(self.hub, v.host or config.server.host, v.port, v.udp,
                                  idle=max(30.0, 3 * v.idle_timeout))

    @property
    def tcp_port(self) -> int:
        return self.server.tcp_port

    @property
    def udp_port(self) -> int:
        return self.server.udp_port

    async def bind(self) -> bool:
        try:
            await self.server.bind()
        except OSError as e:
            log.error("video disabled: cannot listen on media port %s:%d (video.port): %s", self.server.host,
                      self.config.port, e.strerror or e)
            return False
        self.available = True
        return True

    async def serve(self) -> None:
        if self.available:
            await self.server.serve()
            self.hub.start()

    async def stop(self) -> None:
        if self.available:
            await self.server.stop()
            await self.hub.stop()
        self.available = False

    def stats(self) -> dict[str, Any]:
        return {**self.hub.stats(), "media": self.server.stats()}

    def metric_samples(self) -> list[Sample]:
        st = self.stats()
        m = st["media"]
        return [Sample(STREAMS, (), st["live"]), Sample(VIEWERS, (), st["viewers"]), Sample(STARTED, (), st["started"]),
                Sample(PACKETS, (), m["packets"]), Sample(BYTES, (), m["bytes"]), Sample(LOST, (), m["lost"]),
                Sample(GARBAGE, (), m["garbage_bytes"]), Sample(UNSOLICITED, (), st["unsolicited_frames"])]
