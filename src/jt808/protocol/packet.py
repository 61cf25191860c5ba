"""Packet (header + body) and the top-level frame codec: :func:`decode` / :func:`encode`."""

from __future__ import annotations

import re
import struct
from typing import Any, ClassVar

from jt808.errors import DecodeError, EncodeError
from jt808.protocol.buffer import Reader, Writer
from jt808.protocol.framing import check_code, escape
from jt808.protocol.header import V2011, V2013, V2019, Header, Version, pack_header
from jt808.protocol.problems import Problem
from jt808.protocol.registry import DEFAULT_PROFILE, Profile
from jt808.protocol.spec import Body

__all__ = ["Packet", "RawBody", "decode_body", "encode", "encode_body"]

_H13 = struct.Struct(">HH6sH")
_TAILS = [bytes((cc, 0x7E)) for cc in range(256)]  # check code + end flag


class RawBody(Body):
    """A body kept as bytes: unknown / vendor / reserved ids, fragments awaiting reassembly,
    encrypted bodies without a key, and (when decoding leniently) bodies that failed to decode.
    Re-encodes byte for byte."""

    __slots__ = ("data", "reason")
    msg_id: ClassVar[int] = -1

    def __init__(self, data: bytes = b"", reason: str = "unknown") -> None:
        self.data = data
        self.reason = reason  # unknown | fragment | encrypted | error

    @classmethod
    def decode(cls, r: Reader) -> RawBody:
        return cls(r.rest())

    def encode(self, w: Writer) -> None:
        w.out += self.data

    def to_json(self, version: Version | None = None) -> dict[str, Any]:
        import base64

        return {"unknown_id": True, "data": base64.b64encode(self.data).decode("ascii")}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawBody) and other.data == self.data

    def __repr__(self) -> str:
        return f"RawBody({self.reason}, {self.data.hex()})"


class Packet:
    """One JT/T 808 message: ``header`` and ``body``.

    ``raw_body`` is the body as received (after unescaping); ``problems`` lists what lenient decoding
    tolerated (bad check code, corrected version bit, trailing bytes, items kept raw …); ``tail``
    holds body bytes after the last decoded field, re-appended on encode.
    """

    __slots__ = ("body", "header", "problems", "raw_body", "tail")

    def __init__(self, header: Header, body: Body, raw_body: bytes | None = None,
                 problems: list[str] | None = None, tail: bytes = b"") -> None:
        self.header = header
        self.body = body
        self.raw_body = raw_body
        self.problems = problems if problems is not None else []
        self.tail = tail

    @property
    def msg_id(self) -> int:
        return self.header.msg_id

    @property
    def version(self) -> Version:
        return self.header.version

    @property
    def phone(self) -> str:
        return self.header.phone

    @property
    def msg_sn(self) -> int:
        return self.header.msg_sn

    def __repr__(self) -> str:
        p = f" problems={self.problems}" if self.problems else ""
        return f"Packet({self.header!r}, {self.body!r}{p})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Packet):
            return NotImplemented
        return self.header == other.header and self.body == other.body and self.tail == other.tail


_CONTROL = re.compile("[\x00-\x1f]")
_TEXTS = ("manufacturer", "model", "dev_id", "license_number", "code", "imei")


def _clean_reading(msg_id: int, data: bytes, version: Version, profile: Profile,
                   unpadded: bool = False) -> tuple[Body, list[str]] | None:
    """The body and the reader's notes of a 0x0100 / 0x0102 body that reads sensibly in ``version``'s
    layout, else ``None``: it decodes to its last byte (0x0100: plate to the end) and its strings hold no
    control characters (a 2011 0x0100 read with the 2013 widths puts the 2011 model's NUL padding and the
    plate colour byte inside the 2013 model). ``unpadded``: also without NUL padding to strip (nothing
    noted while reading)."""
    cls = profile.lookup(msg_id, version)
    if cls is None:
        return None
    r = Reader(data, version, profile, msg_id)
    try:
        b = cls.decode(r)
    except (DecodeError, IndexError, ValueError, UnicodeError):
        return None
    if r.pos != r.end or (unpadded and r.problems):
        return None
    for k in _TEXTS:
        t = getattr(b, k, "")
        if isinstance(t, str) and _CONTROL.search(t.strip("\x00")):
            return None
    return b, r.problems


def _reads_cleanly(msg_id: int, data: bytes, version: Version, profile: Profile, unpadded: bool = False) -> bool:
    """Whether :func:`_clean_reading` accepts the body in ``version``'s layout."""
    return _clean_reading(msg_id, data, version, profile, unpadded) is not None


def _register_version(data: bytes, profile: Profile,
                      problems: list[str]) -> tuple[Version, tuple[Body, list[str]] | None]:
    """2011 or 2013 for a 0x0100 without bit 14: the field widths (5/8/7 against 5/20/7) tell them apart
    when the 2013 reading is impossible (shorter than its 37-byte fixed part) or implausible (strings
    that only the 2011 reading gets right). With the version, the clean reading made to decide it (body
    and the reader's notes), if one was made: the body is not decoded a second time."""
    if len(data) < 37:
        if len(data) >= 25:
            problems.append(Problem("version_inferred", f"version inferred: 0x0100 body of {len(data)} bytes is "
                                    "shorter than the 2013 fixed part (37): decoded as 2011"))
            return V2011, None
        return V2013, None
    reading = _clean_reading(0x0100, data, V2013, profile)
    if reading is not None:
        return V2013, reading
    reading = _clean_reading(0x0100, data, V2011, profile)
    if reading is not None:
        problems.append(Problem("version_inferred", f"version inferred: 0x0100 body of {len(data)} bytes reads "
                                "sensibly only with the 2011 widths (5/8/7): decoded as 2011"))
        return V2011, reading
    return V2013, None


def _body_layout(msg_id: int, version: Version, data: bytes, profile: Profile, problems: list[str]) -> Version:
    """The layout a registration / authentication body is read with: a 2019 header over a 2013 body (devices
    that speak 2019 framing with their old bodies) is read with the 2013 layout when only that fits."""
    if (version is V2019 and not _reads_cleanly(msg_id, data, V2019, profile)
            and _reads_cleanly(msg_id, data, V2013, profile, unpadded=True)):
        problems.append(Problem("layout", f"0x{msg_id:04X}: a 2019 header over a body that only the 2013 layout "
                                "reads: decoded with the 2013 layout"))
        return V2013
    return version


def decode_body(msg_id: int, version: Version, data: bytes, profile: Profile = DEFAULT_PROFILE,
                *, strict: bool = True, problems: list[str] | None = None) -> tuple[Body, bytes, Version]:
    """Decode a complete (reassembled, decrypted) body. Returns ``(body, tail, version)``.

    ``version`` may differ from the one given when the profile infers 2011 from a 0x0100's field widths
    (``infer_2011``, on by default); a 2019 0x0100 / 0x0102 whose body only the 2013 layout reads is read
    with it (noted, the header stays 2019).
    Unknown ids give a :class:`RawBody`. Errors raise :class:`DecodeError` (located) when ``strict``;
    otherwise the body is kept raw and the error appended to ``problems``.
    """
    if problems is None:
        problems = []
    layout = version
    if msg_id == 0x0100 or msg_id == 0x0102:
        if msg_id == 0x0100 and profile.infer_2011 and version is V2013:
            version, reading = _register_version(data, profile, problems)
            if reading is not None:  # read cleanly to the end in that layout: the decode below, made once
                problems.extend(reading[1])
                return reading[0], b"", version
            layout = version
        elif version is V2019 and profile.infer_2011:
            layout = _body_layout(msg_id, version, data, profile, problems)
    cls = profile.messages.table.get((msg_id, layout)) or profile.lookup(msg_id, layout)
    if cls is None:
        return RawBody(data, "unknown"), b"", version
    r = Reader(data, layout, profile, msg_id)
    try:
        body = cls.decode(r)
    except DecodeError as e:
        e.locate(msg_id=msg_id, version=version)
        if strict:
            raise
        problems.append(str(e))
        return RawBody(data, "error"), b"", version
    except (IndexError, ValueError, UnicodeError) as e:  # a hand-written codec's slip: still ours
        err = DecodeError(f"malformed body ({type(e).__name__}: {e})", msg_id=msg_id, version=version,
                          offset=r.pos)
        if strict:
            raise err from e
        problems.append(str(err))
        return RawBody(data, "error"), b"", version
    if r.problems:
        problems.extend(r.problems)
    tail = b""
    if r.pos < r.end:
        tail = data[r.pos:r.end]
        problems.append(f"0x{msg_id:04X}: {len(tail)} trailing byte(s) after the body kept raw: {tail.hex()}")
    return body, tail, version


def encode_body(body: Body, version: Version, profile: Profile = DEFAULT_PROFILE,
                msg_id: int | None = None) -> bytes:
    """Encode a body alone (strict)."""
    mid = body.msg_id if msg_id is None else msg_id
    w = Writer(version, profile.encoding, mid, profile)
    try:
        body.encode(w)
    except EncodeError as e:
        if e.msg_id is None:
            e.msg_id = mid
            e.args = (f"0x{mid:04X} {e.args[0]}",)
        raise
    return bytes(w.out)


def body_bytes(packet: Packet, profile: Profile = DEFAULT_PROFILE) -> bytes:
    """The body as it goes on the wire: encoded (a :class:`RawBody` as given: already encrypted when the
    header says so), the tail re-appended, RSA-encrypted when the header has the RSA bit."""
    h = packet.header
    body = packet.body
    if type(body) is RawBody:
        data = body.data
    else:
        mid = body.msg_id
        if mid != h.msg_id and mid >= 0:
            raise EncodeError(f"header says 0x{h.msg_id:04X} but the body is {type(body).__name__} "
                              f"(0x{mid:04X})", msg_id=h.msg_id)
        fast = body.fast_encode()
        data = fast if fast is not None else encode_body(body, h.version, profile, h.msg_id)
    if packet.tail:
        data = bytes(data) + packet.tail
    if h.encrypt & 1 and type(body) is not RawBody:
        if profile.rsa_peer_public_key is None:
            raise EncodeError("RSA bit set but the profile has no peer public key", field="encrypt",
                              msg_id=h.msg_id)
        from jt808.protocol.crypto import rsa_encrypt

        data = rsa_encrypt(profile.rsa_peer_public_key, bytes(data))
    return data


def encode(packet: Packet, profile: Profile = DEFAULT_PROFILE) -> bytes:
    """Encode a :class:`Packet` into one complete frame (flags, escaping, check code).

    The header's ``length`` is computed. A body over 1023 bytes raises :class:`EncodeError`: use
    :func:`jt808.protocol.subpackage.split` / :func:`encode_many` for sub-packages. Encrypts the body
    when ``header.encrypt`` has the RSA bit and the profile holds the peer's public key.
    """
    h = packet.header
    data = body_bytes(packet, profile)
    n = len(data)
    content: bytes | bytearray
    if (n <= 0x3FF and not h.encrypt and not h.frag_total and not h.reserved and h.version is not V2019
            and len(h.phone) == 12):
        try:  # fast path: the common 2011/2013 header
            content = _H13.pack(h.msg_id, n, bytes.fromhex(h.phone), h.msg_sn) + data
        except (struct.error, ValueError):
            content = pack_header(h, n) + data  # raises the precise EncodeError
    else:
        content = pack_header(h, n) + data
    cc = check_code(content)
    if b"\x7d" in content or b"\x7e" in content or cc == 0x7D or cc == 0x7E:
        return b"\x7e" + escape(bytes(content) + bytes((cc,))) + b"\x7e"
    return b"\x7e" + content + _TAILS[cc]


def build(body: Body, phone: str, msg_sn: int = 0, version: Version = V2013, **header: Any) -> Packet:
    """Convenience: a Packet for ``body`` with a fresh header."""
    return Packet(Header(body.msg_id, phone, msg_sn, version, **header), body)


__all__ += ["build"]
