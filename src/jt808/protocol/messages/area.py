"""Areas and routes: 0x8600-0x8608, 0x0608."""

from __future__ import annotations
