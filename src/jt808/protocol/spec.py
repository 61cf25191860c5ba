"""Declare a message body once, compile it per version.

A body is a slotted dataclass whose fields carry wire kinds::

    @message(0x0100)
    class TerminalRegister(Body):
        province: int = wire(WORD)
        manufacturer: str = wire(by_version(V2011=STR(5), V2013=STR(5), V2019=STR(11)))
        license_number: str = wire(STR_REST)

On first use in a version, the field list is compiled into a decoder (one precompiled
``struct.Struct`` per run of fixed-width fields, converters by index) and an encoder (the same
Struct, with strict per-field checks when a value does not fit). Irregular bodies override
``decode`` / ``encode`` (and ``to_json`` / ``from_json``) by hand.

Fields may be version-dependent (``by_version``), present only ``since``/``until`` a version, or
conditional on earlier fields (``when=lambda v: v["flag"] & 1``; ``v`` maps names to values).
"""

from __future__ import annotations

import abc
import base64
import dataclasses
import struct
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

from jt808.errors import BodyError, EncodeError, TruncatedError
from jt808.protocol.buffer import Reader, Writer
from jt808.protocol.header import V2011, V2013, V2019, Version

__all__ = [
    "ALL_VERSIONS",
    "BCD",
    "BYTE",
    "BYTES",
    "BYTES8",
    "BYTES16",
    "BYTES32",
    "BYTES_REST",
    "DWORD",
    "INT16",
    "INT32",
    "LIST",
    "QWORD",
    "RECORD",
    "STR",
    "STR8",
    "STR16",
    "STR_REST",
    "WORD",
    "Body",
    "Kind",
    "Record",
    "by_version",
    "message",
    "record",
    "wire",
]

ALL_VERSIONS: tuple[Version, ...] = (V2011, V2013, V2019)
T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Field kinds
# ---------------------------------------------------------------------------------------------
class Kind(abc.ABC):
    """A wire type. Fixed-width kinds have ``fmt`` (a struct code) so runs of them pack as one."""

    fmt: str | None = None
    size: int | None = None
    default: Any = 0
    name: str = "?"

    @abc.abstractmethod
    def read(self, r: Reader, field: str) -> Any:
        """Read one value at ``r.pos`` (fixed-width kinds are also read in Struct runs via ``fmt``)."""

    @abc.abstractmethod
    def write(self, w: Writer, v: Any, field: str) -> None:
        """Append one value (strict)."""

    # fixed kinds: value after Struct.unpack, value before Struct.pack
    post: Callable[[Any, Reader], Any] | None = None

    def pre(self, v: Any, w: Writer, field: str) -> Any:
        return v

    def to_json(self, v: Any, version: Version | None = None) -> Any:
        return v

    def from_json(self, v: Any, field: str, version: Version | None = None) -> Any:
        return v

    def make_default(self) -> Any:
        return self.default

    def __repr__(self) -> str:
        return self.name


class _Int(Kind):
    size: int

    def __init__(self, fmt: str, size: int, lo: int, hi: int, name: str) -> None:
        self.fmt, self.size, self.lo, self.hi, self.name = fmt, size, lo, hi, name

    def read(self, r: Reader, field: str) -> int:
        p = r.need(self.size, field)
        return int.from_bytes(r.data[p:p + self.size], "big", signed=self.lo < 0)

    def write(self, w: Writer, v: int, field: str) -> None:
        w._range(v, self.lo, self.hi, field)
        w.out += v.to_bytes(self.size, "big", signed=self.lo < 0)

    def pre(self, v: Any, w: Writer, field: str) -> Any:
        if type(v) is not int or v < self.lo or v > self.hi:
            w._range(v, self.lo, self.hi, field)
        return v

    def from_json(self, v: Any, field: str, version: Version | None = None) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise BodyError(f"expects an integer, got {type(v).__name__}", field=field)
        return v


BYTE = _Int("B", 1, 0, 0xFF, "BYTE")
WORD = _Int("H", 2, 0, 0xFFFF, "WORD")
DWORD = _Int("I", 4, 0, 0xFFFFFFFF, "DWORD")
QWORD = _Int("Q", 8, 0, 0xFFFFFFFFFFFFFFFF, "QWORD")
INT16 = _Int("h", 2, -0x8000, 0x7FFF, "INT16")
INT32 = _Int("i", 4, -0x80000000, 0x7FFFFFFF, "INT32")


class _Text(Kind):
    """A kind whose value is text (JSON: a string)."""

    default = ""

    def from_json(self, v: Any, field: str, version: Version | None = None) -> str:
        if not isinstance(v, str):
            raise BodyError(f"expects a string, got {type(v).__name__}", field=field)
        return v


class _Binary(Kind):
    """A kind whose value is bytes (JSON: base64 text; bytes are taken as they are)."""

    default = b""

    def to_json(self, v: bytes, version: Version | None = None) -> str:
        return base64.b64encode(v).decode("ascii")

    def from_json(self, v: Any, field: str, version: Version | None = None) -> bytes:
        if isinstance(v, bytes | bytearray):
            return bytes(v)
        if not isinstance(v, str):
            raise BodyError(f"expects base64 text, got {type(v).__name__}", field=field)
        try:
            return base64.b64decode(v, validate=True)
        except ValueError:
            raise BodyError("is not valid base64", field=field) from None


class _Bcd(_Text):
    """BCD[n] -> digit string (2n digits, leading zeros kept; non-decimal nibbles as hex letters)."""

    size: int

    def __init__(self, n: int, pad: bool = False) -> None:
        self.size, self.fmt, self.pad, self.name = n, f"{n}s", pad, f"BCD[{n}]"

    @staticmethod
    def post(v: bytes, r: Reader) -> str:
        return v.hex()

    def make_default(self) -> str:
        return "0" * (2 * self.size)

    def read(self, r: Reader, field: str) -> str:
        return r.bcd(self.size, field)

    def write(self, w: Writer, v: str, field: str) -> None:
        w.bcd(v, self.size, field, pad=self.pad)

    def pre(self, v: Any, w: Writer, field: str) -> bytes:
        if isinstance(v, str) and len(v) == 2 * self.size:
            try:
                return bytes.fromhex(v)
            except ValueError:
                pass
        start = len(w.out)
        w.bcd(v, self.size, field, pad=self.pad)  # raises the precise error, or pads
        out = bytes(w.out[start:])
        del w.out[start:]
        return out

    def from_json(self, v: Any, field: str, version: Version | None = None) -> str:
        if isinstance(v, int) and not isinstance(v, bool):
            v = str(v).rjust(2 * self.size, "0")
        return super().from_json(v, field, version)


class _Bytes(_Binary):
    """BYTE[n]: raw bytes, NUL-padded when shorter on encode."""

    size: int

    def __init__(self, n: int) -> None:
        self.size, self.fmt, self.name = n, f"{n}s", f"BYTE[{n}]"

    def make_default(self) -> bytes:
        return b"\x00" * self.size

    def read(self, r: Reader, field: str) -> bytes:
        return r.bytes(self.size, field)

    def write(self, w: Writer, v: bytes, field: str) -> None:
        w.bytes(v, field, size=self.size)

    def pre(self, v: Any, w: Writer, field: str) -> bytes:
        if not isinstance(v, bytes | bytearray) or len(v) > self.size:
            w.bytes(v, field, size=self.size)  # raises
        return bytes(v)


class _Str(_Text):
    """BYTE[n] text: NULs stripped at both ends on decode, NUL-padded at the end on encode."""

    size: int

    def __init__(self, n: int) -> None:
        self.size, self.fmt, self.name = n, f"{n}s", f"STRING[{n}]"

    @staticmethod
    def post(v: bytes, r: Reader) -> str:
        if v[:1] == b"\x00" and v.strip(b"\x00"):
            r.pad_note("", "left")
        return v.strip(b"\x00").decode(r.encoding, "surrogateescape")

    def read(self, r: Reader, field: str) -> str:
        return r.str_fixed(self.size, field)

    def write(self, w: Writer, v: str, field: str) -> None:
        w.str_fixed(v, self.size, field)

    def pre(self, v: Any, w: Writer, field: str) -> bytes:
        raw = w.encode_text(v, field)
        if len(raw) > self.size:
            raise EncodeError(f"{len(raw)} bytes do not fit in STRING[{self.size}]", field=field, value=v,
                              msg_id=w.msg_id)
        return raw


class _StrRest(_Text):
    name = "STRING"

    def read(self, r: Reader, field: str) -> str:
        return r.str_rest(field)

    def write(self, w: Writer, v: str, field: str) -> None:
        w.str_rest(v, field)


class _BytesRest(_Binary):
    name = "BYTE[]"

    def read(self, r: Reader, field: str) -> bytes:
        return r.rest()

    def write(self, w: Writer, v: bytes, field: str) -> None:
        w.bytes(v, field)


class _StrLen(_Text):
    """A length-prefixed string (length BYTE or WORD)."""


    def __init__(self, length: _Int) -> None:
        self.length, self.name = length, f"{length.name}+STRING"

    def read(self, r: Reader, field: str) -> str:
        return r.text(r.bytes(self.length.read(r, field), field))

    def write(self, w: Writer, v: str, field: str) -> None:
        raw = w.encode_text(v, field)
        self.length.write(w, len(raw), field)
        w.out += raw


class _BytesLen(_Binary):
    """Length-prefixed bytes (length BYTE, WORD or DWORD)."""


    def __init__(self, length: _Int) -> None:
        self.length, self.name = length, f"{length.name}+BYTE[]"

    def read(self, r: Reader, field: str) -> bytes:
        return r.bytes(self.length.read(r, field), field)

    def write(self, w: Writer, v: bytes, field: str) -> None:
        if not isinstance(v, bytes | bytearray):
            raise EncodeError("needs bytes", field=field, value=v, msg_id=w.msg_id)
        self.length.write(w, len(v), field)
        w.out += v


class _List(Kind):
    """A counted (BYTE/WORD/DWORD count) or rest-of-body list of items (a kind or a record class)."""

    def __init__(self, item: Any, count: _Int | None, count_key: str | None = None) -> None:
        self.item, self.count, self.count_key = item, count, count_key
        self.item_is_kind = isinstance(item, Kind)  # once: an ABC isinstance check is not free
        self.name = f"LIST[{count.name if count else 'rest'}]({getattr(item, '__name__', item)})"

    def make_default(self) -> list[Any]:
        return []

    def _read_item(self, r: Reader, field: str) -> Any:
        item = self.item
        if self.item_is_kind:
            return item.read(r, field)
        return item.decode(r)

    def read(self, r: Reader, field: str) -> list[Any]:
        if self.count is None:
            out = []
            while r.pos < r.end:
                out.append(self._read_item(r, field))
            return out
        n = self.count.read(r, field)
        return [self._read_item(r, field) for _ in range(n)]

    def write(self, w: Writer, v: list[Any], field: str) -> None:
        if not isinstance(v, list | tuple):
            raise EncodeError("needs a list", field=field, value=v, msg_id=w.msg_id)
        if self.count is not None:
            self.count.write(w, len(v), field + ".length")
        item = self.item
        for x in v:
            if self.item_is_kind:
                item.write(w, x, field)
            else:
                if not isinstance(x, item):
                    raise EncodeError(f"items must be {item.__name__}", field=field, value=x, msg_id=w.msg_id)
                x.encode(w)

    def to_json(self, v: list[Any], version: Version | None = None) -> list[Any]:
        item = self.item
        if self.item_is_kind:
            return [item.to_json(x, version) for x in v]
        return [x.to_json(version) for x in v]

    def from_json(self, v: Any, field: str, version: Version | None = None) -> list[Any]:
        if not isinstance(v, list):
            raise BodyError(f"expects a list, got {type(v).__name__}", field=field)
        item = self.item
        if self.item_is_kind:
            return [item.from_json(x, field, version) for x in v]
        return [item.from_json(x, version) for x in v]


class _Embedded(Kind):
    """One declared structure (a :func:`record` class) embedded as a field; JSON is its object."""

    def __init__(self, item: Any) -> None:
        self.item, self.name = item, f"RECORD({item.__name__})"

    def make_default(self) -> Any:
        return self.item()

    def read(self, r: Reader, field: str) -> Any:
        return self.item.decode(r)

    def write(self, w: Writer, v: Any, field: str) -> None:
        if not isinstance(v, self.item):
            raise EncodeError(f"needs a {self.item.__name__}", field=field, value=v, msg_id=w.msg_id)
        v.encode(w)

    def to_json(self, v: Any, version: Version | None = None) -> Any:
        return v.to_json(version)

    def from_json(self, v: Any, field: str, version: Version | None = None) -> Any:
        try:
            return self.item.from_json(v, version)
        except BodyError as e:
            raise BodyError(e.reason, field=f"{field}.{e.field}" if e.field else field) from None


def BCD(n: int, pad: bool = False) -> Kind:
    return _Bcd(n, pad)


def BYTES(n: int) -> Kind:
    return _Bytes(n)


def STR(n: int) -> Kind:
    return _Str(n)


def LIST(item: Any, count: Kind | None = BYTE, count_key: str | None = None) -> Kind:
    """``count`` is BYTE, WORD or DWORD, or ``None`` for items until the end of the body.

    ``count_key`` names the JSON key that carries the item count (seed 004 lists e.g. ``length``);
    it is written by ``to_json`` and checked against the list by ``from_json`` when present.
    """
    return _List(item, count, count_key)  # type: ignore[arg-type]  # item: a Kind or a record class


def RECORD(item: Any) -> Kind:
    """A :func:`record` structure embedded in place (e.g. an alarm identification block)."""
    return _Embedded(item)


STR_REST: Kind = _StrRest()
BYTES_REST: Kind = _BytesRest()
STR8: Kind = _StrLen(BYTE)
STR16: Kind = _StrLen(WORD)
BYTES8: Kind = _BytesLen(BYTE)
BYTES16: Kind = _BytesLen(WORD)
BYTES32: Kind = _BytesLen(DWORD)


class by_version:
    """A kind that differs by version: ``by_version(V2013=STR(20), V2019=STR(30))``.

    Missing versions fall back to the closest older one given (2011 -> 2013 if 2011 is absent).
    """

    def __init__(self, **kinds: Kind) -> None:
        self.kinds = {Version[k]: v for k, v in kinds.items()}

    def for_version(self, version: Version) -> Kind:
        if version in self.kinds:
            return self.kinds[version]
        if version is V2011 and V2013 in self.kinds:
            return self.kinds[V2013]
        older = [v for v in self.kinds if v <= version]
        return self.kinds[max(older)] if older else self.kinds[min(self.kinds)]


# ---------------------------------------------------------------------------------------------
# Fields and compilation
# ---------------------------------------------------------------------------------------------
class FieldSpec:
    __slots__ = ("doc", "json", "kind", "name", "since", "until", "when")

    def __init__(self, kind: Kind | by_version, json: str | None, since: Version | None,
                 until: Version | None, when: Callable[[Any], Any] | None, doc: str) -> None:
        self.kind, self.json, self.since, self.until, self.when, self.doc = kind, json, since, until, when, doc
        self.name = ""

    def active(self, version: Version) -> bool:
        return (self.since is None or version >= self.since) and (self.until is None or version <= self.until)

    def kind_for(self, version: Version) -> Kind:
        k = self.kind
        return k.for_version(version) if isinstance(k, by_version) else k

    @property
    def key(self) -> str:
        return self.json or self.name


def wire(kind: Kind | by_version, *, json: str | None = None, since: Version | None = None,
         until: Version | None = None, when: Callable[[Any], Any] | None = None, doc: str = "",
         default: Any = dataclasses.MISSING) -> Any:
    """Declare a dataclass field with its wire kind (and JSON key when it differs from the name)."""
    spec = FieldSpec(kind, json, since, until, when, doc)
    if default is not dataclasses.MISSING:
        return dataclasses.field(default=default, metadata={"wire": spec})
    base = kind.kinds[max(kind.kinds)] if isinstance(kind, by_version) else kind
    d = base.make_default()
    if isinstance(d, list | dict | bytearray | Record):
        return dataclasses.field(default_factory=base.make_default, metadata={"wire": spec})
    return dataclasses.field(default=d, metadata={"wire": spec})


class _Values:
    """Read-only name -> attribute view of an object, for ``when`` conditions while encoding."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __getitem__(self, name: str) -> Any:
        return getattr(self.obj, name)

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self.obj, name, default)


_DecStep = Callable[[Reader, dict[str, Any]], None]
_EncStep = Callable[[Any, Writer], None]


def _run_steps(run: list[tuple[FieldSpec, Kind]]) -> tuple[_DecStep, _EncStep]:
    """Read and write steps of a run of fixed-width fields: one Struct for all of them."""
    st = struct.Struct(">" + "".join(str(k.fmt) for _, k in run))
    names = tuple(s.name for s, _ in run)
    posts = tuple(k.post for _, k in run)
    kinds = tuple(k for _, k in run)
    first = names[0]
    size = st.size

    def dstep_plain(r: Reader, vals: dict[str, Any]) -> None:
        p = r.pos
        if p + size > r.end:
            _truncated(r, st, names, first)
        r.pos = p + size
        vals.update(zip(names, st.unpack_from(r.data, p), strict=True))

    def dstep_post(r: Reader, vals: dict[str, Any]) -> None:
        p = r.pos
        if p + size > r.end:
            _truncated(r, st, names, first)
        r.pos = p + size
        for name, post, v in zip(names, posts, st.unpack_from(r.data, p), strict=True):
            vals[name] = post(v, r) if post is not None else v

    def estep(obj: Any, w: Writer) -> None:
        vals = [k.pre(getattr(obj, n), w, n) for n, k in zip(names, kinds, strict=True)]
        try:
            w.out += st.pack(*vals)
        except struct.error as e:  # pre() checks every value; this is a safety net
            raise EncodeError(str(e), msg_id=w.msg_id) from None

    return (dstep_post if any(posts) else dstep_plain), estep


def _field_steps(s: FieldSpec, k: Kind) -> tuple[_DecStep, _EncStep]:
    """Read and write steps of one field read by its kind (optionally only ``when`` its condition holds)."""
    name, when = s.name, s.when
    if when is None:
        def dstep(r: Reader, vals: dict[str, Any]) -> None:
            vals[name] = k.read(r, name)

        def estep(obj: Any, w: Writer) -> None:
            k.write(w, getattr(obj, name), name)

        return dstep, estep

    cond = when

    def dstep_when(r: Reader, vals: dict[str, Any]) -> None:
        if cond(vals):
            vals[name] = k.read(r, name)

    def estep_when(obj: Any, w: Writer) -> None:
        if cond(_Values(obj)):
            k.write(w, getattr(obj, name), name)

    return dstep_when, estep_when


def _compile(cls: type[Record], version: Version) -> tuple[Callable[[Reader], Any], Callable[[Any, Writer], None]]:
    specs: list[FieldSpec] = [s for s in cls.__wire__ if s.active(version)]
    # Group consecutive fixed-width unconditional fields into Struct runs.
    groups: list[Any] = []
    run: list[tuple[FieldSpec, Kind]] = []

    def close() -> None:
        if run:
            groups.append(list(run))
            run.clear()

    for s in specs:
        k = s.kind_for(version)
        if k.fmt is not None and s.when is None:
            run.append((s, k))
        else:
            close()
            groups.append((s, k))
    close()

    dec_steps: list[_DecStep] = []
    enc_steps: list[_EncStep] = []
    for g in groups:
        d, e = _run_steps(g) if isinstance(g, list) else _field_steps(*g)
        dec_steps.append(d)
        enc_steps.append(e)

    steps = tuple(dec_steps)
    esteps = tuple(enc_steps)

    def decode(r: Reader) -> Any:
        vals: dict[str, Any] = {}
        for step in steps:
            step(r, vals)
        return cls(**vals)

    def encode(obj: Any, w: Writer) -> None:
        for step in esteps:
            step(obj, w)

    return decode, encode


def _truncated(r: Reader, st: struct.Struct, names: tuple[str, ...], first: str) -> None:
    # Name the first field that does not fit.
    left = r.end - r.pos
    fmt = st.format[1:]
    sizes = [struct.calcsize(">" + c) for c in _split_fmt(fmt)]
    used = 0
    for name, size in zip(names, sizes, strict=False):
        if used + size > left:
            raise TruncatedError(f"needs {size} bytes, {left - used} left", offset=r.pos + used, field=name)
        used += size
    raise TruncatedError(f"needs {st.size} bytes, {left} left", offset=r.pos, field=first)


def _split_fmt(fmt: str) -> list[str]:
    out, num = [], ""
    for c in fmt:
        if c.isdigit():
            num += c
        else:
            out.append(num + c)
            num = ""
    return out


# ---------------------------------------------------------------------------------------------
# Records (list items) and message bodies
# ---------------------------------------------------------------------------------------------
class Record:
    """Base of declared structures: message bodies and the items of their lists."""

    __slots__ = ()
    __wire__: ClassVar[tuple[FieldSpec, ...]] = ()
    __compiled__: ClassVar[dict[Version, Any]]

    @classmethod
    def _codec(cls, version: Version) -> Any:
        c = cls.__compiled__.get(version)
        if c is None:
            c = cls.__compiled__[version] = _compile(cls, version)
        return c

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read this structure from ``r`` (compiled from the field declarations)."""
        obj: Self = cls._codec(r.version)[0](r)
        return obj

    def encode(self, w: Writer) -> None:
        """Append this structure to ``w``."""
        type(self)._codec(w.version)[1](self, w)

    # -- JSON (seed 004 keys) --------------------------------------------------------------------
    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        """The seed-004 JSON object of this structure (binary as base64)."""
        out: dict[str, Any] = {}
        view = _Values(self)
        for s in type(self).__wire__:
            if version is not None and not s.active(version):
                continue
            if s.when is not None and not s.when(view):
                continue
            k = s.kind_for(version or V2013)
            v = getattr(self, s.name)
            if isinstance(k, _List) and k.count_key:
                out[k.count_key] = len(v)
            out[s.key] = k.to_json(v, version)
        return out

    @classmethod
    def from_json(cls: type[T], obj: Any, version: Version | None = None) -> T:
        """Build from seed-004 JSON; a missing or ill-typed field raises :class:`BodyError`."""
        if not isinstance(obj, dict):
            raise BodyError(f"{cls.__name__} expects a JSON object, got {type(obj).__name__}")
        vals: dict[str, Any] = {}
        for s in cls.__wire__:  # type: ignore[attr-defined]  # set by @record/@message
            if version is not None and not s.active(version):
                continue
            if s.when is not None and not s.when(vals):
                continue
            if s.key not in obj:
                raise BodyError("is missing", field=s.key)
            k = s.kind_for(version or V2013)
            v = vals[s.name] = k.from_json(obj[s.key], s.key, version)
            if isinstance(k, _List) and k.count_key and k.count_key in obj and obj[k.count_key] != len(v):
                raise BodyError(f"says {obj[k.count_key]!r} but '{s.key}' has {len(v)} items", field=k.count_key)
        return cls(**vals)


def _finish(cls: type[T], slots: bool = True) -> type[T]:
    if not dataclasses.is_dataclass(cls) or "__dataclass_fields__" not in cls.__dict__:
        cls = dataclasses.dataclass(slots=slots)(cls)
    specs = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # a dataclass by now
        spec = f.metadata.get("wire")
        if spec is not None:
            spec.name = f.name
            specs.append(spec)
    setattr(cls, "__wire__", tuple(specs))  # noqa: B010 - set on the class the dataclass call made
    setattr(cls, "__compiled__", {})  # noqa: B010
    return cls


@dataclass_transform(field_specifiers=(dataclasses.field,))
def record(cls: type[T]) -> type[T]:
    """Declare a list item structure (a slotted dataclass of ``wire`` fields)."""
    return _finish(cls)


class Body(Record):
    """Base of message bodies. Subclasses get ``msg_id`` and ``versions`` from :func:`message`."""

    __slots__ = ()
    msg_id: ClassVar[int] = -1
    versions: ClassVar[tuple[Version, ...]] = ALL_VERSIONS
    #: The ids that answer this message; ``()`` means the general reply (0x0001 from a terminal, 0x8001
    #: from the platform). Declared with ``@message(…, answered_by=(…))``; read through
    #: :mod:`jt808.protocol.replies`.
    answered_by: ClassVar[tuple[int, ...]] = ()
    #: For a message that answers another: the field holding the serial of the request it answers, or
    #: ``""`` when it quotes none (matched to the oldest request it answers). ``None``: no answer.
    quotes: ClassVar[str | None] = None
    #: Nobody answers this message, not even with a general reply (the replies themselves).
    unanswered: ClassVar[bool] = False

    @classmethod
    def fast_decode(cls, data: bytes, profile: Any, version: Version) -> Self | None:
        """Optional hot-path decoder of a whole body, tried by the frame decoder before the general path;
        ``None`` means "take the general path" (the default)."""
        return None

    def fast_encode(self) -> bytes | None:
        """Optional hot-path encoder (no Writer) used by :func:`jt808.encode`; ``None`` (the default, or
        e.g. for a value out of range) means "take the general path", which also produces the precise
        :class:`EncodeError`."""
        return None

    @property
    def title(self) -> str:
        return type(self).__name__


@dataclass_transform(field_specifiers=(dataclasses.field,))
def message(msg_id: int, *, versions: tuple[Version, ...] = ALL_VERSIONS, answered_by: tuple[int, ...] = (),
            quotes: str | None = None, unanswered: bool = False) -> Callable[[type[T]], type[T]]:
    """Class decorator: make a message body dataclass and register it for ``versions``. The reply rules
    are declared here once (see :class:`Body`: ``answered_by``, ``quotes``, ``unanswered``)."""

    def deco(cls: type[T]) -> type[T]:
        if not issubclass(cls, Body):
            raise TypeError(f"@message({msg_id:#06x}) declares a Body subclass, not {cls.__name__}")
        cls.msg_id = msg_id
        cls.versions = tuple(versions)
        cls.answered_by = tuple(answered_by)
        cls.quotes = quotes
        cls.unanswered = unanswered
        body = _finish(cls)
        DEFAULT_MESSAGES.register(body, versions)
        return body

    return deco


class MessageRegistry:
    """``(msg_id, version) -> body class``, optionally layered over a parent registry."""

    def __init__(self, parent: MessageRegistry | None = None) -> None:
        self.parent = parent
        self._own: dict[tuple[int, Version], type[Body]] = {}
        #: the merged ``(msg_id, version) -> class`` of this registry and its parents, kept current by
        #: :meth:`register` (a plain attribute: every decoded frame looks it up)
        self.table: dict[tuple[int, Version], type[Body]] = dict(parent.table) if parent is not None else {}
        self._children: list[MessageRegistry] = []
        if parent is not None:
            parent._children.append(self)

    def register(self, cls: type[Body], versions: Iterable[Version] | None = None,
                 msg_id: int | None = None) -> type[Body]:
        mid = cls.msg_id if msg_id is None else msg_id
        for v in versions if versions is not None else cls.versions:
            self._own[(mid, Version.parse(v))] = cls
        self._invalidate()
        return cls

    def _invalidate(self) -> None:
        table = dict(self.parent.table) if self.parent is not None else {}
        table.update(self._own)
        self.table = table
        for c in self._children:
            c._invalidate()

    def get(self, msg_id: int, version: Version) -> type[Body] | None:
        return self.table.get((msg_id, version))

    def ids(self) -> list[int]:
        return sorted({k[0] for k in self.table})

    def versions_of(self, msg_id: int) -> list[Version]:
        return sorted(v for (m, v) in self.table if m == msg_id)

    def __contains__(self, key: tuple[int, Version]) -> bool:
        return key in self.table

    def __iter__(self) -> Iterator[tuple[tuple[int, Version], type[Body]]]:
        return iter(sorted(self.table.items()))


DEFAULT_MESSAGES = MessageRegistry()
