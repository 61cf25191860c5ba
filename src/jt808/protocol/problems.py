"""What a tolerant decode repaired or flagged: :class:`Problem` (a ``str`` with a ``kind``).

``Packet.problems`` holds plain texts; those made by the frame decoder and the string / layout
readers are :class:`Problem` instances whose ``kind`` (one of :data:`PROBLEM_KINDS`) the gateway
counts in ``/metrics`` (``jt808_frame_repairs_total{kind=…}``).
"""

from __future__ import annotations

__all__ = ["PROBLEM_KINDS", "Problem", "problem_kind"]

#: Every kind of repair the decoders name (``Problem.kind``); anything else is ``"other"``.
PROBLEM_KINDS = (
    "length_mismatch",
    "length_overflow",
    "check_code_missing",
    "bad_check_code",
    "version_bit",
    "version_forced",
    "version_inferred",
    "string_padding",
    "layout",
    "encrypted",
    "other",
)


class Problem(str):
    """One repair or oddity of a decoded frame: the text, and its ``kind`` (one of :data:`PROBLEM_KINDS`)."""

    __slots__ = ("kind", "other_reading")
    kind: str
    #: For a ``length_mismatch`` that another reading explains: the byte(s) the frame decoder took for the
    #: check code, which that reading gives the body (a lost zero check code; see :mod:`jt808.protocol.frame`).
    other_reading: bytes

    def __new__(cls, kind: str, text: str, other_reading: bytes = b"") -> Problem:
        self = super().__new__(cls, text)
        self.kind = kind
        self.other_reading = other_reading
        return self


def problem_kind(problem: str) -> str:
    """The kind of a problem text (``"other"`` for texts that are not a :class:`Problem`)."""
    return getattr(problem, "kind", "other")
