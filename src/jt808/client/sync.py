"""``JTT808``: the blocking terminal API of the QuecPython SDK (seed 001 §3), on CPython.

A facade over :class:`~jt808.client.aio.AsyncTerminal`: the asyncio client runs on a private event
loop in a daemon thread, each method submits one coroutine to it and waits. The callback set with
:meth:`JTT808.set_callback` runs on a separate callback thread (so it may call the client's methods,
e.g. :meth:`general_answer`) and receives ``{"header": …, "data": …}`` with seed 001's keys
(:mod:`jt808.client.downlink`), for server messages and for the replies to the terminal's messages.

Same names, arguments and return dicts as the seed. Where the original had bugs, this one follows
the standard: serial numbers wrap at 65535, split downlinks are reassembled and a 0x0005 names every
missing fragment, long media are sub-packaged, parameter values keep their width. Methods that
return a dict return ``{}`` when no reply came (after ``retry_count`` re-transmissions) or the link is
down; a location report kept by store-and-forward returns ``{"stored": True}``.

Extras (keyword arguments, all optional): ``heartbeat_interval`` (seconds, default 60; a 0x8103
setting 0x0001 changes it), ``auto_answer`` (answer the ids of :data:`GENERAL_ANSWER_MSG_ID` with
0x0001 automatically), ``reconnect`` (default True), ``store_path`` / ``store_limit``
(store-and-forward of location reports, see :mod:`jt808.client.store`).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from jt808.client.aio import AsyncTerminal, Status
from jt808.client.downlink import seed_message
from jt808.client.jt_message import GENERAL_ANSWER_MSG_ID
from jt808.errors import JT808Error, ReplyTimeout
from jt808.protocol.header import V2011, V2019, Version
from jt808.protocol.messages.general import HeartBeat, QueryServerTime
from jt808.protocol.messages.location import LocationBasic, LocationReport, time_bcd
from jt808.protocol.messages.media import MediaData, MediaEvent, MediaItem, SearchMediaReply, TakePhotoReply
from jt808.protocol.messages.params import AttributesReply, Param, ParametersReply, RawValue, UpgradeResult
from jt808.protocol.messages.records import CanData, CanItem, DriverIdentity, TachographUpload, Waybill
from jt808.protocol.messages.register import TerminalRegister
from jt808.protocol.messages.text import EventReport, InfoDemand, QuestionAnswer
from jt808.protocol.messages.tracking import BatchLocations, LocationQueryReply, VehicleControlReply
from jt808.protocol.messages.transport import CompressedData, TerminalRsaKey, UplinkPassThrough
from jt808.protocol.packet import Packet, RawBody
from jt808.protocol.spec import Body

__all__ = ["JTT808"]

log = logging.getLogger("jt808.client")

def _int(v: Any, name: str) -> int:
    """An int from an int or a hex string (the seed passes alarm/status words either way)."""
    if isinstance(v, tuple | list):  # LocAlarmWarningConfig.value(): the alarm word comes first
        v = v[0]
    if isinstance(v, str):
        return int(v, 16) if v else 0
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be an int or a hex string")
    return v


def _hex_or_text(v: Any) -> bytes:
    if isinstance(v, bytes | bytearray):
        return bytes(v)
    if isinstance(v, int):
        return v.to_bytes(8, "big")
    text = str(v)
    if len(text) % 2 == 0:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    return text.encode("gbk")


def _bytes(v: Any) -> bytes:
    if isinstance(v, bytes | bytearray):
        return bytes(v)
    return str(v).encode("gbk")


def _widths(cls: Any, version: Version) -> dict[str, int]:
    """Byte widths of the fields of ``cls`` in ``version``, from its declaration (0: variable length)."""
    return {s.name: s.kind_for(version).size or 0 for s in cls.__wire__ if s.active(version)}


def _fit(text: str, width: int, keep_tail: bool = False) -> str:
    raw = text.encode("gbk")
    if len(raw) <= width:
        return text
    log.warning("%r is longer than its %d-byte field in this version: cut", text, width)
    cut = raw[-width:] if keep_tail else raw[:width]
    return cut.decode("gbk", "ignore")


def location_body(alarm_flag: Any, loc_status: Any, latitude: float, longitude: float, altitude: int,
                  speed: float, direction: int, time: str | None, loc_additional_info: Any = None) -> LocationReport:
    """A 0x0200 body from the seed's location tuple (degrees, km/h; time ``YYMMDDhhmmss`` GMT+8)."""
    status = _int(loc_status, "loc_status")
    if latitude < 0:
        status |= 0b100
    if longitude < 0:
        status |= 0b1000
    extras: list[tuple[int, Any]] = []
    if loc_additional_info:
        raw = bytes.fromhex(loc_additional_info) if isinstance(loc_additional_info, str) else bytes(loc_additional_info)
        p = 0
        while p + 2 <= len(raw):
            n = raw[p + 1]
            extras.append((raw[p], raw[p + 2:p + 2 + n]))
            p += 2 + n
    when = (time or time_bcd(datetime.now(UTC))).replace(" ", "0")
    return LocationReport(alarm=_int(alarm_flag, "alarm_flag"), status=status, latitude=round(abs(latitude) * 1e6),
                          longitude=round(abs(longitude) * 1e6), altitude=int(altitude),
                          speed=round(float(speed) * 10), direction=int(direction), time=when, extras=extras)


def _answered(b: Any) -> dict[str, Any]:
    """The seed's return dict of a 0x8001 body."""
    return {"message_id": b.id, "serial_no": b.seq, "result_code": b.result}


def _basic(loc: Sequence[Any]) -> LocationBasic:
    r = location_body(*loc[:8])
    return LocationBasic(r.alarm, r.status, r.latitude, r.longitude, r.altitude, r.speed, r.direction, r.time)


class JTT808:
    """The seed-001 terminal client (see the module docstring)."""

    def __init__(self, ip: str | None = None, port: int | None = None, domain: str | None = None,
                 method: str = "TCP", timeout: float = 30, retry_count: int = 3, version: str = "2019",
                 client_id: str = "", *, heartbeat_interval: float = 60, auto_answer: bool = False,
                 reconnect: bool = True, store_path: str | None = None, store_limit: int = 10_000) -> None:
        host = ip or domain
        if not host or not port:
            raise ValueError("give ip (or domain) and port")
        if not client_id:
            raise ValueError("client_id is required")
        self._version = Version.parse(version)
        self._callback: Callable[[dict[str, Any]], Any] | None = None
        self._terminal_kw = dict(
            version=self._version, transport=method.lower(), timeout=float(timeout), retries=max(0, int(retry_count)),
            heartbeat_interval=float(heartbeat_interval), reconnect=reconnect,
            auto_answer=GENERAL_ANSWER_MSG_ID if auto_answer else (), store=store_path, store_limit=store_limit,
        )
        self._host, self._port, self._client_id = host, int(port), client_id
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._terminal: AsyncTerminal | None = None
        self._callbacks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._cb_thread: threading.Thread | None = None
        self._wait = float(timeout) * sum(range(1, int(retry_count) + 2)) + 5

    # -- plumbing ---------------------------------------------------------------------------------
    def _start(self) -> AsyncTerminal:
        if self._loop is None:
            loop = asyncio.new_event_loop()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.run_forever()

            # calls submitted before the loop runs wait in it (run_coroutine_threadsafe is thread-safe)
            self._thread = threading.Thread(target=run, name=f"jtt808-{self._client_id}", daemon=True)
            self._thread.start()
            self._loop = loop
            self._cb_thread = threading.Thread(target=self._callback_worker, name="jtt808-callback", daemon=True)
            self._cb_thread.start()
        if self._terminal is None:
            self._terminal = self._run_factory()
        return self._terminal

    def _run_factory(self) -> AsyncTerminal:
        async def make() -> AsyncTerminal:
            return AsyncTerminal(self._host, self._port, self._client_id, on_message=self._on_packet,
                                 on_reply=self._on_packet, **self._terminal_kw)  # type: ignore[arg-type]  # keyword options of AsyncTerminal

        return self._submit(make())

    def _submit(self, coro: Coroutine[Any, Any, Any], wait: float | None = None) -> Any:
        assert self._loop is not None
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(self._wait if wait is None else wait)

    def _on_packet(self, packet: Packet) -> None:
        if self._callback is not None:
            self._callbacks.put(packet)

    def _callback_worker(self) -> None:
        while True:
            packet = self._callbacks.get()
            if packet is None:
                return
            cb = self._callback
            if cb is None:
                continue
            try:
                cb(seed_message(packet))
            except Exception:
                log.exception("JTT808 callback failed")

    def _call(self, what: str, make: Callable[[AsyncTerminal], Coroutine[Any, Any, Any]]) -> tuple[bool, Any]:
        """Run ``make(terminal)`` on the client's loop: ``(True, its result)``, or ``(False, None)`` (logged as
        ``what``) when there is no terminal, no reply or no link."""
        t = self._terminal
        if t is None:
            return False, None
        try:
            return True, self._submit(make(t))
        except (ReplyTimeout, ConnectionError, JT808Error, TimeoutError) as e:
            log.warning("%s: %s", what, e)
            return False, None

    def _request(self, body: Body, msg_id: int | None = None, **kw: Any) -> Packet | None:
        mid = body.msg_id if msg_id is None else msg_id
        return self._call(f"0x{mid:04X}", lambda t: t.request(body, msg_id=msg_id, **kw))[1]

    @staticmethod
    def _general(packet: Packet | None) -> dict[str, Any]:
        return {} if packet is None or packet.header.msg_id != 0x8001 else _answered(packet.body)

    def _report(self, body: Body, msg_id: int | None = None) -> dict[str, Any]:
        return self._general(self._request(body, msg_id))

    # -- connection -------------------------------------------------------------------------------
    def set_callback(self, callback: Callable[[dict[str, Any]], Any]) -> bool:
        if not callable(callback):
            return False
        self._callback = callback
        return True

    def set_encryption(self, encryption: bool, rsa_e: Any = None, rsa_n: Any = None) -> bool:
        """Encrypt the seed's encryptable messages with the platform key ``{e, n}`` (from 0x8A00).
        ``rsa_n`` may be a hex string, bytes or an int; the seed's example swaps the two names, which
        is recognised (an int ``e`` is small, ``n`` is 1024 bits)."""
        t = self._start()
        if not encryption:
            t.session.encrypting = False
            return True
        e, n = rsa_e, rsa_n
        if isinstance(e, str | bytes) and isinstance(n, int):
            e, n = n, e
        try:
            if isinstance(n, str):
                n = bytes.fromhex(n)
            t.set_platform_key(int(e), n)
        except (ValueError, TypeError, JT808Error) as exc:
            log.warning("set_encryption: %s", exc)
            return False
        return True

    def connect(self) -> bool:
        t = self._start()
        try:
            self._submit(t.connect())
        except OSError as e:
            log.warning("connect %s:%s: %s", self._host, self._port, e)
            return False
        return True

    def disconnect(self) -> bool:
        if self._terminal is None:
            return True
        self._submit(self._terminal.close())
        return True

    def close(self) -> None:
        """Disconnect and stop the client's threads (not in the seed)."""
        self.disconnect()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            self._callbacks.put(None)
            self._loop = None
            self._terminal = None

    def status(self) -> int:
        return self._terminal.status if self._terminal is not None else Status.DISCONNECTED

    # -- registration -----------------------------------------------------------------------------
    def register(self, province_id: Any, city_id: Any, manufacturer_id: str, terminal_model: str, terminal_id: str,
                 license_plate_color: int, license_plate: str) -> dict[str, Any]:
        w = _widths(TerminalRegister, self._version)
        body = TerminalRegister(province=int(province_id), city=int(city_id), color=int(license_plate_color),
                                manufacturer=_fit(manufacturer_id, w["manufacturer"]),
                                model=_fit(terminal_model, w["model"]), dev_id=_fit(terminal_id, w["dev_id"], True),
                                license_number=license_plate)
        p = self._request(body)
        if p is None or p.header.msg_id != 0x8100:
            return {}
        b: Any = p.body
        return {"serial_no": b.seq, "registration_result": b.result, "auth_code": getattr(b, "auth_code", "")}

    def authentication(self, auth_code: str, imei: str = "", app_version: str = "") -> dict[str, Any]:
        ok, body = self._call("authentication", lambda t: t.authenticate(auth_code, imei, app_version))
        return _answered(body) if ok else {}

    def heart_beat(self) -> bool:
        return self._report(HeartBeat()).get("result_code") == 0

    def logout(self) -> bool:
        t = self._terminal
        if t is None or not t.connected:
            return False
        self._submit(t.logout())
        return True

    def general_answer(self, response_serial_no: int, response_msg_id: int, result_code: int = 0) -> bool:
        t = self._terminal
        if t is None or not t.connected:
            return False

        async def answer() -> None:
            t.session.reply(response_serial_no, response_msg_id, result_code)
            t._flush()

        try:
            self._submit(answer())
        except JT808Error as e:
            log.warning("general_answer: %s", e)
            return False
        return True

    def query_server_time(self) -> dict[str, Any]:
        p = self._request(QueryServerTime())
        if p is None or p.header.msg_id != 0x8004:
            return {}
        return seed_message(p)["data"]

    # -- reports ----------------------------------------------------------------------------------
    def params_report(self, response_serial_no: int, terminal_params: dict[int, str]) -> dict[str, Any]:
        params = [Param(int(k), RawValue(bytes.fromhex(v) if isinstance(v, str) else bytes(v)))
                  for k, v in terminal_params.items()]
        return self._report(ParametersReply(seq=response_serial_no, params=params))

    def properties_report(self, applicable_passenger_vehicles: int, applicable_to_dangerous_goods_vehicles: int,
                          applicable_to_ordinary_freight_vehicles: int, applicable_to_taxi: int,
                          support_hard_disk_video: int, machine_type: int, applicable_to_trailer: int,
                          manufacturer_id: str, terminal_model: str, terminal_id: str, iccid: str,
                          hardware_version: str, firmware_version: str, support_gps: int, support_bds: int,
                          support_glonass: int, support_galileo: int, support_gprs: int, support_cdma: int,
                          support_td_scdma: int, support_wcdma: int, support_cdma2000: int, support_td_lte: int,
                          support_other_communication: int) -> dict[str, Any]:
        kind = (applicable_passenger_vehicles | applicable_to_dangerous_goods_vehicles << 1
                | applicable_to_ordinary_freight_vehicles << 2 | applicable_to_taxi << 3
                | support_hard_disk_video << 6 | machine_type << 7)
        if self._version is V2019:
            kind |= applicable_to_trailer << 8
        gnss = support_gps | support_bds << 1 | support_glonass << 2 | support_galileo << 3
        comm = (support_gprs | support_cdma << 1 | support_td_scdma << 2 | support_wcdma << 3
                | support_cdma2000 << 4 | support_td_lte << 5 | support_other_communication << 7)
        w = _widths(AttributesReply, self._version)
        body = AttributesReply(type=kind, manufacturer=_fit(manufacturer_id, w["manufacturer"]),
                               model=_fit(terminal_model, w["model"]), id=_fit(terminal_id, w["id"], keep_tail=True),
                               iccid=str(iccid).rjust(20, "0")[-20:], hardware_version=hardware_version,
                               firmware_version=firmware_version, gnss_prop=gnss, comm_prop=comm)
        return self._report(body)

    def upgrade_result_report(self, upgrade_type: int, result_code: int) -> dict[str, Any]:
        return self._report(UpgradeResult(type=upgrade_type, result=result_code))

    def loction_report(self, response_msg_id: int | None, response_serial_no: int | None, alarm_flag: Any,
                       loc_status: Any, latitude: float, longitude: float, altitude: int, speed: float,
                       direction: int, time: str | None, loc_additional_info: Any = None) -> dict[str, Any]:
        """0x0200 location report, or (with ``response_msg_id``) the 0x0201 / 0x0500 answers to
        0x8201 / 0x8500. The seed's spelling; :meth:`location_report` is the same method."""
        loc = location_body(alarm_flag, loc_status, latitude, longitude, altitude, speed, direction, time,
                            loc_additional_info)
        if response_msg_id == 0x8201:
            return self._report(LocationQueryReply(seq=int(response_serial_no or 0), location=loc))
        if response_msg_id == 0x8500:
            return self._report(VehicleControlReply(seq=int(response_serial_no or 0), location=loc))
        ok, reply = self._call("0x0200", lambda t: t.report_location(loc))
        if not ok:
            return {}
        return {"stored": True} if reply is None else _answered(reply)

    location_report = loction_report

    def event_report(self, event_id: int) -> dict[str, Any]:
        return self._report(EventReport(id=event_id))

    def issue_question_response(self, response_serial_no: int, answer_id: int) -> dict[str, Any]:
        return self._report(QuestionAnswer(seq=response_serial_no, id=answer_id))

    def information_demand_cancellation(self, info_type: int, onoff: int) -> dict[str, Any]:
        return self._report(InfoDemand(id=info_type, flag=onoff))

    def query_area_route_data_response(self, query_type: int, data: Iterable[Any]) -> dict[str, Any]:
        """0x0608: ``data`` holds the ``source_body`` of each matching 0x8600/0x8602/0x8604/0x8606."""
        items = [bytes.fromhex(d) if isinstance(d, str) else bytes(d) for d in data]
        raw = bytes((query_type,)) + len(items).to_bytes(4, "big") + b"".join(items)
        return self._report(RawBody(raw, "encoded"), msg_id=0x0608)

    def driving_record_data_upload(self, response_serial_no: int, cmd_word: int, cmd_data: Any) -> dict[str, Any]:
        return self._report(TachographUpload(seq=response_serial_no, command=cmd_word, data=_bytes(cmd_data)))

    def electronic_waybill_report(self, data: Any) -> dict[str, Any]:
        return self._report(Waybill(data=_bytes(data)))

    def driver_identity_information_report(self, status: int, time: str, ic_read_result: int = 0,
                                           driver_name: str = "", qualification_certificate_code: str = "",
                                           issuing_agency_name: str = "", certificate_validity: str = "",
                                           driver_id_number: str = "") -> dict[str, Any]:
        body = DriverIdentity(status=status, time=time, ic_result=ic_read_result, driver_name=driver_name,
                              certificate=qualification_certificate_code, organization=issuing_agency_name,
                              cert_expiry=certificate_validity or "00000000", id_card=driver_id_number)
        return self._report(body)

    def location_bulk_report(self, data_type: int, loc_datas: Iterable[Sequence[Any]]) -> dict[str, Any]:
        locations = [location_body(*loc) for loc in loc_datas]
        return self._report(BatchLocations(type=data_type, locations=locations))

    def can_bus_data_upload(self, recive_time: str, can_datas: Iterable[Sequence[Any]]) -> dict[str, Any]:
        items = []
        for channel, frame_type, method, can_id, can_data in can_datas:
            data = _hex_or_text(can_data)[:8].ljust(8, b"\x00")
            items.append(CanItem.make(can_id, data, channel=channel, frame_type=frame_type, data_method=method))
        when = str(recive_time).replace(" ", "0")  # the seed formats hours with "{:2d}" (space-padded)
        return self._report(CanData(time=when, can_data=items))

    def media_event_upload(self, media_id: int, media_type: int, media_encoding: int, event_id: int,
                           channel_id: int) -> dict[str, Any]:
        return self._report(MediaEvent(id=media_id, type=media_type, format=media_encoding, event=event_id,
                                       channel=channel_id))

    def media_data_upload(self, media_id: int, media_type: int, media_encoding: int, event_id: int,
                          channel_id: int, media_data: Any, loc_data: Sequence[Any]) -> dict[str, Any]:
        """0x0801, sub-packaged when long; the platform's 0x8800 names missing fragments, which are
        re-sent. ``result_code`` is 0 once the 0x8800 lists none. A 2011 terminal sends no location (2011's
        0x0801 has none)."""
        body = MediaData(id=media_id, type=media_type, format=media_encoding, event=event_id, channel=channel_id,
                         location=None if self._version is V2011 else _basic(loc_data),
                         multimedia=_bytes(media_data))
        t = self._terminal
        if t is None:
            return {}
        sn = t.session.next_serial
        p = self._request(body)
        if p is None:
            return {}
        if p.header.msg_id == 0x8800:
            return {"message_id": 0x0801, "serial_no": sn,
                    "result_code": 0 if not getattr(p.body, "retx_ids", None) else 1}
        return self._general(p)

    def camera_shoots_immediately_response(self, response_serial_no: int, result: int,
                                           ids: Iterable[int]) -> dict[str, Any]:
        return self._report(TakePhotoReply(seq=response_serial_no, result=result, ids=list(ids)))

    def stored_media_data_retrieval_response(self, response_serial_no: int,
                                             medias: Iterable[Sequence[Any]]) -> dict[str, Any]:
        items = [MediaItem(media_id, media_type, channel_id, event_code, _basic(loc))
                 for media_id, media_type, channel_id, event_code, loc in medias]
        return self._report(SearchMediaReply(seq=response_serial_no, result=items))

    def data_uplink_transparent_transmission(self, data_type: int, data: Any) -> dict[str, Any]:
        return self._report(UplinkPassThrough(type=data_type, data=_bytes(data)))

    def data_compression_report(self, data: Any) -> dict[str, Any]:
        return self._report(CompressedData(data=_bytes(data)))

    def terminal_rsa_public_key(self, e: int, n: Any) -> dict[str, Any]:
        """0x0A00. ``n`` as an int (seed 000), a hex string (seed 001) or bytes; 128 bytes on the wire."""
        if isinstance(n, int):
            raw = n.to_bytes(max(128, (n.bit_length() + 7) // 8), "big")
        elif isinstance(n, str):
            raw = bytes.fromhex(n)
        else:
            raw = bytes(n)
        if len(raw) > 128:
            log.warning("0x0A00: modulus of %d bytes does not fit BYTE[128]", len(raw))
            return {}
        return self._report(TerminalRsaKey(e=int(e), n=raw.rjust(128, b"\x00")), msg_id=0x0A00)
