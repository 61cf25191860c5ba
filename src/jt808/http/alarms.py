"""Alarm and attachment routes of the HTTP API (added by :func:`jt808.http.app.create_app`).

=====================================================  =============================================
``GET  /api/v1/alarms``                                alarms of every terminal: ``phone``, ``start``,
                                                       ``end``, ``kind``, ``acknowledged``, ``limit``,
                                                       ``offset``; newest first, ``total`` matching
``GET  /api/v1/terminals/{phone}/alarms``              the same for one terminal
``POST /api/v1/alarms/{id}/ack``                       acknowledge (records ``acknowledged_at``; a
                                                       standard alarm bit 0x8203 can confirm is
                                                       confirmed on the terminal when it is online)
``GET  /api/v1/attachments/{id}``                      an alarm attachment file
``GET  /api/v1/terminals/{phone}/attachments``         the alarm attachment files of a terminal (its
                                                       0x0801 media: ``…/media``, the console's routes)
=====================================================  =============================================

Each alarm is :func:`jt808.gateway.alarms.alarm_json` with its ``attachments`` (``url`` to download).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from jt808.errors import JT808Error
from jt808.gateway.alarms import alarm_json, attachment_json
from jt808.gateway.errors import TerminalOffline
from jt808.http.errors import ApiError, responses
from jt808.protocol.bits import CONFIRMABLE_MASK
from jt808.protocol.header import canonical_phone
from jt808.protocol.messages.tracking import ConfirmAlarm

if TYPE_CHECKING:
    from jt808.gateway.server import Gateway

__all__ = ["AckAnswer", "AckRequest", "Alarm", "AlarmList", "Attachment", "AttachmentIndex", "add_alarm_routes"]

log = logging.getLogger("jt808.http")

KINDS = ("standard", "video", "adas", "dsm", "tpms", "bsd")


class Attachment(BaseModel):
    """An alarm attachment file (uploaded to the attachment server)."""

    model_config = ConfigDict(extra="allow")
    id: int
    name: str = Field(description="<type>_<channel>_<alarm type>_<index>_<alarm no>.<ext> as the terminal named it")
    size: int
    type: int = Field(description="0 image, 1 audio, 2 video, 3 text, 4 other")
    url: str = Field(description="GET it to download the file")
    received_at: str | None = None


class Alarm(BaseModel):
    """One alarm (a standard 0x0200 alarm bit that rose, a JT/T 1078 video alarm, an active-safety item)."""

    model_config = ConfigDict(extra="allow")
    id: int
    phone: str
    time: str | None = Field(description="Device time (UTC, ISO 8601), else the receive time")
    kind: str = Field(description="standard, video, adas, dsm, tpms or bsd")
    code: int = Field(description="Alarm bit (standard, video) or alarm/event type (active safety)")
    name: str = Field(description="The standard's title", examples=["疲劳驾驶报警"])
    level: int
    latitude: float
    longitude: float
    speed: float = Field(description="km/h")
    alarm_id: str | None = Field(description="Active-safety alarm identification <terminal id>-<time>-<seq>")
    attachments: list[Attachment]
    acknowledged_at: str | None
    received_at: str | None = None
    msg_sn: int = Field(0, description="Serial of the report that carried it")
    detail: dict[str, Any] = Field(default_factory=dict, description="The alarm item as JSON")


class AlarmList(BaseModel):
    items: list[Alarm]
    total: int = Field(description="Alarms matching the filters")


class AckRequest(BaseModel):
    note: str = Field("", max_length=500, description="Why (written to the gateway's log)")


class AckAnswer(BaseModel):
    id: int
    acknowledged_at: str | None
    confirm: dict[str, Any] | None = Field(description="The 0x8203 sent to the terminal (standard bits it may "
                                                       "confirm), or null")


class AttachmentIndex(BaseModel):
    phone: str
    count: int
    attachments: list[Attachment]


def _ts(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _phone_query(phone: str | None) -> str | None:
    if phone is None:
        return None
    try:
        return canonical_phone(phone)
    except ValueError as e:
        raise ApiError("bad_phone", str(e)) from None


def add_alarm_routes(app: FastAPI, gw: Gateway, api: list[Any], storage: Any,
                     when: Callable[[str, str | None], datetime | None],
                     phone_path: Callable[[str], str]) -> None:
    """Add the routes to `app` (`api`: the dependencies of an `/api` route, `storage()`: the open
    storage or the `storage_unavailable` error, `when(name, text)`: a `start`/`end` parameter,
    `phone_path`: the canonical `{phone}` dependency)."""

    async def listing(phone: str | None, start: str | None, end: str | None, kind: str | None,
                      acknowledged: bool | None, limit: int, offset: int) -> Any:
        t0, t1 = when("start", start), when("end", end)
        if kind is not None and kind not in KINDS:
            raise ApiError("bad_request", f"kind must be one of {', '.join(KINDS)}", detail={"field": "kind"})
        st = storage()
        rows, total = await st.query_alarms(phone, t0, t1, kind, acknowledged, limit, offset)
        by_alarm: dict[tuple[str, str], list[Any]] = {}
        for ph in {r.phone for r in rows if r.alarm_id}:
            ids = sorted({r.alarm_id for r in rows if r.phone == ph and r.alarm_id})
            for a in await st.query_attachments(ph, ids):
                by_alarm.setdefault((ph, a.alarm_id), []).append(a)
        return {"items": [alarm_json(r, by_alarm.get((r.phone, r.alarm_id or ""), [])) for r in rows],
                "total": total}

    time_doc = "ISO 8601 (naive = UTC) or Unix seconds"
    errs = responses("bad_time", "bad_request", "bad_phone", "unauthorized", "storage_unavailable")

    @app.get("/api/v1/alarms", tags=["alarms"], dependencies=api, response_model=AlarmList, responses=errs)
    async def alarms(phone: str | None = Query(None, description="Only this terminal"),
                     start: str | None = Query(None, description=time_doc),
                     end: str | None = Query(None, description=time_doc),
                     kind: str | None = Query(None, description=", ".join(KINDS)),
                     acknowledged: bool | None = None, limit: int = Query(100, ge=1, le=10000),
                     offset: int = Query(0, ge=0)) -> Any:
        """Alarms of every terminal (or of `phone`), newest first; `total` counts every match. Each alarm
        lists its attachment files (`url` downloads one)."""
        return await listing(_phone_query(phone), start, end, kind, acknowledged, limit, offset)

    @app.get("/api/v1/terminals/{phone}/alarms", tags=["alarms"], dependencies=api, response_model=AlarmList,
             responses=errs)
    async def terminal_alarms(phone: str = Depends(phone_path), start: str | None = Query(None, description=time_doc),
                              end: str | None = Query(None, description=time_doc),
                              kind: str | None = Query(None, description=", ".join(KINDS)),
                              acknowledged: bool | None = None, limit: int = Query(100, ge=1, le=10000),
                              offset: int = Query(0, ge=0)) -> Any:
        """The alarms of one terminal (as `GET /api/v1/alarms?phone=`)."""
        return await listing(phone, start, end, kind, acknowledged, limit, offset)

    @app.post("/api/v1/alarms/{id}/ack", tags=["alarms"], dependencies=api, response_model=AckAnswer,
              responses=responses("unknown_alarm", "bad_request", "unauthorized", "storage_unavailable"))
    async def ack(alarm_pk: int = PathParam(alias="id"), body: AckRequest | None = None) -> Any:
        """Acknowledge an alarm (the first acknowledgement's time is kept). A standard alarm bit that 0x8203
        may confirm (emergency, danger, area, route, segment time, illegal ignition / displacement) is
        confirmed on the terminal too when it is online (`confirm` says what happened)."""
        st = storage()
        row = await st.get_alarm(alarm_pk)
        if row is None:
            raise ApiError("unknown_alarm", f"no alarm {alarm_pk}")
        if body is not None and body.note:
            log.info("alarm %d of phone=%s acknowledged: %s", alarm_pk, row.phone, body.note)
        confirm: dict[str, Any] | None = None
        if row.kind == "standard" and (1 << row.code) & CONFIRMABLE_MASK:
            try:
                await gw.send(row.phone, ConfirmAlarm(seq=row.msg_sn, type=1 << row.code), wait=True, timeout=10)
                confirm = {"msg_id": 0x8203, "sent": True, "replied": True}
            except JT808Error as e:  # offline, no reply, failure result, queue full
                confirm = {"msg_id": 0x8203, "sent": not isinstance(e, TerminalOffline), "replied": False,
                           "error": str(e)}
        await st.ack_alarm(alarm_pk, datetime.now(UTC))
        row = await st.get_alarm(alarm_pk)
        return {"id": alarm_pk, "acknowledged_at": _ts(row.acknowledged_at), "confirm": confirm}

    @app.get("/api/v1/attachments/{id}", tags=["alarms"], dependencies=api, response_class=FileResponse,
             responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                 "format": "binary"}}},
                              "description": "The file"},
                        **responses("unknown_attachment", "unauthorized", "storage_unavailable")})
    async def attachment(attachment_pk: int = PathParam(alias="id")) -> Any:
        """An alarm attachment file (as uploaded to the attachment server)."""
        a = await storage().get_attachment(attachment_pk)
        if a is None or not Path(a.path).is_file():
            raise ApiError("unknown_attachment", f"no attachment {attachment_pk}")
        return FileResponse(a.path, filename=a.name, media_type="application/octet-stream")

    @app.get("/api/v1/terminals/{phone}/attachments", tags=["alarms"], dependencies=api,
             response_model=AttachmentIndex,
             responses=responses("bad_phone", "unauthorized", "storage_unavailable"))
    async def attachments(phone: str = Depends(phone_path), limit: int = Query(100, ge=1, le=10000)) -> Any:
        """The alarm attachment files of a terminal (those of its newest `limit` alarms), with the alarm each
        belongs to. (Its multimedia uploads, 0x0801, are listed by `GET /api/v1/terminals/{phone}/media`.)"""
        st = storage()
        alarms_, _ = await st.query_alarms(phone, limit=limit)
        ids = sorted({r.alarm_id for r in alarms_ if r.alarm_id})
        files = await st.query_attachments(phone, ids) if ids else []
        return {"phone": phone, "count": len(files),
                "attachments": [{**attachment_json(a), "alarm_id": a.alarm_id, "alarm_no": a.alarm_no}
                                for a in files]}
