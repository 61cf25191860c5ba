"""Fixtures for the MQTT bridge tests: the real Mosquitto on 127.0.0.1:1883 (a missing broker fails
the tests), a gateway with its bridge, cleanup of the retained topics a test leaves behind."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jt808.bridges.mqtt import MqttBridge
from jt808.gateway import Gateway

from .helpers import BROKER, clear_retained, make_config


def _broker_up() -> None:
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError as e:
        pytest.fail(f"Mosquitto is not running on {BROKER[0]}:{BROKER[1]} ({e}); start it (.ci/run does)")


class Node:
    """A gateway and its MQTT bridge."""

    def __init__(self, gateway: Gateway, bridge: MqttBridge) -> None:
        self.gateway = gateway
        self.bridge = bridge

    @property
    def port(self) -> int:
        return self.gateway.tcp_port


@pytest.fixture
async def retained() -> AsyncIterator[set[str]]:
    """Add topics to this set; their retained messages are cleared after the test."""
    topics: set[str] = set()
    yield topics
    if topics:
        await clear_retained(*topics)


@pytest.fixture
async def make_node(tmp_path: Path, retained: set[str]) -> AsyncIterator:
    _broker_up()
    nodes: list[Node] = []

    async def make(name: str = "a", *, mqtt_url: str = "mqtt://127.0.0.1:1883", connect_timeout: float = 5.0,
                   **sections: dict) -> Node:
        cfg = make_config(tmp_path / name, mqtt_url, **sections)
        gw = Gateway(cfg)
        await gw.start()
        bridge = MqttBridge(gw, cfg.mqtt)
        await bridge.start(connect_timeout)
        retained.add(bridge.state_topic)
        node = Node(gw, bridge)
        nodes.append(node)
        return node

    yield make
    for node in reversed(nodes):
        await node.bridge.stop()
        await node.gateway.stop()
