"""Message registry and device profiles.

:data:`DEFAULT_MESSAGES` maps ``(msg_id, version)`` to the body class of the standard. A
:class:`Profile` describes one device type: it overlays its own message classes (vendor ids, or a
standard id laid out differently) and location additional-info codecs on the defaults, and carries
the device's quirks (forced version, string encoding, check-code tolerance, time zone …). Two
device types can therefore use the same id differently: give each its own profile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, dataclass_transform

from jt808.protocol.header import V2011, V2013, V2019, Version
from jt808.protocol.spec import ALL_VERSIONS, DEFAULT_MESSAGES, Body, MessageRegistry, record

_B = TypeVar("_B", bound=Body)

__all__ = ["DEFAULT_MESSAGES", "DEFAULT_PROFILE", "ExtraCodec", "MessageRegistry", "Profile"]


class ExtraCodec:
    """One row of a location additional-information table: everything known about one item id.

    ``decode(value_bytes) -> value`` raises ValueError (or returns ``None``) when the bytes do not fit
    the id's layout; the item is then kept raw. ``encode(value) -> bytes``. ``key`` is the seed-004
    JSON key under ``extra``; ``versions`` limits the id to versions where it exists; ``sizes`` the
    value lengths it accepts (``None``: any); ``uint`` > 0 marks a plain big-endian unsigned integer of
    that many bytes (read with one ``Struct`` unpack of id and value).

    The JSON form: ``to_json(value) -> JSON value`` (``None``: the value as is) and
    ``from_json(json_value, field) -> value`` (``None``: the JSON value as is; raise
    :class:`~jt808.errors.BodyError` naming ``field``). ``bytes_value`` says the decoded value is bytes
    (base64 in JSON, also when kept raw). ``id``, ``wire`` and ``description`` document the row (CLI
    ``--explain``, docs); ``id`` is filled in when the row is registered.
    """

    __slots__ = ("bytes_value", "decode", "description", "encode", "from_json", "id", "key", "sizes", "to_json",
                 "uint", "versions", "wire")

    def __init__(self, key: str, decode: Callable[[bytes], Any], encode: Callable[[Any], bytes],
                 sizes: tuple[int, ...] | None = None, versions: tuple[Version, ...] | None = None,
                 uint: int = 0, *, id: int = -1, wire: str = "", description: str = "",
                 to_json: Callable[[Any], Any] | None = None,
                 from_json: Callable[[Any, str], Any] | None = None, bytes_value: bool = False) -> None:
        self.key, self.decode, self.encode, self.sizes, self.versions = key, decode, encode, sizes, versions
        self.uint = uint
        self.id, self.wire, self.description = id, wire, description
        self.to_json, self.from_json, self.bytes_value = to_json, from_json, bytes_value

    def __repr__(self) -> str:
        return f"<ExtraCodec 0x{self.id:02X} {self.key!r}>" if self.id >= 0 else f"<ExtraCodec {self.key!r}>"


class Profile:
    """One device type's codec settings and extensions.

    - ``default_version``: what a frame without bit 14 is (2011 or 2013; default 2013).
    - ``force_version``: decode every frame as this version whatever bit 14 says (mislabelling devices).
    - ``infer_2011`` (default on): read a 0x0100 without bit 14 as 2011 when only the 2011 widths fit it
      (shorter than the 2013 fixed part, or a plate colour / strings that only the 2011 reading gets
      right); recorded in ``Packet.problems`` (kind ``version_inferred``).
    - ``encoding``: string encoding (GBK by default; some devices send UTF-8).
    - ``accept_bad_check``: decode frames whose check code is wrong, flagging them, instead of rejecting.
    - ``tz_offset``: hours east of UTC of the device's BCD times (GMT+8 by default).
    - ``extra_id_size`` / ``extra_len_size``: byte widths of the additional-info item id and length
      (1/1 standard; vendors use 2/1, 2/2, 1/4).
    - ``carriage_temp_sign_magnitude``: read extra 0x06 as sign-magnitude instead of two's complement.
    - ``messages``: a registry layered over the standard one, for vendor / overridden message ids.
    - ``extras``: additional-info codecs layered over the standard ones.
    - ``rsa_private_key`` / ``rsa_peer_public_key``: body encryption keys (see ``jt808.protocol.crypto``).
    """

    def __init__(self, name: str = "default", *, default_version: Version | int | str = V2013,
                 force_version: Version | int | str | None = None, infer_2011: bool = True,
                 encoding: str = "gbk", accept_bad_check: bool = False, tz_offset: float = 8,
                 extra_id_size: int = 1, extra_len_size: int = 1,
                 carriage_temp_sign_magnitude: bool = False,
                 parent: Profile | None = None) -> None:
        self.name = name
        self.default_version = Version.parse(default_version)
        if self.default_version is V2019:
            raise ValueError("default_version is 2011 or 2013 (2019 frames say so in their header)")
        self.force_version = Version.parse(force_version) if force_version is not None else None
        self.infer_2011 = infer_2011
        self.encoding = encoding
        self.accept_bad_check = accept_bad_check
        self.tz_offset = tz_offset
        if extra_id_size not in (1, 2) or extra_len_size not in (1, 2, 4):
            raise ValueError("extra_id_size is 1 or 2; extra_len_size is 1, 2 or 4")
        self.extra_id_size = extra_id_size
        self.extra_len_size = extra_len_size
        self.carriage_temp_sign_magnitude = carriage_temp_sign_magnitude
        base: MessageRegistry = parent.messages if parent is not None else DEFAULT_MESSAGES
        self.messages: MessageRegistry = MessageRegistry(base)
        self.parent = parent
        self._children: list[Profile] = []
        self._own_extras: dict[int, ExtraCodec] = {}
        self._extras: dict[int, ExtraCodec] = dict(parent._extras) if parent is not None else {}
        self.extra_tables: dict[Version, Any] = {}  # merged per version (location.ItemTable)
        self._own_params: dict[int, Any] = {}
        self._params: dict[int, Any] = dict(parent._params) if parent is not None else {}
        if parent is not None:
            parent._children.append(self)
        self.rsa_private_key: Any = None
        self.rsa_peer_public_key: Any = None

    def __repr__(self) -> str:
        return f"<Profile {self.name!r} default={self.default_version} force={self.force_version}>"

    def lookup(self, msg_id: int, version: Version) -> type[Body] | None:
        cls = self.messages.table.get((msg_id, version))
        if cls is None and version is V2011:
            cls = self.messages.table.get((msg_id, V2013))
        return cls

    def register_message(self, cls: type[Body], versions: Iterable[Version] | None = None,
                         msg_id: int | None = None) -> type[Body]:
        """Decode ``msg_id`` (default ``cls.msg_id``) with ``cls`` for devices of this profile."""
        return self.messages.register(cls, versions, msg_id)

    @dataclass_transform(field_specifiers=(dataclasses.field,))
    def message(self, msg_id: int, *,
                versions: Iterable[Version] | None = None) -> Callable[[type[_B]], type[_B]]:
        """Class decorator: declare a body (``wire`` fields, as with :func:`jt808.protocol.spec.message`)
        for devices of this profile only; the standard registry is left alone."""

        def deco(cls: type[_B]) -> type[_B]:
            cls.msg_id = msg_id
            cls.versions = tuple(Version.parse(v) for v in versions) if versions is not None else ALL_VERSIONS
            body = record(cls)
            self.messages.register(body)
            return body

        return deco

    def register_extra(self, extra_id: int, codec: ExtraCodec) -> None:
        """Decode location additional-info ``extra_id`` with ``codec`` for devices of this profile
        (and of the profiles derived from it, unless they register their own)."""
        if codec.id < 0:
            codec.id = extra_id
        self._own_extras[extra_id] = codec
        self._refresh_extras()

    def register_extras(self, rows: Iterable[ExtraCodec]) -> None:
        """Add a family of additional-info rows (each with its ``id``), e.g. an extension standard's
        table declared in its own module."""
        for row in rows:
            if row.id < 0:
                raise ValueError(f"row {row.key!r} has no id")
            self._own_extras[row.id] = row
        self._refresh_extras()

    def register_params(self, rows: Iterable[Any]) -> None:
        """Add terminal-parameter rows (:class:`~jt808.protocol.messages.params.ParamDef`) for devices of
        this profile and the profiles derived from it; they take precedence over the standard table."""
        for row in rows:
            self._own_params[row.id] = row
        self._refresh_params()

    def _refresh_params(self) -> None:
        self._params = {**(self.parent._params if self.parent is not None else {}), **self._own_params}
        for child in self._children:
            child._refresh_params()

    @property
    def params(self) -> dict[int, Any]:
        """Terminal-parameter rows registered on this profile (and its parents), by id."""
        return self._params

    def _refresh_extras(self) -> None:
        self._extras = {**(self.parent._extras if self.parent is not None else {}), **self._own_extras}
        self.extra_tables.clear()
        for child in self._children:
            child._refresh_extras()

    @property
    def extras(self) -> dict[int, ExtraCodec]:
        return self._extras

    def derive(self, name: str, **changes: Any) -> Profile:
        """A new profile inheriting this one's registrations (messages and extras, including those made
        later on this one), with some settings changed."""
        settings: dict[str, Any] = dict(default_version=self.default_version, force_version=self.force_version,
                        infer_2011=self.infer_2011, encoding=self.encoding,
                        accept_bad_check=self.accept_bad_check, tz_offset=self.tz_offset,
                        extra_id_size=self.extra_id_size, extra_len_size=self.extra_len_size,
                        carriage_temp_sign_magnitude=self.carriage_temp_sign_magnitude)
        settings.update(changes)
        return Profile(name, parent=self, **settings)


DEFAULT_PROFILE = Profile("default")

