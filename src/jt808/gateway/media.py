"""Completed multimedia uploads (0x0801) saved as files, with an index row in storage.

Files go to ``<data_dir>/media/<phone>/<YYYYMMDD>/<phone>_<media id>_<HHMMSS>_<serial>.<ext>`` (the
extension from the format code: jpg, tif, mp3, wav, wmv, else bin), written in a worker thread and
linked into place, so a file that exists is complete; a name already taken (the same media id twice in
one second) gets a ``-2``, ``-3`` … suffix instead of being overwritten.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jt808.protocol.packet import Packet
from jt808.storage.base import MediaRow, Storage

__all__ = ["EXTENSIONS", "MediaStore"]

EXTENSIONS = {0: "jpg", 1: "tif", 2: "mp3", 3: "wav", 4: "wmv"}


def _write(path: Path, data: bytes) -> Path:
    """Write ``data`` under ``path`` — or ``<stem>-2<ext>``, ``-3`` … when that name is taken (the same
    media id twice in one second, or by another worker): a file is never overwritten. The name used."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        for n in itertools.count(1):
            target = path if n == 1 else path.with_name(f"{path.stem}-{n}{path.suffix}")
            try:
                os.link(tmp, target)  # atomic, and fails instead of replacing
                return target
            except FileExistsError:
                continue
    finally:
        os.unlink(tmp)
    raise AssertionError("unreachable")


class MediaStore:
    def __init__(self, root: Path, storage: Storage | None) -> None:
        self.root = Path(root)
        self.storage = storage
        self.saved = 0
        self.bytes = 0

    def path_for(self, phone: str, media_id: int, fmt: int, when: datetime, serial: int) -> Path:
        ext = EXTENSIONS.get(fmt, "bin")
        return (self.root / phone / when.strftime("%Y%m%d")
                / f"{phone}_{media_id}_{when.strftime('%H%M%S')}_{serial}.{ext}")

    async def save(self, packet: Packet) -> MediaRow:
        """Write the file and its index row; returns the row."""
        body: Any = packet.body
        h = packet.header
        now = datetime.now(UTC)
        media_id = getattr(body, "id", 0)
        fmt = getattr(body, "format", 255)
        data = getattr(body, "multimedia", None)
        if data is None:  # kept raw (e.g. encrypted): save what arrived
            data = packet.raw_body or b""
        path = self.path_for(h.phone, media_id, fmt, now, h.msg_sn)
        path = await asyncio.to_thread(_write, path, data)
        loc = getattr(body, "location", None)
        row = MediaRow(h.phone, media_id, getattr(body, "type", 0), fmt, getattr(body, "event", 0),
                       getattr(body, "channel", 0), str(path), len(data), now,
                       loc.to_json(h.version) if loc is not None and hasattr(loc, "to_json") else None)
        if self.storage is not None:
            await self.storage.add_media(row)
        self.saved += 1
        self.bytes += len(data)
        return row
