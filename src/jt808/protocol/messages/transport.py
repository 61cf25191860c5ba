"""Pass-through, compressed data and RSA keys: 0x8900, 0x0900, 0x0901, 0x8A00, 0x0A00."""

from __future__ import annotations
