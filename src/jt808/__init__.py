"""jt808 — JT/T 808 (2011 / 2013 / 2019) for Python.

The flat API: :func:`decode` / :func:`encode` full frames, :class:`Packet`, :class:`Header`,
:class:`Version`, :class:`Profile`, the :class:`FrameSplitter`, and the error tree of
:mod:`jt808.errors`.
"""

from __future__ import annotations

from jt808.errors import (
    BadCheckCode,
    BadEscape,
    BadFlag,
    BadLength,
    BodyError,
    CryptoError,
    DecodeError,
    EncodeError,
    FrameError,
    FrameTooLong,
    HeaderError,
    JT808Error,
    ReassemblyError,
    ReplyTimeout,
    SessionError,
    TruncatedError,
)
from jt808.protocol import (
    DEFAULT_PROFILE,
    V2011,
    V2013,
    V2019,
    Body,
    ExtraCodec,
    FrameSplitter,
    Header,
    Packet,
    Profile,
    RawBody,
    Version,
    build,
    decode,
    decode_body,
    encode,
    encode_body,
)
from jt808.protocol.exchange import from_json, to_json
from jt808.protocol.subpackage import Reassembler, encode_many, split

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_PROFILE",
    "V2011",
    "V2013",
    "V2019",
    "BadCheckCode",
    "BadEscape",
    "BadFlag",
    "BadLength",
    "Body",
    "BodyError",
    "CryptoError",
    "DecodeError",
    "EncodeError",
    "ExtraCodec",
    "FrameError",
    "FrameSplitter",
    "FrameTooLong",
    "Header",
    "HeaderError",
    "JT808Error",
    "Packet",
    "Profile",
    "RawBody",
    "Reassembler",
    "ReassemblyError",
    "ReplyTimeout",
    "SessionError",
    "TruncatedError",
    "Version",
    "build",
    "decode",
    "decode_body",
    "encode",
    "encode_body",
    "encode_many",
    "from_json",
    "split",
    "to_json",
]
