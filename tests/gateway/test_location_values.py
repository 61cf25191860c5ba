"""Locations that only go to storage are stored from their values (``PlatformSession(location_values=True)``,
:class:`~jt808.session.events.LocationValuesReceived`) over a real socket: the rows are those of the reports,
the alarm service still gets the reports whose alarm bits matter, location observers are asked first, and a
listener (which needs every report) turns the values off until it goes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jt808.gateway.sink import location_row
from jt808.node import Node
from jt808.protocol.header import V2013
from jt808.protocol.messages.location import LayoutValues, LocationReport
from jt808.protocol.packet import Packet

from .helpers import PHONE, Terminal, location, make_config


class Asked:
    """A location observer that records what the gateway asks it and what it gets."""

    def __init__(self) -> None:
        self.asked: list[int] = []  # alarm words of the values it was asked about
        self.got: list[LocationReport] = []

    def wants_report(self, phone: str, values: LayoutValues) -> bool:
        self.asked.append(values.values[0])
        return bool(values.values[0] & 0b10)  # only overspeed

    def on_location(self, phone: str, packet: Packet) -> None:
        assert type(packet.body) is LocationReport and packet.header.msg_id == 0x0200
        self.got.append(packet.body)


class Uplinks:
    """A listener: every uplink, as a packet."""

    def __init__(self) -> None:
        self.reports: list[LocationReport] = []

    def on_connected(self, phone: str, info: dict[str, Any]) -> None:
        return None

    def on_disconnected(self, phone: str, reason: str) -> None:
        return None

    def on_uplink(self, phone: str, packet: Packet) -> None:
        if packet.header.msg_id == 0x0200:
            self.reports.append(packet.body)  # type: ignore[arg-type]  # a 0x0200 body is a LocationReport


async def test_stored_only_locations_go_by_their_values(tmp_path: Path) -> None:
    node = Node(make_config(tmp_path))  # memory storage; the alarm service observes locations
    await node.start()
    gw = node.gateway
    asked = Asked()
    gw.add_location_observer(asked)
    t = await Terminal().connect(gw.tcp_port)
    try:
        await t.login()
        [conn] = gw.connections
        assert conn.session.location_values
        alarms = [0, 0, 0b1, 0b1, 0b11, 0]  # emergency rises on the third, overspeed on the fifth
        sent = [location(i, alarm=a, time="240311120000") for i, a in enumerate(alarms)]
        serials = []
        for rep in sent:
            serials.append(await t.send(rep))
            ack = await t.recv()
            assert ack.header.msg_id == 0x8001 and (ack.body.seq, ack.body.result) == (serials[-1], 0)
        # the first report taught the layout (a report for every observer); the rest came as values, and the
        # observer got those it wanted (overspeed) as the reports the decoder makes
        assert asked.asked == alarms[1:] and asked.got == [sent[0], sent[4]]
        assert gw.alarms is not None
        await gw.alarms.queue.join()  # the alarm service writes in its own task
        rows = await gw.storage.query_locations(PHONE)
        want = [location_row(PHONE, rep, 0x0200, sn, rows[i].received_at, gw.profile.tz_offset, False, V2013,
                             gw.profile) for i, (rep, sn) in enumerate(zip(sent, serials, strict=True))]
        assert rows == want
        stored, total = await gw.storage.query_alarms(PHONE, kind="standard")
        assert total == 2 and sorted(a.code for a in stored) == [0, 1]  # emergency, then overspeed: once each

        # a listener needs every report: no values while it listens, then values again
        uplinks = Uplinks()
        gw.add_listener(uplinks)
        assert not conn.session.location_values
        more = location(9, time="240311120000")
        await t.send(more)
        assert (await t.recv()).header.msg_id == 0x8001
        assert uplinks.reports == [more] and len(asked.asked) == len(alarms) - 1
        gw.remove_listener(uplinks)
        assert conn.session.location_values
        await t.send(more)
        assert (await t.recv()).header.msg_id == 0x8001
        assert uplinks.reports == [more] and asked.asked[-1] == 0
        assert len(await gw.storage.query_locations(PHONE)) == len(sent) + 2
    finally:
        await t.close()
        await node.stop()


async def test_no_values_when_locations_are_answered_at_once(tmp_path: Path) -> None:
    """``ack_after_durable = false``: locations are answered on arrival, so the session decodes them as before."""
    node = Node(make_config(tmp_path, storage={"ack_after_durable": False}))
    await node.start()
    t = await Terminal().connect(node.gateway.tcp_port)
    try:
        await t.login()
        [conn] = node.gateway.connections
        assert not conn.session.location_values
        for i in range(3):
            await t.send(location(i))
            assert (await t.recv()).header.msg_id == 0x8001
    finally:
        await t.close()
        await node.stop()


async def test_video_alarm_items_reach_the_alarm_service(tmp_path: Path) -> None:
    """JT/T 1078's video-alarm item 0x14 is a plain DWORD (a layout of it gives values): the alarm service still
    gets those reports, and the bit that rises is stored as a video alarm once."""
    node = Node(make_config(tmp_path, session={"profile": "jt1078"}))
    await node.start()
    gw = node.gateway
    t = await Terminal().connect(gw.tcp_port)
    try:
        await t.login()
        [conn] = gw.connections
        assert conn.session.location_values
        for i, word in enumerate((0, 0, 0b1, 0b1)):  # the signal-loss bit rises on the third report
            await t.send(location(i, time="240311120000", extras=[(0x01, 1000 + i), (0x14, word.to_bytes(4, "big"))]))
            assert (await t.recv()).header.msg_id == 0x8001
        assert gw.alarms is not None
        await gw.alarms.queue.join()
        stored, total = await gw.storage.query_alarms(PHONE, kind="video")
        assert total == 1 and stored[0].code == 0
        assert len(await gw.storage.query_locations(PHONE)) == 4
    finally:
        await t.close()
        await node.stop()
