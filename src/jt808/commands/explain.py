"""Human renderings for ``jt808 decode --pretty`` and ``--explain``.

``pretty(packet, doc)``: the packet's JSON, indented, each line commented (``// …``) with the field's
meaning (from the body declaration's ``doc`` when its author gave one, else from the seed-004 field
tables), and for ``alarm`` / ``status`` / ``signal`` / ``io_status`` the names of the set bits.

``explain(frame, packet)``: an annotated hex dump — flags and escapes, every header field with its
offset, the body field by field (compiled bodies are walked through their declarations; the location
report item by item; other hand-written bodies as plain hex rows) and the check code.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from jt808.protocol import bits
from jt808.protocol.buffer import Reader
from jt808.protocol.framing import check_code, unescape
from jt808.protocol.header import V2019, Version, frame_layout
from jt808.protocol.messages.location import LocationBasic, LocationReport, extras_table
from jt808.protocol.messages.params import ParamType, describe_param, param_def
from jt808.protocol.packet import Packet, RawBody
from jt808.protocol.registry import DEFAULT_PROFILE, Profile
from jt808.protocol.spec import Body, Record

__all__ = ["HEADER_MEANINGS", "KEY_MEANINGS", "explain", "message_title", "pretty"]

HEADER_MEANINGS: dict[str, str] = {
    "msg_id": "message id",
    "encrypt": "body encryption (body properties bits 10-12): 0 none, 1 RSA",
    "len": "body length field (bits 0-9) as sent",
    "proto_ver": "protocol version byte (2019 header)",
    "phone": "terminal phone number / id, BCD, all digits",
    "msg_sn": "message serial number",
    "frag_total": "sub-package count",
    "frag_sn": "sub-package index (from 1)",
    "reserved": "reserved body-property bits set by the sender",
}

#: Generic meanings of body keys (seed 004's field tables, in English and the standard's Chinese).
KEY_MEANINGS: dict[str, str] = {
    "seq": "serial number of the message answered (应答流水号)",
    "result": "result (结果)",
    "ids": "id list (ID 列表)",
    "length": "item count / length (总数/长度)",
    "count": "item count (总数)",
    "time": "time, BCD YYMMDDhhmmss (GMT+8 unless stated)",
    "manufacturer": "manufacturer id (制造商 ID)",
    "model": "terminal model (终端型号)",
    "auth_code": "authentication code (鉴权码)",
    "imei": "terminal IMEI (终端 IMEI)",
    "software_version": "software version (软件版本号)",
    "params": "parameter items (参数项列表)",
    "value": "parameter value, typed by parameter id (参数值)",
    "command": "command word (命令字)",
    "param": "command parameter (命令参数)",
    "hardware_version": "hardware version (终端硬件版本号)",
    "firmware_version": "firmware version (终端固件版本号)",
    "ver_len": "version length (版本号长度)",
    "version": "version (版本号)",
    "fw_len": "upgrade package length (升级数据包长度)",
    "firmware": "upgrade package, base64 (升级数据包)",
    "extra": "additional information items (位置附加信息)",
    "custome": "custom items 0xE1-0xFF, base64 by decimal id (自定义信息)",
    "extra_dups": "repeated additional-info ids after the first (jt808: kept for exact re-encoding)",
    "extra_order": "additional-info ids in wire order (jt808: kept for exact re-encoding)",
    "bad_tail": "trailing bytes that are not a whole item, base64 (jt808)",
    "period": "interval, s (时间间隔)",
    "flag": "flags (标志)",
    "text": "text (文本信息)",
    "events": "event items (事件项列表)",
    "content": "content (内容)",
    "question": "question (问题)",
    "answers": "candidate answers (候选答案列表)",
    "answer": "answer (答案内容)",
    "menus": "menu items (信息项列表)",
    "info": "information (信息内容)",
    "phone": "phone number (电话号码)",
    "contacts": "contacts (联系人项)",
    "name": "name (名称)",
    "controls": "control items (控制类型列表)",
    "location": "location report (位置信息汇报)",
    "areas": "area items (区域项)",
    "points": "points (点项列表)",
    "start_time": "start time, BCD YYMMDDhhmmss (起始时间)",
    "end_time": "end time, BCD YYMMDDhhmmss (结束时间)",
    "max_speed": "speed limit, km/h (最高速度)",
    "overspeed_duration": "overspeed duration, s (超速持续时间)",
    "night_max_speed": "night speed limit, km/h (夜间最高速度)",
    "lat": "latitude, 1e-6 degrees (纬度)",
    "lng": "longitude, 1e-6 degrees (经度)",
    "point_id": "turning point id (拐点 ID)",
    "point_lat": "turning point latitude (拐点纬度)",
    "point_lng": "turning point longitude (拐点经度)",
    "passed": "segment too-long threshold, s (路段行驶过长阈值)",
    "uncovered": "segment too-short threshold, s (路段行驶不足阈值)",
    "data": "data, base64 (数据)",
    "driver_name": "driver name (驾驶员姓名)",
    "can_data": "CAN bus items (CAN 总线数据项)",
    "channel": "channel (通道)",
    "frame_type": "CAN frame type: 0 standard, 1 extended (帧类型)",
    "data_method": "CAN collection: 0 raw, 1 average (数据采集方式)",
    "format": "media format: 0 JPEG, 1 TIF, 2 MP3, 3 WAV, 4 WMV (多媒体编码格式)",
    "event": "event code (事件项编码)",
    "multimedia": "media data, base64 (多媒体数据包)",
    "mm_id": "media id (多媒体 ID)",
    "retx_ids": "fragment indexes to re-send (重传包 ID 列表)",
    "channel_id": "channel id (通道 ID)",
    "save": "save flag: 1 save, 0 upload (保存标志)",
    "resolution": "resolution (分辨率)",
    "quality": "quality 1-10 (图像/视频质量)",
    "bright": "brightness 0-255 (亮度)",
    "contrast": "contrast 0-127 (对比度)",
    "saturate": "saturation 0-127 (饱和度)",
    "chromaticity": "chromaticity 0-255 (色度)",
    "delete": "delete flag (删除标志)",
    "rate": "audio sample rate (音频采样率)",
    "e": "RSA public exponent (e)",
    "n": "RSA modulus, base64 (n)",
    "unknown_id": "no body layout for this id: body kept as bytes",
    "type": "type (类型)",
    "id": "id (ID)",
}

#: Meanings that depend on the message.
_MSG_KEY: dict[tuple[int, str], str] = {
    (0x0001, "result"): "0 ok, 1 failure, 2 message error, 3 unsupported",
    (0x8001, "result"): "0 ok, 1 failure, 2 message error, 3 unsupported, 4 alarm confirmed",
    (0x8100, "result"): "0 ok, 1 vehicle registered, 2 no such vehicle, 3 terminal registered, 4 no such terminal",
    (0x8203, "type"): "alarm types to confirm (人工确认报警类型)",
    (0x8203, "seq"): "serial of the alarm report to confirm, 0 = all",
    (0x8400, "type"): "0 normal call, 1 listen-in (标志)",
    (0x0801, "type"): "media type: 0 image, 1 audio, 2 video (多媒体类型)",
    (0x0801, "id"): "media id (多媒体数据 ID)",
    (0x0301, "id"): "event id (事件 ID)",
    (0x0302, "id"): "answer id (答案 ID)",
    (0x0303, "id"): "information type (信息类型)",
    (0x0303, "flag"): "1 subscribe, 0 cancel",
}

# the basic location keys, from the block's declaration (items are described by their rows)
KEY_MEANINGS.update({f.name: f.doc for f in LocationBasic.__wire__})


def message_title(msg_id: int, version: Version, profile: Profile = DEFAULT_PROFILE) -> str:
    """``0x0200 LocationReport — 位置信息汇报 — location report`` (first docstring line)."""
    cls = profile.lookup(msg_id, version)
    if cls is None:
        if 0xE000 <= msg_id <= 0xFFFF:
            return f"0x{msg_id:04X} vendor-defined (厂商自定义)"
        if 0x0F00 <= msg_id <= 0x0FFF or 0x8F00 <= msg_id <= 0x8FFF:
            return f"0x{msg_id:04X} reserved (保留)"
        return f"0x{msg_id:04X} unknown"
    doc = (cls.__doc__ or "").strip().split("\n")[0].rstrip(".")
    return f"0x{msg_id:04X} {cls.__name__}" + (f" — {doc}" if doc else "")


# -- field docs from the declarations ----------------------------------------------------------
def _docs(cls: type | None, version: Version) -> tuple[dict[str, str], dict[str, Any]]:
    """(key -> doc, key -> item record class) from a declared structure."""
    docs: dict[str, str] = {}
    items: dict[str, Any] = {}
    if cls is None or not isinstance(cls, type) or not issubclass(cls, Record):
        return docs, items
    for s in getattr(cls, "__wire__", ()):
        if s.doc:
            docs[s.key] = s.doc
        k = s.kind_for(version)
        item = getattr(k, "item", None)
        if isinstance(item, type) and issubclass(item, Record):
            items[s.key] = item
    return docs, items


def _bit_comment(key: str, value: Any, version: Version) -> str | None:
    if key == "alarm" and isinstance(value, int):
        names = bits.alarm_names(value & 0xFFFFFFFF, version)
        if value >> 32:  # JT/T 1078's 64-bit alarm flags: bits 32+n are its video alarms
            from jt808.protocol.messages.jt1078 import VideoAlarm

            video = {a.value: a.name.lower() for a in VideoAlarm}
            names += [video.get(n, f"bit {32 + n}") for n in range(32) if value >> (32 + n) & 1]
        return "set: " + ", ".join(names) if names else "none set"
    if key == "status" and isinstance(value, int):
        f = bits.status_fields(value, version)
        on = [k if v == 1 else f"{k}={bits.LOAD_NAMES.get(v, v) if k == 'load' else v}"
              for k, v in f.items() if v]
        return "set: " + ", ".join(on) if on else "none set"
    if key in ("signal", "io_status") and isinstance(value, dict):
        on = [k for k, v in value.items() if v and k != "reserved"]
        if value.get("reserved"):
            on.append(f"reserved={value['reserved']:#x}")
        return "set: " + ", ".join(on) if on else "none set"
    return None


class _Pretty:
    def __init__(self, msg_id: int, version: Version, profile: Profile) -> None:
        self.msg_id, self.version, self.profile = msg_id, version, profile
        self.lines: list[str] = []

    def meaning(self, key: str, docs: dict[str, str], in_extra: bool) -> str | None:
        if in_extra:
            row = extras_table(self.profile, self.version).by_key.get(key)
            if row is None and key.isdigit():
                return f"additional-info id 0x{int(key):02X} kept as bytes (base64)"
            return f"0x{row.id:02X} {row.description}" if row is not None else KEY_MEANINGS.get(key)
        return docs.get(key) or _MSG_KEY.get((self.msg_id, key)) or KEY_MEANINGS.get(key)

    def emit(self, indent: int, text: str, comment: str | None) -> None:
        line = "  " * indent + text
        if comment:
            line = f"{line:<44} // {comment}"
        self.lines.append(line)

    def value(self, v: Any, indent: int, prefix: str, comma: str, comment: str | None, cls: Any,
              in_extra: bool) -> None:
        if isinstance(v, dict) and v:
            self.emit(indent, prefix + "{", comment)
            self.obj(v, indent + 1, cls, in_extra)
            self.emit(indent, "}" + comma, None)
        elif isinstance(v, list) and v and any(isinstance(x, dict | list) for x in v):
            self.emit(indent, prefix + "[", comment)
            for i, x in enumerate(v):
                self.value(x, indent + 1, "", "," if i < len(v) - 1 else "", None, cls, in_extra)
            self.emit(indent, "]" + comma, None)
        else:
            self.emit(indent, prefix + json.dumps(v, ensure_ascii=False) + comma, comment)

    def obj(self, d: dict[str, Any], indent: int, cls: Any, in_extra: bool = False) -> None:
        docs, items = _docs(cls, self.version)
        keys = list(d)
        param = _param_comments(d, self.version, self.profile) if self.msg_id in _PARAM_MSGS else {}
        for i, k in enumerate(keys):
            v = d[k]
            comma = "," if i < len(keys) - 1 else ""
            comment = param.get(k) or self.meaning(k, docs, in_extra)
            bitc = _bit_comment(k, v, self.version)
            if bitc:
                comment = f"{comment}: {bitc}" if comment else bitc
            sub_extra = in_extra or k == "extra"
            if k in ("signal", "io_status", "analog", "custome") and in_extra:
                sub_extra = False  # flags inside: no per-flag id comments
            self.value(v, indent, json.dumps(k, ensure_ascii=False) + ": ", comma, comment, items.get(k),
                       sub_extra and k != "custome")


_PARAM_MSGS = frozenset({0x8103, 0x0104})


def _param_comments(d: dict[str, Any], version: Version, profile: Profile) -> dict[str, str]:
    """Comments of one parameter item ``{"id", "value"}`` from the parameter table (the profile's rows first)."""
    pid = d.get("id")
    if not isinstance(pid, int) or "value" not in d:
        return {}
    row = param_def(pid, version, profile)
    if row is None:
        return {"id": f"0x{pid:04X} reserved / unknown parameter (value kept as bytes, base64)"}
    value = d["value"]
    if isinstance(value, str) and row.type is not ParamType.STRING:
        shown = "raw bytes, base64"
        if row.type is ParamType.BYTES and row.fields:  # a fixed layout of bit fields (JT/T 1078's rows)
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) == row.size:
                shown = ", ".join(f"{f.name} {v}" for f, v in zip(row.fields, row.unpack(raw), strict=True))
    else:
        shown = describe_param(pid, value, version).split(" = ", 1)[1] if row.fields else row.description
    return {"id": f"0x{pid:04X} {row.name} ({row.kind})", "value": shown}


def _walk_params(body: bytes, base: int, version: Version, d: _Dump, count_at: int, profile: Profile) -> None:
    """Parameter items ``id DWORD · len BYTE · value`` after the count BYTE at ``count_at``."""
    if count_at:
        d.row(base, body[:count_at], "seq", f"WORD = {int.from_bytes(body[:count_at], 'big')}")
    d.row(base + count_at, body[count_at:count_at + 1], "count", f"BYTE = {body[count_at]}")
    p = count_at + 1
    while p < len(body):
        if p + 5 > len(body) or p + 5 + body[p + 4] > len(body):
            d.row(base + p, body[p:], "(bad tail)", "not a whole item")
            return
        pid, n = int.from_bytes(body[p:p + 4], "big"), body[p + 4]
        row = param_def(pid, version, profile)
        d.row(base + p, body[p:p + 5], f"param 0x{pid:04x}", f"len {n} " + (
            f"{row.name} ({row.kind}): {row.description}" if row is not None else "reserved / unknown"))
        d.row(base + p + 5, body[p + 5:p + 5 + n], "  value")
        p += 5 + n


def pretty(packet: Packet, doc: dict[str, Any], profile: Profile = DEFAULT_PROFILE) -> str:
    """The JSON ``doc`` of ``packet``, indented and commented (JSON with ``//`` comments)."""
    h = packet.header
    p = _Pretty(h.msg_id, h.version, profile)
    p.lines.append(f"// {message_title(h.msg_id, h.version, profile)} · v{int(h.version)}")
    p.lines.append("{")
    p.emit(1, '"header": {', None)
    hdr = doc.get("header", {})
    for i, (k, v) in enumerate(hdr.items()):
        c = message_title(v, h.version, profile) if k == "msg_id" else HEADER_MEANINGS.get(k)
        p.emit(2, f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" + ("," if i < len(hdr) - 1 else ""), c)
    rest = [k for k in doc if k != "header"]
    p.emit(1, "}" + ("," if rest else ""), None)
    cls = None if isinstance(packet.body, RawBody) else type(packet.body)
    for i, k in enumerate(rest):
        comma = "," if i < len(rest) - 1 else ""
        v = doc[k]
        comment = {"body": "empty body" if v == {} else None, "tail": "bytes after the last body field (base64)",
                   "problems": "what decoding tolerated"}.get(k)
        p.value(v, 1, json.dumps(k) + ": ", comma, comment, cls if k == "body" else None, False)
    p.lines.append("}")
    return "\n".join(p.lines)


# -- explain: annotated hex dump ---------------------------------------------------------------
class _Dump:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def row(self, off: int, data: bytes, name: str, note: str = "") -> None:
        chunks = [data[i:i + 8] for i in range(0, len(data), 8)] or [b""]
        for j, c in enumerate(chunks):
            if j == 0:
                self.lines.append(f"  {off:04x}  {c.hex(' '):<24}  {name:<18} {note}".rstrip())
            elif j < 4 or j == len(chunks) - 1:
                self.lines.append(f"  {off + 8 * j:04x}  {c.hex(' ')}")
            elif j == 4:
                self.lines.append(f"  ....  ({len(data) - 32 - len(chunks[-1])} bytes not shown)")


def _walk_declared(body_obj: Body, body: bytes, base: int, version: Version, profile: Profile, d: _Dump,
                   msg_id: int) -> bool:
    """Dump a body field by field through its declaration. Bodies decoded by hand are walked too when
    every value the walk reads equals the decoded one; otherwise False (the caller dumps plain hex)."""
    cls = type(body_obj)
    declared = getattr(cls.decode, "__func__", None) is Record.decode.__func__  # type: ignore[attr-defined]  # classmethod objects have __func__
    r = Reader(body, version, profile, msg_id)
    vals: dict[str, Any] = {}
    rows = _Dump()
    for s in cls.__wire__:
        if not s.active(version):
            continue
        if s.when is not None and not s.when(vals):
            continue
        k = s.kind_for(version)
        start = r.pos
        try:
            v = vals[s.name] = k.read(r, s.name)
        except Exception as e:  # a dump shows what it can
            if not declared:
                return False
            rows.row(base + start, body[start:], s.key, f"!! {e}")
            break
        if not declared and getattr(body_obj, s.name, None) != v:
            return False
        shown = k.to_json(v) if not isinstance(v, list) else f"{len(v)} item(s)"
        rows.row(base + start, body[start:r.pos], s.key,
                 f"{k!r} = {json.dumps(shown, ensure_ascii=False, default=str)}")
    else:
        if r.pos < len(body):
            rows.row(base + r.pos, body[r.pos:], "(tail)", "bytes after the last field")
    if not rows.lines:
        return False
    d.lines.extend(rows.lines)
    return True


def _walk_location(body: bytes, base: int, version: Version, d: _Dump, profile: Profile) -> None:
    p = 0
    for f in LocationBasic.__wire__:
        name, size = f.name, f.kind_for(version).size or 0
        chunk = body[p:p + size]
        if len(chunk) < size:
            d.row(base + p, chunk, name, "!! truncated")
            return
        v: Any = chunk.hex() if name == "time" else int.from_bytes(chunk, "big")
        note = str(v)
        bc = _bit_comment(name, v, version)
        if bc:
            note += f"  [{bc}]"
        d.row(base + p, chunk, name, note)
        p += size
    while p < len(body):
        if p + 2 > len(body) or p + 2 + body[p + 1] > len(body):
            d.row(base + p, body[p:], "(bad tail)", "not a whole item")
            return
        eid, n = body[p], body[p + 1]
        row = extras_table(profile, version).get(eid)
        key = row.key if row is not None else "custome" if 0xE1 <= eid <= 0xFF else None
        d.row(base + p, body[p:p + 2 + n], f"extra 0x{eid:02x}", f"len {n}" + (f" {key}" if key else ""))
        p += 2 + n


def explain(frame: bytes, packet: Packet | None, profile: Profile = DEFAULT_PROFILE) -> str:
    """Annotated hex dump of one frame (``packet`` when it decoded, for titles and the version)."""
    d = _Dump()
    if len(frame) < 3 or frame[0] != 0x7E or frame[-1] != 0x7E:
        d.lines.append(f"not a frame ({len(frame)} bytes, no 0x7E at both ends)")
        d.row(0, frame, "bytes")
        return "\n".join(d.lines)
    esc = frame[1:-1]
    content = unescape(esc)
    n_esc = len(esc) - len(content)
    d.lines.append(f"frame: {len(frame)} bytes on the wire, {len(content)} unescaped"
                   + (f" ({n_esc} escape sequence(s))" if n_esc else ""))
    props = content[2] << 8 | content[3] if len(content) >= 4 else 0
    layout = frame_layout(len(content), props, check_code(content))  # the frame decoder's reading
    has_check = layout is None or layout[3]
    body_content, check = (content[:-1], content[-1]) if has_check and content else (content, None)
    if packet is None:
        d.row(0, body_content, "content")
        return "\n".join(d.lines)
    h = packet.header
    d.lines.append(f"header ({'2019' if h.version is V2019 else '2011/2013'} layout)")
    d.row(0, body_content[0:2], "msg_id", message_title(h.msg_id, h.version, profile))
    overflow = f" (a body length of {h.length} overflowed into the flag bits)" \
        if layout is not None and layout[4] == "length_overflow" else ""
    d.row(2, body_content[2:4], "properties",
          f"len={props & 0x3FF} encrypt={(props >> 10) & 7} fragmented={(props >> 13) & 1} "
          f"version_bit={(props >> 14) & 1} reserved_bit15={(props >> 15) & 1}{overflow}")
    off = 4
    if h.version is V2019:
        d.row(4, body_content[4:5], "proto_ver", str(body_content[4]))
        off = 5
    width = 10 if h.version is V2019 else 6
    d.row(off, body_content[off:off + width], "phone", h.phone)
    off += width
    d.row(off, body_content[off:off + 2], "msg_sn", str(h.msg_sn))
    off += 2
    if h.frag_total:
        d.row(off, body_content[off:off + 2], "frag_total", str(h.frag_total))
        d.row(off + 2, body_content[off + 2:off + 4], "frag_sn", str(h.frag_sn))
        off += 4
    body = body_content[off:]
    d.lines.append(f"body ({len(body)} bytes)")
    b = packet.body
    if not body:
        d.lines.append("  (empty)")
    elif isinstance(b, LocationReport):
        _walk_location(body, off, h.version, d, profile)
    elif h.msg_id in _PARAM_MSGS and not isinstance(b, RawBody) and len(body) >= (3 if h.msg_id == 0x0104 else 1):
        _walk_params(body, off, h.version, d, 2 if h.msg_id == 0x0104 else 0, profile)
    elif isinstance(b, RawBody) or not isinstance(b, Body) or not _walk_declared(
            b, packet.raw_body if packet.raw_body is not None else body, off, h.version, profile, d, h.msg_id):
        for i in range(0, len(body), 16):
            d.lines.append(f"  {off + i:04x}  {body[i:i + 16].hex(' ')}")
    if check is None:
        d.lines.append(f"check code: missing (the content XORs to {check_code(body_content):02x}: written as one "
                       "hex digit and lost)")
    else:
        ok = check_code(body_content) == check
        d.lines.append(f"check code: {check:02x} ({'ok' if ok else f'expected {check_code(body_content):02x}'})")
    return "\n".join(d.lines)
