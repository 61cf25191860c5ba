"""Virtual terminals for load tests and demos (``jt808 simulate``): :class:`Fleet` runs many lean
terminals that register, authenticate, heartbeat and report locations along synthetic routes.

What lives here: the fleet, its routes and statistics. What never does: a second codec — frames are
built with the protocol core's encoder and basic-block layout.
"""

from __future__ import annotations

from jt808.simulator.fleet import Fleet, FleetConfig, Stats, VirtualTerminal, percentile
from jt808.simulator.route import Route

__all__ = ["Fleet", "FleetConfig", "Route", "Stats", "VirtualTerminal", "percentile"]
