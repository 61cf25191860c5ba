"""Backends under test: memory, SQLite (a temporary file) and the real PostgreSQL on 127.0.0.1:5432.

Each PostgreSQL test gets its own schema (dropped afterwards). A missing server fails the tests,
it does not skip them.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from jt808.storage import Storage, create_storage
from jt808.storage.postgres import PostgresStorage

PG_URL = os.environ.get("JT808_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
_RUN = uuid.uuid4().hex[:8]
_counter = itertools.count()


def pg_schema() -> str:
    return f"jt808_test_{_RUN}_{next(_counter)}"


async def drop_schema(schema: str) -> None:
    con = await asyncpg.connect(PG_URL)
    try:
        await con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await con.close()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    schema = None
    if request.param == "memory":
        st: Storage = create_storage("memory", tmp_path)
    elif request.param == "sqlite":
        st = create_storage(None, tmp_path)
    else:
        schema = pg_schema()
        st = PostgresStorage(PG_URL, schema=schema, pool_max=4)
    await st.open()
    try:
        yield st
    finally:
        await st.close()
        if schema is not None:
            await drop_schema(schema)
