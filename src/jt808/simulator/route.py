"""Synthetic routes: a vehicle that drives a random walk at a plausible speed.

Cheap on purpose (one call per report for thousands of terminals): the heading drifts by a few degrees
each step, the speed between ``min_speed`` and ``max_speed`` km/h, and positions advance on a local
flat-earth approximation (good to metres over the distances of a test run).
"""

from __future__ import annotations

import math
import random

__all__ = ["Route"]

_M_PER_DEG_LAT = 111_320.0


class Route:
    """A vehicle's position along a random-walk route (degrees, km/h, heading 0-359 from north)."""

    __slots__ = ("altitude", "heading", "lat", "lng", "max_speed", "min_speed", "rng", "speed")

    def __init__(self, lat: float, lng: float, *, seed: int | None = None, min_speed: float = 20.0,
                 max_speed: float = 90.0) -> None:
        self.rng = random.Random(seed)
        self.lat = lat
        self.lng = lng
        self.heading = self.rng.uniform(0, 360)
        self.min_speed = min_speed
        self.max_speed = max_speed
        self.speed = self.rng.uniform(min_speed, max_speed)
        self.altitude = self.rng.randint(10, 200)

    @classmethod
    def around(cls, lat: float, lng: float, radius_km: float, seed: int) -> Route:
        """A route starting at a random point within ``radius_km`` of ``(lat, lng)``."""
        rng = random.Random(seed)
        d = radius_km * 1000 * math.sqrt(rng.random())
        a = rng.uniform(0, 2 * math.pi)
        dlat = d * math.cos(a) / _M_PER_DEG_LAT
        dlng = d * math.sin(a) / (_M_PER_DEG_LAT * max(math.cos(math.radians(lat)), 0.01))
        return cls(lat + dlat, lng + dlng, seed=seed)

    def advance(self, seconds: float) -> None:
        """Drive for ``seconds``."""
        rng = self.rng
        self.heading = (self.heading + rng.uniform(-15, 15)) % 360
        self.speed = min(self.max_speed, max(self.min_speed, self.speed + rng.uniform(-5, 5)))
        d = self.speed / 3.6 * seconds
        h = math.radians(self.heading)
        self.lat += d * math.cos(h) / _M_PER_DEG_LAT
        self.lng += d * math.sin(h) / (_M_PER_DEG_LAT * max(math.cos(math.radians(self.lat)), 0.01))
        self.lat = max(-89.9, min(89.9, self.lat))
        self.lng = (self.lng + 180) % 360 - 180
