"""Location query, tracking, alarm confirmation, batch upload, vehicle control (0x0201 … 0x0500)."""

from __future__ import annotations
