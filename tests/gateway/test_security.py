"""Hostile terminals and clients, over real sockets (docs/security.md): registration cannot take a
terminal over, the operator's reset, rate limits, the auth edge cases, the token on every route."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import jt808
from jt808.gateway import Gateway
from jt808.protocol.messages.general import HeartBeat, TerminalLogout
from jt808.protocol.messages.register import TerminalAuth, TerminalRegister
from jt808.storage.base import TerminalRecord

from .helpers import PHONE, Terminal, location, make_config

pytestmark = pytest.mark.timeout(60)

SRC = "127.0.1.1"  # a source address that is not trusted (127.0.0.1 is, by default)


def registration(plate: str = "京A12345", dev_id: str = "0000001") -> TerminalRegister:
    return TerminalRegister(province=11, city=100, manufacturer="ACME1", model="T808", dev_id=dev_id, color=1,
                            license_number=plate)


async def wait_for(predicate: Any, timeout: float = 3.0) -> None:
    """Poll ``predicate`` (sync or async) until true; the gateway's decisions run as tasks."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        r = predicate()
        if asyncio.iscoroutine(r):
            r = await r
        if r:
            return
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def closed_by_server(t: Terminal, timeout: float = 3.0) -> bool:
    try:
        while True:
            await t.recv(timeout)
    except ConnectionError:
        return True
    except TimeoutError:
        return False


# -- registration cannot steal an identity -----------------------------------------------------
async def test_reregistration_does_not_hijack(gateway: Gateway) -> None:
    victim = await Terminal().connect(gateway.tcp_port)
    code = await victim.register()
    assert (await victim.authenticate(code)).body.result == 0
    attacker = await Terminal().connect(gateway.tcp_port)
    reply = await attacker.request(registration(plate="粤B66666", dev_id="EVIL"))
    # "terminal already registered", and no code in the answer
    assert (reply.header.msg_id, reply.body.result, reply.body.auth_code) == (0x8100, 3, "")
    assert (await attacker.authenticate("")).body.result == 1
    assert (await attacker.authenticate("0" * 16)).body.result == 1
    await attacker.send(TerminalLogout())  # not authenticated: not honoured
    await attacker.send(location(7))
    await attacker.expect_nothing()
    rec = await gateway.storage.get_terminal(PHONE)
    assert (rec.auth_code, rec.license_number, rec.dev_id) == (code, "京A12345", "0000001")  # untouched
    assert gateway.connection(PHONE).peer.endswith(str(victim.writer.get_extra_info("sockname")[1]))
    assert (await victim.heartbeat()).body.result == 0  # the victim is still served on its connection
    assert await gateway.storage.query_locations(PHONE) == []
    await attacker.close()
    await victim.close()


async def test_operator_reset_over_http(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, http={"enabled": True, "port": 0, "token": "s3cret"})
    async with Gateway(cfg) as gw, httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.http_port}") as c:
        t = await Terminal().connect(gw.tcp_port)
        old = await t.register()
        assert (await t.authenticate(old)).body.result == 0
        url = f"/api/v1/terminals/{PHONE}/reset"
        assert (await c.post(url)).status_code == 401
        r = await c.post(url, headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200 and r.json() == {"phone": PHONE, "reset": True, "disconnected": True}, r.text
        assert await closed_by_server(t)
        assert (await gw.storage.get_terminal(PHONE)).auth_code == ""
        t2 = await Terminal().connect(gw.tcp_port)
        assert (await t2.authenticate(old)).body.result == 1  # the old code no longer works
        new = await t2.register()  # the device registers again and gets a new code
        assert new != old and (await t2.authenticate(new)).body.result == 0
        r = await c.post("/api/v1/terminals/013900000000/reset", headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 404 and r.json()["error"] == "unknown_terminal"
        await t.close()
        await t2.close()


async def test_reregistration_when_stored_fields_match_is_opt_in(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, auth={"reregister_match": "dev_id,license_number"})
    async with Gateway(cfg) as gw:
        t = await Terminal().connect(gw.tcp_port)
        old = await t.register()
        await t.close()
        other = await Terminal().connect(gw.tcp_port)
        reply = await other.request(registration(dev_id="9999999"))  # the terminal id differs: refused
        assert (reply.body.result, reply.body.auth_code) == (3, "")
        await other.close()
        same = await Terminal().connect(gw.tcp_port)
        reply = await same.request(registration())
        assert reply.body.result == 0 and reply.body.auth_code not in ("", old)  # a NEW code, never the old
        assert (await same.authenticate(old)).body.result == 1
        assert (await same.authenticate(reply.body.auth_code)).body.result == 0
        await same.close()
    with pytest.raises(jt808.config.ConfigError, match="reregister_match"):
        jt808.config.Config.load(**{"auth.reregister_match": "auth_code"})


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jt808.cli", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


async def test_cli_terminal_reset_against_storage_and_api(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, storage={"db": ""}, http={"enabled": True, "port": 0, "token": "tok"})
    async with Gateway(cfg) as gw:
        t = await Terminal().connect(gw.tcp_port)
        code = await t.register()
        assert (await t.authenticate(code)).body.result == 0
        api = f"http://127.0.0.1:{gw.http_port}"
        r = await asyncio.to_thread(_cli, "terminal", "reset", PHONE, "--api", api)
        assert r.returncode != 0 and "401" in r.stderr  # no token
        r = await asyncio.to_thread(_cli, "terminal", "reset", PHONE, "--api", api, env={"JT808_HTTP_TOKEN": "tok"})
        assert r.returncode == 0 and "disconnected" in r.stdout, r.stderr
        assert await closed_by_server(t)
        t2 = await Terminal().connect(gw.tcp_port)
        code2 = await t2.register()
        await t2.close()
    # the same against the SQLite file, gateway stopped
    r = await asyncio.to_thread(_cli, "terminal", "reset", PHONE, "--data-dir", str(cfg.data_dir))
    assert r.returncode == 0 and "released" in r.stdout, r.stderr
    r = await asyncio.to_thread(_cli, "terminal", "reset", "013900000000", "--data-dir", str(cfg.data_dir))
    assert r.returncode == 1 and "not registered" in r.stderr
    async with Gateway(cfg) as gw:
        t = await Terminal().connect(gw.tcp_port)
        assert (await t.authenticate(code2)).body.result == 1
        assert await t.register() not in (code, code2)
        await t.close()


# -- rate limits -------------------------------------------------------------------------------
async def test_registrations_beyond_the_limit_are_refused(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, http={"enabled": True, "port": 0}, limits={"attempts_per_connection": 5})
    async with Gateway(cfg) as gw:
        t = await Terminal().connect(gw.tcp_port)
        for i in range(5):
            t.phone = f"0139{i:08d}"
            assert (await t.request(registration())).body.result == 0
        t.phone = "013999999999"
        await t.send(registration())
        assert await closed_by_server(t)  # the sixth attempt closes the connection, undecided
        assert len(await gw.storage.list_terminals()) == 5
        assert await gw.storage.get_terminal("013999999999") is None
        async with httpx.AsyncClient() as c:
            text = (await c.get(f"http://127.0.0.1:{gw.http_port}/metrics")).text
        assert 'jt808_attempts_rate_limited_total{kind="register",scope="connection"} 1' in text
        await t.close()


async def test_attempts_limited_per_phone_and_per_address(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, limits={"attempts_per_phone_rate": 0.01, "attempts_per_phone_burst": 3,
                                        "attempts_per_address_rate": 0.01, "attempts_per_address_burst": 8})
    async with Gateway(cfg) as gw:
        victim = await Terminal().connect(gw.tcp_port, SRC)
        code = await victim.register()
        for _ in range(2):  # a guesser uses up the phone's attempts …
            g = await Terminal().connect(gw.tcp_port, SRC)
            assert (await g.authenticate("guess")).body.result == 1
            await g.close()
        g = await Terminal().connect(gw.tcp_port, SRC)
        await g.send(TerminalAuth(code="guess"))
        await g.expect_nothing()  # … after which attempts for that phone are not decided at all
        assert gw.guard.attempts.refused[("auth", "phone")] == 1
        # another phone from the same address still has the address's budget (8: 1 + 2 + 1 + 4 below)
        for i in range(4):
            o = await Terminal(f"01380000000{i}").connect(gw.tcp_port, SRC)
            assert (await o.request(registration())).body.result == 0
            await o.close()
        o = await Terminal("013800000009").connect(gw.tcp_port, SRC)
        await o.send(registration())
        await o.expect_nothing()
        assert gw.guard.attempts.refused[("register", "address")] == 1
        assert await gw.storage.get_terminal("013800000009") is None
        await g.close()
        await o.close()
        await victim.close()
    assert code
    # loopback (127.0.0.1) is trusted by default: no per-address limit for local simulators
    assert "127.0.0.1" in gw.guard.trusted and SRC not in gw.guard.trusted


# -- authentication edge cases -----------------------------------------------------------------
async def test_auth_edge_cases(tmp_path: Path) -> None:
    async with Gateway(make_config(tmp_path, auth={"auto_register": False})) as gw:
        # provisioned by an operator without a code: neither an empty nor any other code authenticates
        await gw.storage.save_terminal(TerminalRecord(PHONE))
        t = await Terminal().connect(gw.tcp_port)
        assert (await t.authenticate("")).body.result == 1
        assert (await t.authenticate("x")).body.result == 1
        await t.send(HeartBeat())
        await t.expect_nothing()
        # it registers (released: no code yet) and gets one; an empty code still fails
        code = await t.register()
        assert code and (await t.authenticate("")).body.result == 1
        await t.close()
        # a code bound to another phone does not authenticate this one
        await gw.storage.save_terminal(TerminalRecord("013800000001", auth_code="other-code"))
        t2 = await Terminal().connect(gw.tcp_port)
        assert (await t2.authenticate("other-code")).body.result == 1
        assert (await t2.authenticate(code)).body.result == 0  # and the right code does
        await t2.close()
        # unknown phone: refused
        t3 = await Terminal("013700000000").connect(gw.tcp_port)
        assert (await t3.authenticate(code)).body.result == 1
        await t3.close()


# -- the token on every route --------------------------------------------------------------------
def _routes(app: Any) -> list[tuple[str, str]]:
    out = []
    for r in app.routes:
        path = getattr(r, "path", "")
        if path.startswith(("/api", "/internal")):
            for m in sorted(getattr(r, "methods", ()) or ()):
                if m not in ("HEAD", "OPTIONS"):
                    out.append((m, path.replace("{phone}", PHONE).replace("{id}", "1")))
    return out


async def test_token_on_every_api_route(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, http={"enabled": True, "port": 0, "token": "s3cret"})
    async with Gateway(cfg) as gw, httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.http_port}") as c:
        t = await Terminal().connect(gw.tcp_port)
        await t.login()  # online: a command that got through would be sent
        routes = _routes(gw.http.server.config.app)
        assert ("POST", f"/api/v1/terminals/{PHONE}/commands") in routes
        assert ("POST", f"/api/v1/terminals/{PHONE}/reset") in routes
        body = {"header": {"msg_id": 0x8104}, "body": {}}
        for method, path in routes:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
                r = await c.request(method, path, json=body, headers=headers, params={"timeout": "0.3"})
                assert r.status_code == 401, (method, path, headers, r.status_code, r.text)
        await t.expect_nothing(0.2)  # no command reached the terminal
        assert (await gw.storage.get_terminal(PHONE)).auth_code  # no reset happened
        ok = await c.get("/api/v1/terminals", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        await t.close()


async def test_workers_with_a_token(tmp_path: Path) -> None:
    """``--workers 2 --token``: the internal routes need the token too, a malformed internal command is a
    400, and the operator's reset through worker 0 disconnects a terminal held by worker 1."""
    from .test_workers import _ports, _up

    tcp, http = _ports()
    env = {**os.environ, "JT808_HTTP_TOKEN": "s3cret"}
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "jt808.cli", "serve", "--workers", "2", "--data-dir",
                             str(tmp_path / "d"), "--host", "127.0.0.1", "--port", str(tcp), "--http-port", str(http)],
                            env=env, stderr=log, text=True)
    auth = {"Authorization": "Bearer s3cret"}
    terms: list[Terminal] = []
    try:
        async with httpx.AsyncClient(timeout=10) as c:
            for port in (http, http + 1, http + 2):
                await _up(c, port, proc)
            for port in (http + 1, http + 2):
                assert (await c.get(f"http://127.0.0.1:{port}/internal/v1/online")).status_code == 401
                url = f"http://127.0.0.1:{port}/internal/v1/terminals/{PHONE}/commands"
                assert (await c.post(url, json={"header": {"msg_id": 0x8104}})).status_code == 401
                assert (await c.post(url, content=b"{not json", headers=auth)).status_code == 400
                assert (await c.post(url, json=[1, 2], headers=auth)).status_code == 400
                url = f"http://127.0.0.1:{port}/internal/v1/terminals/{PHONE}/disconnect"
                assert (await c.post(url)).status_code == 401
            held1: set[str] = set()
            for i in range(60):
                t = await Terminal(f"01390000{i:04d}").connect(tcp)
                await t.login()
                terms.append(t)
                r = await c.get(f"http://127.0.0.1:{http + 2}/internal/v1/online", headers=auth)
                held1 = set(r.json()["phones"])
                if held1:
                    break
            assert held1, "SO_REUSEPORT gave every connection to worker 0"
            victim = next(t for t in terms if t.phone in held1)
            r = await c.post(f"http://127.0.0.1:{http}/api/v1/terminals/{victim.phone}/reset", headers=auth)
            assert r.status_code == 200 and r.json()["disconnected"] is True, r.text
            assert await closed_by_server(victim)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
        log.close()
        for t in terms:
            await t.close()
