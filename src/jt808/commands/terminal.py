"""``jt808 terminal`` — operator actions on one terminal.

``jt808 terminal reset PHONE`` releases the terminal's auth code, so that its next 0x0100 gets a new
one (the way a device that lost its code, or a phone someone else registered, is recovered; see
docs/security.md). Against a running gateway (``--api http://127.0.0.1:8808``, with ``--token`` or
``JT808_HTTP_TOKEN``) it also disconnects the terminal on whichever worker holds it; against the storage
directly (``--db`` / ``--data-dir`` / ``--config``, as ``jt808 serve`` takes them) it only changes the
stored record, and a terminal connected at that moment keeps its session until it reconnects.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import click

from jt808.config import Config, ConfigError
from jt808.protocol.header import canonical_phone

__all__ = ["group"]


@click.group(name="terminal", context_settings={"help_option_names": ["-h", "--help"]})
def group() -> None:
    """Operator actions on one terminal (reset its registration)."""


async def _reset_in_storage(cfg: Config, phone: str) -> bool:
    from jt808.gateway.hooks import BuiltinRegistry
    from jt808.storage import create_storage

    db = cfg.storage.db.strip()
    if db.lower() in ("none", "memory"):
        raise click.ClickException(f"storage {db!r} keeps no terminals between runs: use --api")
    storage = create_storage(db or None, Path(cfg.data_dir))
    await storage.open()
    try:
        return await BuiltinRegistry(storage).release(phone)
    finally:
        await storage.close()


def _reset_via_api(api: str, token: str, phone: str) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{api.rstrip('/')}/api/v1/terminals/{phone}/reset"
    try:
        r = httpx.post(url, headers=headers, timeout=10)
    except httpx.HTTPError as e:
        raise click.ClickException(f"{url}: {e}") from None
    try:
        body: dict[str, Any] = r.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if r.status_code == 404:
        raise click.ClickException(f"terminal {phone} is not registered")
    if r.status_code != 200:
        detail = body.get("message") or body.get("detail") or r.text
        raise click.ClickException(f"{url}: HTTP {r.status_code}: {detail}")
    return body


@group.command(name="reset")
@click.argument("phone")
@click.option("--api", help="URL of a running gateway's HTTP API (also disconnects the terminal).")
@click.option("--token", help="Bearer token of the HTTP API.  [default: $JT808_HTTP_TOKEN]")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="TOML configuration file (its storage is used without --api).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data directory (SQLite file).")
@click.option("--db", help="Storage URL: postgresql://…, sqlite:///file.db.  [default: SQLite in the data dir]")
def reset(phone: str, api: str | None, token: str | None, config_file: str | None, data_dir: str | None,
          db: str | None) -> None:
    """Release PHONE's auth code: its next registration (0x0100) gets a new code, the old one is refused."""
    try:  # as typed (13912345678, 013912345678, 00000000013912345678): the canonical form is stored
        phone = canonical_phone(phone)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="PHONE") from None
    if api:
        body = _reset_via_api(api, token if token is not None else os.environ.get("JT808_HTTP_TOKEN", ""), phone)
        state = "disconnected" if body.get("disconnected") else "was not connected"
        click.echo(f"{phone}: auth code released, terminal {state}")
        return
    try:
        cfg = Config.load(config_file, env=os.environ, **{"data.dir": data_dir, "storage.db": db})
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    if not asyncio.run(_reset_in_storage(cfg, phone)):
        raise click.ClickException(f"terminal {phone} is not registered")
    click.echo(f"{phone}: auth code released in the storage (a connected terminal keeps its session until it "
               "reconnects; --api also disconnects it)")
