"""The sans-I/O protocol core: bytes in, objects out.

What lives here: framing and escaping, the header codec and the one frame decoder, message bodies
declared once each (:mod:`~jt808.protocol.messages`) with their TLV tables (additional items,
terminal parameters), profiles,
sub-packaging, RSA, the EMQX JSON (:mod:`~jt808.protocol.exchange`). What never does: sockets, threads,
clocks, logging, storage, or any import outside the standard library (``cryptography`` is imported
lazily by :mod:`jt808.protocol.crypto`, only when RSA is used). ``tests/test_architecture.py`` keeps it so.
"""

from __future__ import annotations

from jt808.protocol import messages as _messages  # noqa: F401  (registers the standard bodies)
from jt808.protocol.frame import decode
from jt808.protocol.framing import FrameSplitter, check_code, escape, unescape
from jt808.protocol.header import V2011, V2013, V2019, Header, Version
from jt808.protocol.packet import Packet, RawBody, build, decode_body, encode, encode_body
from jt808.protocol.registry import DEFAULT_MESSAGES, DEFAULT_PROFILE, ExtraCodec, Profile
from jt808.protocol.spec import Body

__all__ = [
    "DEFAULT_MESSAGES",
    "DEFAULT_PROFILE",
    "V2011",
    "V2013",
    "V2019",
    "Body",
    "ExtraCodec",
    "FrameSplitter",
    "Header",
    "Packet",
    "Profile",
    "RawBody",
    "Version",
    "build",
    "check_code",
    "decode",
    "decode_body",
    "encode",
    "encode_body",
    "escape",
    "unescape",
]
