"""Virtual terminals for load tests and demos (``jt808 simulate``): :class:`Fleet` runs many lean
terminals that register, authenticate, heartbeat and report locations along synthetic routes."""

from __future__ import annotations

from jt808.simulator.fleet import Fleet, FleetConfig, Stats, VirtualTerminal, percentile
from jt808.simulator.route import Route

__all__ = ["Fleet", "FleetConfig", "Route", "Stats", "VirtualTerminal", "percentile"]
