"""What each message looks like in JSON, read from its ``@message`` declaration (for forms and tools).

:func:`message_schemas` walks the registered bodies of a profile and describes every declared field
of every version: its seed-004 JSON key, a JSON type (``integer`` with its range, ``string`` with its
byte length, digits for BCD, base64 for bytes, ``array`` of a kind or of a record's fields), the wire
kind, the field's doc, and whether the field exists only ``since``/``until`` a version or only when
earlier fields say so (``conditional``). Bodies whose JSON is written by hand (``custom``) carry an
``example`` (the JSON of a default body) instead of fields; so does every body, for a raw editor.

Nothing here is written per message: a new ``@message`` class appears in the console's command forms
by being declared.
"""

from __future__ import annotations

from typing import Any

from jt808.commands.explain import KEY_MEANINGS
from jt808.protocol.header import V2011, V2013, V2019, Version
from jt808.protocol.registry import DEFAULT_PROFILE, Profile
from jt808.protocol.spec import (
    Body,
    Kind,
    Record,
    _Bcd,
    _Bytes,
    _BytesLen,
    _BytesRest,
    _List,
    _Str,
    _StrLen,
    _StrRest,
    by_version,
)

__all__ = ["kind_schema", "message_schemas"]

_VERSIONS = (V2011, V2013, V2019)


def _title(cls: type) -> tuple[str, str]:
    """(Chinese title, English title) from the first docstring line ``中文 — english: …``."""
    first = (cls.__doc__ or "").strip().split("\n")[0].rstrip(".")
    zh, _, en = first.partition(" — ")
    if not en:
        return "", zh
    return zh.strip(), en.split(":")[0].split(". ")[0].strip()


def kind_schema(kind: Any, version: Version) -> dict[str, Any]:
    """A JSON-schema-like description of one wire kind (or record class) in ``version``."""
    if isinstance(kind, type) and issubclass(kind, Record):
        return {"type": "object", "record": kind.__name__, "fields": _fields(kind, version)}
    if not isinstance(kind, Kind):
        return {"type": "any", "wire": repr(kind)}
    wire = kind.name
    out: dict[str, Any] = {"wire": wire}
    lo, hi = getattr(kind, "lo", None), getattr(kind, "hi", None)
    if lo is not None and hi is not None:
        out.update(type="integer", minimum=lo, maximum=hi)
    elif isinstance(kind, _Bcd):
        out.update(type="string", format="digits", maxLength=2 * (kind.size or 0))
    elif isinstance(kind, _Str | _StrRest | _StrLen):
        out["type"] = "string"
        if isinstance(kind, _Str):
            out["maxBytes"] = kind.size
        elif isinstance(kind, _StrLen):
            out["maxBytes"] = getattr(kind.length, "hi", None)
    elif isinstance(kind, _Bytes | _BytesRest | _BytesLen):
        out.update(type="string", format="base64")
        if isinstance(kind, _Bytes):
            out["bytes"] = kind.size
    elif isinstance(kind, _List):
        item = kind.item
        out.update(type="array", items=kind_schema(item, version))
        count = kind.count
        if count is not None and getattr(count, "hi", None) is not None:
            out["maxItems"] = count.hi
        if kind.count_key:
            out["count_key"] = kind.count_key
    else:  # a hand-written kind (embedded location report …): its JSON is whatever it writes
        out.update(type="object", custom=True)
    return out


def _fields(cls: type, version: Version) -> list[dict[str, Any]]:
    out = []
    for s in getattr(cls, "__wire__", ()):
        if not s.active(version):
            continue
        k = s.kind.for_version(version) if isinstance(s.kind, by_version) else s.kind
        f = {"key": s.key, **kind_schema(k, version)}
        doc = s.doc or KEY_MEANINGS.get(s.key, "")
        if doc:
            f["doc"] = doc
        if s.when is not None:
            f["conditional"] = True
        out.append(f)
    return out


def _example(cls: type[Body], version: Version) -> Any:
    try:
        return cls().to_json(version)
    except Exception:  # a body without defaults for every field: no example
        return None


_HAND_WRITTEN = ("to_json", "from_json")


def _custom(cls: type) -> bool:
    """Whether the JSON of ``cls`` is written by hand (its fields do not describe it)."""
    for klass in cls.__mro__:
        if klass in (Body, Record, object):
            return False
        if any(name in klass.__dict__ for name in _HAND_WRITTEN):
            return True
    return False


def message_schemas(profile: Profile = DEFAULT_PROFILE, *, direction: str | None = None) -> list[dict[str, Any]]:
    """One entry per registered message id (``direction`` "down": platform messages 0x8xxx only, "up":
    terminal messages only): ``{"msg_id", "hex", "name", "title", "title_zh", "direction", "versions":
    {"2013": {"fields": [...], "custom": bool, "example": {...}}, ...}}``."""
    out = []
    for msg_id in sorted(profile.messages.ids()):
        down = msg_id >= 0x8000
        if direction is not None and direction != ("down" if down else "up"):
            continue
        versions: dict[str, Any] = {}
        name = title = title_zh = doc = ""
        for v in _VERSIONS:
            cls = profile.lookup(msg_id, v)
            if cls is None:
                continue
            if not name:
                name = cls.__name__
                title_zh, title = _title(cls)
                doc = (cls.__doc__ or "").strip()
            entry: dict[str, Any] = {"class": cls.__name__, "fields": _fields(cls, v), "custom": _custom(cls),
                                     "example": _example(cls, v)}
            versions[str(int(v))] = entry
        out.append({"msg_id": msg_id, "hex": f"0x{msg_id:04X}", "name": name, "title": title, "title_zh": title_zh,
                    "doc": doc, "direction": "down" if down else "up", "versions": versions})
    return out
