"""Hypothesis profiles: "dev" (the default) draws fresh examples on every run; "ci"
(``pytest --hypothesis-profile=ci``, what .ci/run uses) is derandomized — the same examples on every run, so
a red CI is reproducible — and tries twice as many (the whole .ci/run stays well under 15 minutes).
Tests that set their own ``max_examples`` scale it
with :func:`examples`; strategies that take a size use :func:`wider`."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, max_examples=200, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("dev")


def ci() -> bool:
    return bool(settings.default.derandomize)


def examples(n: int) -> int:
    """``n`` examples in the dev profile, twice as many in the ci profile."""
    return n * 2 if ci() else n


def wider(n: int) -> int:
    """A strategy size bound (string length, item count): doubled in the ci profile."""
    return n * 2 if ci() else n
