"""The HTTP API (FastAPI; OpenAPI at ``/openapi.json``, docs at ``/docs``).

=====================================================  =============================================
``GET  /api/v1/terminals``                             registered terminals, with an ``online`` flag
``GET  /api/v1/terminals/{phone}``                     one terminal (404 if unknown and offline)
``GET  /api/v1/terminals/{phone}/locations``           stored positions (``start``, ``end``, ``limit``),
                                                       newest ``limit``, oldest first
``POST /api/v1/terminals/{phone}/commands``            send seed-004 JSON ``{"header": {"msg_id": …},
                                                       "body": {…}}`` and return the terminal's reply
``POST /api/v1/terminals/{phone}/reset``               release the terminal's auth code (its next 0x0100
                                                       gets a new one) and disconnect it
``GET  /metrics``                                      Prometheus text
``GET  /healthz``                                      liveness
=====================================================  =============================================

Errors of the command endpoint are distinct: 404 ``terminal_offline``, 504 ``reply_timeout`` (sent,
no answer), 409 ``command_failed`` (answered with a failure result; the reply is included), 400
``bad_command`` (the JSON does not encode), 429 ``queue_full``. When ``token`` is set every ``/api``
route needs ``Authorization: Bearer <token>`` (``/healthz`` and ``/metrics`` stay open).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from jt808.errors import DecodeError, EncodeError, ReplyTimeout
from jt808.gateway.errors import CommandFailed, DownlinkQueueFull, TerminalOffline

if TYPE_CHECKING:
    from jt808.gateway.server import Gateway

__all__ = ["create_app"]


def _ts(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _terminal_json(rec: Any, gw: Gateway, elsewhere: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    phone = rec.phone
    conn = gw.connection(phone)
    out = {"phone": phone, "online": gw.is_online(phone) or phone in elsewhere, "version": rec.version,
           "province": rec.province, "city": rec.city, "manufacturer": rec.manufacturer, "model": rec.model,
           "dev_id": rec.dev_id, "color": rec.color, "license_number": rec.license_number, "imei": rec.imei,
           "software_version": rec.software_version, "registered_at": _ts(rec.registered_at),
           "last_seen": _ts(rec.last_seen)}
    if conn is not None:
        out["session"] = conn.info()
    return out


def _when(text: str | None) -> datetime | None:
    """``start`` / ``end``: empty means open; ISO 8601 (naive taken as UTC) or Unix seconds."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither ISO 8601 nor Unix seconds") from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


async def _elsewhere(gw: Gateway) -> set[str]:
    """Phones online on sibling worker processes (``jt808 serve --workers N``), else none."""
    return await gw.remote_online() if gw.remote_online is not None else set()


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status)


#: what a downlink command can end in besides a reply (each has its own HTTP status)
COMMAND_ERRORS = (TerminalOffline, ReplyTimeout, CommandFailed, DownlinkQueueFull, DecodeError, EncodeError)


def command_error(e: Exception) -> JSONResponse:
    """The HTTP answer for one of :data:`COMMAND_ERRORS` (404 offline, 504 no reply, 409 failure result,
    429 queue full, 400 invalid command)."""
    if isinstance(e, TerminalOffline):
        return _error(404, "terminal_offline", str(e))
    if isinstance(e, ReplyTimeout):
        return _error(504, "reply_timeout", str(e))
    if isinstance(e, CommandFailed):
        return _error(409, "command_failed", str(e), result=e.result, reply=_reply_json(e.reply))
    if isinstance(e, DownlinkQueueFull):
        return _error(429, "queue_full", str(e))
    return _error(400, "bad_command", str(e))  # DecodeError / EncodeError: refused as invalid


async def read_command(request: Request) -> dict[str, Any] | JSONResponse:
    """The JSON command of a request, or the 400 answer saying why it is not one."""
    try:
        obj = await request.json()
    except ValueError:
        return _error(400, "bad_command", "the body is not JSON")
    if not isinstance(obj, dict) or not isinstance(obj.get("header"), dict):
        return _error(400, "bad_command", 'expects {"header": {"msg_id": …}, "body": {…}}')
    return obj


def bearer_ok(authorization: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>`` matches (constant-time); always true without a token."""
    if not token:
        return True
    if authorization and authorization.lower().startswith("bearer "):
        return hmac.compare_digest(authorization[7:].strip().encode(), token.encode())
    return False


def create_app(gw: Gateway, token: str = "") -> FastAPI:
    app = FastAPI(title="jt808 gateway", version="1", summary="JT/T 808 platform gateway API",
                  description=__doc__)

    async def auth(authorization: str | None = Header(default=None)) -> None:
        if not bearer_ok(authorization, token):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    def storage() -> Any:
        if gw.storage is None:
            raise HTTPException(503, "storage not open")
        return gw.storage

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "online_terminals": len(gw.sessions), "connections": len(gw.connections)}

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(gw.metrics_text(), media_type="text/plain; version=0.0.4")

    @app.get("/api/v1/terminals", tags=["terminals"], dependencies=[Depends(auth)])
    async def list_terminals(limit: int = Query(1000, ge=1, le=100000), offset: int = Query(0, ge=0)
                             ) -> dict[str, Any]:
        recs = await storage().list_terminals(limit=limit, offset=offset)
        known = {r.phone for r in recs}
        elsewhere = await _elsewhere(gw)
        items = [_terminal_json(r, gw, elsewhere) for r in recs]
        # terminals served anonymously or by another registry may be online without a record
        for conn in gw.sessions:
            if conn.phone not in known and offset == 0:
                items.append({"phone": conn.phone, "online": True, "version": int(conn.session.version),
                              "session": conn.info()})
                known.add(conn.phone)
        if offset == 0:
            items.extend({"phone": phone, "online": True} for phone in sorted(elsewhere - known))
        return {"terminals": items, "count": len(items)}

    @app.get("/api/v1/terminals/{phone}", tags=["terminals"], dependencies=[Depends(auth)])
    async def get_terminal(phone: str) -> Any:
        rec = await storage().get_terminal(phone)
        if rec is None:
            conn = gw.connection(phone)
            if conn is None:
                if phone in await _elsewhere(gw):
                    return {"phone": phone, "online": True}
                return _error(404, "unknown_terminal", f"terminal {phone} is not registered")
            return {"phone": phone, "online": True, "version": int(conn.session.version), "session": conn.info()}
        return _terminal_json(rec, gw, await _elsewhere(gw) if not gw.is_online(phone) else set())

    @app.get("/api/v1/terminals/{phone}/locations", tags=["terminals"], dependencies=[Depends(auth)])
    async def locations(phone: str,
                        start: str | None = Query(None, description="ISO 8601 (naive = UTC) or Unix seconds"),
                        end: str | None = Query(None, description="ISO 8601 (naive = UTC) or Unix seconds"),
                        limit: int = Query(1000, ge=1, le=100000)) -> Any:
        try:
            t0, t1 = _when(start), _when(end)
        except ValueError as e:
            return _error(422, "bad_time", str(e))
        rows = await storage().query_locations(phone, t0, t1, limit)
        return {"phone": phone, "count": len(rows), "locations": [
            {"time": _ts(r.time), "received_at": _ts(r.received_at), "latitude": r.latitude,
             "longitude": r.longitude, "altitude": r.altitude, "speed": r.speed, "direction": r.direction,
             "alarm": r.alarm, "status": r.status, "msg_id": r.msg_id, "msg_sn": r.msg_sn, "batch": r.batch,
             "extras": r.extras} for r in rows]}

    @app.post("/api/v1/terminals/{phone}/commands", tags=["commands"], dependencies=[Depends(auth)])
    async def command(phone: str, request: Request, timeout: float | None = Query(None, gt=0, le=600),
                      wait: bool = True) -> Any:
        obj = await read_command(request)
        if isinstance(obj, JSONResponse):
            return obj
        if not gw.is_online(phone) and gw.remote_sender is not None:
            try:
                reply = await gw.remote_sender(phone, obj, timeout)
            except COMMAND_ERRORS as e:  # e.g. refused as invalid by the node holding the terminal
                return command_error(e)
            return {"reply": reply}
        try:
            reply = await gw.send(phone, obj, wait=wait, timeout=timeout)
        except COMMAND_ERRORS as e:
            return command_error(e)
        return {"reply": _reply_json(reply)}

    @app.post("/api/v1/terminals/{phone}/reset", tags=["terminals"], dependencies=[Depends(auth)])
    async def reset(phone: str) -> Any:
        """Release the terminal's auth code and disconnect it (every worker): how a device that lost its
        code, or a phone taken over, gets a fresh registration. docs/security.md."""
        known, disconnected = await gw.reset_terminal(phone)
        if not disconnected and gw.remote_disconnect is not None:
            disconnected = await gw.remote_disconnect(phone)
        if not known and not disconnected:
            return _error(404, "unknown_terminal", f"terminal {phone} is not registered")
        return {"phone": phone, "reset": known, "disconnected": disconnected}

    return app


def _reply_json(packet: Any) -> Any:
    if packet is None:
        return None
    from jt808.protocol.exchange import to_json

    return to_json(packet)
