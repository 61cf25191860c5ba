"""The one fast path of location reports: remembered additional-item layouts.

Terminals repeat the same additional-information items, in the same order and with the same lengths,
in every 0x0200. When the general item loop (``location._read_items``) reads a clean report whose
items are all plain unsigned integers of their row's size (or ids without a row, kept as bytes), it
remembers that layout here. The next report with the same id and length bytes at the same positions
is read with one ``Struct.unpack`` (for a whole 0x0200 body: basic block and item values together).

A layout also knows whether its ``extra`` JSON is a flat map of integers under distinct keys; then the
storage row's map is ``dict(zip(keys, values))`` and its JSON text one ``%`` format
(:attr:`Layout.json_format`), without rendering the report. ``tests/protocol/test_fast_path.py`` pins
all of this to the general path (decode result, JSON, storage row) for random layouts, versions and
profiles.

Layouts are kept per item table (one per profile and version, :class:`~jt808.protocol.messages.location.
ItemTable`), bounded; :func:`clear_all` empties every one (tests reset module caches with it).
"""

from __future__ import annotations

import json
import operator
import struct
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jt808.protocol.registry import ExtraCodec

__all__ = ["MAX_LAYOUTS", "Layout", "Layouts", "clear_all", "plan_layout"]

#: layouts remembered per item table before it starts over
MAX_LAYOUTS = 256
_UINT_FMT = {1: "B", 2: "H", 4: "I", 8: "Q"}


@dataclass(frozen=True, slots=True, eq=False)
class Layout:
    """One remembered item layout, starting at ``start`` and ending at the body's end.

    ``marks`` reads the id and length bytes of every item (an ``itemgetter`` of their positions);
    a body has this layout when ``marks(data) == expected``. ``items`` unpacks the item values from
    ``start``; ``body`` (for a layout right after the 28-byte basic block) unpacks the basic block and
    the item values in one go. ``keys`` / ``json_format``: the JSON keys of the items and the ``%``
    format of the ``extra`` map's JSON text, when that map is a flat map of integers (else ``None``).
    """

    ids: tuple[int, ...]
    marks: Callable[[bytes], Any]
    expected: Any
    items: struct.Struct
    body: struct.Struct | None
    keys: tuple[str, ...] | None
    json_format: str | None

    def __deepcopy__(self, memo: dict[int, Any]) -> Layout:
        return self  # immutable and shared by every report read with it

    def __reduce__(self) -> tuple[Callable[[], None], tuple[()]]:
        return _forgotten, ()  # a pickled report forgets its layout (a cache: the general path renders it)


def _forgotten() -> None:
    return None


@dataclass(slots=True, weakref_slot=True, eq=False)
class Layouts:
    """The layouts of one item table: by the item span ``(start, end)`` and, for whole bodies, by length."""

    spans: dict[tuple[int, int], Layout] = field(default_factory=dict)
    bodies: dict[int, Layout] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _ALL.add(self)

    def clear(self) -> None:
        self.spans.clear()
        self.bodies.clear()

    def add(self, start: int, end: int, layout: Layout) -> None:
        if len(self.spans) >= MAX_LAYOUTS:
            self.clear()  # many layouts in flight: start over rather than freeze the first ones
        self.spans[(start, end)] = layout
        if layout.body is not None:
            self.bodies[end] = layout


_ALL: weakref.WeakSet[Layouts] = weakref.WeakSet()


def clear_all() -> None:
    """Forget every remembered layout (of every profile and version)."""
    for layouts in list(_ALL):
        layouts.clear()


def plan_layout(rows: dict[int, ExtraCodec], data: bytes, start: int, end: int, extras: Sequence[tuple[int, Any]],
                basic_fmt: str | None) -> Layout | None:
    """The layout of the clean items ``extras`` read from ``data[start:end]``, or ``None`` when some item
    is not a plain unsigned integer of its row's size (nor an id without a row, kept as bytes).
    ``basic_fmt``: the basic block's Struct format when the items start right after it."""
    positions: list[int] = []
    fmt = ""
    plain = True  # every value an integer under a key of its own, rendered as is
    p = start
    for eid, v in extras:
        n = data[p + 1]
        c = rows.get(eid)
        if c is not None:
            if c.uint != n or n not in _UINT_FMT:
                return None
            fmt += "2x" + _UINT_FMT[n]
            plain = plain and c.to_json is None
        elif isinstance(v, bytes):
            fmt += f"2x{n}s"
            plain = False
        else:
            return None
        positions += (p, p + 1)
        p += 2 + n
    if p != end or not positions:
        return None
    ids = tuple(e for e, _ in extras)
    keys: tuple[str, ...] | None = tuple(rows[e].key for e in ids) if plain else None
    json_format = None
    if keys is not None and len(set(ids)) == len(ids) and len(set(keys)) == len(keys):
        # the text the storage encoder (compact separators, ensure_ascii off) gives for {key: int, …}
        json_format = "{" + ",".join(json.dumps(k, ensure_ascii=False).replace("%", "%%") + ":%d"
                                     for k in keys) + "}"
    else:
        keys = None
    marks = operator.itemgetter(*positions)
    return Layout(ids, marks, marks(data), struct.Struct(">" + fmt),
                  struct.Struct(basic_fmt + fmt) if basic_fmt is not None else None, keys, json_format)
