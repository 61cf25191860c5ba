"""Terminal parameters, control, attributes and upgrade: 0x8103, 0x0104, 0x8106, 0x8105, 0x0107, 0x8108, 0x0108."""

from __future__ import annotations
