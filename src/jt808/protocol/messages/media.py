"""Multimedia: 0x0800, 0x0801, 0x8800, 0x8801, 0x0805, 0x8802, 0x0802, 0x8803, 0x8804, 0x8805.

- 0x0800 多媒体事件信息上传 ``id · type · format · event · channel``.
- 0x0801 多媒体数据上传: the same prefix, the 28-byte basic location block (2013 on; 2011 has none) and
  the media bytes. Usually sub-packaged: only fragment 1 holds the prefix, so decode the reassembled body
  (:class:`jt808.protocol.subpackage.Reassembler`). Which layout a body has is decided by its version
  and, against it, by where the media's own signature (JPEG ``FF D8``, ``RIFF`` …, by the ``format``
  code) starts: right after the prefix (2011) or 28 bytes later (2013). A layout other than the
  version's is read and flagged; so is a 2013 body with fewer than 28 bytes after the prefix (SmallChi's
  rule).
- 0x8800 多媒体数据上传应答 ``mm_id · length? · retx_ids``: decoded with or without the count (a reply
  that ends after ``mm_id`` means "all received"); always encoded with the count (0 when complete), as
  EMQX does.
- 0x8801 摄像头立即拍摄命令 and its reply 0x0805 (count and ids only when ``result`` = 0, SmallChi/EMQX).
- 0x8802 / 0x0802 stored-media search and reply (items carry a 28-byte location in every version; items
  without the media id are 2011's layout, with it 2013's: the body size decides, the other version's
  layout is flagged).
- 0x8803 存储多媒体数据上传命令, 0x8804 录音开始命令, 0x8805 单条存储多媒体数据检索上传命令.

Codes (PROTOCOL.md §6.8): type 0 image / 1 audio / 2 video; format 0 JPEG / 1 TIF / 2 MP3 / 3 WAV / 4 WMV.
JSON keys are the seed-004 / EMQX ones; media bytes are base64, locations are maps of the eight basic keys.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from typing import Any, ClassVar

from jt808.errors import BodyError, EncodeError, TruncatedError
from jt808.protocol.buffer import Reader, Writer
from jt808.protocol.header import V2011, V2013, V2019, Version
from jt808.protocol.jsonutil import json_field
from jt808.protocol.messages.location import LocationBasic
from jt808.protocol.spec import BCD, BYTE, BYTES_REST, DWORD, LIST, WORD, Body, message, wire

__all__ = [
    "MEDIA_PREFIX",
    "MediaData",
    "MediaDataReply",
    "MediaEvent",
    "MediaItem",
    "SearchMedia",
    "SearchMediaReply",
    "StartRecording",
    "TakePhoto",
    "TakePhotoReply",
    "UploadOneMedia",
    "UploadStoredMedia",
    "location_from_json",
]

_PREFIX = struct.Struct(">IBBBB")  # id, type, format, event, channel
#: How the media of each ``format`` code starts (PROTOCOL.md §6.8: JPEG, TIF, MP3, WAV, WMV): where it
#: starts tells a 2011 0x0801 (media right after the prefix) from a 2013 one (a 28-byte location first).
_MAGIC: dict[int, tuple[bytes, ...]] = {0: (b"\xff\xd8\xff",), 1: (b"II*\x00", b"MM\x00*"),
                                       2: (b"ID3", b"\xff\xfb", b"\xff\xfa", b"\xff\xf3", b"\xff\xf2"),
                                       3: (b"RIFF",), 4: (b"\x30\x26\xb2\x75",)}
#: Bytes of the 0x0801 prefix held by fragment 1: id/type/format/event/channel (8) + location (28).
MEDIA_PREFIX = 36

def location_from_json(obj: Any, key: str = "location") -> LocationBasic:
    """A :class:`LocationBasic` from its JSON map (the eight basic keys; ``extra`` is not allowed here)."""
    return LocationBasic.from_json(obj, key=key)


def _int_list_json(obj: dict[str, Any], key: str, hi: int, count_key: str) -> list[int]:
    v = obj.get(key)
    if not isinstance(v, list):
        raise BodyError(f"expects a list, got {type(v).__name__}", field=key)
    for x in v:
        if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x <= hi:
            raise BodyError(f"items must be integers 0..{hi}, got {x!r}", field=key)
    if count_key in obj and obj[count_key] != len(v):
        raise BodyError(f"says {obj[count_key]!r} but '{key}' has {len(v)} items", field=count_key)
    return list(v)


def _check_location(loc: Any, w: Writer) -> None:
    if not isinstance(loc, LocationBasic):
        raise EncodeError("needs a LocationBasic (28-byte block) or None", field="location", value=loc,
                          msg_id=w.msg_id)


# ---------------------------------------------------------------------------------------------
# 0x0800 / 0x0801 / 0x8800
# ---------------------------------------------------------------------------------------------
@message(0x0800)
class MediaEvent(Body):
    """多媒体事件信息上传 — multimedia event: a photo/recording was taken (answered with 0x8001)."""

    id: int = wire(DWORD, doc="multimedia id (> 0)")
    type: int = wire(BYTE, doc="0 image, 1 audio, 2 video")
    format: int = wire(BYTE, doc="0 JPEG, 1 TIF, 2 MP3, 3 WAV, 4 WMV")
    event: int = wire(BYTE, doc="0 platform command, 1 timed, 2 robbery alarm, 3 collision, 4/5 door, 6, 7 distance")
    channel: int = wire(BYTE)

    msg_id: ClassVar[int]


@message(0x0801, answered_by=(0x8800,))
class MediaData(Body):
    """多媒体数据上传 — multimedia data: prefix, basic location (28 bytes), media bytes.

    ``location`` is ``None`` in the 2011 layout (see the module docstring for how it is recognised) and
    is then omitted on encode and from the JSON.
    """

    id: int = wire(DWORD)
    type: int = wire(BYTE)
    format: int = wire(BYTE)
    event: int = wire(BYTE)
    channel: int = wire(BYTE)
    location: LocationBasic | None = field(default_factory=LocationBasic)
    multimedia: bytes = wire(BYTES_REST)

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> MediaData:
        p = r.pos
        if p + 8 > r.end:
            raise TruncatedError(f"multimedia prefix needs 8 bytes, {r.end - p} left", offset=p, field="id")
        data = r.data
        mid, typ, fmt, ev, ch = _PREFIX.unpack_from(data, p)
        p = r.pos = p + 8
        left = r.end - p
        magic = _MAGIC.get(fmt, ())
        bare = data.startswith(magic, p, r.end)  # the media starts right after the prefix
        located = left >= 28 and data[p + 22:p + 28].hex().isdigit()  # 28 bytes ending in a BCD time follow
        loc: LocationBasic | None = None
        if r.version is V2011:
            if located and not bare and data.startswith(magic, p + 28, r.end):
                r.note("0x0801: the media starts after a 28-byte location block in a 2011 frame: read as the "
                       "2013 layout")
                loc = LocationBasic.decode(r)
        elif left < 28:
            r.note(f"0x0801: only {left} byte(s) after the 8-byte prefix: no 28-byte location "
                   "block (2011 layout?); all kept as multimedia")
        elif bare and not located:
            r.note("0x0801: the media starts right after the 8-byte prefix: no location block (2011 layout)")
        else:
            loc = LocationBasic.decode(r)
        return cls(mid, typ, fmt, ev, ch, loc, r.rest())

    def encode(self, w: Writer) -> None:
        try:
            w.out += _PREFIX.pack(self.id, self.type, self.format, self.event, self.channel)
        except struct.error:
            w.u32(self.id, "id")
            for name in ("type", "format", "event", "channel"):
                w.u8(getattr(self, name), name)
        if self.location is not None:
            _check_location(self.location, w)
            self.location.encode(w)
        w.bytes(self.multimedia, "multimedia")

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type, "format": self.format, "event": self.event,
                               "channel": self.channel}
        if self.location is not None:
            out["location"] = self.location.to_json(version)
        out["multimedia"] = base64.b64encode(self.multimedia).decode("ascii")
        return out

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> MediaData:
        if not isinstance(obj, dict):
            raise BodyError(f"MediaData expects a JSON object, got {type(obj).__name__}")
        loc = location_from_json(obj["location"]) if obj.get("location") is not None else None
        mm = BYTES_REST.from_json(obj.get("multimedia", ""), "multimedia")
        return cls(json_field(obj, "id", 0, 0xFFFFFFFF), json_field(obj, "type", 0, 0xFF),
                   json_field(obj, "format", 0, 0xFF), json_field(obj, "event", 0, 0xFF),
                   json_field(obj, "channel", 0, 0xFF), loc, mm)


@message(0x8800, quotes="", unanswered=True)
class MediaDataReply(Body):
    """多媒体数据上传应答 — multimedia data reply: ``retx_ids`` lists the fragment indexes (``frag_sn``)
    to re-send; empty = everything arrived. Sent once, after the last fragment (PROTOCOL.md §1.7).

    Decodes a body that stops after ``mm_id`` (no count: complete); encodes the count always.
    """

    mm_id: int = wire(DWORD)
    retx_ids: list[int] = wire(LIST(WORD, BYTE, count_key="length"))

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> MediaDataReply:
        mm_id = r.u32("mm_id")
        if r.pos >= r.end:  # (noted: the re-encode writes the count)
            r.note(f"0x{r.msg_id:04X}: no count after mm_id: read as complete (0 to re-send); re-encoded with "
                   "the count")
            return cls(mm_id, [])
        n = r.u8("length")
        return cls(mm_id, [r.u16("retx_ids") for _ in range(n)])

    def encode(self, w: Writer) -> None:
        w.u32(self.mm_id, "mm_id")
        ids = self.retx_ids
        if not isinstance(ids, list | tuple):
            raise EncodeError("needs a list", field="retx_ids", value=ids, msg_id=w.msg_id)
        w.u8(len(ids), "length")
        for x in ids:
            w.u16(x, "retx_ids")

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> MediaDataReply:
        if not isinstance(obj, dict):
            raise BodyError(f"MediaDataReply expects a JSON object, got {type(obj).__name__}")
        mm_id = json_field(obj, "mm_id", 0, 0xFFFFFFFF)
        if "retx_ids" not in obj and obj.get("length", 0) == 0:
            return cls(mm_id, [])
        return cls(mm_id, _int_list_json(obj, "retx_ids", 0xFFFF, "length"))


# ---------------------------------------------------------------------------------------------
# 0x8801 / 0x0805
# ---------------------------------------------------------------------------------------------
@message(0x8801, answered_by=(0x0805, 0x0001))
class TakePhoto(Body):
    """摄像头立即拍摄命令 — take photo / record now (answered with 0x0805).

    ``command``: 0 stop, 0xFFFF record video, 1..0xFFFE number of photos; ``period``: photo interval or
    video length in s (0 = minimum interval / until stopped); ``save``: 1 store, 0 upload now;
    ``resolution`` §6.8; ``quality`` 1 (best)..10; brightness 0-255, contrast 0-127, saturation 0-127,
    chromaticity 0-255.
    """

    channel_id: int = wire(BYTE)
    command: int = wire(WORD)
    period: int = wire(WORD)
    save: int = wire(BYTE)
    resolution: int = wire(BYTE)
    quality: int = wire(BYTE)
    brightness: int = wire(BYTE, json="bright")
    contrast: int = wire(BYTE)
    saturation: int = wire(BYTE, json="saturate")
    chromaticity: int = wire(BYTE)

    msg_id: ClassVar[int]


@message(0x0805, quotes="seq", versions=(V2013, V2019))
class TakePhotoReply(Body):
    """摄像头立即拍摄命令应答 — take-photo reply. ``result``: 0 ok, 1 failure, 2 channel not supported.
    The count and the media ids follow only when ``result`` is 0 (SmallChi, EMQX; go-jt808 always reads
    the count). A success reply that stops after ``result`` decodes with no ids, flagged."""

    seq: int = wire(WORD)
    result: int = wire(BYTE)
    ids: list[int] = wire(LIST(DWORD, WORD, count_key="length"), when=lambda v: v["result"] == 0)

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> TakePhotoReply:
        seq = r.u16("seq")
        result = r.u8("result")
        if result != 0:
            return cls(seq, result, [])
        if r.pos >= r.end:
            r.note("0x0805: result 0 but no media id count: decoded with no ids")
            return cls(seq, result, [])
        n = r.u16("length")
        return cls(seq, result, [r.u32("ids") for _ in range(n)])


# ---------------------------------------------------------------------------------------------
# 0x8802 / 0x0802
# ---------------------------------------------------------------------------------------------
@message(0x8802, answered_by=(0x0802,))
class SearchMedia(Body):
    """存储多媒体数据检索 — search stored media (answered with 0x0802). ``channel`` 0 = all channels;
    times ``YYMMDDhhmmss`` (GMT+8)."""

    type: int = wire(BYTE)
    channel: int = wire(BYTE)
    event: int = wire(BYTE)
    start_time: str = wire(BCD(6))
    end_time: str = wire(BCD(6))

    msg_id: ClassVar[int]


_ITEM = struct.Struct(">IBBB")
_ITEM_NO_ID = struct.Struct(">BBB")


@dataclass(slots=True)
class MediaItem:
    """One 0x0802 search result: ``id`` (``None`` in the 2011 layout without it), type, channel, event
    and the 28-byte basic location."""

    id: int | None = 0
    type: int = 0
    channel: int = 0
    event: int = 0
    location: LocationBasic = field(default_factory=LocationBasic)

    def encode(self, w: Writer) -> None:
        if self.id is not None:
            w.u32(self.id, "result.id")
        w.u8(self.type, "result.type")
        w.u8(self.channel, "result.channel")
        w.u8(self.event, "result.event")
        _check_location(self.location, w)
        self.location.encode(w)

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.id is None else {"id": self.id}
        out.update(type=self.type, channel=self.channel, event=self.event, location=self.location.to_json(version))
        return out

    @classmethod
    def from_json(cls, obj: Any) -> MediaItem:
        if not isinstance(obj, dict):
            raise BodyError(f"expects a JSON object, got {type(obj).__name__}", field="result")
        mid = json_field(obj, "id", 0, 0xFFFFFFFF) if "id" in obj else None
        return cls(mid, json_field(obj, "type", 0, 0xFF), json_field(obj, "channel", 0, 0xFF),
                   json_field(obj, "event", 0, 0xFF),
                   location_from_json(obj.get("location"), "result.location"))


@message(0x0802, quotes="seq")
class SearchMediaReply(Body):
    """存储多媒体数据检索应答 — stored-media search reply: ``seq`` of the 0x8802 answered and the items
    (JSON key ``result``, count ``length``). Items are 35 bytes (id + type/channel/event + 28-byte location),
    31 bytes without the id in 2011; the other version's items are accepted when the body size says so,
    and flagged.
    Seed 004's "variable-length 2019 location" is not followed (EMQX, SmallChi, yezhihao read 28)."""

    seq: int = wire(WORD)
    result: list[MediaItem] = field(default_factory=list)

    msg_id: ClassVar[int]

    @classmethod
    def decode(cls, r: Reader) -> SearchMediaReply:
        seq = r.u16("seq")
        n = r.u16("length")
        left = r.end - r.pos
        if r.version is V2011:
            with_id = left != 31 * n and left == 35 * n
            if with_id:
                r.note(f"0x0802: {n} item(s) of 35 bytes in a 2011 frame: items with the media id (2013 layout)")
        else:
            with_id = left == 35 * n or left != 31 * n
            if not with_id:
                r.note(f"0x0802: {n} item(s) of 31 bytes: items without the media id (2011 layout)")
        items = []
        data = r.data
        for _ in range(n):
            p = r.pos
            size = 35 if with_id else 31
            if p + size > r.end:
                raise TruncatedError(f"search item needs {size} bytes, {r.end - p} left", offset=p, field="result")
            if with_id:
                mid, typ, ch, ev = _ITEM.unpack_from(data, p)
                r.pos = p + 7
            else:
                mid = None
                typ, ch, ev = _ITEM_NO_ID.unpack_from(data, p)
                r.pos = p + 3
            items.append(MediaItem(mid, typ, ch, ev, LocationBasic.decode(r)))
        return cls(seq, items)

    def encode(self, w: Writer) -> None:
        w.u16(self.seq, "seq")
        items = self.result
        if not isinstance(items, list | tuple):
            raise EncodeError("needs a list", field="result", value=items, msg_id=w.msg_id)
        w.u16(len(items), "length")
        if len({it.id is None for it in items}) > 1:
            raise EncodeError("items must all have an id, or all have none (2011)", field="result.id",
                              msg_id=w.msg_id)
        for it in items:
            if not isinstance(it, MediaItem):
                raise EncodeError("items must be MediaItem", field="result", value=it, msg_id=w.msg_id)
            it.encode(w)

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        return {"seq": self.seq, "length": len(self.result), "result": [it.to_json(version) for it in self.result]}

    @classmethod
    def from_json(cls, obj: Any, version: Version | None = None) -> SearchMediaReply:
        if not isinstance(obj, dict):
            raise BodyError(f"SearchMediaReply expects a JSON object, got {type(obj).__name__}")
        seq = json_field(obj, "seq", 0, 0xFFFF)
        items = obj.get("result")
        if not isinstance(items, list):
            raise BodyError(f"expects a list, got {type(items).__name__}", field="result")
        if "length" in obj and obj["length"] != len(items):
            raise BodyError(f"says {obj['length']!r} but 'result' has {len(items)} items", field="length")
        return cls(seq, [MediaItem.from_json(x) for x in items])


# ---------------------------------------------------------------------------------------------
# 0x8803 / 0x8804 / 0x8805
# ---------------------------------------------------------------------------------------------
@message(0x8803)
class UploadStoredMedia(Body):
    """存储多媒体数据上传命令 — upload stored media matching the filter (0x0001, then 0x0801s).
    ``delete``: 0 keep, 1 delete after upload."""

    type: int = wire(BYTE)
    channel: int = wire(BYTE)
    event: int = wire(BYTE)
    start_time: str = wire(BCD(6))
    end_time: str = wire(BCD(6))
    delete: int = wire(BYTE)

    msg_id: ClassVar[int]


@message(0x8804)
class StartRecording(Body):
    """录音开始命令 — start/stop sound recording. ``command`` 0 stop, 1 start; ``time`` s (0 = until stopped);
    ``save`` 0 upload now, 1 store; ``rate`` 0 8 kHz, 1 11 kHz, 2 23 kHz, 3 32 kHz."""

    command: int = wire(BYTE)
    time: int = wire(WORD)
    save: int = wire(BYTE)
    rate: int = wire(BYTE)

    msg_id: ClassVar[int]


@message(0x8805, versions=(V2013, V2019))
class UploadOneMedia(Body):
    """单条存储多媒体数据检索上传命令 — upload one stored item by id (0x0001, then 0x0801).
    ``flag``: 0 keep, 1 delete after upload."""

    id: int = wire(DWORD)
    flag: int = wire(BYTE)

    msg_id: ClassVar[int]

