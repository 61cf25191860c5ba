"""Server messages as seed 001 hands them to the callback: ``{"header": {...}, "data": {...}}``.

The ``header`` keys are the seed's (``message_id``, ``properties``, ``protocol_version``, ``client_id``,
``serial_no``, ``package_total``, ``package_no``); ``data`` carries the keys of seed 001 section 4 for
each server message, built from our decoded bodies. Coordinates are degrees (float), times the
``YYMMDDhhmmss`` strings of the wire. Platform replies (0x8001, 0x8100, 0x8004, 0x8800, 0x8003) use
the keys of the methods' return values. A message without a mapping gives its seed-004 JSON.
"""

from __future__ import annotations

from typing import Any

from jt808.client.jt_message import decode_param
from jt808.protocol.header import V2019, properties
from jt808.protocol.messages.params import CONNECT_FIELDS, UPGRADE_FIELDS
from jt808.protocol.packet import Packet, RawBody

__all__ = ["seed_header", "seed_message"]


def seed_header(packet: Packet) -> dict[str, Any]:
    h = packet.header
    return {
        "message_id": h.msg_id,
        "properties": properties(h, h.length),
        "protocol_version": h.proto_ver if h.version is V2019 else 0,
        "client_id": h.phone,
        "serial_no": h.msg_sn,
        "package_total": h.frag_total,
        "package_no": h.frag_sn,
    }


def seed_message(packet: Packet) -> dict[str, Any]:
    """``{"header": …, "data": …}`` for the seed-001 callback."""
    return {"header": seed_header(packet), "data": seed_data(packet)}


def _deg(v: int) -> float:
    return v / 1e6


def _bit(v: int, n: int) -> int:
    return v >> n & 1


#: seed-001 names of the area attribute bits (0x8600-0x8604); a route (0x8606) has bits 0 and 2-5 of them
_AREA_BITS = {"time_limit_enable": 0, "speed_limit_enable": 1, "alert_driver_when_entering_area": 2,
              "alert_platform_when_entering_area": 3, "alert_driver_when_leaving_area": 4,
              "alert_platform_when_leaving_area": 5, "latitude_direction": 6, "longitude_direction": 7,
              "open_the_door_enable": 8, "communication_module_enable_when_entering_area": 14,
              "gnss_enable_when_entering_area": 15}
_ROUTE_BITS = {k: n for k, n in _AREA_BITS.items() if n in (0, 2, 3, 4, 5)}
_SEGMENT_BITS = {"driving_time_limit_enable": 0, "speed_limit_enable": 1, "latitude_direction": 2,
                 "longitude_direction": 3}


def _attrs(flag: int, bits: dict[str, int]) -> dict[str, int]:
    return {name: _bit(flag, n) for name, n in bits.items()}


def _limits(a: Any, flag: int) -> dict[str, Any]:
    timed, speed = flag & 1, flag & 2
    return {
        "start_time": getattr(a, "start_time", "") if timed else "",
        "end_time": getattr(a, "end_time", "") if timed else "",
        "speed_limit": getattr(a, "max_speed", 0) if speed else 0,
        "over_speed_time": getattr(a, "overspeed_duration", 0) if speed else 0,
        "night_speed_limit": getattr(a, "night_max_speed", 0) if speed else 0,
    }


def _text(data: bytes) -> str | bytes:
    try:
        return data.decode("gbk")
    except UnicodeDecodeError:
        return data


def _params(raw: bytes) -> list[tuple[int, Any]]:
    """0x8103 items from the body bytes: ``length BYTE · [id DWORD · len BYTE · value]*``."""
    out = []
    p = 1
    while p + 5 <= len(raw):
        pid = int.from_bytes(raw[p:p + 4], "big")
        n = raw[p + 4]
        value = raw[p + 5:p + 5 + n]
        out.append((pid, decode_param(pid, value)))
        p += 5 + n
    return out


#: seed-001 names of the 0x8105 command 1 / 2 fields (the protocol's UPGRADE_FIELDS / CONNECT_FIELDS, renamed)
_SEED_NAMES = {"apn": "dial_point_name", "user": "dial_user_name", "password": "dial_password", "address": "addr",
               "connect_time_limit": "conn_timeout"}
_CONTROL_KEYS = {1: tuple(_SEED_NAMES.get(n, n) for n in UPGRADE_FIELDS),
                 2: tuple(_SEED_NAMES.get(n, n) for n in CONNECT_FIELDS)}


def _control(command: int, param: str) -> dict[str, Any]:
    keys = _CONTROL_KEYS.get(command)
    if keys is None:
        return {}
    fields = param.split(";")
    out: dict[str, Any] = dict(zip(keys, fields, strict=False))
    if command == 2 and "conn_ctrl" in out:
        try:
            out["conn_ctrl"] = int(out["conn_ctrl"])
        except ValueError:
            pass
    return out


def seed_data(packet: Packet) -> dict[str, Any]:
    """The ``data`` dict of seed 001 section 4 for one server message."""
    mid = packet.header.msg_id
    b: Any = packet.body
    raw = packet.raw_body or b""
    if mid == 0x8004:  # also accepted before 2019, where the codec keeps the BCD[6] raw
        t = b.data.hex() if isinstance(b, RawBody) else b.time
        return {"utc_time": f"20{t[0:2]}-{t[2:4]}-{t[4:6]} {t[6:8]}:{t[8:10]}:{t[10:12]}"}
    if isinstance(b, RawBody):
        return {"raw": b.data}
    if mid == 0x8001:
        return {"serial_no": b.seq, "message_id": b.id, "result_code": b.result}
    if mid == 0x8100:
        return {"serial_no": b.seq, "registration_result": b.result, "auth_code": getattr(b, "auth_code", "")}
    if mid == 0x8800:
        return {"media_id": b.mm_id, "retransmission_ids": list(b.retx_ids)}
    if mid == 0x8003:
        return {"serial_no": b.seq, "ids": list(b.ids)}
    if mid == 0x8103:
        return {"params": _params(raw)}
    if mid in (0x8104, 0x8107, 0x8201, 0x8204, 0x8702):
        return {}
    if mid == 0x8105:
        return {"cmd_word": b.command, "cmd_params": _control(b.command, b.param)}
    if mid == 0x8106:
        return {"param_ids": list(b.ids)}
    if mid == 0x8108:
        return {"upgrade_type": b.type, "manufacturer_id": b.manufacturer, "terminal_firmware_verion": b.version,
                "terminal_firmware_version": b.version, "upgrade_package": b.firmware}
    if mid == 0x8202:
        return {"time_interval": b.period, "location_tracking_validity_period": b.expiry if b.period else 0}
    if mid == 0x8203:
        t = b.type
        return {"alarm_msg_serial_no": b.seq, "emergency_alarm": _bit(t, 0), "hazard_alarm": _bit(t, 3),
                "in_out_area_alarm": _bit(t, 20), "in_out_road_alarm": _bit(t, 21),
                "insufficient_or_too_long_travel_time_on_the_road_alarm": _bit(t, 22),
                "vehicle_illegal_ignition_alarm": _bit(t, 27), "vehicle_illegal_displacement_alarm": _bit(t, 28)}
    if mid == 0x8300:
        f = b.flag
        ftype = f & 3 if packet.header.version is V2019 else (2 if f & 1 else 0)
        return {"flag_type": ftype, "terminal_display": _bit(f, 2), "terminal_tts_broadcast_and_read": _bit(f, 3),
                "flag_msg_type": _bit(f, 5), "msg_type": getattr(b, "text_type", 0), "message": b.text}
    if mid == 0x8301:
        return {"set_type": b.type, "events": [{"id": e.id, "data": e.content} for e in b.events]}
    if mid == 0x8302:
        f = b.flag
        return {"flag": {"emergency": _bit(f, 0), "terminal_tts_broadcast_and_read": _bit(f, 3),
                         "advertising_screen_display": _bit(f, 4)},
                "question_info": b.question, "answers": [{"id": a.id, "data": a.answer} for a in b.answers]}
    if mid == 0x8303:
        return {"set_type": b.type, "infos": [{"type": m.type, "name": m.info} for m in b.menus]}
    if mid == 0x8304:
        return {"info_type": b.type, "info_data": b.info}
    if mid == 0x8400:
        return {"flag": b.type, "phone_number": b.phone}
    if mid == 0x8401:
        return {"set_type": b.type, "phonebook": [{"call_type": c.type, "phone": c.phone, "concat_user": c.name}
                                                  for c in b.contacts]}
    if mid == 0x8500:
        if hasattr(b, "controls"):
            return {"data": [{"id": c.id, "param": c.param} for c in b.controls]}
        # 2011/2013: one flag byte, bit 0 = 1 lock doors; given as the 2019 door item (0 lock, 1 open)
        return {"data": [{"id": 0x0001, "param": 0 if b.flag & 1 else 1}], "flag": b.flag}
    if mid == 0x8600:
        return {"set_attr": b.type, "source_body": raw.hex().upper(), "area_data": [
            {"area_id": a.id, "attributes": _attrs(a.flag, _AREA_BITS), "center_latitude": _deg(a.center_latitude),
             "center_longitude": _deg(a.center_longitude), "radius": a.radius, **_limits(a, a.flag),
             "area_name": getattr(a, "name", "")} for a in b.areas]}
    if mid == 0x8602:
        return {"set_attr": b.type, "source_body": raw.hex().upper(), "area_data": [
            {"area_id": a.id, "attributes": _attrs(a.flag, _AREA_BITS), "upper_left_latitude": _deg(a.lt_lat),
             "upper_left_longitude": _deg(a.lt_lng), "lower_right_latitude": _deg(a.rb_lat),
             "lower_right_longitude": _deg(a.rb_lng), **_limits(a, a.flag), "area_name": getattr(a, "name", "")}
            for a in b.areas]}
    if mid == 0x8604:
        return {"source_body": raw.hex().upper(), "area_data": {
            "area_id": b.id, "attributes": _attrs(b.flag, _AREA_BITS), **_limits(b, b.flag),
            "point_location": [{"latitude": _deg(p.lat), "longitude": _deg(p.lng)} for p in b.points],
            "area_name": getattr(b, "name", "")}}
    if mid == 0x8606:
        points = []
        for p in b.points:
            seg = p.attrib
            points.append({
                "turning_point_id": p.point_id, "road_section_id": p.path_id,
                "turning_point_latitude": _deg(p.point_lat), "turning_point_longitude": _deg(p.point_lng),
                "road_section_width": p.width, "attributes": _attrs(seg, _SEGMENT_BITS),
                "driving_too_long_time_limit": p.too_long_threshold if seg & 1 else -1,
                "insufficient_travel_time_limit": p.too_short_threshold if seg & 1 else -1,
                "speed_limit": p.max_speed if seg & 2 else 0,
                "over_speed_time": p.overspeed_duration if seg & 2 else 0,
                "night_speed_limit": getattr(p, "night_max_speed", 0) if seg & 2 else 0})
        return {"source_body": raw.hex().upper(), "area_data": {
            "route_id": b.id, "attributes": _attrs(b.flag, _ROUTE_BITS),
            "start_time": b.start_time if b.flag & 1 else "", "end_time": b.end_time if b.flag & 1 else "",
            "turning_points": points, "route_name": getattr(b, "name", "")}}
    if mid in (0x8601, 0x8603, 0x8605):
        return {"all": 0 if b.ids else 1, "area_ids": list(b.ids)}
    if mid == 0x8607:
        return {"all": 0 if b.ids else 1, "route_ids": list(b.ids)}
    if mid == 0x8608:
        return {"query_type": b.type, "ids": list(b.ids)}
    if mid in (0x8700, 0x8701):
        return {"cmd_word": b.command, "cmd_data": b.param}
    if mid == 0x8801:
        return {"channel_id": b.channel_id, "shooting_order": b.command, "working_time": b.period,
                "save_flag": b.save, "resolution": b.resolution, "quality": b.quality,
                "brightness": b.brightness, "contrast": b.contrast, "saturation": b.saturation,
                "chroma": b.chromaticity}
    if mid in (0x8802, 0x8803):
        out = {"media_type": b.type, "channel_id": b.channel, "event_code": b.event, "start_time": b.start_time,
               "end_time": b.end_time}
        if mid == 0x8803:
            out["delete_flag"] = b.delete
        return out
    if mid == 0x8804:
        return {"recording_cmd": b.command, "recording_time": b.time, "save_flag": b.save,
                "audio_sample_rate": b.rate}
    if mid == 0x8805:
        return {"media_id": b.id, "delete_flag": b.flag}
    if mid == 0x8900:
        return {"data_type": b.type, "data": _text(b.data)}
    if mid == 0x8A00:
        return {"e": b.e, "n": bytes(b.n).hex().upper()}
    return b.to_json(packet.header.version)
