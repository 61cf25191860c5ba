"""HTTP routes of live video (added to the node's FastAPI app when video is on).

=================================================================  ==========================================
``GET    /api/v1/streams``                                         live streams with their numbers
``GET    /api/v1/terminals/{phone}/channels/{ch}/live``            one stream's state (404 when none)
``POST   /api/v1/terminals/{phone}/channels/{ch}/live``            start it (0x9101) and hold it open until
                                                                   ``DELETE``; answers with its URLs
``DELETE /api/v1/terminals/{phone}/channels/{ch}/live``            stop it now (0x9102), ending its viewers
``GET    /api/v1/terminals/{phone}/channels/{ch}/live.flv``        HTTP-FLV (starts the stream if needed)
``WS     /api/v1/terminals/{phone}/channels/{ch}/live.flv``        WebSocket-FLV: binary messages of FLV
``GET    /api/v1/terminals/{phone}/channels/{ch}/live.m3u8``       HLS playlist (segments next to it)
``GET    /player/{phone}/{ch}``                                    a minimal player page (bundled mpegts.js)
=================================================================  ==========================================

Like the rest of the API they take ``Authorization: Bearer`` or the console's login cookie; media URLs
accept the token as ``?token=`` too (a ``<video>`` element or a player library cannot
always set headers); the HLS playlist then carries it into its segment URLs. The player page holds no
data and needs no token itself (it passes its own ``?token=`` on to the stream).
"""

from __future__ import annotations

import asyncio
import hmac
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.websockets import WebSocketDisconnect

from jt808.console.routes import TOKEN_COOKIE
from jt808.http.app import Credentials, phone_path
from jt808.http.errors import ApiError, error_response, responses
from jt808.video.streams import StreamError

if TYPE_CHECKING:
    from jt808.video import VideoService

__all__ = ["add_video_routes"]

Phone = Annotated[str, Depends(phone_path)]  # the path's phone in its canonical form (400 bad_phone)
Channel = Annotated[int, Field(ge=0, le=255, description="Logical channel (JT/T 1076 table 2): 1, 2 …")]
_SEGMENT = re.compile(r"^seg\d{1,9}\.ts$")
_PREFIX = "/api/v1/terminals/{phone}/channels/{channel}"
_CORS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"}
_OPEN_ERRORS = ("bad_phone", "bad_request", "unauthorized", "terminal_offline", "camera_refused", "stream_stopped",
                "reply_timeout", "stream_timeout", "video_disabled")


def _binary(media_type: str, text: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": text, "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}}


class StreamUrls(BaseModel):
    flv: str = Field(description="HTTP-FLV")
    ws_flv: str = Field(description="WebSocket-FLV")
    hls: str = Field(description="HLS playlist")
    player: str = Field(description="The gateway's player page")


class StreamInfo(BaseModel):
    """One live stream."""

    phone: str
    channel: int
    state: Literal["starting", "live", "stopped"]
    reason: str | None = Field(description="Why it stopped")
    codec: str | None = Field(description="h264 or hevc, once the first key frame came")
    audio: str | None = Field(description="The camera's audio codec (relayed as AAC), null when video only")
    width: int | None
    height: int | None
    viewers: int = Field(description="FLV and WebSocket viewers")
    holds: int = Field(description="API / MQTT holds (POST …/live)")
    hls: bool = Field(description="HLS is being written")
    frames: int
    keyframes: int
    audio_frames: int
    bytes_in: int
    packets: int
    packets_lost: int = Field(description="Missing by sequence number")
    frames_dropped: int = Field(description="Frames that lost a packet (not relayed)")
    loss_rate: float = Field(description="packets_lost / (packets + packets_lost), as sent in 0x9105")
    timestamps_repaired: int
    problems: list[str] = Field(description="What the stream tolerated or repaired (recent ones)")
    uptime: float = Field(description="Seconds live")
    relay_ms_p50: float | None = Field(description="Median time from a frame's last packet to its FLV tag")
    urls: StreamUrls


class StreamList(BaseModel):
    streams: list[StreamInfo]
    count: int
    live: int
    viewers: int
    started: int = Field(description="Streams requested with 0x9101 since start")
    unsolicited_frames: int = Field(description="Frames of no requested stream (dropped)")
    bytes_in: int
    packets_lost: int
    media: dict[str, int] = Field(description="Media port totals: packets, bytes, garbage_bytes, lost, frames, "
                                              "connections")


class StreamStopped(BaseModel):
    phone: str
    channel: int
    state: Literal["stopped"]
    reason: str


class LiveStart(BaseModel):
    """Options of a stream started by ``POST`` (used when this request starts it)."""

    stream_type: Literal[0, 1] = Field(0, description="0 main stream, 1 sub stream (lower bit rate)")


def _error(e: StreamError) -> Response:
    return error_response(e.code, str(e), status=e.status, headers=_CORS)


def _no_stream(phone: str, channel: int) -> Response:
    return error_response("no_stream", f"no live stream for {phone} channel {channel}")


def add_video_routes(app: FastAPI, video: VideoService, token: str = "") -> None:
    router = APIRouter(tags=["video"])

    def token_ok(given: str | None) -> bool:
        return not token or (bool(given) and hmac.compare_digest(str(given).encode(), token.encode()))

    async def auth(request: Request, credentials: Credentials,
                   token_q: Annotated[str | None, Query(alias="token", description="The bearer token, for players "
                                                        "that cannot send headers.")] = None) -> None:
        # the header, the console's login cookie, or ?token= (a <video> or player library sends no header)
        given = credentials.credentials if credentials is not None else request.cookies.get(TOKEN_COOKIE, token_q)
        if not token_ok(given):
            raise ApiError("unauthorized", "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    api = [Depends(auth)]

    def hub() -> Any:
        if not video.available:
            raise ApiError("video_disabled", "live video is not available on this node (see its log)")
        return video.hub

    def _base(request: Request) -> None:
        h = hub()
        if not h.http_base:
            h.http_base = str(request.base_url).rstrip("/")

    @router.get("/api/v1/streams", dependencies=api, response_model=StreamList,
                responses=responses("unauthorized", "video_disabled"))
    async def streams(request: Request) -> Any:
        """Every live stream of this node, with the media port's totals."""
        _base(request)
        items = [s.info() for s in hub().streams.values()]
        return {**video.stats(), "streams": items, "count": len(items)}

    @router.get(_PREFIX + "/live", dependencies=api, response_model=StreamInfo,
                responses=responses("bad_phone", "bad_request", "unauthorized", "no_stream", "video_disabled"))
    async def stream_info(phone: Phone, channel: Channel, request: Request) -> Any:
        """One stream's state and numbers."""
        _base(request)
        s = hub().find(phone, channel)
        if s is None:
            return _no_stream(phone, channel)
        return s.info()

    @router.post(_PREFIX + "/live", dependencies=api, response_model=StreamInfo, responses=responses(*_OPEN_ERRORS))
    async def start(phone: Phone, channel: Channel, request: Request,
                    options: Annotated[LiveStart | None, Body()] = None) -> Any:
        """Start the stream (0x9101) and hold it open without a viewer until `DELETE`; answers once the first
        key frame came, with the stream's URLs."""
        _base(request)
        try:
            s, _ = await hub().open(phone, channel, "hold", stream_type=options.stream_type if options else 0)
        except StreamError as e:
            return _error(e)
        return s.info()

    @router.delete(_PREFIX + "/live", dependencies=api, response_model=StreamStopped,
                   responses=responses("bad_phone", "bad_request", "unauthorized", "no_stream", "video_disabled"))
    async def stop(phone: Phone, channel: Channel) -> Any:
        """Stop the stream now: 0x9102 to the terminal, every viewer's response ends."""
        h = hub()
        s = h.find(phone, channel)
        if s is None:
            return _no_stream(phone, channel)
        await h.close(s, "stopped through the API")
        return {"phone": s.phone, "channel": channel, "state": s.state, "reason": s.reason}

    @router.get(_PREFIX + "/live.flv", dependencies=api, response_class=StreamingResponse,
                responses={**_binary("video/x-flv", "FLV, live: H.264/H.265 copied, audio as AAC"),
                           **responses(*_OPEN_ERRORS)})
    async def flv(phone: Phone, channel: Channel, request: Request) -> Any:
        """HTTP-FLV. The first viewer starts the stream; the response ends when the stream stops."""
        _base(request)
        h = hub()
        try:
            _, opened = await h.open(phone, channel, "flv")
        except StreamError as e:
            return _error(e)
        assert opened is not None
        viewer = opened

        async def body() -> Any:
            try:
                async for chunk in viewer.chunks():
                    yield chunk
            finally:
                h.release(viewer)

        return StreamingResponse(body(), media_type="video/x-flv", headers=_CORS)

    @router.websocket(_PREFIX + "/live.flv")
    async def ws_flv(websocket: WebSocket, phone: str, channel: int) -> None:
        # accepted first, so that a refusal reaches the browser as a close code and reason (4401, 4400, 4503,
        # 4000 + the HTTP status of the error), which a rejected handshake would not tell it
        await websocket.accept()
        auth_header = websocket.headers.get("authorization", "")
        given = auth_header[7:].strip() if auth_header.lower().startswith("bearer ") else None
        if not token_ok(given or websocket.cookies.get(TOKEN_COOKIE) or websocket.query_params.get("token")):
            await websocket.close(code=4401, reason="missing or wrong bearer token")
            return
        try:
            phone = phone_path(phone)
        except ApiError as e:
            await websocket.close(code=4400, reason=e.message[:120])
            return
        if not video.available:
            await websocket.close(code=4503, reason="live video is not available on this node")
            return
        h = video.hub
        try:
            _, opened = await h.open(phone, channel, "ws")
        except StreamError as e:
            await websocket.close(code=4000 + e.status, reason=f"{e.code}: {e}"[:120])
            return
        assert opened is not None
        viewer = opened

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

    @router.get(_PREFIX + "/live.m3u8", dependencies=api, response_class=Response,
                responses={**_binary("application/vnd.apple.mpegurl", "HLS playlist (segments are relative URLs)"),
                           **responses(*_OPEN_ERRORS)})
    async def m3u8(phone: Phone, channel: Channel, request: Request,
                   token_q: Annotated[str | None, Query(alias="token", include_in_schema=False)] = None) -> Any:
        """HLS playlist; the first request starts HLS at the next key frame and waits for the first segment."""
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

    @router.get(_PREFIX + "/{segment}", dependencies=api, response_class=FileResponse,
                responses={**_binary("video/mp2t", "An HLS segment (MPEG-TS)"),
                           **responses("bad_phone", "bad_request", "unauthorized", "not_found", "video_disabled")})
    async def segment(phone: Phone, channel: Channel, segment: str) -> Any:
        """An HLS segment named by the playlist (`seg<N>.ts`)."""
        s = hub().find(phone, channel) or hub().ended_hls(phone, channel)
        if s is None or not _SEGMENT.match(segment):
            raise ApiError("not_found", "no such segment")
        if s.state != "stopped":
            s.want_hls()
        path: Path = s.hls_dir / segment
        if not path.exists():
            raise ApiError("not_found", "no such segment (expired?)")
        return FileResponse(path, media_type="video/mp2t", headers=_CORS)

    @router.get("/player/static/mpegts.js", include_in_schema=False)
    async def mpegts_js() -> Any:
        path = resources.files("jt808.video").joinpath("static/mpegts.js")
        return Response(path.read_bytes(), media_type="application/javascript",
                        headers={"Cache-Control": "max-age=86400"})

    @router.get("/player/{phone}/{channel}", response_class=HTMLResponse, include_in_schema=False)
    async def player(phone: Phone, channel: int) -> Any:
        return HTMLResponse(resources.files("jt808.video").joinpath("static/player.html").read_text())

    app.include_router(router)
