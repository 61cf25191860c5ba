"""Every ``JTT808`` method (seed 001) against a real local gateway: TCP and UDP, 2013 and 2019.

Each call's return value is checked as the seed documents it, and the uplink the gateway decoded is
checked against the call's arguments (through a gateway listener).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from jt808.client import (
    GENERAL_ANSWER_MSG_ID,
    JTT808,
    LicensePlateColor,
    LocAdditionalInfoConfig,
    LocAlarmWarningConfig,
    LocStatusConfig,
    TerminalParams,
)
from jt808.client.aio import Status

PHONE = "18888888888"


def loc_data() -> tuple[Any, ...]:
    """The seed's ``test_init_loction_data``."""
    status = LocStatusConfig()
    for key in status._loc_cfg_offset.__dict__:
        status.set_config(key, 1)
    alarm = LocAlarmWarningConfig()
    alarm.set_alarm("over_speed_alarm", 1)
    extra = LocAdditionalInfoConfig()
    extra.set_mileage(100)
    extra.set_oil_quantity(32.5)
    extra.set_speed(0)
    return (alarm.value()[0], status.value(), 31.824845156501, 117.24091089413, 120, 12.3, 45, "220617082544",
            extra.value())


def general(res: dict[str, Any], msg_id: int) -> int:
    assert set(res) == {"message_id", "serial_no", "result_code"}, res
    assert res["message_id"] == msg_id and res["result_code"] == 0, res
    return res["serial_no"]


@pytest.fixture
def client_for(gateway: Any) -> Iterator[Any]:
    made: list[JTT808] = []

    def make(method: str = "TCP", version: str = "2019", **kw: Any) -> JTT808:
        c = JTT808(ip="127.0.0.1", port=gateway.port, method=method, version=version, client_id=PHONE,
                   timeout=kw.pop("timeout", 2), retry_count=kw.pop("retry_count", 1), **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def login(c: JTT808, version: str) -> str:
    assert c.set_callback(lambda args: None) is True
    assert c.connect() is True
    assert c.status() == Status.CONNECTED
    reg = c.register("34", "0100", "quectel", "EC200U-CNAA", "865306057798238", LicensePlateColor.blue, "皖A88888")
    assert set(reg) == {"serial_no", "registration_result", "auth_code"}
    assert reg["registration_result"] == 0 and reg["serial_no"] == 0 and reg["auth_code"]
    auth = c.authentication(reg["auth_code"], "865306057798238", "v1.0.0")
    assert auth == {"message_id": 0x0102, "serial_no": 1, "result_code": 0}
    return reg["auth_code"]


@pytest.mark.parametrize("method", ["TCP", "UDP"])
@pytest.mark.parametrize("version", ["2013", "2019"])
def test_every_method(gateway: Any, client_for: Any, method: str, version: str) -> None:
    rec = gateway.recorder
    c = client_for(method, version)
    login(c, version)
    wide = version == "2019"
    reg = rec.last(0x0100) if rec.of(0x0100) else None  # registration is not an "uplink" event for listeners
    del reg

    assert c.heart_beat() is True

    t = c.query_server_time()
    assert set(t) == {"utc_time"} and len(t["utc_time"]) == 19 and t["utc_time"].startswith("20")

    p = TerminalParams()
    p.set_params(0x0013, "127.0.0.1:7611")
    p.set_params(0x0001, 60)
    p.set_params(0x0032, 8, 12, 17, 30)
    general(c.params_report(3, {k: v["hex"] for k, v in p.get_params().items()}), 0x0104)
    got = rec.last(0x0104).body
    assert got.seq == 3 and {x.id for x in got.params} == {0x0013, 0x0001, 0x0032}
    assert {x.id: x.value for x in got.params}[0x0001] == 60

    general(c.properties_report(1, 1, 1, 1, 1, 0, 1, "quec", "EC200U-CNAA", "EC200UCNAA", "89860000000000000001",
                                "1.0", "2.0", 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0), 0x0107)
    attrs = rec.last(0x0107).body
    assert attrs.manufacturer == "quec" and attrs.iccid == "89860000000000000001" and attrs.firmware_version == "2.0"
    assert attrs.type & 0b1111 == 0b1111 and attrs.gnss_prop == 0b1111 and attrs.comm_prop == 0b111111

    general(c.upgrade_result_report(0, 0), 0x0108)

    loc = loc_data()
    general(c.loction_report(None, None, *loc), 0x0200)
    body = rec.last(0x0200).body
    assert (body.latitude, body.longitude, body.altitude, body.speed, body.direction, body.time) == \
        (31824845, 117240911, 120, 123, 45, "220617082544")
    assert body.alarm == 0b10 and body.extra(0x01) == 1000 and body.extra(0x02) == 325
    general(c.location_report(None, None, *loc), 0x0200)  # the correctly spelled alias
    general(c.loction_report(0x8201, 9, *loc), 0x0201)
    assert rec.last(0x0201).body.seq == 9
    general(c.loction_report(0x8500, 11, *loc), 0x0500)
    assert rec.last(0x0500).body.seq == 11

    general(c.event_report(12), 0x0301)
    assert rec.last(0x0301).body.id == 12
    general(c.issue_question_response(14, 1), 0x0302)
    general(c.information_demand_cancellation(12, 1), 0x0303)
    assert (rec.last(0x0303).body.id, rec.last(0x0303).body.flag) == (12, 1)
    if wide:  # 0x0608 exists in 2019 only
        general(c.query_area_route_data_response(1, []), 0x0608)
    general(c.driving_record_data_upload(17, 33, b"\x55\x7a\x01\x00"), 0x0700)
    assert rec.last(0x0700).body.data == b"\x55\x7a\x01\x00"
    general(c.electronic_waybill_report(b"waybill" * 20), 0x0701)
    assert rec.last(0x0701).body.data == b"waybill" * 20
    general(c.driver_identity_information_report(1, "220701080000", 0, "jack", "88888", "Municipal agency",
                                                 "20220701", "342426194910010001"), 0x0702)
    assert rec.last(0x0702).body.driver_name == "jack"
    general(c.location_bulk_report(0, [loc] * 10), 0x0704)
    batch = rec.last(0x0704).body
    assert batch.type == 0 and len(batch.locations) == 10
    recive_time = ("{:2d}" * 3 + "0000").format(8, 5, 30)  # the seed's format: space-padded
    general(c.can_bus_data_upload(recive_time, [(0, 0, 0, 0, "123")] * 3), 0x0705)
    assert rec.last(0x0705).body.time == "0805300000" and len(rec.last(0x0705).body.can_data) == 3
    general(c.media_event_upload(12, 0, 0, 4, 1), 0x0800)
    media = bytes(range(256)) * 20  # 5120 bytes: sub-packaged
    res = c.media_data_upload(14, 0, 0, 4, 1, media, loc[:-1])
    assert res["message_id"] == 0x0801 and res["result_code"] == 0, res
    general(c.camera_shoots_immediately_response(25, 0, list(range(10))), 0x0805)
    assert rec.last(0x0805).body.ids == list(range(10))
    general(c.stored_media_data_retrieval_response(26, [(1, 0, 2, 5, loc[:-1])] * 10), 0x0802)
    assert len(rec.last(0x0802).body.result) == 10
    general(c.data_uplink_transparent_transmission(0x41, "123456"), 0x0900)
    assert rec.last(0x0900).body.data == b"123456"
    general(c.data_compression_report(b"\x1f\x8b" + bytes(50)), 0x0901)
    n = 10923252007875538132171701535639644200191641194610072563985760225688326844567094363074389543489252121216915728771174747297043916958910473388186667405361889  # noqa: E501 - seed 000
    general(c.terminal_rsa_public_key(65537, n), 0x0A00)
    assert int.from_bytes(rec.last(0x0A00).body.n, "big") == n

    assert c.general_answer(5, 0x8103, 0) is True
    assert c.logout() is True
    assert c.disconnect() is True
    assert c.status() == Status.DISCONNECTED


@pytest.mark.parametrize("version", ["2011", "2019"])  # 2011: no location block before the media
def test_media_is_stored_by_the_gateway(gateway: Any, client_for: Any, version: str) -> None:
    c = client_for("TCP", version)
    login(c, version)
    media = bytes(range(256)) * 40
    res = c.media_data_upload(77, 0, 0, 1, 2, media, loc_data()[:-1])
    assert res["result_code"] == 0
    deadline = time.monotonic() + 5
    files: list[Any] = []
    while time.monotonic() < deadline and not files:
        files = [f for f in (gateway.data_dir / "media").rglob("*") if f.is_file()]
        time.sleep(0.05)
    assert any(f.read_bytes() == media for f in files)


def test_serials_wrap_at_65535_over_the_wire(gateway: Any, client_for: Any) -> None:
    c = client_for("TCP", "2013")
    login(c, "2013")
    c._terminal.session._sn = 0xFFFF
    assert general(c.event_report(1), 0x0301) == 0xFFFF
    assert general(c.event_report(2), 0x0301) == 0


def test_no_server_returns_false_and_empty_dicts(client_for: Any) -> None:
    c = JTT808(ip="127.0.0.1", port=1, version="2019", client_id=PHONE, timeout=0.2, retry_count=0)
    try:
        assert c.connect() is False
        assert c.status() == Status.ERROR
        assert c.event_report(1) == {}
        assert c.heart_beat() is False
    finally:
        c.close()


# ---------------------------------------------------------------------------------------------
# Server messages reach the callback with the seed's keys; the app answers as section 4 says.
# ---------------------------------------------------------------------------------------------
class App:
    """A seed-style application: answers every server message with the interface section 4 names."""

    def __init__(self, client: JTT808) -> None:
        self.c = client
        self.seen: dict[int, dict[str, Any]] = {}
        self.event = threading.Event()

    def __call__(self, args: dict[str, Any]) -> None:
        header, data = args["header"], args["data"]
        mid = header["message_id"]
        sn = header["serial_no"]
        assert set(header) == {"message_id", "properties", "protocol_version", "client_id", "serial_no",
                               "package_total", "package_no"}
        if mid < 0x8000 or mid in (0x8001, 0x8100, 0x8004, 0x8800):
            return  # replies to our own messages
        self.seen[mid] = data
        c = self.c
        if mid in GENERAL_ANSWER_MSG_ID:
            c.general_answer(sn, mid)
        elif mid in (0x8104, 0x8106):
            p = TerminalParams()
            p.set_params(0x0001, 30)
            c.params_report(sn, {k: v["hex"] for k, v in p.get_params().items()})
        elif mid == 0x8107:
            c.properties_report(1, 0, 0, 0, 0, 0, 0, "quec", "M", "ID", "1" * 20, "h", "f", 1, 0, 0, 0, 1, 0, 0, 0,
                                0, 1, 0)
        elif mid in (0x8201, 0x8500):
            c.loction_report(mid, sn, *loc_data())
        elif mid == 0x8302:
            c.issue_question_response(sn, data["answers"][0]["id"])
        elif mid == 0x8608:
            c.query_area_route_data_response(data["query_type"], [])
        elif mid == 0x8700:
            c.driving_record_data_upload(sn, data["cmd_word"], b"\x55\x7a")
        elif mid == 0x8702:
            c.driver_identity_information_report(2, "220701080000")
        elif mid == 0x8801:
            c.camera_shoots_immediately_response(sn, 0, [1, 2])
        elif mid == 0x8802:
            c.stored_media_data_retrieval_response(sn, [(1, 0, data["channel_id"], 0, loc_data()[:-1])])
        self.event.set()


def _server_messages(version: str) -> list[tuple[Any, int, dict[str, Any]]]:
    """(body, expected reply id, expected callback data subset)."""
    from jt808.protocol.messages import area, general, media, params, records, text, tracking, transport

    wide = version == "2019"
    msgs: list[tuple[Any, int, dict[str, Any]]] = [
        (params.SetParameters(params=params.make_params({0x0001: 30, 0x0032: bytes((22, 50, 10, 30))})), 0x0001,
         {"params": [(0x0001, 30), (0x0032, (22, 50, 10, 30))]}),
        (general.QueryParameters(), 0x0104, {}),
        (params.TerminalControl(command=4, param=""), 0x0001, {"cmd_word": 4, "cmd_params": {}}),
        (params.TerminalControl(command=2, param="0;code;apn;u;p;10.0.0.1;7611;7612;5"), 0x0001,
         {"cmd_word": 2, "cmd_params": {"conn_ctrl": 0, "auth_code": "code", "dial_point_name": "apn",
                                        "dial_user_name": "u", "dial_password": "p", "addr": "10.0.0.1",
                                        "tcp_port": "7611", "udp_port": "7612", "conn_timeout": "5"}}),
        (params.QueryGivenParameters(ids=[1, 0x13]), 0x0104, {"param_ids": [1, 0x13]}),
        (general.QueryAttributes(), 0x0107, {}),
        (params.UpgradePackage(type=0, manufacturer="QUEC", version="2.0", firmware=b"\x01" * 50), 0x0001,
         {"upgrade_type": 0, "manufacturer_id": "QUEC", "terminal_firmware_verion": "2.0",
          "upgrade_package": b"\x01" * 50}),
        (general.QueryLocation(), 0x0201, {}),
        (tracking.TemporaryTracking(period=10, expiry=600), 0x0001,
         {"time_interval": 10, "location_tracking_validity_period": 600}),
        (tracking.ConfirmAlarm(seq=0, type=1 | 1 << 20), 0x0001,
         {"alarm_msg_serial_no": 0, "emergency_alarm": 1, "in_out_area_alarm": 1, "hazard_alarm": 0}),
        (text.TextMessage(flag=0b1101, text="你好"), 0x0001,
         {"terminal_display": 1, "terminal_tts_broadcast_and_read": 1, "message": "你好"}),
        (text.SetEvents(type=1, events=[text.Event(id=1, content="堵车")]), 0x0001,
         {"set_type": 1, "events": [{"id": 1, "data": "堵车"}]}),
        (text.Question(flag=1, question="ok?", answers=[text.Answer(id=7, answer="yes")]), 0x0302,
         {"flag": {"emergency": 1, "terminal_tts_broadcast_and_read": 0, "advertising_screen_display": 0},
          "question_info": "ok?", "answers": [{"id": 7, "data": "yes"}]}),
        (text.InfoMenu(type=1, menus=[text.MenuItem(type=3, info="news")]), 0x0001,
         {"set_type": 1, "infos": [{"type": 3, "name": "news"}]}),
        (text.InfoService(type=3, info="rain"), 0x0001, {"info_type": 3, "info_data": "rain"}),
        (text.CallBack(type=1, phone="10086"), 0x0001, {"flag": 1, "phone_number": "10086"}),
        (text.SetPhoneBook(type=1, contacts=[text.Contact(type=3, phone="10086", name="op")]), 0x0001,
         {"set_type": 1, "phonebook": [{"call_type": 3, "phone": "10086", "concat_user": "op"}]}),
        (area.SetCircleAreas(type=0, areas=[area.CircleArea(id=5, flag=0b10, center_latitude=31_000_000,
                                                            center_longitude=117_000_000, radius=500, max_speed=80,
                                                            overspeed_duration=10, night_max_speed=60, name="c")]),
         0x0001, {"set_attr": 0}),
        (area.DeleteCircleAreas(ids=[5]), 0x0001, {"all": 0, "area_ids": [5]}),
        (area.DeleteRectangleAreas(ids=[]), 0x0001, {"all": 1, "area_ids": []}),
        (area.SetPolygonArea(id=9, flag=0, points=[area.PolygonPoint(lat=31_000_000, lng=117_000_000)] * 3,
                             name="p"), 0x0001,
         {"area_data": {"area_id": 9, "start_time": "", "end_time": "", "speed_limit": 0, "over_speed_time": 0,
                        "night_speed_limit": 0, "attributes": {**{k: 0 for k in (
                            "time_limit_enable", "speed_limit_enable", "alert_driver_when_entering_area",
                            "alert_platform_when_entering_area", "alert_driver_when_leaving_area",
                            "alert_platform_when_leaving_area", "latitude_direction", "longitude_direction",
                            "open_the_door_enable", "communication_module_enable_when_entering_area",
                            "gnss_enable_when_entering_area")}},
                        "point_location": [{"latitude": 31.0, "longitude": 117.0}] * 3,
                        "area_name": "p" if wide else ""}}),
        (area.DeleteRoutes(ids=[1, 2]), 0x0001, {"all": 0, "route_ids": [1, 2]}),
        (records.TachographCollect(command=0x08, param=b""), 0x0700, {"cmd_word": 8, "cmd_data": b""}),
        (records.TachographParams(command=0x82, param=b"\x01"), 0x0001, {"cmd_word": 0x82, "cmd_data": b"\x01"}),
        (general.QueryDriverIdentity(), 0x0702, {}),
        (media.TakePhoto(channel_id=1, command=1, period=0, save=0, resolution=1, quality=5, brightness=128,
                         contrast=64, saturation=64, chromaticity=128), 0x0805,
         {"channel_id": 1, "shooting_order": 1, "resolution": 1, "chroma": 128}),
        (media.SearchMedia(type=0, channel=2, event=0, start_time="220101000000", end_time="220102000000"), 0x0802,
         {"media_type": 0, "channel_id": 2, "start_time": "220101000000"}),
        (media.UploadStoredMedia(type=0, channel=1, event=0, start_time="220101000000", end_time="220102000000",
                                 delete=1), 0x0001, {"delete_flag": 1}),
        (media.StartRecording(command=1, time=30, save=0, rate=1), 0x0001,
         {"recording_cmd": 1, "recording_time": 30, "save_flag": 0, "audio_sample_rate": 1}),
        (media.UploadOneMedia(id=3, flag=0), 0x0001, {"media_id": 3, "delete_flag": 0}),
        (transport.DownlinkPassThrough(type=0x41, data=b"hello"), 0x0001, {"data_type": 0x41, "data": "hello"}),
    ]
    if wide:
        msgs += [
            (general.LinkCheck(), 0x0001, {}),
            (tracking.VehicleControl2019(controls=[tracking.Control(id=1, param=0)]), 0x0500,
             {"data": [{"id": 1, "param": 0}]}),
            (area.QueryAreas(type=1, ids=[]), 0x0608, {"query_type": 1, "ids": []}),
        ]
    else:
        msgs.append((tracking.VehicleControl(flag=1), 0x0500, {"data": [{"id": 1, "param": 0}], "flag": 1}))
    return msgs


@pytest.mark.parametrize("version", ["2013", "2019"])
def test_server_messages_reach_the_callback_and_are_answered(gateway: Any, client_for: Any,
                                                              version: str) -> None:
    c = client_for("TCP", version, timeout=3)
    login(c, version)
    app = App(c)
    c.set_callback(app)
    phone = PHONE.rjust(20 if version == "2019" else 12, "0")
    for body, reply_id, expected in _server_messages(version):
        reply = gateway.send(phone, body, timeout=10)
        assert reply is not None and reply.header.msg_id == reply_id, (hex(body.msg_id), reply)
        data = app.seen[body.msg_id]
        for key, value in expected.items():
            assert data[key] == value, (hex(body.msg_id), key, data)
    # a heartbeat interval set by the platform (0x8103 param 0x0001) is taken by the client
    assert c._terminal.heartbeat_interval == 30


def test_auto_answer_option(gateway: Any, client_for: Any) -> None:
    from jt808.protocol.messages.text import TextMessage

    c = client_for("TCP", "2019", auto_answer=True)
    login(c, "2019")
    reply = gateway.send(PHONE.rjust(20, "0"), TextMessage(flag=0, text="x"), timeout=5)
    assert reply.header.msg_id == 0x0001 and reply.body.result == 0


def test_rsa_encryption_on(make_gateway: Any) -> None:
    """0x8A00 from the platform, ``set_encryption`` with its key: the reports travel encrypted (bit 10)
    and the gateway, holding the private key, decrypts and answers them."""
    from jt808.protocol.crypto import generate_private_key, public_key_to_en
    from jt808.protocol.messages.transport import PlatformRsaKey
    from jt808.protocol.registry import DEFAULT_PROFILE

    key = generate_private_key()
    profile = DEFAULT_PROFILE.derive("rsa-gateway")
    profile.rsa_private_key = key
    gw = make_gateway(profile=profile)
    c = JTT808(ip="127.0.0.1", port=gw.port, version="2019", client_id=PHONE, timeout=3, retry_count=1)
    try:
        login(c, "2019")
        got: dict[str, Any] = {}

        def callback(args: dict[str, Any]) -> None:
            if args["header"]["message_id"] == 0x8A00:
                got.update(args["data"])
                assert c.set_encryption(True, args["data"]["e"], args["data"]["n"]) is True
                c.general_answer(args["header"]["serial_no"], 0x8A00)

        c.set_callback(callback)
        e, n = public_key_to_en(key.public_key())
        reply = gw.send(PHONE.rjust(20, "0"), PlatformRsaKey(e=e, n=n), timeout=10)
        assert reply.header.msg_id == 0x0001
        assert got == {"e": 65537, "n": n.hex().upper()}
        general(c.loction_report(None, None, *loc_data()), 0x0200)
        general(c.event_report(3), 0x0301)
        general(c.location_bulk_report(1, [loc_data()] * 30), 0x0704)  # encrypted, then sub-packaged
        assert c.heart_beat() is True  # never encrypted
        rec = gw.recorder
        assert rec.last(0x0200).header.encrypt == 1 and rec.last(0x0200).body.latitude == 31824845
        assert rec.last(0x0301).header.encrypt == 1 and rec.last(0x0301).body.id == 3
        assert len(rec.last(0x0704).body.locations) == 30
        # encryption off again
        assert c.set_encryption(False) is True
        general(c.event_report(4), 0x0301)
        assert rec.last(0x0301).header.encrypt == 0
    finally:
        c.close()


def test_store_and_forward_through_the_seed_api(make_gateway: Any, tmp_path: Any) -> None:
    gw = make_gateway("gw")
    port = gw.port
    c = JTT808(ip="127.0.0.1", port=port, version="2019", client_id=PHONE, timeout=0.5, retry_count=0,
               store_path=str(tmp_path / "reports.db"))
    try:
        login(c, "2019")
        general(c.loction_report(None, None, *loc_data()), 0x0200)
        gw.stop()
        deadline = time.monotonic() + 5
        while c.status() == Status.CONNECTED and time.monotonic() < deadline:
            time.sleep(0.02)
        assert c.status() == Status.CONNECTING  # reconnecting in the background
        assert c.loction_report(None, None, *loc_data()) == {"stored": True}
        assert c.loction_report(None, None, *loc_data()) == {"stored": True}
        gw2 = make_gateway("gw", port=port)
        deadline = time.monotonic() + 15
        while not gw2.recorder.of(0x0704) and time.monotonic() < deadline:
            time.sleep(0.05)
        (batch,) = gw2.recorder.of(0x0704)
        assert batch.body.type == 1 and len(batch.body.locations) == 2
        assert c.status() == Status.CONNECTED
    finally:
        c.close()
