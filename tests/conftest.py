"""Shared test helpers, the Hypothesis profiles and the reset of module caches between tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import hypothesis_profiles  # noqa: F401 - registers the "dev" and "ci" Hypothesis profiles

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"


def reset_module_caches() -> None:
    """Forget everything the code remembers between calls, so that no test's verdict depends on the tests
    that ran before it: the per-profile item tables of every profile, plus the pure lookup caches (times,
    parameter ranges, bit-name tables)."""
    from jt808.gateway import sink
    from jt808.protocol import bits, registry
    from jt808.protocol.messages import params

    stack = [registry.DEFAULT_PROFILE]
    while stack:  # the default profile and every profile derived from it
        p = stack.pop()
        p.extra_tables.clear()
        stack.extend(p._children)
    sink._TIMES.clear()
    params._range_def.cache_clear()
    bits._alarm_lookup.cache_clear()
    bits._status_lookup.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_module_caches() -> Iterator[None]:
    reset_module_caches()
    yield
