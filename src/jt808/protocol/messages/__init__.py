"""Message bodies of the standard and of the extensions (JT/T 1078, SuBiao, YueBiao), by family.

Importing this package registers them all.

Each family module declares its bodies with :func:`jt808.protocol.spec.message`; the list below is
explicit so that registration never depends on which module someone happened to import first.
"""

from __future__ import annotations

from jt808.protocol.messages import (
    area,
    general,
    jt1078,
    location,
    media,
    params,
    records,
    register,
    subiao,
    text,
    tracking,
    transport,
    yuebiao,
)

__all__ = [
    "area", "general", "jt1078", "location", "media", "params", "records", "register", "subiao", "text", "tracking",
    "transport", "yuebiao",
]
