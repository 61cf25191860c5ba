"""The alarm-attachment server (SuBiao / YueBiao): the second TCP listener of ``jt808 serve``.

A terminal told by 0x9208 connects here and, on one connection, sends 0x1210 (the alarm's files), then per
file 0x1211, its "01cd" data packets, and 0x1212. :class:`~jt808.protocol.attachments.AttachmentStream`
separates frames and data; this module:

- answers 0x1210 / 0x1211 (and anything else framed) with 0x8001, 0x1212 with 0x9212: result 0 when every
  byte of the file arrived, else result 1 and the missing ranges (the terminal re-sends them, then 0x1212
  again);
- writes each data piece at its offset into ``<dir>/<phone>/<alarm id>/<name>.part`` as it arrives (memory
  per connection is bounded by one frame or packet header), and on completion renames the file into place,
  stores an :class:`~jt808.storage.base.AttachmentRow` (linked to its alarm by the alarm identification of
  the 0x1210) and emits an ``attachment`` event;
- refuses a file larger than ``max_file_size``, more than ``max_files`` files per connection, and data for a
  file never announced (counted, logged once per connection); a connection silent for ``stall_timeout``
  seconds is closed and its incomplete files deleted.

Layouts follow the gateway profile (``yuebiao`` for the 40-byte alarm identification).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jt808
from jt808.errors import JT808Error
from jt808.gateway.metrics import Metric, Sample
from jt808.protocol.attachments import AttachmentStream, AttachmentStreamError, FileData, FrameReceived, RangeSet
from jt808.protocol.header import Header, Version
from jt808.protocol.messages.general import PlatformGeneralReply
from jt808.protocol.messages.subiao import DataRange, FileUploadCompleteReply
from jt808.protocol.packet import Packet
from jt808.storage.base import AttachmentRow

if TYPE_CHECKING:
    from jt808.gateway.server import Gateway

__all__ = ["AttachmentServer"]

log = logging.getLogger("jt808.attachments")

_UNSAFE = re.compile(r"[^0-9A-Za-z._\-\u4e00-\u9fff]")
READ_SIZE = 65536


def _safe(name: str) -> str:
    """A file-system-safe single path component."""
    s = _UNSAFE.sub("_", name).strip(".") or "_"
    return s[:120]


@dataclass
class _Upload:
    name: str
    size: int
    type: int
    alarm_id: str
    alarm_no: str
    part: Path
    fd: int
    ranges: RangeSet = field(default_factory=RangeSet)


@dataclass
class _Conn:
    peer: str
    phone: str = ""
    version: Version = jt808.V2013
    sn: int = 0
    expected: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # name -> (size, alarm id, alarm no)
    uploads: dict[str, _Upload] = field(default_factory=dict)
    done: int = 0
    unknown_data: int = 0


class AttachmentServer:
    """See the module docstring."""

    def __init__(self, gateway: Gateway, root: Path) -> None:
        self.gw = gateway
        self.cfg = gateway.config.attachments
        self.root = Path(root)
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self._conns: set[asyncio.Task[Any]] = set()
        self.files = self.bytes = self.refused = self.stalled = 0

    async def bind(self, host: str, port: int, *, reuse_port: bool = False) -> int:
        """Bind the port (not accepting yet); returns the port bound."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.server = await asyncio.start_server(self._client, host, port, reuse_address=True,
                                                 reuse_port=reuse_port or None, limit=READ_SIZE,
                                                 start_serving=False)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def serve(self) -> None:
        if self.server is not None:
            await self.server.start_serving()

    def close(self) -> None:
        """Release a bound port that never served."""
        if self.server is not None:
            self.server.close()
            self.server = None

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for t in list(self._conns):
                t.cancel()
            if self._conns:
                await asyncio.wait(list(self._conns), timeout=5)
            await self.server.wait_closed()
            self.server = None

    def advertised(self, conn: Any) -> tuple[str, int]:
        """(host, port) to name in an 0x9208 for a terminal on ``conn`` (a gateway connection)."""
        host = self.cfg.advertise_host
        if not host:
            transport = getattr(conn, "transport", None)
            sock = transport.get_extra_info("sockname") if transport is not None else None
            host = sock[0] if isinstance(sock, tuple) else "127.0.0.1"
            if host.startswith("::ffff:"):
                host = host[7:]
        return host, self.cfg.advertise_port or self.port

    # -- one connection ----------------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        peer = writer.get_extra_info("peername")
        c = _Conn(f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer))
        stream = AttachmentStream(max_frame=max(4096, self.gw.config.server.max_frame * 4),
                                  max_packet=self.cfg.max_packet, encoding=self.gw.profile.encoding)
        reason = "closed by the terminal"
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(READ_SIZE), self.cfg.stall_timeout)
                except TimeoutError:
                    self.stalled += 1
                    reason = f"stalled for {self.cfg.stall_timeout:g} s"
                    break
                if not data:
                    break
                for ev in stream.feed(data):
                    if type(ev) is FileData:
                        self._data(c, ev)
                    else:
                        assert isinstance(ev, FrameReceived)
                        reply = await self._frame(c, ev.frame)
                        if reply is not None:
                            writer.write(reply)
                await writer.drain()
        except AttachmentStreamError as e:
            reason = str(e)
        except (ConnectionError, asyncio.CancelledError) as e:
            reason = type(e).__name__
        finally:
            incomplete = [u.name for u in c.uploads.values()]
            for u in list(c.uploads.values()):
                self._discard(c, u)
            with contextlib.suppress(Exception):
                writer.close()
            self._conns.discard(task)
            log.info("attachments %s phone=%s: %s; %d file(s) stored%s%s", c.peer, c.phone or "?", reason, c.done,
                     f", incomplete dropped: {', '.join(incomplete)}" if incomplete else "",
                     f", {c.unknown_data} byte(s) for unannounced files" if c.unknown_data else "")

    def _reply(self, c: _Conn, body: Any) -> bytes:
        c.sn = (c.sn + 1) & 0xFFFF
        return jt808.encode(Packet(Header(body.msg_id, c.phone, c.sn, c.version), body), self.gw.profile)

    async def _frame(self, c: _Conn, frame: bytes) -> bytes | None:
        try:
            p = jt808.decode(frame, self.gw.profile)
        except JT808Error as e:
            log.warning("attachments %s phone=%s: bad frame (%s): %s", c.peer, c.phone or "?", e, frame[:128].hex())
            return None
        h = p.header
        if not c.phone:
            c.phone = h.phone
        c.version = h.version
        mid = h.msg_id
        body: Any = p.body  # 0x1210 / 0x1211 / 0x1212, told apart by mid below
        result = 0
        if mid == 0x1210:
            key, alarm_no = body.alarm_sign.key(), body.alarm_no
            for a in body.attachments:
                c.expected[a.name] = (a.size, key, alarm_no)
            log.info("attachments phone=%s: alarm %s announces %d file(s)", c.phone, key, len(body.attachments))
        elif mid == 0x1211:
            result = 0 if self._open(c, body.name, body.size, body.type) is not None else 1
        elif mid == 0x1212:
            return self._reply(c, await self._complete(c, body.name, body.type, body.size))
        return self._reply(c, PlatformGeneralReply(h.msg_sn, mid, result))

    def _open(self, c: _Conn, name: str, size: int, ftype: int) -> _Upload | None:
        up = c.uploads.get(name)
        if up is not None:
            return up
        if size > self.cfg.max_file_size:
            self.refused += 1
            log.warning("attachments phone=%s: %s refused: %d bytes (limit %d)", c.phone, name, size,
                        self.cfg.max_file_size)
            return None
        if len(c.uploads) + c.done >= self.cfg.max_files:
            self.refused += 1
            log.warning("attachments phone=%s: %s refused: more than %d files on one connection", c.phone, name,
                        self.cfg.max_files)
            return None
        _, alarm_id, alarm_no = c.expected.get(name, (size, "", ""))
        folder = self.root / _safe(c.phone or "unknown") / _safe(alarm_id or "unlinked")
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / (_safe(name) + ".part")
        fd = os.open(part, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        up = c.uploads[name] = _Upload(name, size, ftype, alarm_id, alarm_no, part, fd)
        return up

    def _data(self, c: _Conn, ev: FileData) -> None:
        up = c.uploads.get(ev.name)
        if up is None and ev.name in c.expected:
            size = c.expected[ev.name][0]
            up = self._open(c, ev.name, size, _type_of(ev.name))
        if up is None:
            c.unknown_data += len(ev.data)
            return
        n = len(ev.data)
        if ev.offset + n > up.size:  # beyond the announced size: keep what fits, count the rest
            n = max(0, up.size - ev.offset)
            c.unknown_data += len(ev.data) - n
        if n:
            os.pwrite(up.fd, ev.data[:n], ev.offset)  # a local write of <= 64 KiB: not worth a thread hop
            up.ranges.add(ev.offset, n)
            self.bytes += n

    async def _complete(self, c: _Conn, name: str, ftype: int, size: int) -> FileUploadCompleteReply:
        up = c.uploads.get(name)
        if up is None:
            up = self._open(c, name, size, ftype)
            if up is None:  # refused: ask for nothing more
                return FileUploadCompleteReply(name, ftype, 0, [])
        missing = up.ranges.missing(up.size)
        if missing:
            log.info("attachments phone=%s: %s incomplete, %d range(s) missing (first %s)", c.phone, name,
                     len(missing), missing[0])
            return FileUploadCompleteReply(name, ftype, 1, [DataRange(o, n) for o, n in missing[:255]])
        del c.uploads[name]
        final = up.part.with_name(up.part.name[:-len(".part")])
        await asyncio.to_thread(_finish, up.fd, up.part, final)
        row = AttachmentRow(phone=c.phone, alarm_id=up.alarm_id, name=name, size=up.size, type=ftype, path=str(final),
                            received_at=datetime.now(UTC), alarm_no=up.alarm_no)
        storage = self.gw.storage
        if storage is not None:
            try:
                await storage.add_attachment(row)
            except Exception as e:
                log.error("attachments phone=%s: %s stored as %s but not indexed: %s", c.phone, name, final, e)
        c.done += 1
        self.files += 1
        from jt808.gateway.alarms import attachment_json

        self.gw.emit(c.phone, "attachment", {**attachment_json(row), "phone": c.phone, "alarm_id": up.alarm_id,
                                             "alarm_no": up.alarm_no})
        log.info("attachments phone=%s: %s complete (%d bytes) -> %s", c.phone, name, up.size, final)
        return FileUploadCompleteReply(name, ftype, 0, [])

    def _discard(self, c: _Conn, up: _Upload) -> None:
        c.uploads.pop(up.name, None)
        with contextlib.suppress(OSError):
            os.close(up.fd)
        with contextlib.suppress(OSError):
            up.part.unlink()

    def samples(self) -> list[Sample]:
        """Metrics of the server (and of the alarm service beside it)."""
        out = [Sample(ATTACHMENT_FILES, (), self.files), Sample(ATTACHMENT_BYTES, (), self.bytes),
               Sample(ATTACHMENT_REFUSED, (), self.refused), Sample(ATTACHMENT_STALLED, (), self.stalled),
               Sample(ATTACHMENT_CONNECTIONS, (), len(self._conns))]
        alarms = self.gw.alarms
        if alarms is not None:
            out += [Sample(ALARMS, ("stored",), alarms.stored), Sample(ALARMS, ("dropped",), alarms.dropped),
                    Sample(ALARM_REQUESTS, (), alarms.requested)]
        return out


ATTACHMENT_FILES = Metric("jt808_attachment_files", "counter", "Alarm attachment files received complete.")
ATTACHMENT_BYTES = Metric("jt808_attachment_bytes", "counter", "Bytes of alarm attachment data written.")
ATTACHMENT_REFUSED = Metric("jt808_attachment_refused", "counter",
                            "Attachment files refused (over max_file_size or max_files).")
ATTACHMENT_STALLED = Metric("jt808_attachment_stalled", "counter",
                            "Attachment connections closed after stall_timeout without a byte.")
ATTACHMENT_CONNECTIONS = Metric("jt808_attachment_connections", "gauge", "Open attachment-server connections.")
ALARMS = Metric("jt808_alarms", "counter", "Alarms from location reports, by outcome (stored, dropped: queue full).",
                ("outcome",))
ALARM_REQUESTS = Metric("jt808_alarm_attachment_requests", "counter", "0x9208 sent automatically.")


def _finish(fd: int, part: Path, final: Path) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(part, final)


def _type_of(name: str) -> int:
    head = name.split("_", 1)[0]
    return int(head) if head.isdigit() and int(head) <= 4 else 4
