"""Fixtures for the MQTT bridge tests: the real Mosquitto on 127.0.0.1:1883 (a missing broker fails
the tests), a gateway with its bridge, cleanup of the retained topics a test leaves behind."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jt808.bridges.mqtt import MqttBridge
from jt808.gateway import Gateway
from jt808.node import Node

from .helpers import BROKER, clear_retained, make_config


def _broker_up() -> None:
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError as e:
        pytest.fail(f"Mosquitto is not running on {BROKER[0]}:{BROKER[1]} ({e}); start it (.ci/run does)")


class TestNode(Node):
    """A node (gateway, MQTT bridge, HTTP API when enabled) as ``jt808 serve`` composes it."""

    gateway: Gateway
    bridge: MqttBridge

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
        cfg.mqtt.required = False  # outage tests start without a broker
        node = TestNode(cfg, connect_timeout=connect_timeout)
        await node.start()
        retained.add(node.bridge.state_topic)
        nodes.append(node)
        return node

    yield make
    for node in reversed(nodes):
        await node.stop()
