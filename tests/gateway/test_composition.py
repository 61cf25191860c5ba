"""Composition at the edge: the gateway imports nothing of the HTTP layer, parts are wired through the
typed protocols of ``jt808.gateway.listeners`` (no attribute of the gateway is replaced), metrics come
from ``prometheus_client``."""

from __future__ import annotations

import ast
from pathlib import Path

import jt808.gateway
from jt808.gateway.listeners import CommandRoute, GatewayListener, HealthCheck, MediaObserver

GATEWAY = Path(jt808.gateway.__file__).parent


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_the_gateway_package_never_imports_http_or_a_web_framework() -> None:
    for path in sorted(GATEWAY.glob("*.py")):
        bad = {m for m in _imports(path) if m.startswith(("jt808.http", "fastapi", "starlette", "uvicorn",
                                                           "jt808.node", "jt808.bridges"))}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_mqtt_bridge_is_every_kind_of_part_it_is_wired_as() -> None:
    from jt808.bridges.mqtt import MqttBridge
    from jt808.config import MqttConfig

    b = MqttBridge(object(), MqttConfig(url="mqtt://127.0.0.1:1"))
    for proto in (GatewayListener, MediaObserver, CommandRoute, HealthCheck):
        assert isinstance(b, proto), proto.__name__
    assert b.problem() is not None and "127.0.0.1:1" in b.problem()  # not connected yet: unhealthy


def test_no_gateway_attribute_is_typed_any_for_parts() -> None:
    from jt808.gateway.server import Gateway

    hints = Gateway.__init__.__code__.co_names
    for gone in ("remote_sender", "remote_online", "bridge", "http"):
        assert gone not in hints, gone
