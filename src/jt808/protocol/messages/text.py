"""Text, events, questions, information on demand, phone: 0x8300-0x8304, 0x0301-0x0303, 0x8400, 0x8401."""

from __future__ import annotations
