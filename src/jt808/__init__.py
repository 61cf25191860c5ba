"""jt808 — JT/T 808 (2011 / 2013 / 2019) for Python.

What lives here: the flat API — :func:`decode` / :func:`encode` full frames, :class:`Packet`,
:class:`Header`, :class:`Version`, :class:`Profile`, the :class:`FrameSplitter`, the EMQX JSON
(:func:`to_json` / :func:`from_json`) and the error tree of :mod:`jt808.errors` — re-exported from the
packages below. What never does: code. Each name is defined once, in its package:

- :mod:`jt808.protocol` — the sans-I/O codec (standard library only);
- :mod:`jt808.session` — sans-I/O state machines over the codec;
- :mod:`jt808.gateway`, :mod:`jt808.storage`, :mod:`jt808.bridges`, :mod:`jt808.http` — the platform
  server, composed by :mod:`jt808.node` (``jt808 serve``);
- :mod:`jt808.client` (terminal SDK), :mod:`jt808.simulator`, :mod:`jt808.commands` (the CLI).
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
