"""Message bodies of the standard and of the extensions (JT/T 1078, SuBiao, YueBiao), by family.

What lives here: one declaration per body (a ``@message`` dataclass of ``wire`` fields, or a hand-written
codec for the few irregular layouts), its JSON form, its reply rule, and the tables of TLV rows a body
reads (0x0200 items in :mod:`~jt808.protocol.messages.location`, terminal parameters in
:mod:`~jt808.protocol.messages.params`; extension families add rows in their own modules). What never
does: framing, headers, sessions or I/O. Importing this package registers them all; the list below is
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
    safety_items,
    subiao,
    text,
    tracking,
    transport,
    yuebiao,
)

__all__ = [
    "area", "general", "jt1078", "location", "media", "params", "records", "register", "safety_items", "subiao",
    "text", "tracking", "transport", "yuebiao",
]
