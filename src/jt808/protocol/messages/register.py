"""Registration and authentication: 0x0100, 0x8100, 0x0102."""

from __future__ import annotations
