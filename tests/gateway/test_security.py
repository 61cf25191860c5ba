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
from jt808.node import Node
from jt808.protocol.messages.general import HeartBeat, QueryLocation, TerminalLogout
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


async def test_operator_reset_over_http(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = make_config(tmp_path, http={"enabled": True, "port": 0, "token": "s3cret"})
    async with Node(cfg) as node, httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}") as c:
        gw = node.gateway
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
        assert f"phone={PHONE} reset by the operator (disconnected)" in caplog.text
        r = await c.post("/api/v1/terminals/013900000000/reset", headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 404 and r.json()["error"] == "unknown_terminal"
        assert "013900000000" not in caplog.text  # nothing was reset: no "reset by the operator" line
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
    async with Node(cfg) as node:
        gw = node.gateway
        t = await Terminal().connect(gw.tcp_port)
        code = await t.register()
        assert (await t.authenticate(code)).body.result == 0
        api = f"http://127.0.0.1:{node.http_port}"
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
    async with Node(cfg) as node:
        gw = node.gateway
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
            text = (await c.get(f"http://127.0.0.1:{node.http_port}/metrics")).text
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
    async with Node(cfg) as node, httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}") as c:
        gw = node.gateway
        t = await Terminal().connect(gw.tcp_port)
        await t.login()  # online: a command that got through would be sent
        routes = _routes(node.http.app)
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


# -- UDP: sessions bound to what authenticated them ----------------------------------------------
async def test_udp_spoofer_gets_nothing(gateway: Gateway) -> None:
    from .helpers import UdpTerminal

    victim = await UdpTerminal().connect(gateway.udp_port)
    code = await victim.register()
    assert (await victim.authenticate(code)).body.result == 0
    spoofer = await UdpTerminal().connect(gateway.udp_port, SRC)
    spoofer.sn = 500
    # a forged report: not acknowledged, not stored
    await spoofer.send(location(9))
    await spoofer.expect_nothing()
    # a refused 0x0102 from the spoofer's address changes nothing, and a forged report after it neither
    assert (await spoofer.authenticate("wrong")).body.result == 1
    await spoofer.send(location(10))
    await spoofer.expect_nothing()
    assert await gateway.storage.query_locations(PHONE) == []
    # a command for the victim goes to the victim's address only, even after the spoofer's datagrams
    task = asyncio.create_task(gateway.send(PHONE, QueryLocation(), timeout=3))
    await asyncio.sleep(0.05)
    await spoofer.send(HeartBeat())
    await spoofer.expect_nothing()
    await victim.send(HeartBeat())
    got = [await victim.recv(), await victim.recv()]
    cmd = next(p for p in got if p.header.msg_id == 0x8201)
    task.cancel()
    # a spoofed logout is not honoured: the registration stays, the victim is still served
    await spoofer.send(TerminalLogout())
    await spoofer.expect_nothing()
    assert (await gateway.storage.get_terminal(PHONE)).auth_code == code
    assert gateway.is_online(PHONE) and gateway.connection(PHONE).addr == victim.transport.get_extra_info("sockname")
    assert (await victim.heartbeat()).body.result == 0
    assert cmd.header.phone == PHONE
    # the victim's own logout is honoured
    reply = await victim.request(TerminalLogout())
    assert (reply.body.id, reply.body.result) == (0x0003, 0)
    await wait_for(lambda: not gateway.is_online(PHONE))
    assert (await gateway.storage.get_terminal(PHONE)).auth_code == ""
    await victim.close()
    await spoofer.close()


async def test_udp_datagrams_make_no_session_until_authenticated(tmp_path: Path) -> None:
    import socket

    cfg = make_config(tmp_path, limits={"udp_sessions": 3})
    async with Gateway(cfg) as gw:
        endpoint = gw._udp[0][1]
        socks = []
        for i in range(2000):  # plausible heartbeats of random phones from distinct source ports
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((SRC, 0))
            s.sendto(Terminal(f"0138{i:08d}").frame(HeartBeat()), ("127.0.0.1", gw.udp_port))
            socks.append(s)
            if len(socks) >= 50:
                for x in socks:
                    x.close()
                socks.clear()
                # let the gateway read each batch before the next (the socket buffer is finite); loopback
                # drops almost nothing then, however loaded the machine
                sent = i + 1
                await wait_for(lambda sent=sent: gw.guard.counters["udp_unbound"] >= sent * 0.9, timeout=15.0)
        for x in socks:
            x.close()
        await wait_for(lambda: gw.guard.counters["udp_unbound"] >= 1800, timeout=15.0)
        assert len(endpoint.by_addr) == 0 and len(endpoint.pending) == 0 and len(gw.connections) == 0
        # sessions come from registrations / authentications only, and are capped
        from .helpers import UdpTerminal

        terms, codes = [], []
        for i in range(3):
            t = await UdpTerminal(f"01370000000{i}").connect(gw.udp_port)
            codes.append(await t.register())
            assert (await t.authenticate(codes[-1])).body.result == 0
            terms.append(t)
        late = await UdpTerminal("013700000009").connect(gw.udp_port)
        await late.send(registration())
        await late.expect_nothing()
        assert len(endpoint.by_addr) == 3 and gw.guard.counters["udp_sessions_full"] == 1
        # an authenticated phone may still move to a new address (it replaces its own session)
        moved = await UdpTerminal("013700000000").connect(gw.udp_port)
        assert (await moved.authenticate(codes[0])).body.result == 0
        assert len(endpoint.by_addr) == 3 and gw.connection("013700000000").addr == moved.transport.get_extra_info(
            "sockname")
        for t in [*terms, late, moved]:
            await t.close()


# -- bounded resources for the unauthenticated ---------------------------------------------------
async def test_auth_deadline_closes_silent_connections(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, limits={"auth_deadline": 1.0})
    async with Gateway(cfg) as gw:
        idle = await Terminal().connect(gw.tcp_port, SRC)
        talker = await Terminal("013800000001").connect(gw.tcp_port, SRC)
        good = await Terminal("013800000002").connect(gw.tcp_port, SRC)
        await good.login()
        await talker.send(HeartBeat())  # talking without authenticating does not count
        assert await closed_by_server(idle, 5) and await closed_by_server(talker, 5)
        assert gw.guard.admission.expired == 2
        await asyncio.sleep(1.1)
        assert (await good.heartbeat()).body.result == 0  # an authenticated terminal has no deadline
        for t in (idle, talker, good):
            await t.close()


async def test_unauthenticated_caps_per_address_and_in_all(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, limits={"max_unauthenticated_per_address": 3, "max_unauthenticated": 5})
    async with Gateway(cfg) as gw:
        good = await Terminal("013800000009").connect(gw.tcp_port, "127.0.2.1")
        await good.login()  # authenticated: never counted, never evicted
        flood = [await Terminal().connect(gw.tcp_port, SRC) for _ in range(3)]
        await wait_for(lambda: gw.guard.admission.count(SRC) == 3)
        fourth = await Terminal().connect(gw.tcp_port, SRC)
        assert await closed_by_server(fourth, 2)  # the newcomer from a full address is refused
        assert gw.guard.admission.refused == 1
        # other addresses still get in; the global cap makes room by closing the oldest unauthenticated
        others = [await Terminal(f"01380000001{i}").connect(gw.tcp_port, f"127.0.3.{i + 1}") for i in range(3)]
        await wait_for(lambda: gw.guard.admission.evicted == 1)
        assert await closed_by_server(flood[0], 2)
        for i, t in enumerate(others):  # the newest are served
            t.phone = f"01380000001{i}"
            await t.login()
        assert (await good.heartbeat()).body.result == 0
        for t in [good, *flood, fourth, *others]:
            await t.close()


async def test_slowloris_is_cut(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, limits={"frame_timeout": 1.0})
    async with Gateway(cfg) as gw:
        t = await Terminal().connect(gw.tcp_port, SRC)
        await t.login()
        frame = t.frame(HeartBeat())
        # a frame sent whole, in pieces close together, is fine
        await t.send_raw(frame[:5])
        await asyncio.sleep(0.1)
        await t.send_raw(frame[5:])
        assert (await t.recv()).body.result == 0
        # one byte every 0.3 s: a frame never finished within frame_timeout
        frame = t.frame(HeartBeat())
        for b in frame[:-1]:
            try:
                await t.send_raw(bytes([b]))
            except ConnectionError:
                break
            await asyncio.sleep(0.3)
        assert await closed_by_server(t, 3)
        assert gw.guard.admission.stalled_cut == 1
        await t.close()


async def test_log_lines_about_one_peer_are_rate_limited(tmp_path: Path, caplog: Any) -> None:
    import logging

    caplog.set_level(logging.DEBUG, "jt808.gateway")  # connect/disconnect lines are DEBUG
    cfg = make_config(tmp_path, limits={"log_lines_per_peer": 5})
    async with Gateway(cfg) as gw:
        for _ in range(10):
            t = await Terminal().connect(gw.tcp_port, SRC)
            await t.close()
        await wait_for(lambda: gw.guard.peer_log.suppressed >= 15)  # 10 connects + 10 disconnects, 5 logged
        assert sum(SRC in r.getMessage() for r in caplog.records) == 5


# -- floods against `jt808 serve` ------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """``jt808 serve`` as a subprocess on free ports (SQLite in a temporary directory)."""

    def __init__(self, tmp_path: Path, udp: bool = False, **env: str) -> None:
        self.tcp, self.http = _free_port(), _free_port()
        self.log = (tmp_path / "serve.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jt808.cli", "serve", "--data-dir", str(tmp_path / "d"), "--host", "127.0.0.1",
             "--port", str(self.tcp), "--http-port", str(self.http), *([] if udp else ["--no-udp"])],
            env={**os.environ, **env}, stderr=self.log, text=True)
        self.path = tmp_path / "serve.log"

    async def up(self, client: httpx.AsyncClient) -> None:
        for _ in range(300):
            assert self.proc.poll() is None, self.path.read_text()[-3000:]
            try:
                if (await client.get(f"http://127.0.0.1:{self.http}/healthz", timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError("jt808 serve did not come up")

    def rss(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    async def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            await asyncio.to_thread(self.proc.wait, 30)
        self.log.close()


def _fragment(t: Terminal, msg_id: int, total: int, index: int, sn: int) -> bytes:
    """A sub-package frame of ``msg_id`` announcing ``total`` fragments (a few bytes of body)."""
    from jt808.protocol.packet import RawBody

    h = jt808.Header(msg_id, t.phone, sn, t.version, frag_total=total, frag_sn=index)
    return jt808.encode(jt808.Packet(h, RawBody(b"\x00" * 8, "fragment")))


@pytest.mark.timeout(120)
async def test_fragment_flood_keeps_memory_bounded(tmp_path: Path) -> None:
    """300 sub-package frames announcing 65,535 fragments each (the attack once grew the gateway by 730 MB):
    RSS grows by less than 64 MB, the missing fragments are asked for in requests that fit, and the
    gateway keeps answering."""
    srv = Serve(tmp_path, JT808_SESSION_FRAGMENT_TIMEOUT="0.3", JT808_SESSION_FRAGMENT_ASKS="1")
    try:
        async with httpx.AsyncClient() as c:
            await srv.up(c)
            terms = []
            for i in range(3):
                t = await Terminal(f"01360000000{i}").connect(srv.tcp)
                await t.login()
                terms.append(t)
            before = srv.rss()
            for k in range(100):
                for t in terms:  # each frame opens a set (new message id and total): sets are evicted
                    await t.send_raw(_fragment(t, 0x0900 + k % 50, 65535 - k, 1 + k, 1000 + k))
            resend = 0
            for t in terms:  # answers, then the 0x8003 of the stalled sets (in requests that fit)
                while True:
                    try:
                        p = await t.recv(1.5)
                    except TimeoutError:
                        break
                    if p.header.msg_id == 0x8003:
                        resend += 1
                        assert 0 < len(p.body.ids) <= 255
            assert resend >= 3
            for t in terms:  # still served
                sn = await t.send(HeartBeat())
                while (p := await t.recv()).header.msg_id != 0x8001 or p.body.seq != sn:
                    pass
                assert p.body.result == 0
            r = await c.get(f"http://127.0.0.1:{srv.http}/healthz", timeout=5)
            assert r.status_code == 200
            growth = srv.rss() - before
            assert growth < 64 << 20, f"RSS grew by {growth >> 20} MB"
            text = (await c.get(f"http://127.0.0.1:{srv.http}/metrics")).text
            assert "jt808_fragment_sets " in text
            for t in terms:
                await t.close()
    finally:
        await srv.stop()


@pytest.mark.timeout(180)
async def test_connection_flood_leaves_room_for_terminals_and_healthz(tmp_path: Path) -> None:
    """20,000 silent connections (the gateway's file limit on this machine is 20,000 too): half from one
    address, half from 50 others. The caps close what is beyond them at once, the deadline the rest; a new
    terminal registers, authenticates and reports, and /healthz answers, while the flood holds."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    per_process = min(10_000, hard - 200)  # each flood process holds its connections open
    srv = Serve(tmp_path, JT808_LIMITS_AUTH_DEADLINE="60")
    floods: list[subprocess.Popen[str]] = []
    try:
        async with httpx.AsyncClient() as c:
            await srv.up(c)
            script = str(Path(__file__).with_name("flood.py"))
            sources = ["127.0.1.1", ",".join(f"127.0.2.{i}" for i in range(1, 51))]
            for src in sources:
                floods.append(subprocess.Popen([sys.executable, script, str(srv.tcp), str(per_process), src],
                                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
            ready = [await asyncio.to_thread(f.stdout.readline) for f in floods]
            established = sum(int(line.split()[1]) for line in ready)
            assert established >= 2 * per_process * 0.8, ready  # a loaded machine may drop a few SYNs
            # during the flood: the gateway holds far fewer sockets than the flood opened …
            assert srv.fds() < 4096 + 300
            # … answers /healthz …
            r = await c.get(f"http://127.0.0.1:{srv.http}/healthz", timeout=5)
            assert r.status_code == 200
            # … and serves a new terminal from end to end
            t = await Terminal("013500000001").connect(srv.tcp, "127.0.3.1")
            await t.login()
            assert (await t.request(location(1))).body.result == 0
            text = (await c.get(f"http://127.0.0.1:{srv.http}/metrics", timeout=5)).text
            caps = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
                    if line.startswith("jt808_unauthenticated_closed_total")}
            assert caps['jt808_unauthenticated_closed_total{reason="per_address_cap"}'] > per_process / 2
            assert caps['jt808_unauthenticated_closed_total{reason="evicted"}'] > 0
            await t.close()
        log = srv.path.read_text()
        assert log.count("127.0.1.1:") < 100  # lines about one peer are rate-limited
    finally:
        for f in floods:
            if f.poll() is None:
                f.stdin.close()
                try:
                    await asyncio.to_thread(f.wait, 30)
                except subprocess.TimeoutExpired:
                    f.kill()
        await srv.stop()


async def test_anonymous_mode_over_udp_still_makes_sessions(tmp_path: Path) -> None:
    from .helpers import UdpTerminal

    async with Gateway(make_config(tmp_path, auth={"mode": "anonymous"})) as gw:
        t = await UdpTerminal().connect(gw.udp_port)
        assert (await t.request(location())).body.result == 0
        assert gw.is_online(PHONE) and len(gw._udp[0][1].by_addr) == 1
        assert len(await gw.storage.query_locations(PHONE)) == 1
        await t.close()


async def test_hooks_cannot_grant_an_empty_code(tmp_path: Path) -> None:
    """An auth hook that allows everything still never authenticates an empty code, and a registry hook that
    accepts without a code is refused (result 4): an empty code would be everyone's."""
    from .test_media_udp_hooks import HookService

    class Lax(HookService):
        def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            if path == "/registry":
                return 200, {"code": 0}
            return 200, {}

    svc = Lax()
    server = await asyncio.start_server(svc.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cfg = make_config(tmp_path, auth={"mode": "http", "registry_url": f"http://127.0.0.1:{port}/registry",
                                      "auth_url": f"http://127.0.0.1:{port}/auth"})
    try:
        async with Gateway(cfg) as gw:
            t = await Terminal().connect(gw.tcp_port)
            reply = await t.request(registration())
            assert (reply.body.result, reply.body.auth_code) == (4, "")
            assert (await t.authenticate("")).body.result == 1
            assert [p for p, _ in svc.requests] == ["/registry"]  # the hook was not even asked
            assert (await t.authenticate("anything")).body.result == 0  # the hook decides real codes
            await t.close()
    finally:
        server.close()


async def test_fragment_budget_is_shared_by_all_terminals(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, limits={"fragment_sets_total": 2})
    async with Gateway(cfg) as gw:
        a, b = Terminal("013600000001"), Terminal("013600000002")
        for t in (a, b):
            await t.connect(gw.tcp_port)
            await t.login()
        for t, sn in ((a, 10), (a, 20), (b, 30)):
            await t.send_raw(_fragment(t, 0x0900 + sn, 5, 1, sn))
        results = [(await t.recv()).body.result for t in (a, a, b)]
        assert results == [0, 0, 2]  # the third set finds the budget full: "message error", refused
        assert (gw.guard.fragments.sets, gw.guard.fragments.refused) == (2, 1)
        await a.close()
        await wait_for(lambda: gw.guard.fragments.sets == 0)  # a's sets went away with its connection
        await b.send_raw(_fragment(b, 0x0930, 5, 1, 31))
        assert (await b.recv()).body.result == 0
        await b.close()


async def test_replayed_auth_from_another_address(tmp_path: Path) -> None:
    """A captured 0x0102, replayed from another address: once the operator has reset the terminal it is
    refused and changes nothing; a replay of a refused 0x0102 changes nothing either. (A replay of a still
    valid code is the device itself as far as JT/T 808 can tell: docs/security.md, threat model.)"""
    from .helpers import UdpTerminal

    cfg = make_config(tmp_path, http={"enabled": True, "port": 0})
    async with Node(cfg) as node, httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}") as c:
        gw = node.gateway
        victim = await UdpTerminal().connect(gw.udp_port)
        old = await victim.register()
        captured = victim.frame(TerminalAuth(code=old))
        await victim.send_raw(captured)
        assert (await victim.recv()).body.result == 0
        assert (await c.post(f"/api/v1/terminals/{PHONE}/reset")).status_code == 200
        new = await victim.register()  # the device registers again (from its own address) …
        assert (await victim.authenticate(new)).body.result == 0
        replay = await UdpTerminal().connect(gw.udp_port, SRC)
        await replay.send_raw(captured)  # … and the old 0x0102, replayed, is refused
        assert (await replay.recv()).body.result == 1
        wrong = victim.frame(TerminalAuth(code="wrong"))
        await replay.send_raw(wrong)
        assert (await replay.recv()).body.result == 1
        assert gw.connection(PHONE).addr == victim.transport.get_extra_info("sockname")
        assert (await victim.heartbeat()).body.result == 0
        await replay.close()
        await victim.close()


async def test_builtin_registry_never_accepts_an_empty_code() -> None:
    """The policy's own guard (the gateway refuses empty codes before asking, this is the second line)."""
    from jt808.gateway.hooks import BuiltinRegistry
    from jt808.storage.memory import MemoryStorage

    storage = MemoryStorage()
    await storage.open()
    await storage.save_terminal(TerminalRecord(PHONE))  # provisioned without a code
    await storage.save_terminal(TerminalRecord("013800000001", auth_code="c0de"))
    reg = BuiltinRegistry(storage)
    assert not await reg.authenticate(PHONE, "", 2013)
    assert not await reg.authenticate("013800000001", "", 2013)
    assert not await reg.authenticate("013700000000", "", 2013)
    assert await reg.authenticate("013800000001", "c0de", 2013)
    await storage.close()


async def test_cli_terminal_reset_against_postgresql(tmp_path: Path) -> None:
    import uuid

    import asyncpg

    pg = os.environ.get("JT808_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
    schema = "sec_" + uuid.uuid4().hex[:8]
    url = f"{pg}?schema={schema}"
    cfg = make_config(tmp_path, storage={"db": url})
    try:
        async with Gateway(cfg) as gw:
            t = await Terminal().connect(gw.tcp_port)
            code = await t.register()
            await t.close()
        r = await asyncio.to_thread(_cli, "terminal", "reset", PHONE, "--db", url)
        assert r.returncode == 0 and "released" in r.stdout, r.stderr
        async with Gateway(cfg) as gw:
            rec = await gw.storage.get_terminal(PHONE)
            assert rec is not None and rec.auth_code == "" and rec.license_number == "京A12345"
            t = await Terminal().connect(gw.tcp_port)
            assert (await t.authenticate(code)).body.result == 1
            assert await t.register() != code
            await t.close()
    finally:
        con = await asyncpg.connect(pg)
        await con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await con.close()


@pytest.mark.timeout(120)
async def test_the_attacks_against_jt808_serve(tmp_path: Path) -> None:
    """The attacks of the report, end to end against the `jt808 serve` command: hijack by re-registration,
    UDP spoofing (report, command, logout), registrations beyond the limit, slowloris."""
    from .helpers import UdpTerminal

    srv = Serve(tmp_path, udp=True, JT808_LIMITS_FRAME_TIMEOUT="1", JT808_LIMITS_ATTEMPTS_PER_CONNECTION="4",
                JT808_STORAGE_BATCH_MAX_DELAY="0.005")
    api = f"http://127.0.0.1:{srv.http}/api/v1/terminals"
    try:
        async with httpx.AsyncClient(timeout=10) as c:
            await srv.up(c)
            # 1. hijack by re-registration (TCP)
            victim = await Terminal().connect(srv.tcp)
            code = await victim.register()
            assert (await victim.authenticate(code)).body.result == 0
            thief = await Terminal().connect(srv.tcp, SRC)
            reply = await thief.request(registration(plate="粤B66666"))
            assert (reply.body.result, reply.body.auth_code) == (3, "")
            await thief.send(TerminalLogout())
            await thief.expect_nothing()
            assert (await victim.heartbeat()).body.result == 0
            stored = (await c.get(f"{api}/{PHONE}")).json()
            assert stored["license_number"] == "京A12345" and stored["online"] is True
            await thief.close()
            # 2. UDP: the victim authenticates over UDP; a spoofer's report, logout and command go nowhere
            u_phone = "013500000077"
            u = await UdpTerminal(u_phone).connect(srv.tcp)
            u_code = await u.register()
            assert (await u.authenticate(u_code)).body.result == 0
            spoof = await UdpTerminal(u_phone).connect(srv.tcp, SRC)
            spoof.sn = 900
            await spoof.send(location(5))
            await spoof.send(TerminalLogout())
            await spoof.expect_nothing()
            metrics = f"http://127.0.0.1:{srv.http}/metrics"
            sent = 'jt808_commands_total{status="sent"}'

            async def commands_sent() -> float:
                for line in (await c.get(metrics)).text.splitlines():
                    if line.startswith(sent):
                        return float(line.split()[-1])
                return 0.0

            before = await commands_sent()
            cmd = asyncio.create_task(c.post(f"{api}/{u_phone}/commands", params={"timeout": "3"},
                                             json={"header": {"msg_id": 0x8201}, "body": {}}))
            while await commands_sent() == before:  # the command is held for the terminal's next datagram
                await asyncio.sleep(0.02)  # (a poll of the gateway process: no event crosses to the test)
            await spoof.send(HeartBeat())
            await spoof.expect_nothing(0.5)  # the held command is not released to the spoofer's address
            await u.send(HeartBeat())
            got = [await u.recv(), await u.recv()]
            query = next(p for p in got if p.header.msg_id == 0x8201)
            from jt808.protocol.messages.tracking import LocationQueryReply

            await u.send(LocationQueryReply(seq=query.header.msg_sn, location=location(6)))
            r = await cmd
            assert r.status_code == 200 and r.json()["reply"]["header"]["msg_id"] == 0x0201, r.text

            async def stored() -> list[int]:
                return [x["msg_id"] for x in (await c.get(f"{api}/{u_phone}/locations")).json()["locations"]]

            await wait_for(stored)
            assert await stored() == [0x0201]  # the victim's answer; the spoofer's 0x0200 was not stored
            assert (await c.get(f"{api}/{u_phone}")).json()["online"] is True
            # 3. registrations beyond the limit: refused, the connection closed
            reg = await Terminal().connect(srv.tcp, SRC)
            for i in range(4):
                reg.phone = f"0134{i:08d}"
                assert (await reg.request(registration())).body.result == 0
            reg.phone = "013499999999"
            await reg.send(registration())
            assert await closed_by_server(reg)
            assert (await c.get(f"{api}/013499999999")).status_code == 404
            # 4. slowloris: one byte at a time is cut
            slow = await Terminal("013400000000").connect(srv.tcp, SRC)
            frame = slow.frame(HeartBeat())
            for b in frame[:-1]:
                try:
                    await slow.send_raw(bytes([b]))
                except ConnectionError:
                    break
                await asyncio.sleep(0.3)
            assert await closed_by_server(slow, 3)
            text = (await c.get(f"http://127.0.0.1:{srv.http}/metrics")).text
            assert "jt808_stalled_frames_closed_total 1" in text
            await victim.close()
            await u.close()
            await spoof.close()
    finally:
        await srv.stop()
