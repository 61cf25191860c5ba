"""Live video through MQTT: ``{"live": {"channel": n, "action": "start" | "stop"}}`` on the dn topic
starts a stream (0x9101 to a simulated dash-cam, which streams) and stops it (0x9102); the outcome is
published on the up topic."""

from __future__ import annotations

from jt808.client.aio import AsyncTerminal
from jt808.simulator.camera import CameraResponder, make_clip

from .helpers import Watcher, random_phone, until


async def test_live_start_stop_over_mqtt(make_node, retained) -> None:
    node = await make_node()
    phone = random_phone()
    base = f"jt808/{phone}/{phone}"
    up, dn = f"{base}/up", f"{base}/dn"
    retained.add(f"{base}/status")
    t = AsyncTerminal("127.0.0.1", node.port, phone)
    cam = CameraResponder(phone, make_clip(2.0, 25), loop=True)
    t.on_message = cam.on_message(t)
    await t.connect()
    reply = await t.register(province=1, city=1, manufacturer="CAM", model="DC", dev_id="D", color=1,
                             license_number="X")
    await t.authenticate(reply.auth_code)
    await until(lambda: node.bridge.subscribed(phone), what="the dn subscription")
    try:
        async with Watcher(up) as w:
            await w.publish(dn, {"live": {"channel": 1, "action": "start"}})
            _, msg = await w.next(10, where=lambda tp, p: isinstance(p, dict) and "live" in p)
            assert msg["live"]["state"] == "live" and msg["live"]["codec"] == "h264"
            assert msg["live"]["width"] == 320 and msg["phone"] == phone
            assert cam.requests == 1 and node.video.hub.find(phone, 1).frames > 0
            await w.publish(dn, {"live": {"channel": 1, "action": "stop"}})
            _, msg = await w.next(10, where=lambda tp, p: isinstance(p, dict) and "live" in p)
            assert msg["live"]["state"] == "stopped"
            await until(lambda: cam.stops == 1, what="0x9102 at the camera")
            await w.publish(dn, {"live": {"channel": 1, "action": "stop"}})
            _, msg = await w.next(10, where=lambda tp, p: isinstance(p, dict) and "error" in p)
            assert msg["error"]["code"] == "no_stream"
            await w.publish(dn, {"live": {"channel": "one"}})
            _, msg = await w.next(10, where=lambda tp, p: isinstance(p, dict) and "error" in p)
            assert msg["error"]["code"] == "bad_downlink"
    finally:
        await cam.aclose()
        await t.close()
