"""HTTP routes of live video (added to the gateway's FastAPI app when video is enabled).

=================================================================  ==========================================
``GET    /api/v1/streams``                                         live streams with their numbers
``GET    /api/v1/terminals/{phone}/channels/{ch}/live``            one stream's state (404 when none)
``POST   /api/v1/terminals/{phone}/channels/{ch}/live``            start it (0x9101) and hold it open until
                                                                   ``DELETE``; answers with its URLs
``DELETE /api/v1/terminals/{phone}/channels/{ch}/live``            stop it now (0x9102), ending its viewers
``GET    /api/v1/terminals/{phone}/channels/{ch}/live.flv``        HTTP-FLV (starts the stream if needed)
``WS     /api/v1/terminals/{phone}/channels/{ch}/live.flv``        WebSocket-FLV: binary messages of FLV
``GET    /api/v1/terminals/{phone}/channels/{ch}/live.m3u8``       HLS playlist (segments next to it)
``GET    /api/v1/terminals/{phone}/channels/{ch}/player``          a minimal player page (bundled mpegts.js)
=================================================================  ==========================================

Media URLs accept the bearer token as ``?token=`` too (a ``<video>`` element or a player library cannot
always set headers); the HLS playlist then carries it into its segment URLs.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.websockets import WebSocketDisconnect

from jt808.http.app import phone_path
from jt808.http.errors import ApiError, error_response, responses
from jt808.video.streams import StreamError

if TYPE_CHECKING:
    from jt808.video import VideoService

__all__ = ["add_video_routes"]

Phone = Annotated[str, Depends(phone_path)]  # the path's phone in its canonical form (400 bad_phone)
_SEGMENT = re.compile(r"^seg\d{1,9}\.ts$")
_PREFIX = "/api/v1/terminals/{phone}/channels/{channel}"
_CORS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"}


def _error(e: StreamError) -> JSONResponse:
    return error_response(e.code, str(e), status=e.status, headers=_CORS)


def _no_stream(phone: str, channel: int) -> JSONResponse:
    return error_response("no_stream", f"no live stream for {phone} channel {channel}")


_START = responses("terminal_offline", "camera_refused", "reply_timeout", "stream_timeout", "video_disabled")


def _token_ok(token: str, authorization: str | None, query_token: str | None) -> bool:
    if not token:
        return True
    given = ""
    if authorization and authorization.lower().startswith("bearer "):
        given = authorization[7:].strip()
    elif query_token:
        given = query_token
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def add_video_routes(app: FastAPI, video: VideoService, token: str = "") -> None:
    router = APIRouter(tags=["video"])

    async def auth(authorization: str | None = Header(default=None),
                   token_q: str | None = Query(default=None, alias="token")) -> None:
        if not _token_ok(token, authorization, token_q):
            raise ApiError("unauthorized", "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    def hub() -> Any:
        if not video.available:
            raise ApiError("video_disabled", "live video is not available on this node (see its log)")
        return video.hub

    def _base(request: Request) -> None:
        h = hub()
        if not h.http_base:
            h.http_base = str(request.base_url).rstrip("/")

    @router.get("/api/v1/streams", dependencies=[Depends(auth)])
    async def streams(request: Request) -> dict[str, Any]:
        _base(request)
        items = [s.info() for s in hub().streams.values()]
        return {"streams": items, "count": len(items), **video.stats()}

    @router.get(_PREFIX + "/live", dependencies=[Depends(auth)])
    async def stream_info(channel: int, phone: Phone, request: Request) -> Any:
        _base(request)
        s = hub().find(phone, channel)
        if s is None:
            return _no_stream(phone, channel)
        return s.info()

    @router.post(_PREFIX + "/live", dependencies=[Depends(auth)], responses=_START)
    async def start(channel: int, phone: Phone, request: Request) -> Any:
        _base(request)
        try:
            s, _ = await hub().open(phone, channel, "hold")
        except StreamError as e:
            return _error(e)
        return s.info()

    @router.delete(_PREFIX + "/live", dependencies=[Depends(auth)])
    async def stop(channel: int, phone: Phone) -> Any:
        h = hub()
        s = h.find(phone, channel)
        if s is None:
            return _no_stream(phone, channel)
        await h.close(s, "stopped through the API")
        return {"phone": s.phone, "channel": channel, "state": s.state, "reason": s.reason}

    @router.get(_PREFIX + "/live.flv", dependencies=[Depends(auth)], response_class=StreamingResponse, responses=_START)
    async def flv(channel: int, phone: Phone, request: Request) -> Any:
        _base(request)
        h = hub()
        try:
            _, viewer = await h.open(phone, channel, "flv")
        except StreamError as e:
            return _error(e)

        async def body() -> Any:
            try:
                async for chunk in viewer.chunks():
                    yield chunk
            finally:
                h.release(viewer)

        return StreamingResponse(body(), media_type="video/x-flv", headers=_CORS)

    @router.websocket(_PREFIX + "/live.flv")
    async def ws_flv(websocket: WebSocket, phone: str, channel: int) -> None:
        try:
            phone = phone_path(phone)
        except ApiError as e:
            await websocket.close(code=4400, reason=e.message[:120])
            return
        if not _token_ok(token, websocket.headers.get("authorization"), websocket.query_params.get("token")):
            await websocket.close(code=4401, reason="missing or wrong bearer token")
            return
        if not video.available:
            await websocket.close(code=4503, reason="live video is not available on this node")
            return
        h = video.hub
        await websocket.accept()
        try:
            _, viewer = await h.open(phone, channel, "ws")
        except StreamError as e:
            await websocket.close(code=4000 + e.status, reason=f"{e.code}: {e}"[:120])
            return

        async def watch_close() -> None:  # the client going away ends the viewer
            try:
                while True:
                    msg = await websocket.receive()
                    if msg["type"] == "websocket.disconnect":
                        break
            finally:
                viewer.end("left")

        closer = asyncio.get_running_loop().create_task(watch_close())
        try:
            async for chunk in viewer.chunks():
                await websocket.send_bytes(chunk)
            await websocket.close(code=1000, reason=viewer.reason[:120])
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            closer.cancel()
            h.release(viewer)

    @router.get(_PREFIX + "/live.m3u8", dependencies=[Depends(auth)], responses=_START)
    async def m3u8(channel: int, phone: Phone, request: Request, token_q: str | None = Query(None, alias="token")
                   ) -> Any:
        _base(request)
        h = hub()
        s = h.ended_hls(phone, channel) if h.find(phone, channel) is None else None
        if s is None:  # (a stream that just ended keeps its finished playlist a while: no restart)
            try:
                s, _ = await h.open(phone, channel, "hls")
            except StreamError as e:
                return _error(e)
        playlist = s.hls_dir / "live.m3u8"
        deadline = asyncio.get_running_loop().time() + h.config.start_timeout + 4 * h.config.hls_segment
        while not playlist.exists():  # the first segment is written once the next key frame arrives
            if s.state == "stopped" or asyncio.get_running_loop().time() > deadline:
                return _error(StreamError("stream_timeout", "no HLS segment yet", 504))
            await asyncio.sleep(0.1)
            if s.state != "stopped":
                s.want_hls()
        text = playlist.read_text()
        if token_q:
            text = re.sub(r"^(seg\d+\.ts)$", rf"\1?token={token_q}", text, flags=re.M)
        return Response(text, media_type="application/vnd.apple.mpegurl", headers=_CORS)

    @router.get(_PREFIX + "/player", response_class=HTMLResponse)
    async def player(channel: int) -> Any:
        return HTMLResponse(resources.files("jt808.video").joinpath("static/player.html").read_text())

    @router.get("/api/v1/video/static/mpegts.js")
    async def mpegts_js() -> Any:
        path = resources.files("jt808.video").joinpath("static/mpegts.js")
        return Response(path.read_bytes(), media_type="application/javascript",
                        headers={"Cache-Control": "max-age=86400"})

    @router.get(_PREFIX + "/{segment}", dependencies=[Depends(auth)])
    async def segment(channel: int, segment: str, phone: Phone) -> Any:
        s = hub().find(phone, channel) or hub().ended_hls(phone, channel)
        if s is None or not _SEGMENT.match(segment):
            raise ApiError("not_found", "no such segment")
        if s.state != "stopped":
            s.want_hls()
        path: Path = s.hls_dir / segment
        if not path.exists():
            raise ApiError("not_found", "no such segment (expired?)")
        return FileResponse(path, media_type="video/mp2t", headers=_CORS)

    app.include_router(router)
