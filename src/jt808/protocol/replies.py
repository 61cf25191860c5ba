"""Which message answers which: read from the declarations on the message classes (``@message(…,
answered_by=…, quotes=…, unanswered=…)``), never kept in a table of its own.

- :func:`answers` — the ids that answer a message (the general reply 0x0001 / 0x8001 when the class
  declares none; ``()`` for the replies themselves);
- :func:`quoted_serial` — the serial of the request a reply quotes (``None`` when it quotes none);
- :func:`reply_ids` — every reply id with how it quotes (``"seq"`` field, or ``""`` for none);
- :func:`general_answered` — the downlinks a terminal answers with a 0x0001 first of all.

Used by the platform session (which uplinks get a 0x8001), the gateway's downlink matcher, the
terminal SDK (which downlinks it answers with 0x0001 by itself) and the simulator (which reply a real
terminal sends to each downlink).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jt808.protocol.registry import DEFAULT_PROFILE, Profile

if TYPE_CHECKING:
    from jt808.protocol.spec import Body

__all__ = ["answers", "general_answered", "general_reply_id", "message_class", "quoted_serial", "reply_ids"]


def general_reply_id(msg_id: int) -> int:
    """0x8001 answers a terminal's message, 0x0001 a platform's."""
    return 0x8001 if msg_id < 0x8000 else 0x0001


def message_class(msg_id: int, profile: Profile = DEFAULT_PROFILE) -> type[Body] | None:
    """The class of ``msg_id`` in any version (the reply rules do not change between versions)."""
    table = profile.messages.table
    for key in ((msg_id, v) for v in sorted({v for (_, v) in table})):
        cls = table.get(key)
        if cls is not None:
            return cls
    return None


def answers(msg_id: int, profile: Profile = DEFAULT_PROFILE) -> tuple[int, ...]:
    """The ids that answer ``msg_id``, the expected one first: its declaration's ``answered_by``, or the
    general reply; ``()`` when nothing answers it (the replies themselves). Unknown ids get the general
    reply (a terminal answers an unknown platform message with 0x0001 "unsupported")."""
    cls = message_class(msg_id, profile)
    if cls is None:
        return (general_reply_id(msg_id),)
    if cls.unanswered:
        return ()
    return cls.answered_by or (general_reply_id(msg_id),)


def reply_ids(profile: Profile = DEFAULT_PROFILE) -> dict[int, str]:
    """Every reply id and how it quotes the request: the field name (``"seq"``) or ``""`` (none)."""
    out: dict[int, str] = {}
    for (mid, _), cls in profile.messages.table.items():
        if cls.quotes is not None:
            out[mid] = cls.quotes
    return out


def quoted_serial(body: Any) -> int | None:
    """The serial of the request a reply body quotes, or ``None`` (it quotes none, or is no reply)."""
    field = getattr(type(body), "quotes", None)
    return getattr(body, field, None) if field else None


def general_answered(profile: Profile = DEFAULT_PROFILE) -> tuple[int, ...]:
    """The platform messages whose expected answer is the terminal's 0x0001 general reply."""
    ids = sorted({mid for (mid, _) in profile.messages.table if mid >= 0x8000})
    return tuple(mid for mid in ids if answers(mid, profile)[:1] == (0x0001,))
