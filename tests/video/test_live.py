"""Live video end to end on loopback: a simulated dash-cam (AsyncTerminal + CameraResponder) answers
0x9101 by streaming a real H.264 clip (made with PyAV) to the gateway's media port; HTTP-FLV,
WebSocket-FLV and HLS clients read it and PyAV decodes what they got."""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from jt808.client.aio import AsyncTerminal
from jt808.config import Config
from jt808.node import Node
from jt808.simulator.camera import CameraResponder, make_clip

pytestmark = pytest.mark.timeout(90)


def _config(tmp_path: Path, **video: Any) -> Config:
    cfg = Config()
    cfg.data_dir = tmp_path / "data"
    cfg.server.host = "127.0.0.1"
    cfg.server.port = 0
    cfg.http.host = "127.0.0.1"
    cfg.http.port = 0
    cfg.storage.db = "memory"
    cfg.video.host = "127.0.0.1"
    cfg.video.port = 0
    cfg.video.idle_timeout = 1.0
    cfg.video.grace = 0.5
    cfg.video.start_timeout = 10
    for k, v in video.items():
        cfg.set("video", k, v)
    return cfg


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    async with Node(_config(tmp_path)) as n:
        yield n


def _phone() -> str:
    return f"0{random.randrange(10**10, 10**11)}"


async def _camera(gw: Node, responder_kw: dict[str, Any] | None = None,
                  phone: str | None = None) -> tuple[AsyncTerminal, CameraResponder]:
    phone = phone or _phone()
    t = AsyncTerminal("127.0.0.1", gw.tcp_port, phone, version="2013")
    cam = CameraResponder(phone, **(responder_kw or {}))
    t.on_message = cam.on_message(t)
    await t.connect()
    reply = await t.register(province=34, city=100, manufacturer="CAM", model="DC1", dev_id="D1", color=1,
                             license_number="TEST")
    await t.authenticate(reply.auth_code)
    return t, cam


@contextlib.asynccontextmanager
async def camera(node: Node, **responder_kw: Any) -> AsyncIterator[tuple[AsyncTerminal, CameraResponder]]:
    """A registered dash-cam terminal answering 0x9101/0x9102; streams stopped and link closed after."""
    t, cam = await _camera(node, responder_kw)
    try:
        yield t, cam
    finally:
        await cam.aclose()
        await t.close()


async def read_flv(node: Node, phone: str, channel: int = 1) -> bytes:
    """GET live.flv until the gateway ends the response (the stream stopped)."""
    async with httpx.AsyncClient(timeout=30) as client, \
            client.stream("GET", _url(node, phone, channel, "live.flv")) as r:
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"] == "video/x-flv"
        return b"".join([chunk async for chunk in r.aiter_bytes()])


def _decode(data: bytes, fmt: str | None = None) -> tuple[int, int, tuple[int, int], float]:
    """(video frames, key frames, (width, height), seconds of audio) PyAV decodes from ``data``."""
    c = av.open(io.BytesIO(data), format=fmt)
    n = keys = 0
    size = (0, 0)
    for f in c.decode(video=0):
        n += 1
        keys += f.key_frame
        size = (f.width, f.height)
    c.close()
    audio = 0.0
    c = av.open(io.BytesIO(data), format=fmt)
    if c.streams.audio:
        audio = sum(f.samples / f.sample_rate for f in c.decode(audio=0))
    c.close()
    return n, keys, size, audio


def _url(gw: Node, phone: str, ch: int, what: str) -> str:
    return f"http://127.0.0.1:{gw.http_port}/api/v1/terminals/{phone}/channels/{ch}/{what}"


async def test_http_flv_decodes_to_the_clip(node: Node) -> None:
    clip = make_clip(3.0, 25)
    async with camera(node, clip=clip, loop=False) as (t, cam):
        data = await read_flv(node, t.phone)
        # the clip ended, the stream stopped after idle_timeout, the response ended cleanly
        frames, keys, size, audio = _decode(data, "flv")
        assert (frames, keys, size) == (len(clip.video), clip.keyframes, (clip.width, clip.height))
        assert audio > 2.5  # G.711A converted to AAC
        assert cam.requests == 1
        s = node.video.stats()
        assert s["media"]["lost"] == 0 and s["media"]["garbage_bytes"] == 0


async def test_websocket_flv_and_sharing(node: Node) -> None:
    """Two viewers (HTTP and WebSocket) share one 0x9101; the late one starts at a key frame."""
    import websockets

    clip = make_clip(3.0, 25)
    async with camera(node, clip=clip, loop=False) as (t, cam):
        async def ws_view() -> bytes:
            while (s := node.video.hub.find(t.phone, 1)) is None or s.frames < 35:
                await asyncio.sleep(0.02)  # joins mid-stream, after the second key frame
            url = _url(node, t.phone, 1, "live.flv").replace("http://", "ws://")
            out = bytearray()
            async with websockets.connect(url, max_size=None) as ws:
                async for msg in ws:
                    out += msg
            return bytes(out)

        a, b = await asyncio.gather(read_flv(node, t.phone), ws_view())
        assert _decode(a, "flv")[:3] == (len(clip.video), clip.keyframes, (clip.width, clip.height))
        frames, keys, size, _ = _decode(b, "flv")
        assert size == (clip.width, clip.height)
        assert keys >= 1 and 0 < frames < len(clip.video) and frames % clip.fps == 0  # from a key frame on
        assert cam.requests == 1


async def test_loss_and_garbage_do_not_end_the_stream(node: Node) -> None:
    clip = make_clip(3.0, 25)
    async with camera(node, clip=clip, loop=False, drop_every=37, garbage=b"\x00garbage01c\xff" * 5,
                      garbage_every=4) as (t, _):
        frames, _, size, _ = _decode(await read_flv(node, t.phone), "flv")
        assert size == (clip.width, clip.height)
        assert len(clip.video) * 0.5 < frames <= len(clip.video)  # a frame that lost a packet is dropped
        m = node.video.stats()["media"]
        assert m["lost"] > 0 and m["garbage_bytes"] >= 60


async def test_last_viewer_leaving_sends_0x9102(node: Node) -> None:
    clip = make_clip(2.0, 25)
    async with camera(node, clip=clip, loop=True) as (t, cam):
        seen: list[int] = []
        handler = t.on_message

        async def spy(packet: Any) -> None:
            seen.append(packet.header.msg_id)
            await handler(packet)

        t.on_message = spy
        async with httpx.AsyncClient(timeout=30) as client, \
                client.stream("GET", _url(node, t.phone, 1, "live.flv")) as r:
            got = 0
            async for chunk in r.aiter_bytes():
                got += len(chunk)
                if got > 20_000:
                    break  # the viewer leaves
        for _ in range(100):
            if 0x9102 in seen:
                break
            await asyncio.sleep(0.05)
        assert seen.count(0x9101) == 1 and 0x9102 in seen
        assert cam.stops == 1
        await asyncio.wait_for(cam.streams[1][1], 5)  # the camera stopped streaming
        assert node.video.hub.find(t.phone, 1) is None


async def test_hls_segments_decode(node: Node) -> None:
    clip = make_clip(4.0, 25)
    async with camera(node, clip=clip, loop=False) as (t, cam):
        async with httpx.AsyncClient(timeout=30) as client:
            r = await client.get(_url(node, t.phone, 1, "live.m3u8"))
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith("application/vnd.apple.mpegurl")
            segments: dict[str, bytes] = {}
            while True:  # poll like a player until the stream has ended
                for line in r.text.splitlines():
                    if line.endswith(".ts") and line not in segments:
                        seg = await client.get(_url(node, t.phone, 1, line))
                        assert seg.status_code == 200
                        segments[line] = seg.content
                if "#EXT-X-ENDLIST" in r.text:
                    break
                await asyncio.sleep(0.3)
                r = await client.get(_url(node, t.phone, 1, "live.m3u8"))
                assert r.status_code == 200
        assert len(segments) >= 2, r.text
        total = keys = 0
        decoded = []
        for name in sorted(segments, key=lambda n: int(n[3:-3])):
            n, k, size, _ = _decode(segments[name], "mpegts")
            decoded.append((name, n, k, size))
            total += n
            keys += k
        assert all(size == (clip.width, clip.height) and k >= 1 for _, _, k, size in decoded), decoded
        # every segment starts at a key frame; HLS started at the first one
        assert keys == total // clip.fps and total == len(clip.video), (decoded, r.text)
        assert cam.requests == 1  # the finished playlist did not restart the camera


async def test_api_start_stop_and_errors(node: Node) -> None:
    clip = make_clip(2.0, 25)
    async with camera(node, clip=clip, loop=True) as (t, cam), httpx.AsyncClient(timeout=30) as client:
        r = await client.post(_url(node, t.phone, 1, "live"))
        assert r.status_code == 200, r.text
        info = r.json()
        assert info["state"] == "live" and info["codec"] == "h264" and info["width"] == clip.width
        assert info["urls"]["flv"].endswith(f"/terminals/{t.phone}/channels/1/live.flv")
        r = await client.get(f"http://127.0.0.1:{node.http_port}/api/v1/streams")
        assert r.json()["count"] == 1 and r.json()["streams"][0]["phone"] == t.phone and r.json()["live"] == 1
        r = await client.delete(_url(node, t.phone, 1, "live"))
        assert r.status_code == 200 and r.json()["state"] == "stopped"
        await asyncio.wait_for(cam.streams[1][1], 5)
        assert cam.stops == 1
        # a channel the camera does not have: refused with 0x0001 result 1
        r = await client.post(_url(node, t.phone, 9, "live"))
        assert r.status_code == 409 and r.json()["error"] == "camera_refused"
        assert set(r.json()) == {"error", "message", "detail"}  # the API's one error object
        r = await client.get(_url(node, "013900000000", 1, "live.flv"))
        assert r.status_code == 404 and r.json()["error"] == "terminal_offline"
        r = await client.get(_url(node, t.phone, 1, "live"))
        assert r.status_code == 404
        r = await client.get(_url(node, "12-34", 1, "live.flv"))
        assert r.status_code == 400 and r.json()["error"] == "bad_phone"
        # the phone as people type it (no leading zero) reaches the same stream
        r = await client.post(_url(node, t.phone.lstrip("0"), 1, "live"))
        assert r.status_code == 200 and r.json()["phone"] == t.phone


async def test_h265_camera_in_enhanced_flv(node: Node) -> None:
    clip = make_clip(2.0, 25, codec="hevc")
    async with camera(node, clip=clip, loop=False) as (t, _):
        data = await read_flv(node, t.phone)
        c = av.open(io.BytesIO(data), format="flv")
        assert c.streams.video[0].codec_context.name == "hevc"
        c.close()
        assert _decode(data, "flv")[:3] == (len(clip.video), clip.keyframes, (clip.width, clip.height))


async def test_udp_camera(node: Node) -> None:
    """A camera that takes the UDP port 0x9101 offers: one datagram per packet, same result."""
    clip = make_clip(2.0, 25)
    async with camera(node, clip=clip, loop=False, prefer_udp=True) as (t, cam):
        data = await read_flv(node, t.phone)
        assert cam.streams[1][0].udp
        frames, keys, size, _ = _decode(data, "flv")
        assert size == (clip.width, clip.height) and keys == clip.keyframes
        assert frames >= len(clip.video) - 2  # loopback UDP under load may drop a datagram


async def test_media_connection_without_packets_is_closed(node: Node) -> None:
    from jt808.video.listener import MediaServer

    server = MediaServer(node.video.hub, "127.0.0.1", 0, udp=False, idle=0.4)
    await server.bind()
    await server.serve()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(b"\x00not a media packet\xff" * 100)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the gateway
        assert server.idle_closed == 1 and server.stats()["garbage_bytes"] >= 1900
        writer.close()
    finally:
        await server.stop()


async def test_token_header_cookie_or_query(tmp_path: Path) -> None:
    import websockets

    cfg = _config(tmp_path)
    cfg.http.token = "s3cret"
    async with Node(cfg) as n, httpx.AsyncClient(base_url=f"http://127.0.0.1:{n.http_port}", timeout=10) as c:
        r = await c.get("/api/v1/streams")
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        assert (await c.get("/api/v1/streams?token=wrong")).status_code == 401
        assert (await c.get("/api/v1/streams", headers={"Authorization": "Bearer s3cret"})).status_code == 200
        c.cookies.set("jt808_token", "s3cret")  # the console's login cookie
        assert (await c.get("/api/v1/streams")).status_code == 200
        c.cookies.clear()
        assert (await c.get("/api/v1/streams?token=s3cret")).status_code == 200
        assert (await c.get("/player/013912345678/1")).status_code == 200  # the page holds no data
        url = f"ws://127.0.0.1:{n.http_port}/api/v1/terminals/013912345678/channels/1/live.flv"
        async with websockets.connect(url) as ws:
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
        assert e.value.rcvd is not None and e.value.rcvd.code == 4401
        async with websockets.connect(url + "?token=s3cret") as ws:  # admitted; the terminal is offline
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
        assert e.value.rcvd is not None and e.value.rcvd.code == 4404
