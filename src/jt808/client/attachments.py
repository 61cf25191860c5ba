"""Terminal side of the SuBiao / YueBiao alarm-attachment upload (what a dash-cam does after an 0x9208).

::

    request = packet.body                                   # the 0x9208 the platform sent
    files = [AttachmentFile("00_65_6501_0_" + request.alarm_no + ".jpg", jpeg_bytes), …]
    result = await upload_attachments(request, phone, files)

On a new TCP connection to the server the 0x9208 names: 0x1210 (the list), then per file 0x1211, its data in
"01cd" packets of ``packet_size`` bytes, and 0x1212; a 0x9212 with result 1 names ranges to send again, which
are sent and followed by another 0x1212 (at most ``rounds`` times). ``skip`` (tests, fault drills) leaves
chosen packets out of the first pass: ``skip(name, offset) -> bool``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import jt808
from jt808.errors import JT808Error
from jt808.protocol.attachments import AttachmentStream, FrameReceived, file_packet
from jt808.protocol.header import V2013, Header, Version
from jt808.protocol.messages.subiao import (
    AlarmAttachmentList,
    AttachmentInfo,
    FileInfo,
    FileUploadComplete,
    FileUploadCompleteReply,
)
from jt808.protocol.messages.yuebiao import YueBiaoAlarmAttachmentList, YueBiaoAlarmSign
from jt808.protocol.packet import Packet
from jt808.protocol.registry import DEFAULT_PROFILE, Profile

__all__ = ["AttachmentFile", "UploadResult", "upload_attachments"]


@dataclass
class AttachmentFile:
    name: str
    data: bytes
    type: int = -1  # -1: from the name's first field (00 image, 01 audio, 02 video, 03 text, else 4)

    def file_type(self) -> int:
        if self.type >= 0:
            return self.type
        head = self.name.split("_", 1)[0]
        return int(head) if head.isdigit() and int(head) <= 4 else 4


@dataclass
class UploadResult:
    completed: list[str] = field(default_factory=list)
    retransmitted: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # name -> ranges asked again
    failed: list[str] = field(default_factory=list)


class _Link:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, phone: str, version: Version,
                 profile: Profile, timeout: float) -> None:
        self.reader, self.writer = reader, writer
        self.phone, self.version, self.profile, self.timeout = phone, version, profile, timeout
        self.sn = 0
        self.stream = AttachmentStream()
        self.frames: list[Packet] = []

    async def send(self, body: Any) -> int:
        sn = self.sn
        self.sn = (self.sn + 1) & 0xFFFF
        self.writer.write(jt808.encode(Packet(Header(body.msg_id, self.phone, sn, self.version), body), self.profile))
        await self.writer.drain()
        return sn

    async def expect(self, msg_id: int) -> Packet:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            for i, p in enumerate(self.frames):
                if p.header.msg_id == msg_id:
                    return self.frames.pop(i)
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no 0x{msg_id:04X} from the attachment server within {self.timeout:g} s")
            data = await asyncio.wait_for(self.reader.read(65536), left)
            if not data:
                raise ConnectionError("the attachment server closed the connection")
            for ev in self.stream.feed(data):
                if isinstance(ev, FrameReceived):
                    try:
                        self.frames.append(jt808.decode(ev.frame, self.profile))
                    except JT808Error:
                        continue

    async def request(self, body: Any, reply_id: int) -> Packet:
        await self.send(body)
        return await self.expect(reply_id)


async def upload_attachments(request: Any, phone: str, files: Sequence[AttachmentFile], *,
                             terminal_id: str | None = None, version: Version = V2013,
                             profile: Profile = DEFAULT_PROFILE, packet_size: int = 16384,
                             skip: Callable[[str, int], bool] | None = None, rounds: int = 3,
                             timeout: float = 10.0, host: str | None = None, port: int | None = None,
                             info_type: int = 0) -> UploadResult:
    """Upload ``files`` for the alarm of ``request`` (an 0x9208 body) to the server it names (or ``host`` /
    ``port``). Returns which files completed and which ranges the server asked for again."""
    sign = request.alarm_sign
    yb = isinstance(sign, YueBiaoAlarmSign)
    list_cls = YueBiaoAlarmAttachmentList if yb else AlarmAttachmentList
    reader, writer = await asyncio.open_connection(host or request.ip, port or request.tcp_port)
    link = _Link(reader, writer, phone, version, profile, timeout)
    result = UploadResult()
    try:
        await link.request(list_cls(terminal_id=terminal_id if terminal_id is not None else sign.terminal_id,
                                    alarm_sign=sign, alarm_no=request.alarm_no, info_type=info_type,
                                    attachments=[AttachmentInfo(f.name, len(f.data)) for f in files]), 0x8001)
        for f in files:
            ftype, size = f.file_type(), len(f.data)
            reply = await link.request(FileInfo(f.name, ftype, size), 0x8001)
            if getattr(reply.body, "result", 1) != 0:
                result.failed.append(f.name)
                continue
            for off in range(0, size, packet_size):
                if skip is not None and skip(f.name, off):
                    continue
                writer.write(file_packet(f.name, off, f.data[off:off + packet_size], encoding=profile.encoding))
            await writer.drain()
            for _ in range(rounds + 1):
                done = cast(FileUploadCompleteReply, (await link.request(FileUploadComplete(f.name, ftype, size),
                                                                         0x9212)).body)
                if done.result == 0:
                    result.completed.append(f.name)
                    break
                ranges = [(r.offset, r.length) for r in done.retransmit]
                result.retransmitted.setdefault(f.name, []).extend(ranges)
                for off, n in ranges:
                    for o in range(off, off + n, packet_size):
                        end = min(off + n, o + packet_size)
                        writer.write(file_packet(f.name, o, f.data[o:end], encoding=profile.encoding))
                await writer.drain()
            else:
                result.failed.append(f.name)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
    return result
