"""The API describes itself: a valid OpenAPI document (checked by openapi-spec-validator) with a schema
for every body and answer, the command body generated from the message definitions, a bearer security
scheme, and /docs served with every asset from the gateway (Chromium with the network cut off
from everything but the gateway)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate

from jt808.gateway.commands import is_platform_id
from jt808.node import Node
from jt808.protocol.registry import DEFAULT_MESSAGES

from .helpers import PHONE, Terminal, make_config


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    cfg = make_config(tmp_path, http={"enabled": True, "host": "127.0.0.1", "port": 0, "token": "tok"})
    async with Node(cfg) as n:
        yield n


@pytest.fixture
async def spec(node: Node) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}") as c:
        r = await c.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()
            if method in ("get", "post", "put", "patch", "delete")]


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_every_post_has_a_request_body_with_a_schema(spec: dict[str, Any]) -> None:
    posts = [(p, op) for p, m, op in _operations(spec) if m == "post"]
    assert len(posts) >= 2
    for path, op in posts:
        body = op.get("requestBody")
        assert body is not None, path
        assert "schema" in body["content"]["application/json"], path


def test_every_answer_has_a_schema_and_errors_are_the_error_object(spec: dict[str, Any]) -> None:
    for path, method, op in _operations(spec):
        for status, resp in op["responses"].items():
            content = resp.get("content", {})
            assert content, (path, method, status)
            schema = next(iter(content.values())).get("schema")
            assert schema, (path, method, status)
            if status.startswith(("4", "5")) and path != "/healthz":
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, method, status)
    error = spec["components"]["schemas"]["ErrorBody"]
    assert set(error["properties"]) == {"error", "message", "detail"}


def test_bearer_security_scheme_on_api_routes(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    (name, scheme), = schemes.items()
    assert scheme["type"] == "http" and scheme["scheme"].lower() == "bearer"
    for path, _, op in _operations(spec):
        if path.startswith("/api/"):
            assert op.get("security") == [{name: []}], path
            assert "authorization" not in {p["name"].lower() for p in op.get("parameters", [])}, path


def test_descriptions_are_markdown(spec: dict[str, Any]) -> None:
    text = spec["info"]["description"]
    assert "```json" in text and "| `terminal_offline` | 404 |" in text
    for _, _, op in _operations(spec):
        text += op.get("description", "") + "".join(r["description"] for r in op["responses"].values())
    text = text.replace("```", "")
    assert ":class:" not in text and ":meth:" not in text and "``" not in text  # no reStructuredText left


def test_command_body_is_a_union_of_every_platform_message(spec: dict[str, Any]) -> None:
    op = spec["paths"]["/api/v1/terminals/{phone}/commands"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    ids = {v["properties"]["header"]["properties"]["msg_id"]["const"] for v in schema["oneOf"]}
    assert ids == {m for m in DEFAULT_MESSAGES.ids() if is_platform_id(m)}
    text = next(v for v in schema["oneOf"] if v["properties"]["header"]["properties"]["msg_id"]["const"] == 0x8300)
    assert text["properties"]["body"]["properties"]["text"]["type"] == "string"
    flag = text["properties"]["body"]["properties"]["flag"]
    assert (flag["type"], flag["minimum"], flag["maximum"]) == ("integer", 0, 255)
    validator = jsonschema.Draft202012Validator(schema)
    examples = [v["example"] for v in schema["oneOf"]]
    examples += [e["value"] for e in op["requestBody"]["content"]["application/json"]["examples"].values()]
    for ex in examples:
        errors = list(validator.iter_errors(ex))
        assert not errors, (ex, errors[:1])
    bad = {"header": {"msg_id": 0x8300}, "body": {"flag": 300, "text": "x"}}
    assert list(validator.iter_errors(bad))
    assert list(validator.iter_errors({"header": {"msg_id": 0x0200}, "body": {}}))  # an uplink id is no command


async def test_every_example_is_a_command_the_gateway_accepts(node: Node, spec: dict[str, Any]) -> None:
    op = spec["paths"]["/api/v1/terminals/{phone}/commands"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    for v in schema["oneOf"]:
        node.gateway.commands.validate(v["example"])  # raises DecodeError when an example would not encode


# -- /docs in a browser without internet ---------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


async def test_docs_page_loads_with_every_asset_from_the_gateway(node: Node) -> None:
    if CHROMIUM is None:
        pytest.fail("the chromium binary is missing (Debian package chromium; .ci/run installs it)")
    page, ready = "/docs", ".swagger-ui .info .title"
    from playwright.async_api import async_playwright

    t = await Terminal(PHONE).connect(node.tcp_port)
    await t.login()
    origin = f"http://127.0.0.1:{node.http_port}"
    outside: list[str] = []
    served: list[tuple[str, int]] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            ctx = await browser.new_context()

            async def only_the_gateway(route: Any) -> None:
                if route.request.url.startswith(origin):
                    await route.continue_()
                else:
                    outside.append(route.request.url)
                    await route.abort()

            await ctx.route("**/*", only_the_gateway)
            p = await ctx.new_page()
            p.on("response", lambda r: served.append((r.url, r.status)))
            await p.goto(origin + page)
            await p.wait_for_selector(ready, timeout=30_000)
            assert "jt808 gateway" in (await p.content())
            # the commands operation with its request body schema is shown
            await p.click('.opblock-post [data-path="/api/v1/terminals/{phone}/commands"]')
            await p.wait_for_selector(".opblock-post.is-open .opblock-section-request-body", timeout=10_000)
            assert "0x8300" in await p.inner_text(".opblock-post.is-open")  # the examples of the union
        finally:
            await browser.close()
    await t.close()
    assert outside == []
    assert any("/docs/assets/" in u for u, _ in served)
    assert all(status < 400 for _, status in served), served
