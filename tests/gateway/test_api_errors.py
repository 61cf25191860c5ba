"""One error object everywhere in the HTTP API, 4xx for every bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from jt808.node import Node

from .helpers import PHONE, Terminal, location, make_config


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    cfg = make_config(tmp_path, http={"enabled": True, "host": "127.0.0.1", "port": 0},
                      downlink={"retry_interval": 0.3, "max_retry_times": 1})
    async with Node(cfg) as n:
        yield n


@pytest.fixture
async def client(node: Node) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}", timeout=10) as c:
        yield c


def assert_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message", "detail"}, body
    assert body["error"] == code and isinstance(body["message"], str) and body["message"]


LOC = f"/api/v1/terminals/{PHONE}/locations"


@pytest.mark.parametrize(("query", "code"), [
    ("start=inf", "bad_time"), ("start=-inf", "bad_time"), ("start=nan", "bad_time"),
    ("start=99999999999999999999", "bad_time"), ("end=1e300", "bad_time"), ("start=soon", "bad_time"),
    ("start=2024-13-01", "bad_time"), ("start=2024-03-02&end=2024-03-01", "bad_time"),
    ("limit=0", "bad_request"), ("limit=99999999999999999999", "bad_request"), ("limit=abc", "bad_request"),
    ("limit=", "bad_request"), ("limit=1e3", "bad_request"),
])
async def test_bad_location_queries_are_400(client: httpx.AsyncClient, query: str, code: str) -> None:
    assert_error(await client.get(f"{LOC}?{query}"), 400, code)


@pytest.mark.parametrize("query", ["offset=99999999999999999999", "offset=-1", "limit=0", "limit=100001",
                                   "offset=2147483648", "limit=x"])
async def test_bad_terminal_list_queries_are_400(client: httpx.AsyncClient, query: str) -> None:
    assert_error(await client.get(f"/api/v1/terminals?{query}"), 400, "bad_request")


async def test_deeply_nested_or_broken_json_is_400(client: httpx.AsyncClient) -> None:
    url = f"/api/v1/terminals/{PHONE}/commands"
    deep = "[" * 100_000 + "]" * 100_000
    assert_error(await client.post(url, content=deep, headers={"content-type": "application/json"}), 400, "bad_json")
    nested = {"header": {"msg_id": 0x8300}, "body": {"text": "x", "flag": 0}}
    cur = nested["body"]
    for _ in range(40):
        cur["x"] = {}
        cur = cur["x"]
    assert_error(await client.post(url, json=nested), 400, "bad_json")
    assert_error(await client.post(url, content=b"{nope", headers={"content-type": "application/json"}), 400,
                 "bad_json")
    assert_error(await client.post(f"{url}?timeout=abc", json={"header": {"msg_id": 0x8201}}), 400, "bad_request")


async def test_commands_are_validated_before_the_online_check(client: httpx.AsyncClient) -> None:
    url = "/api/v1/terminals/013900000077/commands"  # nobody
    r = await client.post(url, json={"header": {"msg_id": 0x8300}, "body": {"flag": "x", "text": "hi"}})
    assert_error(r, 400, "bad_command")
    assert r.json()["detail"]["field"] == "flag"
    for bad in ([], "x", 3, {"body": {}}, {"header": []}, {"header": {"msg_id": "a"}}):
        assert_error(await client.post(url, json=bad), 400, "bad_command")
    assert_error(await client.post(url, json={"header": {"msg_id": 0x8201}}), 404, "terminal_offline")


async def test_only_platform_ids_are_commands(node: Node, client: httpx.AsyncClient) -> None:
    t = await Terminal(PHONE).connect(node.tcp_port)
    await t.login()
    for mid in (0x0002, 0x0200, 0x0001, 0x7FFF):
        r = await client.post(f"/api/v1/terminals/{PHONE}/commands", json={"header": {"msg_id": mid}, "body": {}})
        assert_error(r, 400, "bad_command")
        assert "uplink" in r.json()["message"]
    await t.close()


async def test_framework_errors_use_the_error_object(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(await client.delete("/api/v1/terminals"), 405, "method_not_allowed")
    assert_error(await client.get("/api/v1/terminals/013000000000"), 404, "unknown_terminal")


async def test_totals_in_list_answers(node: Node, client: httpx.AsyncClient) -> None:
    t = await Terminal(PHONE).connect(node.tcp_port)
    await t.login()
    for i in range(5):
        await t.request(location(i))
    r = (await client.get(f"{LOC}?limit=2")).json()
    assert (r["count"], r["total"]) == (2, 5)
    r = (await client.get("/api/v1/terminals?limit=1&offset=0")).json()
    assert (r["count"], r["total"], r["limit"], r["offset"]) == (1, 1, 1, 0)
    r = (await client.get("/api/v1/terminals?offset=5")).json()
    assert (r["count"], r["total"]) == (0, 1)
    await t.close()


def test_docs_list_every_error_code_and_exit_status() -> None:
    from jt808.http.errors import ERRORS

    text = (Path(__file__).parents[2] / "docs" / "gateway.md").read_text()
    for code, (status, _) in ERRORS.items():
        assert f"| {status} | `{code}` |" in text, code
    for cmd in ("`jt808 serve`", "`jt808 decode`", "`jt808 encode`", "`jt808 simulate`"):
        assert f"| {cmd} |" in text, cmd
