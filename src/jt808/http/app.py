"""The HTTP API of a gateway node (FastAPI). Routes, their schemas and their errors.

``GET  /api/v1/terminals``                             registered terminals, with an ``online`` flag
``GET  /api/v1/terminals/{phone}``                     one terminal (404 if unknown and offline)
``GET  /api/v1/terminals/{phone}/locations``           stored positions (``start``, ``end``, ``limit``),
                                                       newest ``limit``, oldest first
``GET  /api/v1/quarantine``                            rows the database refused for their content
                                                       (``phone``, ``limit``), with error and frame
``POST /api/v1/terminals/{phone}/commands``            send seed-004 JSON ``{"header": {"msg_id": …},
                                                       "body": {…}}`` and return the terminal's reply
``POST /api/v1/terminals/{phone}/reset``               release the terminal's auth code (its next 0x0100
                                                       gets a new one) and disconnect it
``GET  /api/v1/alarms`` (and ``…/terminals/{phone}/alarms``, ``POST /api/v1/alarms/{id}/ack``,
``GET /api/v1/attachments/{id}``, ``GET /api/v1/terminals/{phone}/attachments``): alarms and their files
``GET  /metrics``                                      Prometheus text
``GET  /healthz``                                      liveness
=====================================================  =============================================

``{phone}`` is accepted as people type it: ``13912345678``, ``013912345678`` and ``00000000013912345678``
name the same terminal, and answers use one canonical form (the digits zero-padded to 12, or to 20 when
they do not fit: :func:`jt808.protocol.header.canonical_phone`). A malformed phone is answered 400
``bad_phone`` and an unknown one 404 on every endpoint alike.

Errors of the command endpoint are distinct: 404 ``terminal_offline``, 504 ``reply_timeout`` (sent,
no answer), 409 ``command_failed`` (answered with a failure result; the reply is included), 400
``bad_command`` (the JSON does not encode), 429 ``queue_full``. When ``token`` is set every ``/api``
route needs ``Authorization: Bearer <token>`` or the console's login cookie (``/healthz`` and ``/metrics``
stay open). The web console (:mod:`jt808.console.routes`) adds ``/``, ``/assets``, ``/console`` and its
``/api/v1`` routes.
The OpenAPI document (``/openapi.json``) describes every body and answer; ``/docs`` (Swagger UI) is
served with its assets from the gateway itself (no CDN). Errors are one object
(:mod:`jt808.http.errors`).
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jt808.errors import DecodeError, EncodeError, JT808Error, ReplyTimeout
from jt808.gateway.errors import CommandFailed, DownlinkQueueFull, TerminalOffline
from jt808.gateway.metrics import CONTENT_TYPE
from jt808.http import docs, schemas
from jt808.http.alarms import add_alarm_routes
from jt808.http.errors import ApiError, error_response, install, responses
from jt808.http.params import phone_path

if TYPE_CHECKING:
    from jt808.gateway.server import Gateway

__all__ = ["COMMAND_ERRORS", "command_error", "create_app", "phone_path"]

log = logging.getLogger("jt808.http")

DESCRIPTION = """\
The HTTP API of a [jt808](https://pypi.org/project/jt808/) gateway node: registered terminals, their
stored positions, downlink commands (sent to the terminal wherever it is connected: this process,
a sibling worker or another node of the MQTT cluster), Prometheus metrics and health.

**Authentication.** When the gateway runs with a token (`--token`, `[http] token`), every `/api` route
needs `Authorization: Bearer <token>` (the *Authorize* button above). `/healthz`, `/metrics` and the
documentation stay open.

**Errors.** Every answer that is not a success is one object:

```json
{"error": "terminal_offline", "message": "terminal 013912345678 is not connected", "detail": null}
```

`error` is a stable code, `message` one line for people, `detail` what helps a program (the invalid
fields, the terminal's reply) or `null`:

{codes}

**Times** are ISO 8601 in UTC; query parameters `start` / `end` take ISO 8601 (naive = UTC) or Unix
seconds.
"""

MAX_OFFSET = 2**31 - 1
MAX_JSON_DEPTH = 32
MAX_BODY = 1 << 20

_bearer = HTTPBearer(auto_error=False, description="The gateway's `http.token`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

#: what a downlink command can end in besides a reply (each has its own error code)
COMMAND_ERRORS = (TerminalOffline, ReplyTimeout, CommandFailed, DownlinkQueueFull, DecodeError, EncodeError)


def _ts(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def command_error(e: Exception) -> JSONResponse:
    """The error object for one of :data:`COMMAND_ERRORS` (404 offline, 504 no reply, 409 failure result,
    429 queue full, 400 invalid command)."""
    if isinstance(e, TerminalOffline):
        return error_response("terminal_offline", str(e))
    if isinstance(e, ReplyTimeout):
        return error_response("reply_timeout", str(e))
    if isinstance(e, CommandFailed):
        return error_response("command_failed", str(e), {"result": e.result, "reply": _reply_json(e.reply)})
    if isinstance(e, DownlinkQueueFull):
        return error_response("queue_full", str(e))
    return error_response("bad_command", str(e), {"field": getattr(e, "field", None)})


def _when(name: str, text: str | None) -> datetime | None:
    """``start`` / ``end``: empty means open; ISO 8601 (naive taken as UTC) or Unix seconds."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ApiError("bad_time", f"{name}: {text!r} is not a finite number of seconds")
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ApiError("bad_time", f"{name}: {text!r} Unix seconds is out of range (years 1..9999)") from None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError("bad_time", f"{name}: {text!r} is neither ISO 8601 nor Unix seconds") from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _depth(obj: Any, limit: int) -> bool:
    """Whether ``obj`` nests deeper than ``limit`` (iteratively: no recursion on hostile input)."""
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if d > limit:
            return True
        if isinstance(o, dict):
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
    return False


def _loads(raw: bytes) -> Any:
    """JSON with a bounded depth: ``bad_json`` for text that is not JSON or nests too deep."""
    if len(raw) > MAX_BODY:
        raise ApiError("payload_too_large", f"the body is {len(raw)} bytes; at most {MAX_BODY} are accepted")
    try:
        obj = json.loads(raw)
    except RecursionError:
        raise ApiError("bad_json", f"the JSON nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as e:
        raise ApiError("bad_json", f"the body is not JSON: {e}") from None
    if _depth(obj, MAX_JSON_DEPTH):
        raise ApiError("bad_json", f"the JSON nests deeper than {MAX_JSON_DEPTH} levels")
    return obj


def create_app(gw: Gateway, token: str = "", *, worker: int | None = None) -> FastAPI:
    """The API of ``gw``; ``worker``: also the internal routes sibling workers use (not documented)."""
    from jt808.http.errors import ERRORS

    codes = "\n".join(f"| `{c}` | {s} | {t} |" for c, (s, t) in ERRORS.items())
    app = FastAPI(title="jt808 gateway", version="1", summary="JT/T 808 platform gateway API",
                  description=DESCRIPTION.replace("{codes}", "| code | HTTP | meaning |\n|---|---|---|\n" + codes),
                  docs_url=None, redoc_url=None,
                  openapi_tags=[{"name": "terminals", "description": "Registered and connected terminals."},
                                {"name": "commands", "description": "Downlink (platform) messages to a terminal."},
                                {"name": "alarms", "description": "Alarms and their attachment files."},
                                {"name": "ops", "description": "Health and metrics."},
                                {"name": "video", "description": "Live video (JT/T 1078): docs/video.md."}])
    install(app)
    docs.mount(app)
    from jt808.console.routes import TOKEN_COOKIE, add_console  # here: jt808.console.routes uses jt808.http

    async def auth(request: Request, credentials: Credentials) -> None:
        if not token:
            return
        # the header, or the console's login cookie (EventSource and <img> cannot send the header)
        given = credentials.credentials if credentials is not None else request.cookies.get(TOKEN_COOKIE)
        ok = given is not None and hmac.compare_digest(given.encode(), token.encode())
        if not ok:
            raise ApiError("unauthorized", "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    def storage() -> Any:
        if gw.storage is None:
            raise ApiError("storage_unavailable", "storage not open")
        return gw.storage

    api = [Depends(auth)]

    @app.get("/healthz", tags=["ops"], response_model=schemas.Health,
             responses={503: {"model": schemas.Health, "description": "Degraded: a dependency is unreachable "
                                                                       "(`problems` names it and why)."}})
    async def healthz() -> Any:
        """Liveness and readiness: 200 `ok`, or 503 `degraded` while the storage or a required broker is
        unreachable. With `--workers`, the counts are the whole cluster's."""
        problems = gw.problems()
        m = gw.metrics
        online = m.value("jt808_online_terminals")
        conns = sum(v for v in (m.value("jt808_connections", ("tcp",)), m.value("jt808_connections", ("udp",)))
                    if v is not None)
        body = {"status": "degraded" if problems else "ok", "problems": problems,
                "online_terminals": int(online if online is not None else len(gw.sessions)),
                "connections": int(conns), "workers": int(m.value("jt808_workers") or 1)}
        return JSONResponse(body, status_code=503 if problems else 200)

    @app.get("/metrics", tags=["ops"], response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                              "description": "Prometheus text exposition (the whole cluster with `--workers`)."}})
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(gw.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/api/v1/terminals", tags=["terminals"], dependencies=api, response_model=schemas.TerminalList,
             responses=responses("bad_request", "unauthorized", "storage_unavailable"))
    async def list_terminals(limit: int = Query(1000, ge=1, le=100000, description="Page size."),
                             offset: int = Query(0, ge=0, le=MAX_OFFSET, description="Records to skip.")) -> Any:
        """Registered terminals in phone order, with an `online` flag (wherever they are connected), and
        the terminals online without a record (anonymous mode, an external registry) on the first page.
        `total` counts the registered terminals."""
        st = storage()
        recs = await st.list_terminals(limit=limit, offset=offset)
        total = await st.count_terminals()
        known = {r.phone for r in recs}
        elsewhere = await gw.commands.remote_online()
        items = [_terminal_json(r, gw, elsewhere) for r in recs]
        if offset == 0:
            for conn in gw.sessions:
                if conn.phone not in known:
                    items.append({"phone": conn.phone, "online": True, "version": int(conn.session.version),
                                  "session": conn.info()})
                    known.add(conn.phone)
            items.extend({"phone": phone, "online": True} for phone in sorted(elsewhere - known))
        return {"terminals": items, "count": len(items), "total": total, "limit": limit, "offset": offset}

    @app.get("/api/v1/terminals/{phone}", tags=["terminals"], dependencies=api, response_model=schemas.Terminal,
             responses=responses("unknown_terminal", "bad_phone", "unauthorized", "storage_unavailable"))
    async def get_terminal(phone: str = Depends(phone_path)) -> Any:
        """One terminal: its registration, `online`, and its live session when connected here."""
        rec = await storage().get_terminal(phone)
        if rec is None:
            conn = gw.connection(phone)
            if conn is None:
                if phone in await gw.commands.remote_online():
                    return {"phone": phone, "online": True}
                raise ApiError("unknown_terminal", f"terminal {phone} is not registered")
            return {"phone": phone, "online": True, "version": int(conn.session.version), "session": conn.info()}
        return _terminal_json(rec, gw, await gw.commands.remote_online() if not gw.is_online(phone) else set())

    @app.get("/api/v1/terminals/{phone}/locations", tags=["terminals"], dependencies=api,
             response_model=schemas.LocationList,
             responses=responses("bad_time", "bad_request", "bad_phone", "unknown_terminal", "unauthorized",
                                 "storage_unavailable"))
    async def locations(phone: str = Depends(phone_path),
                        start: str | None = Query(None, description="From (inclusive): ISO 8601 (naive = UTC) or "
                                                                     "Unix seconds."),
                        end: str | None = Query(None, description="To (inclusive), same forms."),
                        limit: int = Query(1000, ge=1, le=100000, description="At most this many, the newest.")
                        ) -> Any:
        """Stored positions of a terminal between `start` and `end`: the newest `limit`, oldest first.
        `total` counts every stored position in the range."""
        t0, t1 = _when("start", start), _when("end", end)
        if t0 is not None and t1 is not None and t0 > t1:
            raise ApiError("bad_time", f"start {t0.isoformat()} is after end {t1.isoformat()}")
        st = storage()
        if (await st.get_terminal(phone) is None and not gw.is_online(phone)
                and phone not in await gw.commands.remote_online()):
            raise ApiError("unknown_terminal", f"terminal {phone} is not registered")
        rows = await st.query_locations(phone, t0, t1, limit)
        total = await st.count_locations(phone, t0, t1)
        return {"phone": phone, "count": len(rows), "total": total, "locations": [
            {"time": _ts(r.time), "received_at": _ts(r.received_at), "latitude": r.latitude,
             "longitude": r.longitude, "altitude": r.altitude, "speed": r.speed, "direction": r.direction,
             "alarm": r.alarm, "status": r.status, "msg_id": r.msg_id, "msg_sn": r.msg_sn, "batch": r.batch,
             "extras": r.extras} for r in rows]}

    @app.get("/api/v1/quarantine", tags=["ops"], dependencies=api, response_model=schemas.QuarantineList,
             responses=responses("bad_request", "bad_phone", "unauthorized", "storage_unavailable"))
    async def quarantine(phone: str | None = Query(None, description="Only this terminal's rows."),
                         limit: int = Query(100, ge=1, le=10000, description="At most this many, the newest.")
                         ) -> Any:
        """Rows the database refused for their content (docs/deployment.md, "Database outages and refused
        rows"), oldest first: each with its error and the frame it came from."""
        rows = await storage().query_quarantine(None if phone is None else phone_path(phone), limit)
        return {"count": len(rows), "rows": [
            {"id": q.id, "phone": q.phone, "kind": q.kind, "msg_id": q.msg_id, "msg_sn": q.msg_sn,
             "received_at": _ts(q.received_at), "quarantined_at": _ts(q.quarantined_at), "error": q.error,
             "row": q.row, "frame": None if q.frame is None else bytes(q.frame).hex()} for q in rows]}

    @app.post("/api/v1/terminals/{phone}/commands", tags=["commands"], dependencies=api,
              response_model=schemas.CommandReply,
              openapi_extra={"requestBody": schemas.command_request_body()},
              responses=responses("bad_command", "bad_json", "bad_phone", "unauthorized", "terminal_offline",
                                  "command_failed", "queue_full", "reply_timeout"))
    async def command(request: Request, phone: str = Depends(phone_path),
                      timeout: float | None = Query(None, gt=0, le=600, description="Seconds to wait for the "
                                                    "reply (default: the retry policy's total)."),
                      wait: bool = Query(True, description="Wait for the terminal's reply.")) -> Any:
        """Send a platform message (seed-004 JSON, `header.msg_id` a platform id 0x8000–0xFFFF) to the
        terminal and answer its reply. The command is validated first (a malformed command is
        `bad_command` whether the terminal is online or not), then sent to the terminal wherever it is
        connected (this process, a sibling worker, another MQTT node), retried per the downlink policy."""
        obj = _loads(await request.body())
        try:
            reply = await gw.commands.route(phone, obj, wait=wait, timeout=timeout)  # validated first
        except COMMAND_ERRORS as e:
            return command_error(e)
        return {"reply": reply}

    @app.post("/api/v1/terminals/{phone}/reset", tags=["terminals"], dependencies=api,
              response_model=schemas.ResetAnswer,
              responses=responses("unknown_terminal", "bad_phone", "unauthorized", "storage_unavailable"))
    async def reset(phone: str = Depends(phone_path), body: schemas.ResetRequest | None = None) -> Any:
        """Release the terminal's auth code (its next 0x0100 gets a new one) and disconnect it, wherever it
        is connected: how a device that lost its code, or a phone taken over, gets a fresh registration
        (docs/security.md). The optional `reason` goes to the gateway's log."""
        if body is not None and body.reason:
            log.warning("phone=%s reset requested over the API: %s", phone, body.reason)
        known, disconnected = await gw.reset_terminal(phone)
        if not disconnected:
            disconnected = await gw.commands.remote_disconnect(phone)
        if not known and not disconnected:
            raise ApiError("unknown_terminal", f"terminal {phone} is not registered")
        return {"phone": phone, "reset": known, "disconnected": disconnected}

    if worker is None and gw.config.http.console:
        add_console(app, gw, auth, token, _when, phone_path)
    add_alarm_routes(app, gw, api, storage, _when, phone_path)
    if worker is not None:
        _internal_routes(app, gw, token, worker)
    return app


def _internal_routes(app: FastAPI, gw: Gateway, token: str, worker: int) -> None:
    """What sibling workers ask of this one (``jt808 serve --workers``; see :mod:`jt808.gateway.workers`)."""

    def auth(request: Request) -> None:
        if token and not hmac.compare_digest(request.headers.get("authorization", "").encode(),
                                             f"Bearer {token}".encode()):
            raise ApiError("unauthorized", "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    internal = [Depends(auth)]

    @app.get("/internal/v1/online", include_in_schema=False, dependencies=internal)
    async def online() -> dict[str, Any]:
        phones = [c.phone for c in gw.sessions if gw.is_online(c.phone)]
        return {"worker": worker, "pid": os.getpid(), "phones": phones}

    @app.post("/internal/v1/terminals/{phone}/disconnect", include_in_schema=False, dependencies=internal)
    async def disconnect(phone: str) -> dict[str, Any]:
        conn = gw.connection(phone)
        if conn is not None:
            conn.close("reset by the operator")
        return {"worker": worker, "disconnected": conn is not None}

    @app.post("/internal/v1/terminals/{phone}/commands", include_in_schema=False, dependencies=internal)
    async def command(phone: str, request: Request, timeout: float | None = None) -> Any:
        obj = _loads(await request.body())
        try:
            gw.commands.validate(obj)
            reply = await gw.send(phone, obj, timeout=timeout)
        except COMMAND_ERRORS as e:
            return command_error(e)
        return {"reply": _reply_json(reply)}


def _terminal_json(rec: Any, gw: Gateway, elsewhere: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    phone = rec.phone
    conn = gw.connection(phone)
    out = {"phone": phone, "online": gw.is_online(phone) or phone in elsewhere, "version": rec.version,
           "province": rec.province, "city": rec.city, "manufacturer": rec.manufacturer, "model": rec.model,
           "dev_id": rec.dev_id, "color": rec.color, "license_number": rec.license_number, "imei": rec.imei,
           "software_version": rec.software_version, "registered_at": _ts(rec.registered_at),
           "last_registered_at": _ts(rec.last_registered_at or rec.registered_at),
           "last_seen": _ts(gw.last_seen(phone) or rec.last_seen)}
    if conn is not None:
        out["session"] = conn.info()
    return out


def _reply_json(packet: Any) -> Any:
    if packet is None:
        return None
    from jt808.protocol.exchange import to_json

    try:
        return to_json(packet)
    except JT808Error:
        return None
