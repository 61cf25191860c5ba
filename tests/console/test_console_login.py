"""With ``http.token`` set the console asks for it, keeps it in an HttpOnly cookie the API accepts (the
event stream and images cannot send a header), and the API still refuses requests without it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_harness import Browser, ConsoleEnv


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleEnv]:
    e = ConsoleEnv(Path(tmp_path_factory.mktemp("locked")), token="s3cret-tok3n").start()
    try:
        yield e
    finally:
        e.stop()


def test_login_form_cookie_and_sign_out(playwright_sync: Any, locked: ConsoleEnv) -> None:
    b = Browser(playwright_sync, locked.url)
    try:
        page = b.page
        page.goto(locked.url)
        page.wait_for_selector("#login-form")
        assert b.context.request.get(f"{locked.url}api/v1/terminals").status == 401
        page.fill("#login-token", "wrong")
        page.click("#login-form button")
        page.wait_for_selector("#login-form .error-box")
        page.fill("#login-token", "s3cret-tok3n")
        page.click("#login-form button")
        page.wait_for_selector("#live-state.on, .live-dot.on", timeout=10_000)  # the event stream is open
        cookie = next(c for c in b.context.cookies() if c["name"] == "jt808_token")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert b.context.request.get(f"{locked.url}api/v1/terminals").status == 200
        page.click("text=Sign out")
        page.wait_for_selector("#login-form")
        assert b.context.request.get(f"{locked.url}api/v1/terminals").status == 401
        # the 401s of the login check and the wrong token are the only errors the console logged
        assert all("401" in e for e in b.errors), b.errors
        assert b.foreign_requests() == []
    finally:
        b.close()
