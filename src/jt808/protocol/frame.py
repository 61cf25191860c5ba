"""The one frame decoder: the unescaped content of a frame -> header, body bytes and the repairs made.

Every reader of frames (:func:`jt808.decode`, the platform and terminal sessions, the gateway's UDP
``peek_phone``, the stream splitter, the simulator and ``jt808 decode --explain``) goes through
:func:`read_frame` / :func:`decode_frame`; the header itself is read by
:func:`jt808.protocol.header.unpack_header`.

Strict when asked, tolerant by default, and explicit about it. What field devices send and what is
repaired (each repair is a :class:`Problem` in ``Packet.problems`` with a ``kind`` the gateway counts
per kind in ``/metrics``):

``length_mismatch``
    the body-length field disagrees with the bytes the frame holds: the body the frame holds is decoded.
``length_overflow``
    a body of 1024 bytes or more whose length was OR-ed unmasked into the properties word (the
    QuecPython client): the encryption / sub-package bits that the length overflowed into are read as
    length, not as flags.
``check_code_missing``
    the frame ends right after its body (header + body-length = the unescaped length) and the XOR of
    what is there is 1..0x0F: the client formatted the check code as one hex digit, which was lost. A
    zero XOR (the code "0", lost the same way) makes the last byte a valid check code: such a frame reads
    both as a length field one over (``length_mismatch``, what some vendors send) and as a body without
    its check code. The first reading is decoded; when its body does not decode cleanly and the second's
    does, the second is taken (and flagged ``check_code_missing``).
``version_bit``
    bit 14 (2019) set on a frame whose lengths only add up with the 2013 header.
``bad_check_code``
    only when the profile (or the caller) accepts wrong check codes; otherwise :class:`BadCheckCode` is
    raised with ``.header`` set when the header is plausible, so that the platform answers 0x8001
    result 2 and the device retransmits at once.

With ``strict=True`` no repair is made: the first one needed raises (:class:`BadLength`,
:class:`BadCheckCode`), as the codec always did.
"""

from __future__ import annotations

import struct

from jt808.errors import BadCheckCode, BadFlag, BadLength, DecodeError, FrameError, JT808Error
from jt808.protocol.framing import check_code, unescape
from jt808.protocol.header import V2011, V2013, V2019, Header, Version, frame_layout, unpack_header
from jt808.protocol.packet import Packet, RawBody, decode_body
from jt808.protocol.problems import PROBLEM_KINDS, Problem, problem_kind
from jt808.protocol.registry import DEFAULT_PROFILE, Profile
from jt808.protocol.spec import Body

__all__ = [
    "MODES",
    "PROBLEM_KINDS",
    "Problem",
    "decode",
    "decode_frame",
    "decode_payload",
    "problem_kind",
    "read_frame",
]

_unpack13 = struct.Struct(">HH6sH").unpack_from
_xor = check_code
_PHONES: dict[bytes, str] = {}  # BCD phone -> its digits (the hot path reads the same few phones again)


def read_frame(data: bytes, profile: Profile = DEFAULT_PROFILE, version: Version | None = None,
               strict: bool = False, accept_bad_check: bool | None = None) -> tuple[Header, bytes, list[str]]:
    """Header, body bytes and problems of one frame: ``data`` is what lies between the two 0x7E flags,
    unescaped, check code included (when the device sent one).

    ``version``: what a frame without bit 14 is (the terminal's remembered 2011/2013; default the
    profile's). ``accept_bad_check`` (default: the profile's setting, always false when ``strict``):
    decode a frame whose check code is wrong, flagging it, instead of raising :class:`BadCheckCode`
    (the profile's ``accept_bad_check`` applies in strict mode too).

    Raises :class:`FrameError` / :class:`HeaderError` for bytes that are no frame (noise), and
    :class:`BadCheckCode` / :class:`BadLength` with ``.header`` set when the header could be read.
    """
    n = len(data)
    if n < 12:
        raise FrameError(f"frame of {n} unescaped bytes is too short for a header")
    msg_id, props, phone, sn = _unpack13(data)
    if not props & 0xFC00 and n == 13 + props and not _xor(data) and profile.force_version is None:
        # the common case: a plain 2011/2013 frame, lengths and check code agree
        text = _PHONES.get(phone)
        if text is None:
            if len(_PHONES) >= 65536:
                _PHONES.clear()
            text = _PHONES[phone] = phone.hex()
        return (Header(msg_id, text, sn, version if version is V2011 or version is V2013
                       else profile.default_version, 0, props), data[12:-1], [])
    force = profile.force_version
    if accept_bad_check is None:
        accept_bad_check = profile.accept_bad_check
    xor = check_code(data)
    layout = frame_layout(n, props, xor)
    problems: list[str] = []
    repair = None
    if layout is None:
        # nothing adds up: keep the header's own reading and decode the body the frame holds
        is19, frag, has_cc = bool(props & 0x4000), (4 if props & 0x2000 else 0), True
        size = n - (17 if is19 else 12) - frag - 1
        if size < 0 and is19:
            is19, size = False, n - 12 - frag - 1
        length = size
    else:
        is19, frag, length, has_cc, repair = layout
    if force is not None and (force is V2019) != is19:
        is19 = force is V2019
        problems.append(Problem("version_forced", f"version forced to {force} by the device profile"))
    eff_props = props
    if repair == "length_overflow":
        eff_props = (props & ~(length & ~0x3FF)) & ~0x3FF | (length & 0x3FF)
    base = version if version is not None and version is not V2019 else profile.default_version
    if force is not None and force is not V2019:
        base = force
    header, off = unpack_header(data, eff_props, is19, frag > 0, base)
    end = n - 1 if has_cc else n
    body = data[off:end]
    if repair == "length_overflow":
        header.length = len(body)
    if has_cc and xor:
        err = BadCheckCode(xor ^ data[-1], data[-1])
        if not accept_bad_check:
            raise _located(err, header if layout is not None or _plausible_header(header, profile) else None)
        problems.append(Problem("bad_check_code", "bad check code (accepted and flagged)"))
    if repair == "version_bit":
        problems.append(Problem("version_bit", "bit 14 (2019) set but lengths only add up with the 2013 header: "
                                               "decoded as 2013"))
    elif repair == "length_overflow":
        if strict:
            raise _located(BadLength(f"0x{header.msg_id:04X}: body-length field says {props & 0x3FF} bytes, "
                                     f"frame holds {len(body)}"), header)
        problems.append(Problem("length_overflow", f"0x{header.msg_id:04X}: body length {len(body)} overflowed "
                                f"into the flag bits of the properties 0x{props:04X}: read as length"))
    elif repair == "check_code_missing":
        if strict:
            raise _located(BadLength(f"0x{header.msg_id:04X}: body-length field says {header.length} bytes "
                                     "and leaves no byte for the check code"), header)
        problems.append(Problem("check_code_missing", f"0x{header.msg_id:04X}: no check-code byte after the body "
                                f"(its XOR 0x{xor:02X} fits one hex digit): accepted"))
    if layout is None:
        msg = (f"0x{header.msg_id:04X}: body-length field says {header.length} bytes, "
               f"frame holds {len(body)}")
        if strict:
            raise _located(BadLength(msg), header)
        # a valid check code right after a body one byte short: or a body whose zero check code was lost
        other = data[-1:] if has_cc and not xor and len(body) + 1 == header.length else b""
        problems.append(Problem("length_mismatch", msg + " (decoded what the frame holds)", other))
    return header, body, problems


def _plausible_header(header: Header, profile: Profile) -> bool:
    """A header worth answering although the frame's lengths do not add up: a known id, a BCD phone."""
    return header.phone.isdigit() and any((header.msg_id, v) in profile.messages.table for v in (V2013, V2019))


def _located(e: JT808Error, header: Header | None) -> JT808Error:
    e.header = header
    return e


def decode_payload(header: Header, body: bytes, problems: list[str], profile: Profile = DEFAULT_PROFILE,
                   keep_bad_body: bool = False) -> Packet:
    """The :class:`Packet` of a read frame: fragments kept raw (reason ``fragment``), RSA bodies decrypted
    with the profile's key (kept raw without one), other bodies decoded (the message's whole-body fast
    decoder first when nothing was repaired).

    A body that does not decode raises :class:`DecodeError` with ``.header`` set (the platform answers it
    with 0x8001 result 2), or with ``keep_bad_body`` is kept raw (reason ``error``) and the error listed.
    """
    if header.frag_total > 1:
        return Packet(header, RawBody(body, "fragment"), body, problems)
    if header.encrypt & 1:
        key = profile.rsa_private_key
        if key is None:
            problems.append(Problem("encrypted", "RSA-encrypted body and no private key in the profile: kept raw"))
            return Packet(header, RawBody(body, "encrypted"), body, problems)
        from jt808.protocol.crypto import rsa_decrypt

        try:
            body = rsa_decrypt(key, body)
        except JT808Error as e:
            raise _located(e, header) from None
    if not problems:
        cls = profile.messages.table.get((header.msg_id, header.version))
        fast = cls.fast_decode if cls is not None else None
        if fast is not None:
            fb = fast(body, profile, header.version)
            if fb is not None:
                return Packet(header, fb, body, problems)
    other = problems[-1].other_reading if problems and type(problems[-1]) is Problem else b""
    read = len(problems)
    again: tuple[Body, list[str], Version] | None = None
    try:
        b, tail, v = decode_body(header.msg_id, header.version, body, profile, strict=not keep_bad_body,
                                 problems=problems)
    except DecodeError as e:
        again = _other_reading(header, body + other, profile) if other else None
        if again is None:
            raise _located(e, header) from None
    else:
        flaws = len(problems) - read + bool(tail) + (type(b) is RawBody)
        if other and flaws:
            again = _other_reading(header, body + other, profile)
            if again is not None and len(again[1]) >= flaws:
                again = None
    if again is not None:  # the other reading (the last byte is the body's) decodes better: taken
        del problems[read:]
        problems[-1] = Problem("check_code_missing", f"0x{header.msg_id:04X}: no check-code byte after the body "
                               "(a zero XOR: its one-digit '0' was lost); the last byte is the body's, which "
                               "decodes only so")
        problems += again[1]
        header.version = again[2]
        return Packet(header, again[0], body + other, problems)
    if v is not header.version:
        header.version = v
    return Packet(header, b, body, problems, tail)


def _other_reading(header: Header, body: bytes, profile: Profile) -> tuple[Body, list[str], Version] | None:
    """``body`` decoded (its notes, its version) when it decodes whole, else ``None``."""
    noted: list[str] = []
    try:
        b, tail, v = decode_body(header.msg_id, header.version, body, profile, strict=True, problems=noted)
    except DecodeError:
        return None
    return None if tail or type(b) is RawBody else (b, noted, v)


#: How :func:`decode` reads a frame: ``strict`` (the standard only), ``tolerant`` (the gateway's reading:
#: the dialects of the module docstring are repaired and listed; a wrong check code or a body that does
#: not decode is an error), ``lenient`` (also accepts wrong check codes and keeps undecodable bodies raw).
MODES = ("strict", "tolerant", "lenient")


def decode(frame: bytes, profile: Profile = DEFAULT_PROFILE, *, strict: bool = True, mode: str | None = None) -> Packet:
    """Decode one complete frame (0x7E flags included) into a :class:`Packet`.

    ``strict`` (default): the frame must be as the standard lays it out, or :class:`FrameError` /
    :class:`DecodeError` is raised. ``strict=False`` is ``mode="lenient"``: what field devices send is
    repaired and listed in ``Packet.problems`` (lengths, missing check code, wrong check code, bodies kept
    raw when they do not decode). ``mode="tolerant"`` is what the gateway does (see :data:`MODES`).

    Sub-package fragments (``frag_total > 1``) keep their bytes in a :class:`RawBody` with reason
    ``"fragment"``: feed them to a :class:`~jt808.protocol.subpackage.Reassembler`. Encrypted bodies
    are decrypted when the profile holds a private key, else kept raw.
    """
    if mode is None:
        mode = "strict" if strict else "lenient"
    elif mode not in MODES:
        raise ValueError(f"mode is one of {', '.join(MODES)}")
    if len(frame) < 3:
        raise FrameError(f"too short: {len(frame)} byte(s); a frame is 0x7E, a 12-byte header (17 in 2019), a check "
                         "code and 0x7E")
    if frame[0] != 0x7E or frame[-1] != 0x7E:
        raise BadFlag(f"a frame must start and end with 0x7E (got {bytes(frame[:1]).hex()}…{bytes(frame[-1:]).hex()})")
    content = frame[1:-1]
    if b"\x7d" in content:
        content = unescape(content)
    lenient = mode == "lenient"
    header, body, problems = read_frame(content, profile, None, mode == "strict", lenient or profile.accept_bad_check)
    return decode_payload(header, body, problems, profile, lenient)


def decode_frame(data: bytes, profile: Profile = DEFAULT_PROFILE, *, version: Version | None = None,
                 strict: bool = False, accept_bad_check: bool | None = None,
                 keep_bad_body: bool = False) -> Packet:
    """:func:`read_frame` then :func:`decode_payload`: one frame's content (unescaped, between the flags)
    to a :class:`Packet`. See the module docstring for what is tolerated and how it is flagged."""
    header, body, problems = read_frame(data, profile, version=version, strict=strict,
                                        accept_bad_check=accept_bad_check)
    return decode_payload(header, body, problems, profile, keep_bad_body=keep_bad_body)
