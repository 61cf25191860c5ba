"""Phones as people type them (issue 9 item 5): one canonical form, every surface accepts every form.

``13912345678``, ``013912345678`` and ``00000000013912345678`` name one terminal on the HTTP API, MQTT
topics, the CLI and in the gateway; malformed phones are 400 and unknown ones 404 on every endpoint."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from console_script import jt808_script
from gateway.helpers import Terminal, location, make_config  # tests/gateway/helpers.py
from jt808 import V2013, V2019
from jt808.gateway import Gateway
from jt808.node import Node
from jt808.protocol.header import canonical_phone, phone_forms
from jt808.protocol.messages.tracking import LocationQueryReply

FORMS = ("13912345678", "013912345678", "00000000013912345678", " 013912345678 ")


def test_canonical_phone() -> None:
    assert {canonical_phone(f) for f in FORMS} == {"013912345678"}
    assert canonical_phone("12345678901234") == "00000012345678901234"  # more than 12 digits: 20
    assert canonical_phone("0A1B2C3D4E5F") == "0a1b2c3d4e5f"  # non-standard ids keep their hex letters
    assert canonical_phone("0") == "000000000000"
    for bad in ("", "abc", "1391234567x", "1" * 21, "+8613912345678", "139 1234 5678"):
        with pytest.raises(ValueError):
            canonical_phone(bad)
    assert phone_forms("00000000013912345678") == ("013912345678", "13912345678", "00000000013912345678")


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[Gateway, httpx.AsyncClient]]:
    cfg = make_config(tmp_path, http={"enabled": True, "host": "127.0.0.1", "port": 0},
                      downlink={"retry_interval": 0.5, "max_retry_times": 1})
    async with Node(cfg) as node, httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}",
                                                    timeout=10) as c:
        yield node.gateway, c


@pytest.mark.parametrize("wire", ["013912345678", "00000000013912345678"])
async def test_http_accepts_every_form(api: tuple[Gateway, httpx.AsyncClient], wire: str) -> None:
    gw, client = api
    t = await Terminal(wire, V2019 if len(wire) == 20 else V2013).connect(gw.tcp_port)
    await t.login()
    for form in FORMS:
        r = await client.get(f"/api/v1/terminals/{form.strip()}")
        assert r.status_code == 200, r.text
        assert r.json()["phone"] == "013912345678" and r.json()["online"] is True
        r = await client.get(f"/api/v1/terminals/{form.strip()}/locations")
        assert r.status_code == 200 and r.json()["phone"] == "013912345678"

    async def terminal_side() -> None:
        cmd = await t.recv()
        assert cmd.header.msg_id == 0x8201
        await t.send(LocationQueryReply(seq=cmd.header.msg_sn, location=location(1)))

    task = asyncio.create_task(terminal_side())
    r = await client.post("/api/v1/terminals/13912345678/commands", json={"header": {"msg_id": 0x8201}},
                          params={"timeout": 5})
    await task
    assert r.status_code == 200, r.text
    assert r.json()["reply"]["header"]["msg_id"] == 0x0201
    assert gw.storage is not None and await gw.storage.get_terminal("013912345678") is not None
    await t.close()


async def test_http_malformed_400_unknown_404_everywhere(api: tuple[Gateway, httpx.AsyncClient]) -> None:
    _gw, client = api
    routes = [("GET", ""), ("GET", "/locations"), ("POST", "/commands"), ("POST", "/reset")]
    for method, suffix in routes:
        r = await client.request(method, f"/api/v1/terminals/abc{suffix}", json={"header": {"msg_id": 0x8201}})
        assert r.status_code == 400 and r.json()["error"] == "bad_phone", (suffix, r.text)
        r = await client.request(method, f"/api/v1/terminals/13900000001{suffix}",
                                 json={"header": {"msg_id": 0x8201}})
        assert r.status_code == 404, (suffix, r.text)
        assert r.json()["error"] in ("unknown_terminal", "terminal_offline")


async def test_every_phone_route_normalises(api: tuple[Gateway, httpx.AsyncClient]) -> None:
    """Every documented route with a ``{phone}`` (the console's and video's too, read from /openapi.json so
    that a new route is covered) answers 400 ``bad_phone`` for a malformed one; the console's own routes
    answer typed forms under the canonical phone (they used to look up the phone as typed)."""
    _gw, client = api
    fill = {"{channel}": "1", "{day}": "20261206", "{name}": "x.jpg", "{segment}": "seg0.ts"}
    checked = []
    for path, ops in (await client.get("/openapi.json")).json()["paths"].items():
        if "{phone}" not in path:
            continue
        url = path.replace("{phone}", "abc")
        for key, value in fill.items():
            url = url.replace(key, value)
        for method in ops:
            r = await client.request(method, url, json={"header": {"msg_id": 0x8201}})
            assert r.status_code == 400 and r.json()["error"] == "bad_phone", (method, path, r.text)
            checked.append(path)
    assert {"/api/v1/terminals/{phone}/frames", "/api/v1/terminals/{phone}/media"} <= set(checked)
    for suffix in ("/frames", "/media"):
        r = await client.get(f"/api/v1/terminals/13912345678{suffix}")
        assert r.status_code == 200 and r.json()["phone"] == "013912345678", r.text
    r = await client.get("/api/v1/events", params={"frames": "139-1234"})
    assert r.status_code == 400 and r.json()["error"] == "bad_phone", r.text


def test_cli_reset_takes_typed_forms(tmp_path: Path) -> None:
    from jt808.storage import create_storage
    from jt808.storage.base import TerminalRecord

    async def seed() -> None:
        st = create_storage(f"sqlite:///{tmp_path / 'jt808.db'}", tmp_path)
        await st.open()
        await st.save_terminal(TerminalRecord(phone="013912345678", auth_code="abc"))
        await st.close()

    asyncio.run(seed())
    db = f"sqlite:///{tmp_path / 'jt808.db'}"
    out = subprocess.run([jt808_script(), "terminal", "reset", "13912345678", "--db", db],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("013912345678: auth code released")
    bad = subprocess.run([jt808_script(), "terminal", "reset", "abc", "--db", f"sqlite:///{tmp_path / 'jt808.db'}"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "not a terminal phone" in bad.stderr
