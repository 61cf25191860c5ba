"""The console's HTTP side: the page and its assets, the live event stream, and the few endpoints the
pages need beyond the terminal API.

=====================================================  =============================================
``GET  /``                                             the console (``index.html``, never cached)
``GET  /assets/{name}``                                bundled scripts, styles, base map (content-hashed
                                                       names, cached for a year)
``GET  /console/config``                               open: whether a token is needed, tile settings
``POST /console/login``                                ``{"token"}`` → an HttpOnly cookie the API accepts
                                                       like the bearer header (``EventSource`` and
                                                       ``<img>`` cannot send headers)
``POST /console/logout``                               clears the cookie (these three are outside
                                                       ``/api``: every ``/api`` route needs the token)
``GET  /api/v1/events``                                SSE: live events (``kinds=location,alarm,…``,
                                                       ``frames=PHONE`` for that terminal's frames)
``GET  /api/v1/console/positions``                     the newest position of every terminal
``GET  /api/v1/console/status``                        the dashboard's figures (as the ``stats`` event)
``GET  /api/v1/terminals/{phone}/frames``              the terminal's last frames (hex and JSON)
``POST /api/v1/decode``                                ``{"hex"}``: decode frames (one per line)
``GET  /api/v1/messages``                              every message's JSON fields, from its declaration
``GET  /api/v1/terminals/{phone}/media``               saved photos/recordings (``start``, ``end``)
``GET  /api/v1/media/{phone}/{day}/{name}``            one saved file
=====================================================  =============================================
"""

from __future__ import annotations

import hmac
import mimetypes
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from jt808.console import STATIC_DIR
from jt808.console.hub import KINDS, EventHub, decode_json
from jt808.http.errors import error_response, responses

if TYPE_CHECKING:
    from jt808.gateway.server import Gateway

__all__ = ["STATIC_DIR", "TOKEN_COOKIE", "add_console"]

TOKEN_COOKIE = "jt808_token"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".json": "application/json",
          ".png": "image/png", ".svg": "image/svg+xml", ".woff2": "font/woff2", ".map": "application/json"}
IMMUTABLE = "public, max-age=31536000, immutable"


def _content_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


async def _string_field(request: Request, key: str) -> str | None:
    """``obj[key]`` of a JSON object body when it is a string, else None."""
    try:
        obj = await request.json()
    except ValueError:
        return None
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def add_console(app: FastAPI, gw: Gateway, auth: Callable[..., Any], token: str,
                when: Callable[[str, str | None], Any], phone_path: Callable[[str], str]) -> EventHub:
    """Add the console's routes to ``app`` (``auth``: the API's token dependency; ``when``: its ``start`` /
    ``end`` parser; ``phone_path``: its phone normaliser, 400 ``bad_phone``); returns the event hub feeding
    ``/api/v1/events``."""
    hub = EventHub(gw)
    app.state.console_hub = hub
    cfg = gw.config.http
    guarded = [Depends(auth)]
    index = STATIC_DIR / "index.html"
    assets = {p.name: p for p in (STATIC_DIR / "assets").glob("*") if p.is_file()}

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        if not index.is_file():
            return error_response("not_found", "the console bundle is not installed (npm run build in console/)")
        return FileResponse(index, media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                                     "Referrer-Policy": "no-referrer"})

    @app.get("/assets/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        path = assets.get(name) if _NAME.match(name) else None
        if path is None:
            return error_response("not_found", f"no asset {name!r}")
        return FileResponse(path, media_type=_TYPES.get(path.suffix, "application/octet-stream"),
                            headers={"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"})

    @app.get("/console/config", tags=["console"])
    async def console_config() -> dict[str, Any]:
        return {"token_required": bool(token), "tile_url": cfg.tile_url, "tile_coords": cfg.tile_coords,
                "tile_attribution": cfg.tile_attribution, "tile_max_zoom": cfg.tile_max_zoom}

    @app.post("/console/login", tags=["console"], openapi_extra=_body({"token": "the gateway's http.token"}, True),
              responses=_answer({"type": "object", "properties": {"ok": {"type": "boolean"}}}))
    async def login(request: Request) -> Response:
        given = await _string_field(request, "token")
        if given is None:
            return error_response("bad_request", 'expects {"token": "…"}')
        if token and not hmac.compare_digest(given.encode(), token.encode()):
            return error_response("unauthorized", "wrong token")
        resp = JSONResponse({"ok": True})
        if token:
            resp.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="strict", path="/")
        return resp

    @app.post("/console/logout", tags=["console"], openapi_extra=_body({}, False),
              responses=_answer({"type": "object", "properties": {"ok": {"type": "boolean"}}}))
    async def logout() -> Response:
        resp = JSONResponse({"ok": True})
        resp.delete_cookie(TOKEN_COOKIE, path="/")
        return resp

    @app.get("/api/v1/events", tags=["console"], dependencies=guarded, response_class=StreamingResponse,
             responses=_answer({"type": "string", "description": "Server-sent events: `event: <kind>` and "
                                "`data: <JSON>` per gateway event"}, "text/event-stream")
             | responses("bad_request", "bad_phone"))
    async def events(request: Request, kinds: str | None = Query(None, description="comma-separated event kinds"),
                     frames: str | None = Query(None, description="also stream this terminal's frames")
                     ) -> Response:
        wanted = frozenset(k.strip() for k in kinds.split(",") if k.strip()) if kinds else KINDS
        unknown = wanted - KINDS
        if unknown:
            return error_response("bad_request", f"unknown event kinds {sorted(unknown)}; known: {sorted(KINDS)}")
        sub = hub.subscribe(wanted, phone_path(frames) if frames else None)

        async def body() -> Any:
            try:
                async for chunk in hub.stream(sub):
                    yield chunk
            finally:
                hub.unsubscribe(sub)

        return StreamingResponse(body(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/v1/console/positions", tags=["console"], dependencies=guarded)
    async def positions() -> dict[str, Any]:
        items = await hub.positions()
        return {"items": items, "count": len(items)}

    @app.get("/api/v1/console/status", tags=["console"], dependencies=guarded)
    async def status() -> dict[str, Any]:
        return hub.stats()

    @app.get("/api/v1/terminals/{phone}/frames", tags=["console"], dependencies=guarded,
             responses=responses("bad_phone"))
    async def frames_of(phone: str = Depends(phone_path), limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        items = hub.recent_frames(phone, limit)
        return {"phone": phone, "items": items, "count": len(items), "watching": hub.attached}

    @app.post("/api/v1/decode", tags=["tools"], dependencies=guarded,
              openapi_extra=_body({"hex": "frames in hex, one per line (7e…7e)"}, True),
              responses=_answer({"type": "object", "properties": {"frames": {
                  "type": "array", "items": {"type": "object", "description": "seed-004 JSON of the frame, or "
                                                                              "{\"error\": …}"}}}}))
    async def decode_hex(request: Request) -> Response:
        text = await _string_field(request, "hex")
        if text is None:
            return error_response("bad_request", 'expects {"hex": "7e…7e"} (one frame per line)')
        return JSONResponse({"frames": decode_frames(text, gw)})

    @app.get("/api/v1/messages", tags=["tools"], dependencies=guarded)
    async def messages(direction: str | None = Query(None, pattern="^(up|down)$")) -> dict[str, Any]:
        from jt808.console.schema import message_schemas

        items = message_schemas(gw.profile, direction=direction)
        return {"items": items, "count": len(items)}

    @app.get("/api/v1/terminals/{phone}/media", tags=["media"], dependencies=guarded,
             responses=_answer({"type": "object", "properties": {
                 "phone": {"type": "string"}, "count": {"type": "integer"},
                 "media": {"type": "array", "items": {"type": "object", "description": "media_id, type, format, "
                                                      "event, channel, size, name, received_at, location, url, "
                                                      "content_type"}}}}) | responses("bad_phone"))
    async def media_list(phone: str = Depends(phone_path), start: str | None = None, end: str | None = None,
                         limit: int = Query(200, ge=1, le=10000)) -> Response:
        t0, t1 = when("start", start), when("end", end)
        if gw.storage is None:
            return error_response("storage_unavailable", "storage not open")
        rows = await gw.storage.query_media(phone, limit)
        root = gw.media.root if gw.media is not None else None
        items = []
        for r in rows:
            if (t0 is not None and r.received_at < t0) or (t1 is not None and r.received_at > t1):
                continue
            path = Path(r.path)
            url = None
            if root is not None:
                try:
                    rel = path.resolve().relative_to(root.resolve())
                    url = "/api/v1/media/" + "/".join(rel.parts)
                except ValueError:
                    url = None
            items.append({"phone": r.phone, "media_id": r.media_id, "type": r.type, "format": r.format,
                          "event": r.event, "channel": r.channel, "size": r.size, "name": path.name,
                          "received_at": r.received_at.isoformat(), "location": r.location, "url": url,
                          "content_type": _content_type(path)})
        # "media" as the media index of the alarms API names it (jt808.http.alarms)
        return JSONResponse({"phone": phone, "media": items, "count": len(items)})

    @app.get("/api/v1/media/{phone}/{day}/{name}", tags=["media"], dependencies=guarded, response_class=FileResponse,
             responses=_answer({"type": "string", "format": "binary"}, "application/octet-stream")
             | responses("bad_phone", "not_found"))
    async def media_file(day: str, name: str, phone: str = Depends(phone_path)) -> Response:
        if gw.media is None or not all(_NAME.match(x) for x in (phone, day, name)):
            return error_response("not_found", "no such file")
        path = gw.media.root / phone / day / name
        if not path.is_file() or name.endswith(".part"):
            return error_response("not_found", "no such file")
        return FileResponse(path, media_type=_content_type(path),
                            headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})

    return hub


def decode_frames(text: str, gw: Gateway) -> list[dict[str, Any]]:
    """Each non-blank line of ``text`` decoded (lenient, with the gateway's profile): ``{"hex", "json"}``
    or ``{"hex", "error"}``, with the annotated dump (``explain``) when the frame could be read."""
    from jt808.commands.decode import parse_hex
    from jt808.commands.explain import explain

    out: list[dict[str, Any]] = []
    for line in text.splitlines()[:200]:
        if not line.strip():
            continue
        try:
            raw = parse_hex(line)
        except ValueError as e:
            out.append({"input": line.strip()[:200], "error": str(e)})
            continue
        packet, decoded = decode_json(raw, gw.profile)
        entry: dict[str, Any] = {"hex": raw.hex(), **decoded}
        try:
            entry["explain"] = explain(raw, packet, gw.profile)
        except Exception as e:
            entry["explain"] = f"(no dump: {e})"
        out.append(entry)
    return out


def _body(fields: dict[str, str], required: bool) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads a small JSON object by hand (string fields)."""
    schema: dict[str, Any] = {"type": "object",
                              "properties": {k: {"type": "string", "description": d} for k, d in fields.items()}}
    if fields and required:
        schema["required"] = list(fields)
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


def _answer(schema: dict[str, Any], media_type: str = "application/json") -> dict[int | str, dict[str, Any]]:
    """The OpenAPI 200 answer of a route that builds its response by hand."""
    return {200: {"description": "OK", "content": {media_type: {"schema": schema}}}}
